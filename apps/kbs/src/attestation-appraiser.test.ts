import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { ManualClock, systemRandom } from '@custodian/core/clock';
import { bytesToHex } from '@custodian/core/bytes';
import { isCustodianError } from '@custodian/core/errors';
import { createSimRoot, issueSimEvidence } from '@custodian/attestation/sim/sim-evidence';
import { DEFAULT_POLICY } from '@custodian/attestation/policy';
import { identityReportData } from '@custodian/protocol/identity-binding';
import { attestationAppraiser } from './attestation-appraiser.js';
import { openSoftwareRoot } from './hsm/software-root.js';
import { MemoryAuditSink } from './audit-sink.js';
import { NonceStore } from './nonce-store.js';
import { MeasurementRegistry } from './measurement-approvals.js';
import { KeyBroker } from './key-broker.js';
import { createWrappedSealingMaster } from './sealing-keys.js';
import { generateHpkeKeyPair } from '@custodian/core/hpke-seal';
import { openKeyRelease } from '@custodian/protocol/key-release';
import { makeQuorum, signedChange } from './test-fixtures.js';

const clock = new ManualClock(1_800_000_000_000);
const simRoot = createSimRoot();
const measurement = new Uint8Array(randomBytes(48));
const simPolicy = { ...DEFAULT_POLICY, allowSimulated: true };

test('sim evidence binding the KBS nonce and the ephemeral key releases the sealing key end to end', async () => {
  const root = await openSoftwareRoot({ warn: () => undefined });
  const { quorum, secrets } = makeQuorum(2, 2);
  const measurements = new MeasurementRegistry(quorum);
  measurements.approve(signedChange({ measurement: bytesToHex(measurement), previous: null, approvedAtMs: clock.nowMs(), reason: 'sim build' }, secrets, ['member-0', 'member-1']));
  const broker = new KeyBroker({
    root,
    wrappedMaster: await createWrappedSealingMaster(root),
    nonces: new NonceStore(clock, systemRandom),
    measurements,
    appraise: attestationAppraiser({ policy: simPolicy, simRootPublicKey: simRoot.publicKey, clock }),
    audit: new MemoryAuditSink(),
    clock,
  });
  const { nonce } = broker.issueNonce();
  const kp = await generateHpkeKeyPair();
  const evidence = issueSimEvidence(simRoot, measurement, identityReportData(kp.publicKey, nonce), clock.nowMs());
  const rel = await broker.release({ nonce, evidence, publicKey: kp.publicKey });
  assert.equal(rel.credential.claims.platform, 'sim');
  assert.equal((await openKeyRelease(rel, kp.privateKey, { measurement: bytesToHex(measurement), nonce })).expose().length, 32);

  // Evidence that binds another key is refused (B21).
  const other = await generateHpkeKeyPair();
  const n2 = broker.issueNonce().nonce;
  const ev2 = issueSimEvidence(simRoot, measurement, identityReportData(other.publicKey, n2), clock.nowMs());
  await assert.rejects(broker.release({ nonce: n2, evidence: ev2, publicKey: kp.publicKey }), (e) => isCustodianError(e, 'E_KBS_APPRAISAL_FAILED') && /E_ATTEST_BINDING/.test(e.message));
});

test('B20b a production policy refuses sim evidence; unknown formats are refused with a reason', async () => {
  const appraiseProd = attestationAppraiser({ clock, simRootPublicKey: simRoot.publicKey });
  const nonce = new Uint8Array(32).fill(1);
  const key = new Uint8Array(32).fill(2);
  const r = await appraiseProd(issueSimEvidence(simRoot, measurement, identityReportData(key, nonce), clock.nowMs()), { nonce, publicKeyBinding: key });
  assert.equal(r.ok, false);
  assert.match(r.reasons.join(), /E_ATTEST_SIMULATED/);
  const g = await appraiseProd(new Uint8Array([1, 2, 3]), { nonce, publicKeyBinding: key });
  assert.equal(g.ok, false);
  assert.match(g.reasons.join(), /E_ATTEST_FORMAT/);
});

test('sim evidence signed by another root is refused', async () => {
  const appraiseSim = attestationAppraiser({ policy: simPolicy, simRootPublicKey: simRoot.publicKey, clock });
  const nonce = new Uint8Array(32).fill(1);
  const key = new Uint8Array(32).fill(2);
  const r = await appraiseSim(issueSimEvidence(createSimRoot(), measurement, identityReportData(key, nonce), clock.nowMs()), { nonce, publicKeyBinding: key });
  assert.equal(r.ok, false);
  assert.match(r.reasons.join(), /E_ATTEST_SIGNATURE/);
});

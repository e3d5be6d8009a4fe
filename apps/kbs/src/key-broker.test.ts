import { test } from 'node:test';
import { ed25519 } from '@noble/curves/ed25519.js';
import { bytesToHex } from '@custodian/core/bytes';
import { WORKLOAD_CREDENTIAL_TTL_MS_DEFAULT } from '@custodian/protocol/workload-credential';
import assert from 'node:assert/strict';
import { ManualClock, systemRandom } from '@custodian/core/clock';
import { isCustodianError } from '@custodian/core/errors';
import { openSoftwareRoot } from './hsm/software-root.js';
import { MemoryAuditSink } from './audit-sink.js';
import { NonceStore, KBS_NONCE_TTL_MS_DEFAULT } from './nonce-store.js';
import { MeasurementRegistry } from './measurement-approvals.js';
import { KeyBroker } from './key-broker.js';
import { createWrappedSealingMaster } from './sealing-keys.js';
import { generateHpkeKeyPair } from '@custodian/core/hpke-seal';
import { openKeyRelease } from '@custodian/protocol/key-release';
import { encodeWorkloadCredential, verifyWorkloadCredential } from './workload-credential.js';
import type { AppraiseFn } from './appraisal.js';
import { fakeAppraise, fakeEvidence, makeQuorum, signedChange } from './test-fixtures.js';

const M1 = 'a1'.repeat(48);
const M2 = 'b2'.repeat(48);

async function setup(appraise: AppraiseFn = fakeAppraise) {
  const root = await openSoftwareRoot({ warn: () => undefined });
  const clock = new ManualClock(1_700_000_000_000);
  const audit = new MemoryAuditSink();
  const { quorum, secrets } = makeQuorum(2, 3);
  const measurements = new MeasurementRegistry(quorum);
  const broker = new KeyBroker({
    root,
    wrappedMaster: await createWrappedSealingMaster(root),
    nonces: new NonceStore(clock, systemRandom),
    measurements,
    appraise,
    audit,
    clock,
  });
  await broker.approveMeasurement(signedChange({ measurement: M1, previous: null, approvedAtMs: clock.nowMs(), reason: 'genesis' }, secrets, ['member-0', 'member-1']));
  return { root, clock, audit, broker, secrets };
}

async function request(broker: KeyBroker, opts: { measurement?: string; debug?: boolean; otherKey?: boolean } = {}) {
  const { nonce } = broker.issueNonce();
  const kp = await generateHpkeKeyPair();
  const bound = opts.otherKey ? (await generateHpkeKeyPair()).publicKey : kp.publicKey;
  const evidence = fakeEvidence({ measurement: opts.measurement ?? M1, nonce, publicKey: bound, ...(opts.debug ? { debug: true } : {}) });
  return { req: { nonce, evidence, publicKey: kp.publicKey }, kp };
}

test('releases the measurement sealing key to the attested ephemeral key, with a credential, and audits it', async () => {
  const { broker, audit, root, clock } = await setup();
  const { req, kp } = await request(broker);
  const rel = await broker.release(req);
  const key = await openKeyRelease(rel, kp.privateKey, { measurement: M1, nonce: req.nonce });
  assert.equal(key.expose().length, 32);
  // Stable per measurement: a second release gives the same key.
  const second = await request(broker);
  const rel2 = await broker.release(second.req);
  assert.deepEqual((await openKeyRelease(rel2, second.kp.privateKey, { measurement: M1, nonce: second.req.nonce })).expose(), key.expose());
  assert.equal(broker.releaseCount, 2);
  assert.equal(audit.ofKind('kbs.key_released').length, 2);
  const claims = verifyWorkloadCredential(encodeWorkloadCredential(rel.credential), await root.publicKey('kbs-signing'), clock.nowMs());
  assert.equal(claims.measurement, M1);
  // The ciphertext is bound to its nonce: opening with another nonce fails.
  await assert.rejects(openKeyRelease(rel, kp.privateKey, { measurement: M1, nonce: second.req.nonce }), (e) => isCustodianError(e, 'E_HPKE_OPEN_FAILED'));
});

test('B21 refuses a replayed request, an unknown nonce and a stale nonce, each audited', async () => {
  const { broker, audit, clock } = await setup();
  const { req } = await request(broker);
  await broker.release(req);
  await assert.rejects(broker.release(req), (e) => isCustodianError(e, 'E_KBS_NONCE_REPLAYED'));
  await assert.rejects(broker.release({ ...req, nonce: new Uint8Array(32).fill(9) }), (e) => isCustodianError(e, 'E_KBS_NONCE_UNKNOWN'));
  const stale = await request(broker);
  clock.advance(KBS_NONCE_TTL_MS_DEFAULT);
  await assert.rejects(broker.release(stale.req), (e) => isCustodianError(e, 'E_KBS_NONCE_EXPIRED'));
  assert.deepEqual(audit.ofKind('kbs.release_refused').map((e) => e.body['code']), ['E_KBS_NONCE_REPLAYED', 'E_KBS_NONCE_UNKNOWN', 'E_KBS_NONCE_EXPIRED']);
  assert.equal(broker.releaseCount, 1);
});

test('B20 refuses evidence from a debug enclave with the appraisal reasons, audited', async () => {
  const { broker, audit } = await setup();
  const { req } = await request(broker, { debug: true });
  await assert.rejects(broker.release(req), (e) => isCustodianError(e, 'E_KBS_APPRAISAL_FAILED') && /debug/.test(e.message));
  assert.match(String(audit.ofKind('kbs.release_refused')[0]?.body['reasons']), /E_ATTEST_DEBUG/);
});

test('B21 refuses report data that binds another public key, and burns the nonce', async () => {
  const { broker } = await setup();
  const { req } = await request(broker, { otherKey: true });
  await assert.rejects(broker.release(req), (e) => isCustodianError(e, 'E_KBS_APPRAISAL_FAILED') && /another public key/.test(e.message));
  await assert.rejects(broker.release(req), (e) => isCustodianError(e, 'E_KBS_NONCE_REPLAYED'));
});

test('B24 refuses a measurement the quorum has not approved; releases it after an approved change', async () => {
  const { broker, secrets, clock, audit } = await setup();
  const first = await request(broker, { measurement: M2 });
  await assert.rejects(broker.release(first.req), (e) => isCustodianError(e, 'E_KBS_MEASUREMENT_NOT_APPROVED'));
  // One signature is not a quorum.
  await assert.rejects(
    broker.approveMeasurement(signedChange({ measurement: M2, previous: M1, approvedAtMs: clock.nowMs(), reason: 'v2' }, secrets, ['member-2', 'member-2'])),
    (e) => isCustodianError(e, 'E_QUORUM_NOT_MET'),
  );
  assert.equal(audit.ofKind('kbs.measurement_refused').length, 1);
  await broker.approveMeasurement(signedChange({ measurement: M2, previous: M1, approvedAtMs: clock.nowMs(), reason: 'v2' }, secrets, ['member-1', 'member-2']));
  const second = await request(broker, { measurement: M2 });
  const rel = await broker.release(second.req);
  const k2 = await openKeyRelease(rel, second.kp.privateKey, { measurement: M2, nonce: second.req.nonce });
  const third = await request(broker);
  const k1 = await openKeyRelease(await broker.release(third.req), third.kp.privateKey, { measurement: M1, nonce: third.req.nonce });
  assert.notDeepEqual(k1.expose(), k2.expose(), 'keys are per measurement');
});

test('refuses a measurement change whose predecessor is not approved, or whose signature was made over another change', async () => {
  const { broker, secrets, clock } = await setup();
  await assert.rejects(
    broker.approveMeasurement(signedChange({ measurement: M2, previous: 'cc'.repeat(48), approvedAtMs: clock.nowMs(), reason: 'x' }, secrets, ['member-0', 'member-1'])),
    (e) => isCustodianError(e, 'E_MEASUREMENT_CHANGE_INVALID'),
  );
  const rec = signedChange({ measurement: M2, previous: M1, approvedAtMs: clock.nowMs(), reason: 'x' }, secrets, ['member-0', 'member-1']);
  await assert.rejects(broker.approveMeasurement({ ...rec, change: { ...rec.change, measurement: 'dd'.repeat(48) } }), (e) => isCustodianError(e, 'E_QUORUM_NOT_MET'));
});

test('F01 an audit sink that cannot write stops the release: nothing is released', async () => {
  const { broker, audit } = await setup();
  const { req } = await request(broker);
  audit.failing = true;
  await assert.rejects(broker.release(req), (e) => isCustodianError(e, 'E_AUDIT_UNAVAILABLE'));
  assert.equal(broker.releaseCount, 0);
});

test('an appraiser that throws refuses (fail closed)', async () => {
  const { broker } = await setup(async () => {
    throw new Error('verifier crashed');
  });
  const { req } = await request(broker);
  await assert.rejects(broker.release(req), (e) => isCustodianError(e, 'E_KBS_APPRAISAL_FAILED') && /verifier crashed/.test(e.message));
});

/** A credential request for an Ed25519 identity key (evidence binding it, or `bound` instead). */
function credentialRequest(broker: KeyBroker, opts: { measurement?: string; debug?: boolean; bound?: Uint8Array } = {}) {
  const { nonce } = broker.issueNonce();
  const identityKey = ed25519.getPublicKey(ed25519.utils.randomSecretKey());
  const evidence = fakeEvidence({ measurement: opts.measurement ?? M1, nonce, publicKey: opts.bound ?? identityKey, ...(opts.debug ? { debug: true } : {}) });
  return { nonce, evidence, publicKey: identityKey };
}

test('issues a workload credential naming the identity key, measurement and platform, signed by kbs-signing, audited', async () => {
  const { broker, audit, root, clock } = await setup();
  const req = credentialRequest(broker);
  const cred = await broker.issueCredential(req);
  const claims = verifyWorkloadCredential(encodeWorkloadCredential(cred), await root.publicKey('kbs-signing'), clock.nowMs(), { subjectKey: req.publicKey, measurement: M1, platform: 'sim' });
  assert.equal(claims.subjectKey, bytesToHex(req.publicKey));
  assert.equal(claims.expiresAtMs - claims.issuedAtMs, WORKLOAD_CREDENTIAL_TTL_MS_DEFAULT);
  const issued = audit.ofKind('kbs.credential_issued');
  assert.equal(issued.length, 1);
  assert.equal(issued[0]!.body['publicKey'], bytesToHex(req.publicKey));
  assert.equal(broker.releaseCount, 0, 'a credential releases no key');
});

test('B20 refuses a credential to a debug enclave, audited', async () => {
  const { broker, audit } = await setup();
  await assert.rejects(broker.issueCredential(credentialRequest(broker, { debug: true })), (e) => isCustodianError(e, 'E_KBS_APPRAISAL_FAILED') && /debug/.test(e.message));
  assert.equal(audit.ofKind('kbs.credential_refused')[0]?.body['code'], 'E_KBS_APPRAISAL_FAILED');
  assert.equal(audit.ofKind('kbs.credential_issued').length, 0);
});

test('B24 refuses a credential to a measurement the quorum has not approved, audited with the measurement', async () => {
  const { broker, audit } = await setup();
  await assert.rejects(broker.issueCredential(credentialRequest(broker, { measurement: M2 })), (e) => isCustodianError(e, 'E_KBS_MEASUREMENT_NOT_APPROVED'));
  assert.equal(audit.ofKind('kbs.credential_refused')[0]?.body['measurement'], M2);
});

test('B21 refuses a replayed credential request (the nonce is single-use, shared with releases)', async () => {
  const { broker, audit } = await setup();
  const req = credentialRequest(broker);
  await broker.issueCredential(req);
  await assert.rejects(broker.issueCredential(req), (e) => isCustodianError(e, 'E_KBS_NONCE_REPLAYED'));
  // A nonce spent on a credential cannot buy a key release either.
  const other = await request(broker);
  await broker.release(other.req);
  await assert.rejects(broker.issueCredential({ ...credentialRequest(broker), nonce: other.req.nonce }), (e) => isCustodianError(e, 'E_KBS_NONCE_REPLAYED'));
  assert.deepEqual(audit.ofKind('kbs.credential_refused').map((e) => e.body['code']), ['E_KBS_NONCE_REPLAYED', 'E_KBS_NONCE_REPLAYED']);
});

test('B21 refuses a credential for a key the evidence does not bind (another enclave\'s identity key)', async () => {
  const { broker } = await setup();
  const victim = ed25519.getPublicKey(ed25519.utils.randomSecretKey());
  const req = credentialRequest(broker, { bound: victim });
  await assert.rejects(broker.issueCredential(req), (e) => isCustodianError(e, 'E_KBS_APPRAISAL_FAILED') && /another public key/.test(e.message));
});

test('F01 a credential whose issuance cannot be audited is not issued', async () => {
  const { broker, audit } = await setup();
  const req = credentialRequest(broker);
  audit.failing = true;
  await assert.rejects(broker.issueCredential(req), (e) => isCustodianError(e, 'E_AUDIT_UNAVAILABLE'));
});

test('F01 a measurement approval that cannot be audited does not take effect: no key for it, and the retry is audited', async () => {
  const { broker, secrets, clock, audit } = await setup();
  const rec = signedChange({ measurement: M2, previous: M1, approvedAtMs: clock.nowMs(), reason: 'v2' }, secrets, ['member-0', 'member-1']);
  audit.failing = true;
  await assert.rejects(broker.approveMeasurement(rec), (e) => isCustodianError(e, 'E_AUDIT_UNAVAILABLE'));
  audit.failing = false;
  await assert.rejects(broker.release((await request(broker, { measurement: M2 })).req), (e) => isCustodianError(e, 'E_KBS_MEASUREMENT_NOT_APPROVED'));
  await broker.approveMeasurement(rec);
  assert.equal(audit.ofKind('kbs.measurement_approved').filter((e) => e.body['measurement'] === M2).length, 1);
  assert.equal((await broker.release((await request(broker, { measurement: M2 })).req)).measurement, M2);
});

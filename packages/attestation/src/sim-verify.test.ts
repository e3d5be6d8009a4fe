import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isCustodianError } from '@custodian/core/errors';
import { createSimRoot, issueSimEvidence } from './sim/sim-evidence.js';
import { verifyEvidence, detectFormat } from './verify.js';
import { verifySim } from './sim-verify.js';
import { appraise } from './appraisal.js';
import { parsePolicy, DEFAULT_POLICY } from './policy.js';
import { isAttestationError } from './errors.js';
import { parseSimRootFile } from './sim-root-file.js';
import { bytesToHex } from '@custodian/core/bytes';

const root = createSimRoot(new Uint8Array(32).fill(5));
const measurement = new Uint8Array(48).fill(0x11);
const reportData = new Uint8Array(64).fill(0x22);
const T = 1_764_000_000_000;
const now = new Date(T + 30_000);
const evidence = issueSimEvidence(root, measurement, reportData, T);
const opts = { now, simRootPublicKey: root.publicKey };

const allow = (extra: Record<string, unknown> = {}): ReturnType<typeof parsePolicy> =>
  parsePolicy(JSON.stringify({ version: 1, allowSimulated: true, platforms: { sim: { measurements: { MEASUREMENT: ['11'.repeat(48)] }, ...extra } } }));

test('sim evidence verifies to the common claims and is detected as sim', () => {
  assert.equal(detectFormat(evidence), 'sim');
  const c = verifyEvidence('auto', evidence, { ...opts, reportData });
  assert.equal(c.format, 'sim');
  assert.equal(c.insecure, true);
  assert.equal(c.measurements.MEASUREMENT, '11'.repeat(48));
  assert.equal(c.issuedAt, new Date(T).toISOString());
});

test('B20b the default policy refuses verified sim evidence; a policy that allows it affirms', () => {
  const c = verifySim(evidence, opts);
  const refused = appraise(c, DEFAULT_POLICY, now);
  assert.equal(refused.status, 'contraindicated');
  assert.equal(refused.reasons[0]?.code, 'E_ATTEST_SIMULATED');
  assert.equal(appraise(c, allow(), now).status, 'affirming');
});

test('B24 a sim measurement outside the policy reference values is contraindicated', () => {
  const other = verifySim(issueSimEvidence(root, new Uint8Array(48).fill(0x33), reportData, T), opts);
  const r = appraise(other, allow(), now);
  assert.equal(r.status, 'contraindicated');
  assert.equal(r.reasons[0]?.code, 'E_ATTEST_MEASUREMENT');
});

test('B21 the policy maxAgeSeconds decides sim freshness', () => {
  const c = verifySim(evidence, { ...opts, now: new Date(T + 3_600_000) });
  assert.equal(appraise(c, allow(), new Date(T + 3_600_000)).status, 'affirming');
  const stale = appraise(c, allow({ maxAgeSeconds: 60 }), new Date(T + 3_600_000));
  assert.equal(stale.status, 'contraindicated');
  assert.equal(stale.reasons[0]?.code, 'E_ATTEST_NONCE');
});

test('B20b sim evidence without a sim root is refused as simulated', () => {
  assert.throws(() => verifyEvidence('sim', evidence, { now }), (e) => isAttestationError(e, 'E_ATTEST_SIMULATED'));
});

test('rejects sim evidence from another root, future-dated, wrongly bound, flipped or oversized', () => {
  assert.throws(() => verifySim(issueSimEvidence(createSimRoot(), measurement, reportData, T), opts), (e) => isAttestationError(e, 'E_ATTEST_SIGNATURE'));
  assert.throws(() => verifySim(issueSimEvidence(root, measurement, reportData, T + 3_600_000), opts), (e) => isAttestationError(e, 'E_ATTEST_NONCE'));
  assert.throws(() => verifySim(evidence, { ...opts, reportData: new Uint8Array(64) }), (e) => isAttestationError(e, 'E_ATTEST_BINDING'));
  assert.throws(() => verifySim(evidence, { ...opts, nonce: new Uint8Array([9]) }), (e) => isAttestationError(e, 'E_ATTEST_NONCE'));
  const flipped = new Uint8Array(evidence);
  const i = Buffer.from(flipped).indexOf('"measurement":"11') + 16;
  flipped[i] = 0x32; // '1' → '2' inside the signed body
  assert.throws(() => verifySim(flipped, opts), (e) => isAttestationError(e, 'E_ATTEST_SIGNATURE'));
  assert.throws(() => verifySim(new Uint8Array(9000), opts), (e) => isAttestationError(e, 'E_ATTEST_TOO_LARGE'));
  assert.throws(() => verifySim(evidence.subarray(0, 40), opts), (e) => isAttestationError(e, 'E_ATTEST_FORMAT'));
});

test('only typed errors escape the sim verifier on mutated evidence', () => {
  let seed = 1;
  const rand = (n: number): number => ((seed = (seed * 1103515245 + 12345) >>> 0) % n);
  for (let k = 0; k < 2000; k++) {
    const m = new Uint8Array(evidence);
    for (let j = 0; j <= rand(3); j++) m[rand(m.length)] = rand(256);
    const cut = rand(4) === 0 ? m.subarray(0, rand(m.length)) : m;
    try {
      verifySim(cut, opts);
    } catch (e) {
      assert.ok(isAttestationError(e), `untyped error: ${String(e)}`);
    }
  }
});

test('sim root files: public-only copies verify, full files give the root, mismatches are refused', () => {
  const pub = parseSimRootFile(JSON.stringify({ type: 'custodian.sim-root.v1', publicKey: bytesToHex(root.publicKey) }));
  assert.deepEqual(pub.publicKey, root.publicKey);
  assert.equal(pub.root, undefined);
  const full = parseSimRootFile(JSON.stringify({ type: 'custodian.sim-root.v1', warning: 'dev', secretKey: '05'.repeat(32), publicKey: bytesToHex(root.publicKey) }));
  assert.deepEqual(full.root?.publicKey, root.publicKey);
  assert.throws(() => parseSimRootFile(JSON.stringify({ type: 'custodian.sim-root.v1', secretKey: '06'.repeat(32), publicKey: bytesToHex(root.publicKey) })), (e) => isCustodianError(e, 'E_ATTEST_INPUT'));
  assert.throws(() => parseSimRootFile(JSON.stringify({ type: 'other', publicKey: bytesToHex(root.publicKey) })), (e) => isCustodianError(e, 'E_ATTEST_INPUT'));
  assert.throws(() => parseSimRootFile(JSON.stringify({ type: 'custodian.sim-root.v1', publicKey: bytesToHex(root.publicKey), extra: 1 })), (e) => isCustodianError(e));
});

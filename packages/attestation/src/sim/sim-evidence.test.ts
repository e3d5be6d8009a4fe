import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isCustodianError } from '@custodian/core/errors';
import { createSimRoot, issueSimEvidence, verifySimEvidence, appraiseSimClaims } from './sim-evidence.js';

const root = createSimRoot();
const m = new Uint8Array(48).fill(1);
const rd = new Uint8Array(64).fill(2);
const now = 1_760_000_000_000;

test('verifies evidence from the pinned sim root and returns its claims', () => {
  const c = verifySimEvidence(issueSimEvidence(root, m, rd, now), { rootPublicKey: root.publicKey, nowMs: now + 1000, expectedReportData: rd });
  assert.equal(c.measurement, '01'.repeat(48));
  assert.equal(c.insecure, true);
  appraiseSimClaims(c, { measurements: ['01'.repeat(48)], allowSim: true });
});

test('rejects evidence signed by a look-alike root', () => {
  const other = createSimRoot();
  assert.throws(() => verifySimEvidence(issueSimEvidence(other, m, rd, now), { rootPublicKey: root.publicKey, nowMs: now }), (e) => isCustodianError(e, 'E_ATTEST_SIGNATURE'));
});

test('B21 rejects report data that does not bind the expected key and nonce', () => {
  assert.throws(
    () => verifySimEvidence(issueSimEvidence(root, m, rd, now), { rootPublicKey: root.publicKey, nowMs: now, expectedReportData: new Uint8Array(64) }),
    (e) => isCustodianError(e, 'E_ATTEST_BINDING'),
  );
});

test('B21 rejects stale evidence', () => {
  assert.throws(() => verifySimEvidence(issueSimEvidence(root, m, rd, now), { rootPublicKey: root.publicKey, nowMs: now + 3600_000 }), (e) => isCustodianError(e, 'E_ATTEST_STALE'));
});

test('B24 rejects a measurement that is not allowlisted', () => {
  const c = verifySimEvidence(issueSimEvidence(root, m, rd, now), { rootPublicKey: root.publicKey, nowMs: now });
  assert.throws(() => appraiseSimClaims(c, { measurements: ['02'.repeat(48)], allowSim: true }), (e) => isCustodianError(e, 'E_ATTEST_MEASUREMENT'));
});

test('B20b rejects sim evidence under a policy that does not allow it', () => {
  const c = verifySimEvidence(issueSimEvidence(root, m, rd, now), { rootPublicKey: root.publicKey, nowMs: now });
  assert.throws(() => appraiseSimClaims(c, { measurements: ['01'.repeat(48)], allowSim: false }), (e) => isCustodianError(e, 'E_ATTEST_SIMULATED'));
});

test('rejects a measurement edited after signing', () => {
  const ev = Buffer.from(issueSimEvidence(root, m, rd, now)).toString().replace('0101', '0102');
  assert.throws(() => verifySimEvidence(new TextEncoder().encode(ev), { rootPublicKey: root.publicKey, nowMs: now }), (e) => isCustodianError(e, 'E_ATTEST_SIGNATURE'));
});

test('property: only typed errors escape on mutated evidence', () => {
  const ev = issueSimEvidence(root, m, rd, now);
  fc.assert(
    fc.property(fc.integer({ min: 0, max: ev.length - 1 }), fc.integer({ min: 0, max: 255 }), (pos, b) => {
      const x = Uint8Array.from(ev);
      x[pos] = b;
      try {
        verifySimEvidence(x, { rootPublicKey: root.publicKey, nowMs: now });
        assert.equal(x[pos], ev[pos]); // only an unchanged byte may verify
      } catch (e) {
        assert.ok(isCustodianError(e), String(e));
      }
    }),
    { numRuns: 1000 },
  );
});

test('rejects evidence under a small-order (identity) root, which lenient verification would accept', () => {
  const identity = new Uint8Array(32);
  identity[0] = 1;
  // R = base point, s = 1 satisfies the lenient equation for A = identity whatever the message.
  const forged = { body: { format: 'custodian-sim-v1', insecure: true, measurement: '01'.repeat(48), reportData: '02'.repeat(64), timestampMs: now }, signature: '5866666666666666666666666666666666666666666666666666666666666666' + '01' + '00'.repeat(31) };
  const bytes = new TextEncoder().encode(JSON.stringify(forged));
  assert.throws(() => verifySimEvidence(bytes, { rootPublicKey: identity, nowMs: now }), (e) => isCustodianError(e, 'E_ATTEST_SIGNATURE'));
});

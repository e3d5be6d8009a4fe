import { test } from 'node:test';
import assert from 'node:assert/strict';
import { p256 } from '@noble/curves/nist.js';
import { ed25519 } from '@noble/curves/ed25519.js';
import fc from 'fast-check';
import { isCustodianError } from '@custodian/core/errors';
import { CLOCK_SKEW_MAX_MS } from '@custodian/core/limits';
import { bytesToHex, utf8 } from '@custodian/core/bytes';
import type { Json } from '@custodian/core/canonical-json';
import {
  credentialRenewalDue,
  decodeWorkloadCredential,
  decodeWorkloadCredentialAnswer,
  encodeWorkloadCredential,
  verifyWorkloadCredential,
  workloadCredentialStatement,
  WORKLOAD_CREDENTIAL_TTL_MS_MAX,
  type WorkloadClaims,
} from './workload-credential.js';

type R = Record<string, Json>;
const NOW = 1_700_000_000_000;
const M = 'ab'.repeat(48);
const brokerSecret = p256.utils.randomSecretKey();
const brokerKey = p256.getPublicKey(brokerSecret, false);
const identityKey = ed25519.getPublicKey(ed25519.utils.randomSecretKey());

function issue(over: Partial<WorkloadClaims> = {}, secret = brokerSecret): Json {
  const claims: WorkloadClaims = { measurement: M, platform: 'sim', subjectKey: bytesToHex(identityKey), issuedAtMs: NOW, expiresAtMs: NOW + 3_600_000, ...over };
  return encodeWorkloadCredential({ claims, signature: p256.sign(workloadCredentialStatement(claims), secret) });
}

const expect = { subjectKey: identityKey, measurement: M, platform: 'sim' };
const invalid = (e: unknown): boolean => isCustodianError(e, 'E_CREDENTIAL_INVALID');

test('verifies a credential signed by the broker key and naming the expected subject', () => {
  const claims = verifyWorkloadCredential(issue({ signerId: 'signer-1' }), brokerKey, NOW + 1, { ...expect, signerId: 'signer-1' });
  assert.equal(claims.subjectKey, bytesToHex(identityKey));
  assert.equal(claims.signerId, 'signer-1');
  // Round trip: decode → encode gives the same wire form.
  const wire = issue();
  assert.deepEqual(encodeWorkloadCredential(decodeWorkloadCredential(wire)), wire);
});

test('rejects an expired credential, and one issued further ahead than the tolerated clock skew', () => {
  assert.throws(() => verifyWorkloadCredential(issue(), brokerKey, NOW + 3_600_000, expect), (e) => isCustodianError(e, 'E_CREDENTIAL_EXPIRED'));
  assert.throws(() => verifyWorkloadCredential(issue(), brokerKey, NOW - CLOCK_SKEW_MAX_MS - 1, expect), (e) => isCustodianError(e, 'E_CREDENTIAL_EXPIRED'));
  // A broker clock slightly ahead (or a verifier that read its clock before the hello) is tolerated.
  verifyWorkloadCredential(issue(), brokerKey, NOW - CLOCK_SKEW_MAX_MS, expect);
});

test('rejects a credential for another subject key, measurement, platform or signer', () => {
  const other = ed25519.getPublicKey(ed25519.utils.randomSecretKey());
  assert.throws(() => verifyWorkloadCredential(issue(), brokerKey, NOW, { ...expect, subjectKey: other }), invalid);
  assert.throws(() => verifyWorkloadCredential(issue(), brokerKey, NOW, { ...expect, measurement: 'cd'.repeat(48) }), invalid);
  assert.throws(() => verifyWorkloadCredential(issue(), brokerKey, NOW, { ...expect, platform: 'tdx' }), invalid);
  assert.throws(() => verifyWorkloadCredential(issue({ signerId: 'signer-2' }), brokerKey, NOW, { ...expect, signerId: 'signer-1' }), invalid);
});

test('rejects a credential signed by a look-alike broker key', () => {
  assert.throws(() => verifyWorkloadCredential(issue({}, p256.utils.randomSecretKey()), brokerKey, NOW, expect), invalid);
});

test('rejects altered claims (each field) under the original signature', () => {
  const wire = issue() as R;
  const claims = wire['claims'] as R;
  const alterations: R[] = [
    { measurement: 'cd'.repeat(48) },
    { platform: 'tdx' },
    { subjectKey: bytesToHex(ed25519.getPublicKey(ed25519.utils.randomSecretKey())) },
    { expiresAtMs: NOW + 7_200_000 },
    { issuedAtMs: NOW - 1 },
    { signerId: 'signer-9' },
  ];
  for (const a of alterations) {
    assert.throws(() => verifyWorkloadCredential({ ...wire, claims: { ...claims, ...a } }, brokerKey, NOW + 1), invalid, JSON.stringify(a));
  }
});

test('rejects malformed credentials with typed errors: unknown fields, bad hex, over-long lifetimes', () => {
  const wire = issue() as R;
  const claims = wire['claims'] as R;
  const bad: Json[] = [
    null,
    [],
    { ...wire, extra: 1 },
    { ...wire, claims: { ...claims, extra: 1 } },
    { ...wire, signature: 'zz' },
    { ...wire, signature: String(wire['signature']).toUpperCase() },
    { ...wire, claims: { ...claims, subjectKey: 'ab'.repeat(33) } },
    { ...wire, claims: { ...claims, measurement: 'not-hex' } },
  ];
  for (const b of bad) assert.throws(() => verifyWorkloadCredential(b, brokerKey, NOW), invalid, JSON.stringify(b));
  const tooLong = issue({ expiresAtMs: NOW + WORKLOAD_CREDENTIAL_TTL_MS_MAX + 1 });
  assert.throws(() => decodeWorkloadCredential(tooLong), (e) => isCustodianError(e, 'E_FIELD_INVALID'));
  assert.throws(() => decodeWorkloadCredential(issue({ expiresAtMs: NOW })), (e) => isCustodianError(e, 'E_FIELD_INVALID'));
});

test('only typed errors escape verification of mutated credentials', () => {
  const wire = issue() as R;
  fc.assert(
    fc.property(fc.jsonValue(), fc.constantFrom('claims', 'signature', 'measurement', 'subjectKey', 'expiresAtMs'), (v, k) => {
      const claims = wire['claims'] as R;
      const mutated = k === 'claims' || k === 'signature' ? { ...wire, [k]: v as Json } : { ...wire, claims: { ...claims, [k]: v as Json } };
      try {
        verifyWorkloadCredential(mutated, brokerKey, NOW + 1, expect);
      } catch (e) {
        return isCustodianError(e, 'E_CREDENTIAL_INVALID');
      }
      return JSON.stringify(mutated) === JSON.stringify(wire);
    }),
    { numRuns: 2000 },
  );
});

test('renewal is due when less than a third of the lifetime remains', () => {
  const claims = decodeWorkloadCredential(issue()).claims;
  assert.equal(credentialRenewalDue(claims, NOW + 2_399_000), false);
  assert.equal(credentialRenewalDue(claims, NOW + 2_401_000), true);
});

test('decodes the broker answer: a credential (shape checked), a refusal, oversize and non-JSON refused', () => {
  const ok = decodeWorkloadCredentialAnswer(utf8(JSON.stringify({ ok: true, credential: issue() })));
  assert.equal(ok.ok, true);
  const no = decodeWorkloadCredentialAnswer(utf8(JSON.stringify({ ok: false, error: { code: 'E_KBS_MEASUREMENT_NOT_APPROVED', message: 'no', detail: { reasons: [] } } })));
  assert.deepEqual(no, { ok: false, code: 'E_KBS_MEASUREMENT_NOT_APPROVED', message: 'no' });
  assert.throws(() => decodeWorkloadCredentialAnswer(utf8(JSON.stringify({ ok: true, credential: { claims: {} } }))), (e) => isCustodianError(e) && e.code.startsWith('E_FIELD_'));
  assert.throws(() => decodeWorkloadCredentialAnswer(new Uint8Array(64 * 1024)), (e) => isCustodianError(e, 'E_KBS_ANSWER_INVALID'));
  assert.throws(() => decodeWorkloadCredentialAnswer(utf8('nope')), (e) => isCustodianError(e, 'E_KBS_ANSWER_INVALID'));
});

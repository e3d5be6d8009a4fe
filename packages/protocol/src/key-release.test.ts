/**
 * The key-release wire: one decoder per message, bounded, refusing unknown
 * fields; refusals decoded into bounded words; the broker's answer signature
 * checked over every field the enclave relies on. Mutated real answers only
 * ever produce typed errors.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { generateKeyPairSync, sign as nodeSign } from 'node:crypto';
import { p256 } from '@noble/curves/nist.js';
import { isCustodianError } from '@custodian/core/errors';
import { bytesToHex, utf8 } from '@custodian/core/bytes';
import {
  decodeKbsNonceAnswer,
  decodeKeyReleaseAnswer,
  decodeKeyReleaseRequest,
  encodeKeyReleaseRequest,
  KEY_RELEASE_ANSWER_BYTES_MAX,
  KEY_RELEASE_EVIDENCE_BYTES_MAX,
  keyReleaseAnswerStatement,
  verifyKbsSignature,
} from './key-release.js';

const M = 'c4'.repeat(48);
const req = { nonce: new Uint8Array(32).fill(1), evidence: new Uint8Array(100).fill(2), publicKey: new Uint8Array(32).fill(3) };
const sk = p256.utils.randomSecretKey();
const pk = p256.getPublicKey(sk, false);
const RK = p256.getPublicKey(p256.utils.randomSecretKey(), false);

function answer(over: Record<string, unknown> = {}): Record<string, unknown> {
  const enc = new Uint8Array(32).fill(4);
  const ciphertext = new Uint8Array(48).fill(5);
  const credential = { claims: { measurement: M, platform: 'sim', subjectKey: bytesToHex(req.publicKey), issuedAtMs: 1, expiresAtMs: 2 }, signature: '06'.repeat(64) };
  const stmt = keyReleaseAnswerStatement({ measurement: M, nonce: req.nonce, publicKey: req.publicKey, enc, ciphertext, credentialSignature: new Uint8Array(64).fill(6), recoveryKey: RK });
  const signature = bytesToHex(p256.sign(stmt, sk, { prehash: true }));
  return { ok: true, measurement: M, enc: bytesToHex(enc), ciphertext: bytesToHex(ciphertext), credential, recoveryKey: bytesToHex(RK), signature, ...over };
}

const bytes = (v: unknown): Uint8Array => utf8(JSON.stringify(v));

test('a request round-trips; wrong sizes, empty or oversized evidence and unknown fields are refused', () => {
  const back = decodeKeyReleaseRequest(encodeKeyReleaseRequest(req));
  assert.deepEqual(back, req);
  const wire = encodeKeyReleaseRequest(req) as Record<string, string>;
  for (const bad of [
    { ...wire, nonce: '01'.repeat(31) },
    { ...wire, publicKey: '01'.repeat(33) },
    { ...wire, evidence: '' },
    { ...wire, evidence: '00'.repeat(KEY_RELEASE_EVIDENCE_BYTES_MAX + 1) },
    { ...wire, extra: 1 },
    { ...wire, nonce: 'AB'.repeat(32) },
  ]) {
    assert.throws(() => decodeKeyReleaseRequest(bad), (e: unknown) => isCustodianError(e) && e.code.startsWith('E_FIELD') || isCustodianError(e, 'E_HEX_INVALID'));
  }
});

test('a granted answer decodes and its signature verifies only over the exact fields', () => {
  const a = decodeKeyReleaseAnswer(bytes(answer()));
  assert.equal(a.ok, true);
  if (!a.ok) return;
  assert.deepEqual(a.recoveryKey, RK);
  const stmt = (over: Partial<{ measurement: string; nonce: Uint8Array; recoveryKey: Uint8Array }> = {}): Uint8Array =>
    keyReleaseAnswerStatement({
      measurement: over.measurement ?? a.measurement,
      nonce: over.nonce ?? req.nonce,
      publicKey: req.publicKey,
      enc: a.enc,
      ciphertext: a.ciphertext,
      credentialSignature: a.credential.signature,
      recoveryKey: over.recoveryKey ?? a.recoveryKey,
    });
  assert.ok(verifyKbsSignature(pk, stmt(), a.signature));
  assert.ok(!verifyKbsSignature(pk, stmt({ recoveryKey: p256.getPublicKey(p256.utils.randomSecretKey(), false) }), a.signature), 'another recovery key');
  assert.ok(!verifyKbsSignature(pk, stmt({ measurement: 'd5'.repeat(48) }), a.signature), 'another measurement');
  assert.ok(!verifyKbsSignature(pk, stmt({ nonce: new Uint8Array(32) }), a.signature), 'another nonce');
  assert.ok(!verifyKbsSignature(p256.getPublicKey(p256.utils.randomSecretKey(), false), stmt(), a.signature), 'another broker');
  assert.ok(!verifyKbsSignature(new Uint8Array(65), stmt(), a.signature), 'not a key: false, not a throw');
});

test('accepts the broker signature in either S half (an HSM does not normalise to low S)', () => {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const raw = new Uint8Array(publicKey.export({ format: 'der', type: 'spki' }).subarray(-65));
  const msg = utf8('statement');
  let sawHigh = false;
  for (let i = 0; i < 64; i++) {
    const sig = new Uint8Array(nodeSign('sha256', msg, { key: privateKey, dsaEncoding: 'ieee-p1363' }));
    assert.ok(verifyKbsSignature(raw, msg, sig));
    sawHigh ||= BigInt('0x' + bytesToHex(sig.subarray(32))) > p256.Point.CURVE().n / 2n;
  }
  assert.ok(sawHigh, 'some signature had a high S');
});

test('refusals decode into bounded words; ill-formed codes are not repeated', () => {
  const r = decodeKeyReleaseAnswer(bytes({ ok: false, error: { code: 'E_KBS_APPRAISAL_FAILED', message: 'no', detail: { reasons: ['debug', 7, 'x'.repeat(3000), ...Array.from({ length: 50 }, () => 'r')] } } }));
  assert.equal(r.ok, false);
  if (r.ok) return;
  assert.equal(r.code, 'E_KBS_APPRAISAL_FAILED');
  assert.equal(r.reasons[0], 'debug');
  assert.ok(r.reasons.length <= 32 && r.reasons.every((x) => x.length <= 1024));
  const n = decodeKbsNonceAnswer(bytes({ ok: false, error: { code: '<script>', message: 'm', detail: {} } }));
  assert.ok(!n.ok && n.code === 'E_KBS_REFUSED');
});

test('oversized or non-JSON answers are E_KBS_ANSWER_INVALID; mutated answers only raise typed errors', () => {
  assert.throws(() => decodeKeyReleaseAnswer(new Uint8Array(KEY_RELEASE_ANSWER_BYTES_MAX + 1)), (e: unknown) => isCustodianError(e, 'E_KBS_ANSWER_INVALID'));
  assert.throws(() => decodeKbsNonceAnswer(utf8('<html>')), (e: unknown) => isCustodianError(e, 'E_KBS_ANSWER_INVALID'));
  const real = bytes(answer());
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.nat(real.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }), (edits) => {
      const m = real.slice();
      for (const [i, v] of edits) m[i] = v;
      try {
        decodeKeyReleaseAnswer(m);
      } catch (e) {
        assert.ok(isCustodianError(e), `untyped error: ${String(e)}`);
      }
    }),
    { numRuns: 2000 },
  );
});

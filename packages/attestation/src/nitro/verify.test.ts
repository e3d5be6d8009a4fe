import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { readVector } from '@custodian/core/vectors';
import { isCustodianError } from '@custodian/core/errors';
import { decodeCbor } from '@custodian/core/cbor/decode';
import { encodeCbor } from '@custodian/core/cbor/encode';
import { CborMap } from '@custodian/core/cbor/types';
import { verifyNitro } from './verify.js';
import { isAttestationError } from '../errors.js';

const doc = (f: string): Uint8Array => readVector('attestation', 'nitro', f);
const DOC1 = doc('attestation-doc-1.cbor');
const DOC2 = doc('attestation-doc-2.cbor');
const DEBUG = doc('attestation-doc-debug-1.cbor');
const T1 = new Date('2024-09-07T15:00:00Z');
const T2 = new Date('2023-07-10T13:00:00Z');
const ONES = new Uint8Array(1024).fill(1);

test('verifies real Nitro document 1 with the facts from the vector README', () => {
  const c = verifyNitro(DOC1, { now: T1 });
  assert.equal(c.format, 'nitro');
  assert.equal(c.debug, false);
  assert.equal(c.platform.moduleId, 'i-0a22e5c5f24d22174-enc0191cceb4289903f');
  assert.equal(c.issuedAt, '2024-09-07T14:37:39.545Z');
  assert.equal(c.measurements.PCR0, 'e72a46ca80a260fb044a125442f0c7e331813bcbaf9724d9f3857758992766f2d65710a27aa94ae3949dd54e7c9fe86a');
  assert.equal(c.measurements.PCR1, '0343b056cd8485ca7890ddd833476d78460aed2aa161548e4e26bedf321726696257d623e8805f3f605946b3d8b0c6aa');
  assert.equal(c.measurements.PCR2, 'd5dcbdea0aa39c802f9d55ced2ea6e4d74ecec5f08fe40c508882639c9090642669106a062a3e24ee2805a3024b9b75c');
  assert.equal(Object.keys(c.measurements).length, 16);
  assert.deepEqual(c.reportData, ONES);
  assert.deepEqual(c.nonce, ONES);
  assert.deepEqual(c.publicKey, ONES);
  assert.equal(c.chain.length, 5);
  assert.match(c.chain[4]!, /CN=aws.nitro-enclaves/);
  assert.deepEqual(c.steps, ['decode', 'bounds', 'chain', 'signature', 'claims']);
  assert.equal(c.tcb.status, 'Unevaluated');
});

test('verifies real Nitro document 2 (empty user_data and nonce)', () => {
  const c = verifyNitro(DOC2, { now: T2 });
  assert.equal(c.measurements.PCR0, '7048a0ff10dc087e1ec62792684e68d77d004c7f5785e7dd983f1b7d97610026477aba57124244b1b34848cdafa18c08');
  assert.equal(c.reportData.length, 0);
  assert.equal(c.nonce?.length, 0);
  assert.equal(c.publicKey?.length, 426);
});

test('checks the nonce binding when a nonce is given (B21)', () => {
  verifyNitro(DOC1, { now: T1, nonce: ONES });
  assert.throws(() => verifyNitro(DOC1, { now: T1, nonce: new Uint8Array(32) }), (e) => isAttestationError(e, 'E_ATTEST_NONCE'));
  assert.throws(() => verifyNitro(DOC2, { now: T2, nonce: new Uint8Array([1]) }), (e) => isAttestationError(e, 'E_ATTEST_NONCE'));
  assert.throws(() => verifyNitro(DOC1, { now: T1, reportData: new Uint8Array(64) }), (e) => isAttestationError(e, 'E_ATTEST_BINDING'));
});

test('B20 debug enclave: valid signature, debug claim set', () => {
  const c = verifyNitro(DEBUG, { now: T1 });
  assert.equal(c.debug, true);
  assert.equal(c.measurements.PCR0, '0'.repeat(96));
});

test('rejects the self-signed document: no path to the AWS root', () => {
  assert.throws(() => verifyNitro(doc('attestation-doc-selfsigned-FAIL.cbor'), { now: new Date('2024-04-17T18:51:46Z') }), (e) => isAttestationError(e, 'E_ATTEST_FORMAT', 'E_ATTEST_CHAIN_UNTRUSTED'));
});

test('rejects certificates outside their validity at the verification time', () => {
  for (const t of ['2024-09-07T18:00:00Z', '2024-09-07T14:00:00Z']) {
    assert.throws(() => verifyNitro(DOC1, { now: new Date(t) }), (e) => isAttestationError(e, 'E_ATTEST_CERT_EXPIRED'), t);
  }
});

test('rejects a byte flipped in the payload or signature', () => {
  const sig = DOC1.slice();
  sig[sig.length - 5]! ^= 0x01;
  assert.throws(() => verifyNitro(sig, { now: T1 }), (e) => isAttestationError(e, 'E_ATTEST_SIGNATURE'));
  // flip inside the module_id text (payload), keeping the CBOR valid
  const i = Buffer.from(DOC1).indexOf('i-0a22e5c5');
  const pay = DOC1.slice();
  pay[i + 2] = 0x31;
  assert.throws(() => verifyNitro(pay, { now: T1 }), (e) => isAttestationError(e, 'E_ATTEST_SIGNATURE'));
});

test('rejects a chain with a missing or reordered intermediate', () => {
  const outer = decodeCbor(DOC1) as readonly [Uint8Array, CborMap, Uint8Array, Uint8Array];
  const payload = decodeCbor(outer[2]) as CborMap;
  const rebuild = (f: (cab: readonly Uint8Array[]) => Uint8Array[]): Uint8Array => {
    const entries = payload.entries.map(([k, v]) => [k, k === 'cabundle' ? f(v as readonly Uint8Array[]) : v] as const);
    return encodeCbor([outer[0], outer[1], encodeCbor(new CborMap(entries)), outer[3]]);
  };
  assert.throws(() => verifyNitro(rebuild((c) => [c[0]!, c[1]!, c[3]!]), { now: T1 }), (e) => isAttestationError(e, 'E_ATTEST_CHAIN_UNTRUSTED'));
  assert.throws(() => verifyNitro(rebuild((c) => [c[0]!, c[2]!, c[1]!, c[3]!]), { now: T1 }), (e) => isAttestationError(e, 'E_ATTEST_CHAIN_UNTRUSTED'));
});

test('rejects truncated input, trailing bytes and oversized input', () => {
  assert.throws(() => verifyNitro(DOC1.subarray(0, 3000), { now: T1 }), (e) => isAttestationError(e, 'E_ATTEST_FORMAT'));
  const trailing = new Uint8Array(DOC1.length + 1);
  trailing.set(DOC1);
  assert.throws(() => verifyNitro(trailing, { now: T1 }), (e) => isAttestationError(e, 'E_ATTEST_FORMAT'));
  assert.throws(() => verifyNitro(new Uint8Array(10 * 1024 * 1024), { now: T1 }), (e) => isAttestationError(e, 'E_ATTEST_TOO_LARGE'));
});

test('B01 rejects a Nitro document with a duplicate payload key', () => {
  const outer = decodeCbor(DOC1) as readonly [Uint8Array, CborMap, Uint8Array, Uint8Array];
  // append a second "nonce" entry by hand: map header a9 -> aa, then the entry
  const p = outer[2];
  assert.equal(p[0], 0xa9);
  const dup = new Uint8Array([...p, ...encodeCbor('nonce'), 0x40]);
  dup[0] = 0xaa;
  assert.throws(() => verifyNitro(encodeCbor([outer[0], outer[1], dup, outer[3]]), { now: T1 }), (e) => isAttestationError(e, 'E_ATTEST_FORMAT') && e.detail.cbor === 'E_CBOR_DUPLICATE_KEY');
});

test('property: only typed errors escape verifyNitro on mutated documents', () => {
  fc.assert(
    fc.property(fc.nat(), fc.integer({ min: 0, max: 255 }), (pos, val) => {
      const m = DOC2.slice();
      m[pos % m.length] = val;
      try {
        verifyNitro(m, { now: T2 });
      } catch (e) {
        assert.ok(isCustodianError(e), String(e));
      }
    }),
    { numRuns: 1000 },
  );
});

test('B03 rejects CBOR nested deeper than the Nitro format allows', () => {
  const outer = decodeCbor(DOC1) as readonly [Uint8Array, CborMap, Uint8Array, Uint8Array];
  const payload = decodeCbor(outer[2]) as CborMap;
  const entries = payload.entries.map(([k, v]) => [k, k === 'nonce' ? [[[new Uint8Array(1)]]] : v] as const);
  const doc = encodeCbor([outer[0], outer[1], encodeCbor(new CborMap(entries)), outer[3]]);
  assert.throws(() => verifyNitro(doc, { now: T1 }), (e) => isAttestationError(e, 'E_ATTEST_FORMAT') && e.detail.cbor === 'E_CBOR_DEPTH_EXCEEDED');
});

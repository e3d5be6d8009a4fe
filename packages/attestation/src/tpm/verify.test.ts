import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { readVector } from '@custodian/core/vectors';
import { isCustodianError } from '@custodian/core/errors';
import { verifyTpm } from './verify.js';
import { detectFormat } from '../verify.js';
import { isAttestationError } from '../errors.js';
import { decodeTpmsAttestQuote } from './structures.js';

const v = (f: string): Uint8Array => readVector('attestation', 'tpm', 'gcp', f);
const NONONCE = v('gce-cos85-attestation-nononce.pb');
const NONCE = v('gce-cos85-attestation-nonce9009.pb');
const T = new Date('2026-01-01T00:00:00Z');

test('verifies both GCE vTPM attestations (3 banks each) with the facts from the README', () => {
  assert.equal(detectFormat(NONONCE), 'tpm');
  const c = verifyTpm(NONONCE, { now: T });
  assert.equal(c.format, 'tpm');
  assert.equal(c.measurements.PCR0, '0f35c214608d93c7a6e68ae7359b4a8be5a0e99eea9107ece427c4dea4e439cf');
  assert.equal(c.measurements.PCR7, '3365d7fa2b024c852913c06e04ffbfa6ea5289f743bbf1a76f7ffdf21ed84793');
  assert.equal(c.measurements.SHA1_PCR0, 'c032c3b51dbb6f96b047421512fd4b4dfde496f3');
  assert.equal(c.platform.banks, 'SHA1,SHA256,SHA384');
  assert.equal(c.platform.firmwareVersion, '0x2016051100162800');
  assert.equal(c.platform.akCertSha256, '7dbdf36e4e897ed258936b59926e0b0f453641c0450992700961075bbdf5f55c');
  assert.equal(c.platform.resetCount, 10);
  assert.equal(c.nonce?.length, 0);
  assert.equal(c.chain.length, 3);
  const n = verifyTpm(NONCE, { now: T, nonce: new Uint8Array([0x90, 0x09]) });
  assert.deepEqual(n.nonce, new Uint8Array([0x90, 0x09]));
});

test('B21 rejects a nonce mismatch', () => {
  assert.throws(() => verifyTpm(NONONCE, { now: T, nonce: new Uint8Array([0x90, 0x09]) }), (e) => isAttestationError(e, 'E_ATTEST_NONCE'));
});

test('rejects a swapped signature, a tampered PCR value and a tampered quote', () => {
  // flip a byte inside the sha256 quote signature (raw_sig of the 2nd quote)
  const swapped = NONONCE.slice();
  const i = Buffer.from(NONONCE).indexOf(Buffer.from(v('nononce-quote-sha256.tpmt_signature.bin').subarray(6, 22)));
  assert.ok(i > 0);
  swapped[i]! ^= 1;
  assert.throws(() => verifyTpm(swapped, { now: T }), (e) => isAttestationError(e, 'E_ATTEST_SIGNATURE'));
  const pcr = NONONCE.slice();
  const j = Buffer.from(NONONCE).indexOf(Buffer.from('0f35c214608d93c7a6e68ae7359b4a8b', 'hex'));
  pcr[j]! ^= 1;
  assert.throws(() => verifyTpm(pcr, { now: T }), (e) => isAttestationError(e, 'E_ATTEST_MEASUREMENT'));
  const q = NONONCE.slice();
  const k = Buffer.from(NONONCE).indexOf(Buffer.from(v('nononce-quote-sha1.tpms_attest.bin').subarray(0, 20)));
  q[k + 60]! ^= 1;
  assert.throws(() => verifyTpm(q, { now: T }), (e) => isAttestationError(e, 'E_ATTEST_SIGNATURE'));
});

test('decodes the split TPMS_ATTEST files strictly', () => {
  const a = decodeTpmsAttestQuote(v('nonce9009-quote-sha256.tpms_attest.bin'));
  assert.deepEqual(a.extraData, new Uint8Array([0x90, 0x09]));
  assert.equal(a.selection[0]!.pcrs.length, 24);
  assert.throws(() => decodeTpmsAttestQuote(new Uint8Array([...v('nonce9009-quote-sha256.tpms_attest.bin'), 0])), (e) => isAttestationError(e, 'E_ATTEST_FORMAT'));
});

test('rejects an AK certificate outside its validity', () => {
  assert.throws(() => verifyTpm(NONONCE, { now: new Date('2060-01-01T00:00:00Z') }), (e) => isAttestationError(e, 'E_ATTEST_CERT_EXPIRED'));
});

test('property: only typed errors escape verifyTpm on mutated attestations', () => {
  fc.assert(
    fc.property(fc.nat(), fc.integer({ min: 0, max: 255 }), (pos, val) => {
      const m = NONCE.slice();
      // mutate outside the 24 KB event log most of the time, where the structure lives
      const p = pos % 3 === 0 ? pos % m.length : m.length - 1 - (pos % 5700);
      m[p] = val;
      try {
        verifyTpm(m, { now: T });
      } catch (e) {
        assert.ok(isCustodianError(e), String(e));
      }
    }),
    { numRuns: 1000 },
  );
});

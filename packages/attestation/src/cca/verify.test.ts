import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { readVector } from '@custodian/core/vectors';
import { isCustodianError } from '@custodian/core/errors';
import { decodeCbor } from '@custodian/core/cbor/decode';
import { encodeCbor } from '@custodian/core/cbor/encode';
import { CborMap, CborTag } from '@custodian/core/cbor/types';
import { verifyCca } from './verify.js';
import { isAttestationError } from '../errors.js';
import { importCpak } from '../collateral.js';

const v = (f: string): Uint8Array => readVector('attestation', 'cca', f);
const CPAK = importCpak(v('cpak-tfrmm-fvp-p384.pub.pem'));
const CPAK_JWK = importCpak(v('cpak-tfrmm-fvp-p384.jwk.json'));
const CPAK_ES256 = importCpak(v('cpak-es256-synthetic.jwk.json'));
const NOW = new Date('2026-01-01T00:00:00Z');
const opts = { now: NOW, collateral: { cpak: [CPAK] } };

test('verifies the TF-RMM FVP token (legacy profile) with the facts from the README', () => {
  const c = verifyCca(v('cca-token-tfrmm-fvp-1.cbor'), opts);
  assert.deepEqual(c.reportData, new Uint8Array(64).fill(0xab));
  assert.equal(Buffer.from(c.measurements.RPV!, 'hex').toString('latin1'), 'The quick brown fox jumps over 13 lazy dogs.The quick brown fox ');
  assert.equal(c.measurements.RIM, '0'.repeat(64));
  assert.equal(c.platform.platformChallenge, 'b5973cb68baa9fc55558786b7ec67f69e40df5ba5aa921cd0c27f40587a011ea');
  assert.equal(c.platform.instanceId, '0107060504030201000f0e0d0c0b0a090817161514131211101f1e1d1c1b1a1918');
  assert.equal(c.platform.lifecycle, '0x3003');
  assert.equal(c.platform.swComponents, 4);
  assert.equal(c.debug, false);
  assert.deepEqual(c.steps, ['decode', 'bounds', 'chain', 'signature', 'claims']);
  // the JWK form of the same CPAK works too
  verifyCca(v('cca-token-tfrmm-fvp-1.cbor'), { now: NOW, collateral: { cpak: [CPAK_JWK] } });
});

test('verifies the trustee example (sha-512 RIM, 13 components) and the draft-ffm profile (COSE_Key RAK)', () => {
  const t2 = verifyCca(v('cca-token-trustee-example-2.cbor'), opts);
  assert.equal(t2.measurements.RIM, 'ae87fbf7f105e71a7827cb6f0896889c73d2beaf4830d4f9cb05e3e96c3fc7b4faa04caf36a26bd094cf9c7b738617e4c189aaee184dedda5d7a03c39dbdac7c');
  assert.equal(t2.platform.swComponents, 13);
  assert.equal(t2.measurements['SW:RMM'], 'a1fb50e6c86fae1679ef3351296fd6713411a08cf8dd1790a4fd05fae8688164');
  const t3 = verifyCca(v('cca-token-ffm-profile-3.cbor'), opts);
  assert.equal(t3.platform.realmProfile, 'tag:arm.com,2023:realm#1.0.0');
  assert.equal(t3.measurements.RIM, '311314ab73620350cf758834ae5c65d9e8c2dc7febe6e7d9654bbe864e300d49');
  assert.equal(t3.measurements.REM0?.slice(0, 8), '24d5b0a2');
  assert.equal(t3.platform.platformChallenge, '0d22e08a98469058486318283489bdb36f09dbefeb1864df433fa6e54ea2d711');
});

test('verifies the ES256 synthetic token with its own key and refuses it under the P-384 CPAK', () => {
  const c = verifyCca(v('cca-token-es256-synthetic-4.cbor'), { now: NOW, collateral: { cpak: [CPAK_ES256] } });
  assert.equal(c.platform.lifecycle, '0x3000');
  assert.throws(() => verifyCca(v('cca-token-es256-synthetic-4.cbor'), opts), (e) => isAttestationError(e, 'E_ATTEST_CHAIN_UNTRUSTED'));
  assert.throws(() => verifyCca(v('cca-token-tfrmm-fvp-1.cbor'), { now: NOW, collateral: { cpak: [CPAK_ES256] } }), (e) => isAttestationError(e, 'E_ATTEST_CHAIN_UNTRUSTED'));
});

test('rejects the unsigned platform token and the binding mismatch', () => {
  assert.throws(() => verifyCca(v('cca-token-unsigned-platform-FAIL.cbor'), opts), (e) => isAttestationError(e, 'E_ATTEST_FORMAT', 'E_ATTEST_SIGNATURE'));
  assert.throws(() => verifyCca(v('cca-token-binding-mismatch-FAIL.cbor'), opts), (e) => isAttestationError(e, 'E_ATTEST_BINDING'));
});

test('refuses a CPAK whose point is not on the curve, and verification without a CPAK', () => {
  assert.throws(() => importCpak(v('cpak-es256-invalid-point-FAIL.jwk.json')), (e) => isAttestationError(e, 'E_COLLATERAL_INVALID'));
  assert.throws(() => verifyCca(v('cca-token-tfrmm-fvp-1.cbor'), { now: NOW }), (e) => isAttestationError(e, 'E_COLLATERAL_MISSING'));
});

test('rejects a spliced token (platform of token 1 with realm of token 3)', () => {
  const t1 = (decodeCbor(v('cca-token-tfrmm-fvp-1.cbor')) as CborTag).value as CborMap;
  const t3 = (decodeCbor(v('cca-token-ffm-profile-3.cbor')) as CborTag).value as CborMap;
  const spliced = encodeCbor(new CborTag(399, new CborMap([[44234, t1.get(44234)!], [44241, t3.get(44241)!]])));
  assert.throws(() => verifyCca(spliced, opts), (e) => isAttestationError(e, 'E_ATTEST_BINDING'));
});

test('rejects a flipped byte in the realm payload', () => {
  const m = v('cca-token-tfrmm-fvp-1.cbor').slice();
  const i = Buffer.from(m).indexOf(Buffer.from('The quick'));
  m[i] = 0x74;
  assert.throws(() => verifyCca(m, opts), (e) => isAttestationError(e, 'E_ATTEST_SIGNATURE'));
});

test('B21 checks the realm challenge against the nonce', () => {
  verifyCca(v('cca-token-tfrmm-fvp-1.cbor'), { ...opts, nonce: new Uint8Array(64).fill(0xab) });
  assert.throws(() => verifyCca(v('cca-token-tfrmm-fvp-1.cbor'), { ...opts, nonce: new Uint8Array(64).fill(0xac) }), (e) => isAttestationError(e, 'E_ATTEST_NONCE'));
});

test('property: only typed errors escape verifyCca on mutated tokens', () => {
  const seeds = [v('cca-token-tfrmm-fvp-1.cbor'), v('cca-token-ffm-profile-3.cbor')];
  fc.assert(
    fc.property(fc.boolean(), fc.nat(), fc.integer({ min: 0, max: 255 }), (which, pos, val) => {
      const m = seeds[which ? 1 : 0]!.slice();
      m[pos % m.length] = val;
      try {
        verifyCca(m, opts);
      } catch (e) {
        assert.ok(isCustodianError(e), String(e));
      }
    }),
    { numRuns: 1000 },
  );
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { readVector } from '@custodian/core/vectors';
import { isCustodianError } from '@custodian/core/errors';
import { parseCertificate, pemBlocks, verifyChain } from './x509.js';
import { parseDer } from './der.js';
import { pinnedRoot, PINNED_ROOTS, type PinnedRootName } from './roots.js';
import { isAttestationError } from './errors.js';

const VCEK = readVector('attestation', 'sev-snp', 'milan-vcek-2.der');
const derInvalid = (e: unknown): boolean => isAttestationError(e, 'E_DER_INVALID');

/** Re-encodes the outer SEQUENCE header of `der` with a custom length encoding. */
function withOuterLength(der: Uint8Array, lengthBytes: number[]): Uint8Array {
  const hdr = der[1]! & 0x7f;
  const body = der.subarray(2 + hdr);
  return new Uint8Array([0x30, ...lengthBytes, ...body]);
}

test('every pinned root loads and matches its pinned SHA-256', () => {
  for (const name of Object.keys(PINNED_ROOTS) as PinnedRootName[]) assert.equal(pinnedRoot(name).sha256, PINNED_ROOTS[name]);
});

test('parses real VCEK with serial 0 and RSA-PSS signature, and reads its validity', () => {
  const c = parseCertificate(VCEK);
  assert.equal(c.serialHex, '00');
  assert.equal(c.notBefore.toISOString(), '2023-01-24T17:58:26.000Z');
  const path = verifyChain([c, pinnedRoot('amd-milan-ask')], [pinnedRoot('amd-milan-ark')], new Date('2026-01-01T00:00:00Z'));
  assert.equal(path.length, 3);
});

test('B05 rejects long-form lengths where the short form fits, leading zeros, overflow and BER indefinite form', () => {
  const len = VCEK.length - 4; // VCEK outer header is 30 82 xx xx
  assert.equal(VCEK[1], 0x82);
  assert.throws(() => parseCertificate(withOuterLength(VCEK, [0x83, 0x00, len >> 8, len & 0xff])), derInvalid); // leading zero
  assert.throws(() => parseCertificate(withOuterLength(VCEK, [0x80])), derInvalid); // indefinite
  assert.throws(() => parseCertificate(withOuterLength(VCEK, [0x88, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])), derInvalid); // uint64 length
  assert.throws(() => parseCertificate(withOuterLength(VCEK, [0x84, 0xff, 0xff, 0xff, 0xff])), derInvalid); // past the end
  assert.throws(() => parseDer(new Uint8Array([0x04, 0x81, 0x05, 1, 2, 3, 4, 5])), derInvalid); // long form for 5
  assert.throws(() => parseCertificate(new Uint8Array([...VCEK, 0x00])), derInvalid); // trailing data
  assert.throws(() => parseCertificate(VCEK.subarray(0, VCEK.length - 1)), derInvalid); // truncated
  assert.throws(() => parseDer(new Uint8Array(1 << 20)), derInvalid); // oversized before parsing
  assert.throws(() => parseDer(new Uint8Array([0x30, 0x06, 0x24, 0x04, 0x04, 0x02, 0x01, 0x02])), derInvalid); // constructed OCTET STRING
  const deep = new Uint8Array(200);
  for (let i = 0; i < 100; i++) [deep[2 * i], deep[2 * i + 1]] = [0x30, 198 - 2 * i];
  assert.throws(() => parseDer(deep), derInvalid);
});

test('rejects a chain signed by a self-made root with the same subject names', () => {
  // the Nitro self-signed document's cert claims another subject; here, a real VCEK offered as its own anchor fails
  const c = parseCertificate(VCEK);
  assert.throws(() => verifyChain([c], [pinnedRoot('amd-genoa-ark')], new Date('2026-01-01T00:00:00Z')), (e) => isAttestationError(e, 'E_ATTEST_CHAIN_UNTRUSTED'));
  // an ASK from another generation cannot stand in
  assert.throws(() => verifyChain([c, pinnedRoot('amd-genoa-ask')], [pinnedRoot('amd-genoa-ark')], new Date('2026-01-01T00:00:00Z')), (e) => isAttestationError(e, 'E_ATTEST_CHAIN_UNTRUSTED'));
});

test('Turin VCEK chains under the Turin ASK only', () => {
  const c = parseCertificate(readVector('attestation', 'sev-snp', 'turin-vcek-noreport.der'));
  const now = new Date('2026-01-01T00:00:00Z');
  verifyChain([c, pinnedRoot('amd-turin-ask')], [pinnedRoot('amd-turin-ark')], now);
  assert.throws(() => verifyChain([c, pinnedRoot('amd-milan-ask')], [pinnedRoot('amd-milan-ark')], now), (e) => isAttestationError(e, 'E_ATTEST_CHAIN_UNTRUSTED'));
});

test('property: only typed errors escape the certificate parser on mutated DER', () => {
  const seeds = [VCEK, ...pemBlocks(Buffer.from(readVector('attestation', 'tdx', 'intel-sgx-pck-platform-ca.pem')).toString())];
  fc.assert(
    fc.property(fc.boolean(), fc.nat(), fc.integer({ min: 0, max: 255 }), (which, pos, val) => {
      const m = seeds[which ? 1 : 0]!.slice();
      m[pos % m.length] = val;
      try {
        parseCertificate(m);
      } catch (e) {
        assert.ok(isCustodianError(e), String(e));
      }
    }),
    { numRuns: 2000 },
  );
});

test('the parsed-certificate cache keeps its own bytes: a caller reusing its buffer cannot change a cached certificate', () => {
  const der = new Uint8Array(pinnedRoot('amd-milan-ark').der);
  const a = parseCertificate(der);
  const subject = Buffer.from(a.subjectRaw).toString('hex');
  der.fill(0);
  const b = parseCertificate(new Uint8Array(pinnedRoot('amd-milan-ark').der));
  assert.equal(b, a);
  assert.equal(Buffer.from(b.subjectRaw).toString('hex'), subject);
  assert.throws(() => parseCertificate(der), (e) => isAttestationError(e, 'E_DER_INVALID'));
});

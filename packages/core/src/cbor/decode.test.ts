import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decodeCbor, decodeCborPrefix } from './decode.js';
import { encodeCbor } from './encode.js';
import { CborFloat, CborMap, CborTag, type CborValue } from './types.js';
import { isCustodianError } from '../errors.js';
import { readVector } from '../vectors.js';

const hex = (h: string): Uint8Array => new Uint8Array(Buffer.from(h.replace(/\s+/g, ''), 'hex'));
const rejects = (bytes: Uint8Array, code: string, opts = {}): void => {
  assert.throws(() => decodeCbor(bytes, opts), (e) => isCustodianError(e, code), code);
};

test('decodes the RFC 8949 Appendix A examples it accepts', () => {
  assert.equal(decodeCbor(hex('00')), 0);
  assert.equal(decodeCbor(hex('1903e8')), 1000);
  assert.equal(decodeCbor(hex('1bffffffffffffffff')), 18446744073709551615n);
  assert.equal(decodeCbor(hex('3bffffffffffffffff')), -18446744073709551616n);
  assert.equal(decodeCbor(hex('20')), -1);
  assert.equal(decodeCbor(hex('3863')), -100);
  assert.deepEqual(decodeCbor(hex('4401020304')), hex('01020304'));
  assert.equal(decodeCbor(hex('62c3bc')), 'ü');
  assert.deepEqual(decodeCbor(hex('83010203')), [1, 2, 3]);
  const m = decodeCbor(hex('a201020304')) as CborMap;
  assert.equal(m.get(1), 2);
  assert.equal(m.get(3), 4);
  const t = decodeCbor(hex('c074323031332d30332d32315432303a30343a30305a')) as CborTag;
  assert.equal(t.tag, 0);
  assert.equal((decodeCbor(hex('f93c00')) as CborFloat).value, 1);
  assert.equal((decodeCbor(hex('fb3ff199999999999a')) as CborFloat).value, 1.1);
  assert.equal(decodeCbor(hex('f6')), null);
});

test('B01 rejects duplicate CBOR keys', () => {
  rejects(hex('a2 62746f 01 62746f 02'), 'E_CBOR_DUPLICATE_KEY'); // {"to":1,"to":2}
  rejects(hex('a2 01 00 01 01'), 'E_CBOR_DUPLICATE_KEY');
  // A key repeated in a non-shortest form is still the same key when lenient.
  rejects(hex('a2 01 00 1801 01'), 'E_CBOR_DUPLICATE_KEY', { preferred: false });
});

test('B02 rejects indefinite lengths and non-preferred encodings', () => {
  rejects(hex('9f0102ff'), 'E_CBOR_NONCANONICAL');
  rejects(hex('5f42010243030405ff'), 'E_CBOR_NONCANONICAL');
  rejects(hex('bf6161 01ff'), 'E_CBOR_NONCANONICAL');
  rejects(hex('1817'), 'E_CBOR_NONCANONICAL');
  rejects(hex('190017'), 'E_CBOR_NONCANONICAL');
  rejects(hex('1a0000ffff'), 'E_CBOR_NONCANONICAL');
  rejects(hex('1b00000000ffffffff'), 'E_CBOR_NONCANONICAL');
  rejects(hex('5801ff'), 'E_CBOR_NONCANONICAL');
  rejects(hex('fa3f800000'), 'E_CBOR_NONCANONICAL'); // 1.0 as float32
  assert.equal(decodeCbor(hex('1817'), { preferred: false }), 23);
  rejects(hex('a2 02 00 01 00'), 'E_CBOR_NONCANONICAL', { sortedKeys: true });
});

test('B03 rejects deep nesting with a typed error, not a RangeError', () => {
  const deep = new Uint8Array(200_000).fill(0x81);
  deep[deep.length - 1] = 0x00;
  rejects(deep, 'E_CBOR_DEPTH_EXCEEDED');
  const tags = new Uint8Array(1000).fill(0xc1);
  rejects(tags, 'E_CBOR_DEPTH_EXCEEDED');
  // 64 levels are fine, 65 are not.
  const ok = new Uint8Array(65).fill(0x81);
  ok[64] = 0;
  assert.ok(Array.isArray(decodeCbor(ok)));
  const bad = new Uint8Array(66).fill(0x81);
  bad[65] = 0;
  rejects(bad, 'E_CBOR_DEPTH_EXCEEDED');
});

test('B04 rejects size bombs before allocation', () => {
  rejects(hex('5b7fffffffffffffff 00010203040506070809'), 'E_CBOR_LENGTH'); // bstr of 2^63-1 bytes
  rejects(hex('9b0000000100000000 00'), 'E_CBOR_LENGTH'); // array claiming 2^32 elements
  rejects(hex('9a ffffffff 00'), 'E_CBOR_LENGTH');
  rejects(hex('ba ffffffff 00 00'), 'E_CBOR_LENGTH');
  rejects(hex('7a 0001ffff 41'), 'E_CBOR_LENGTH');
  rejects(new Uint8Array(2 * 1024 * 1024), 'E_CBOR_TOO_LARGE');
  rejects(hex('83010203'), 'E_CBOR_TOO_LARGE', { maxBytes: 3 });
  rejects(hex('8401020304'), 'E_CBOR_LENGTH', { maxItems: 3 });
});

test('rejects truncation, trailing bytes, reserved values and bad UTF-8', () => {
  rejects(hex('19 01'), 'E_CBOR_LENGTH');
  rejects(hex('83 01 02'), 'E_CBOR_LENGTH');
  rejects(hex('01 00'), 'E_CBOR_TRAILING');
  rejects(hex('1c'), 'E_CBOR_INVALID');
  rejects(hex('ff'), 'E_CBOR_INVALID');
  rejects(hex('f801'), 'E_CBOR_INVALID');
  rejects(hex('62c328'), 'E_CBOR_INVALID');
  assert.deepEqual(decodeCborPrefix(hex('01 00')), { value: 1, end: 1 });
});

const NITRO = ['attestation-doc-1.cbor', 'attestation-doc-2.cbor', 'attestation-doc-debug-1.cbor'].map((f) => readVector('attestation', 'nitro', f));
const CCA = ['cca-token-tfrmm-fvp-1.cbor', 'cca-token-ffm-profile-3.cbor'].map((f) => readVector('attestation', 'cca', f));

test('real Nitro and CCA documents decode and re-encode to the same bytes', () => {
  for (const doc of [...NITRO, ...CCA]) {
    const v = decodeCbor(doc);
    assert.ok(Buffer.from(encodeCbor(v)).equals(Buffer.from(doc)));
  }
});

test('property: only typed errors escape the decoder on mutated real documents', () => {
  const seeds = [...NITRO, ...CCA];
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: seeds.length - 1 }),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
      fc.nat(),
      (which, flips, cut) => {
        const seed = seeds[which]!;
        const m = seed.slice(0, seed.length - (cut % 8 === 0 ? cut % seed.length : 0));
        for (const [pos, val] of flips) if (m.length > 0) m[pos % m.length] = val;
        try {
          decodeCbor(m);
        } catch (e) {
          assert.ok(isCustodianError(e) && e.code.startsWith('E_CBOR_'), String(e));
        }
      },
    ),
    { numRuns: 3000 },
  );
});

test('property: encode then decode round-trips', () => {
  const leaf: fc.Arbitrary<CborValue> = fc.oneof(
    fc.integer(),
    fc.bigInt({ min: -(1n << 64n), max: (1n << 64n) - 1n }).map((b) => (b >= BigInt(Number.MIN_SAFE_INTEGER) && b <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(b) : b)),
    fc.string(),
    fc.uint8Array({ maxLength: 40 }),
    fc.boolean(),
    fc.constant(null),
    fc.double().map((d) => new CborFloat(d)),
  );
  const value = fc.letrec<{ v: CborValue }>((tie) => ({
    v: fc.oneof(
      { depthSize: 'small' },
      leaf,
      fc.array(tie('v'), { maxLength: 4 }),
      fc.dictionary(fc.string(), tie('v'), { maxKeys: 4 }).map((d) => new CborMap(Object.entries(d))),
      tie('v').map((x) => new CborTag(24, x)),
    ),
  })).v;
  fc.assert(
    fc.property(value, (v) => {
      const enc = encodeCbor(v);
      const dec = decodeCbor(enc, { sortedKeys: false });
      assert.ok(Buffer.from(encodeCbor(dec)).equals(Buffer.from(enc)));
      const sorted = encodeCbor(v, { sortKeys: true });
      assert.ok(Buffer.from(encodeCbor(decodeCbor(sorted, { sortedKeys: true }), { sortKeys: true })).equals(Buffer.from(sorted)));
    }),
    { numRuns: 500 },
  );
});

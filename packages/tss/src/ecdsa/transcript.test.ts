import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { sha256 } from '@noble/hashes/sha2.js';
import { shake128, shake256 } from '@noble/hashes/sha3.js';
import { utf8 } from '@custodian/core/bytes';
import { Shake128Prefix, decodeParts, encodeParts, expandTranscript, hashTranscript, hashTranscriptScalars } from './transcript.js';

const tuple = fc.array(fc.uint8Array({ maxLength: 12 }), { maxLength: 6 });

test('B27 property: the transcript encoder is injective (decode ∘ encode = id)', () => {
  fc.assert(
    fc.property(tuple, (parts) => {
      assert.deepEqual(decodeParts(encodeParts(parts)), parts);
    }),
    { numRuns: 2000 },
  );
});

test('B27 property: two different tuples never encode to the same bytes', () => {
  fc.assert(
    fc.property(tuple, tuple, (a, b) => {
      const same = a.length === b.length && a.every((p, i) => Buffer.from(p).equals(Buffer.from(b[i]!)));
      assert.equal(Buffer.from(encodeParts(a)).equals(Buffer.from(encodeParts(b))), same);
    }),
    { numRuns: 2000 },
  );
});

test('B27 a delimiter-shifted tuple (α-shuffle) hashes differently', () => {
  const a = hashTranscript('d', new Uint8Array([1, 2]), new Uint8Array([3]));
  const b = hashTranscript('d', new Uint8Array([1]), new Uint8Array([2, 3]));
  const c = hashTranscript('d', new Uint8Array([1, 2, 3]));
  assert.notDeepEqual(a, b);
  assert.notDeepEqual(a, c);
  assert.notDeepEqual(hashTranscript('ab', new Uint8Array([1])), hashTranscript('a', new Uint8Array([98, 1])));
});

test('the decoder refuses truncated encodings', () => {
  const enc = encodeParts([new Uint8Array([1, 2, 3])]);
  assert.equal(decodeParts(enc.subarray(0, enc.length - 1)), undefined);
  assert.equal(decodeParts(enc.subarray(0, 3)), undefined);
});

test('the native hashes equal @noble/hashes on the injective encoding (SHA-256, SHAKE256, SHAKE128 with a shared prefix)', () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 20 }), tuple, fc.integer({ min: 1, max: 300 }), (domain, parts, bytes) => {
      const encoded = encodeParts([utf8(domain), ...parts]);
      assert.deepEqual(hashTranscript(domain, ...parts), sha256(encoded));
      assert.deepEqual(expandTranscript(bytes, domain, ...parts), shake256(encoded, { dkLen: bytes }));
      const prefix = new Shake128Prefix(bytes, [utf8(domain)]);
      assert.deepEqual(prefix.expand(...parts), shake128(encoded, { dkLen: bytes }));
      assert.deepEqual(prefix.expand(...parts), shake128(encoded, { dkLen: bytes }), 'the prefix state is reusable');
    }),
    { numRuns: 300 },
  );
  assert.equal(Object.getPrototypeOf(hashTranscript('d')), Uint8Array.prototype, 'digests are plain Uint8Arrays, not pooled Buffers');
});

test('the one-buffer forms hash the same encoding (scalar parts, an indexed part)', () => {
  fc.assert(
    fc.property(tuple, fc.array(fc.bigInt({ min: 0n, max: (1n << 256n) - 1n }), { maxLength: 5 }), fc.nat(), fc.uint8Array({ maxLength: 40 }), (parts, scalars, index, part) => {
      const asBytes = scalars.map((a) => Uint8Array.from(Buffer.from(a.toString(16).padStart(64, '0'), 'hex')));
      assert.deepEqual(hashTranscriptScalars('d', parts, scalars), hashTranscript('d', ...parts, ...asBytes));
      const idx = new Uint8Array(4);
      new DataView(idx.buffer).setUint32(0, index);
      const prefix = new Shake128Prefix(100, [utf8('d')]);
      assert.deepEqual(new Uint8Array(prefix.expandIndexed(index, part)), prefix.expand(idx, part));
    }),
    { numRuns: 200 },
  );
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decodeParts, encodeParts, hashTranscript } from './transcript.js';

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

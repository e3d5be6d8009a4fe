import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { transpose, transposeReference } from './ot-extension.js';
import { OT_BASE_COUNT } from './limits.js';

test('the block transpose of the KOS columns equals the bit-by-bit definition (any row count)', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 700 }), fc.integer(), (rows, seed) => {
      let x = seed >>> 0;
      const columns = Array.from({ length: OT_BASE_COUNT }, () =>
        Uint8Array.from({ length: Math.ceil(rows / 8) }, () => {
          x = (Math.imul(x, 1103515245) + 12345) >>> 0;
          return x >>> 24;
        }),
      );
      assert.deepEqual(transpose(columns, rows), transposeReference(columns, rows));
    }),
    { numRuns: 60 },
  );
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { gfBitSum, gfColumnSum, gfFromBytes, gfMul, gfReduce, gfToBytes } from './gf128.js';

const el = fc.bigInt({ min: 0n, max: (1n << 128n) - 1n });

test('property: GF(2^128) multiplication is commutative, associative, distributive, with identity 1', () => {
  fc.assert(
    fc.property(el, el, el, (a, b, c) => {
      assert.equal(gfMul(a, b), gfMul(b, a));
      assert.equal(gfMul(gfMul(a, b), c), gfMul(a, gfMul(b, c)));
      assert.equal(gfMul(a, b ^ c), gfMul(a, b) ^ gfMul(a, c));
      assert.equal(gfMul(a, 1n), a);
    }),
    { numRuns: 200 },
  );
});

test('X^128 reduces to X^7 + X^2 + X + 1, and bytes round-trip', () => {
  assert.equal(gfReduce(1n << 128n), 0x87n);
  assert.equal(gfMul(1n << 127n, 2n), 0x87n);
  fc.assert(fc.property(el, (a) => assert.equal(gfFromBytes(gfToBytes(a)), a)), { numRuns: 200 });
});

test('property: the column-wise KOS sum equals Σ_j row_j · χ_j computed row by row', () => {
  const rows = 24;
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 16 * rows, maxLength: 16 * rows }), fc.uint8Array({ minLength: rows * 16, maxLength: rows * 16 }), (colBytes, chis) => {
      // 128 columns of `rows` bits (3 bytes each), taken from colBytes.
      const columns = Array.from({ length: 128 }, (_, i) => colBytes.slice(3 * i, 3 * i + 3));
      let naive = 0n;
      for (let j = 0; j < rows; j++) {
        let row = 0n;
        for (let i = 0; i < 128; i++) if (((columns[i]![j >> 3]! >> (j & 7)) & 1) === 1) row |= 1n << BigInt(i);
        naive ^= gfMul(row, gfFromBytes(chis.subarray(16 * j, 16 * j + 16)));
      }
      assert.equal(gfColumnSum(columns, chis, rows), naive);
      const bits = columns[5]!;
      let bitNaive = 0n;
      for (let j = 0; j < rows; j++) if (((bits[j >> 3]! >> (j & 7)) & 1) === 1) bitNaive ^= gfFromBytes(chis.subarray(16 * j, 16 * j + 16));
      assert.equal(gfBitSum(bits, chis, rows), bitNaive);
    }),
    { numRuns: 30 },
  );
});

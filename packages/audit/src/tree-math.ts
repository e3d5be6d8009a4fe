/**
 * Integer helpers for Merkle tree shapes. Tree sizes and indices are plain
 * numbers bounded by TREE_SIZE_MAX (2^53 - 1), so arithmetic here avoids the
 * 32-bit bitwise operators on purpose.
 */

/** RFC 9162 §2.1.1: the largest power of two strictly less than `n` (n ≥ 2). */
export function largestPowerOfTwoBelow(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/** True when `n` is a power of two (1, 2, 4, ...). */
export function isPowerOfTwo(n: number): boolean {
  if (n < 1) return false;
  while (n % 2 === 0) n /= 2;
  return n === 1;
}

/** log2 of a power of two. */
export function log2Exact(n: number): number {
  let l = 0;
  while (n > 1) {
    n /= 2;
    l++;
  }
  return l;
}

/** Floor division by two, exact for safe integers. */
export function half(n: number): number {
  return Math.floor(n / 2);
}

/** True when the lowest bit of `n` is set. */
export function isOdd(n: number): boolean {
  return n % 2 === 1;
}

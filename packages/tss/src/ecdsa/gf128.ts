/**
 * Arithmetic in GF(2^128) = GF(2)[X]/(X^128 + X^7 + X^2 + X + 1) for the KOS15
 * consistency check. Elements are bigints whose bit i is the coefficient of X^i.
 */

const MASK128 = (1n << 128n) - 1n;

/** Reduces a polynomial of degree < 256 modulo X^128 + X^7 + X^2 + X + 1. */
export function gfReduce(v: bigint): bigint {
  let x = v;
  while (x > MASK128) {
    const hi = x >> 128n;
    x = (x & MASK128) ^ hi ^ (hi << 1n) ^ (hi << 2n) ^ (hi << 7n);
  }
  return x;
}

/** Product of two field elements. */
export function gfMul(a: bigint, b: bigint): bigint {
  let acc = 0n;
  let x = a;
  for (let i = 0n; x !== 0n; i++, x >>= 1n) {
    if ((x & 1n) === 1n) acc ^= b << i;
  }
  return gfReduce(acc);
}

/** Reads 16 little-endian bytes as a field element. */
export function gfFromBytes(b: Uint8Array): bigint {
  let v = 0n;
  for (let i = 15; i >= 0; i--) v = (v << 8n) | BigInt(b[i]!);
  return v;
}

/** 16 little-endian bytes of a field element. */
export function gfToBytes(v: bigint): Uint8Array {
  const out = new Uint8Array(16);
  let x = v;
  for (let i = 0; i < 16; i++, x >>= 8n) out[i] = Number(x & 0xffn);
  return out;
}

/**
 * Σ_j row_j · χ_j, where row_j is the 128-bit vector whose bit i is bit j of
 * `columns[i]` and χ_j is the j-th 16-byte element of `chis`. Computed column by
 * column: Σ_i X^i · (⊕_{j : bit j of column i} χ_j), which needs no general
 * multiplication.
 */
export function gfColumnSum(columns: readonly Uint8Array[], chis: Uint8Array, rows: number): bigint {
  const chiWords = new Uint32Array(chis.buffer.slice(chis.byteOffset, chis.byteOffset + rows * 16));
  let acc = 0n;
  for (let i = 0; i < columns.length; i++) {
    const col = columns[i]!;
    let w0 = 0, w1 = 0, w2 = 0, w3 = 0;
    for (let j = 0; j < rows; j++) {
      if (((col[j >> 3]! >> (j & 7)) & 1) === 1) {
        const o = 4 * j;
        w0 ^= chiWords[o]!;
        w1 ^= chiWords[o + 1]!;
        w2 ^= chiWords[o + 2]!;
        w3 ^= chiWords[o + 3]!;
      }
    }
    const a = BigInt(w0 >>> 0) | (BigInt(w1 >>> 0) << 32n) | (BigInt(w2 >>> 0) << 64n) | (BigInt(w3 >>> 0) << 96n);
    acc ^= a << BigInt(i);
  }
  return gfReduce(acc);
}

/** Σ_j x_j · χ_j for a bit vector x of `rows` bits. */
export function gfBitSum(bits: Uint8Array, chis: Uint8Array, rows: number): bigint {
  let acc = 0n;
  for (let j = 0; j < rows; j++) {
    if (((bits[j >> 3]! >> (j & 7)) & 1) === 1) acc ^= gfFromBytes(chis.subarray(16 * j, 16 * j + 16));
  }
  return acc;
}

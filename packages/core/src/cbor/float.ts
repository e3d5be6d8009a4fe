/** IEEE 754 helpers for CBOR floats: half precision and shortest width (RFC 8949 §4.2.1). */

/** IEEE 754 half precision to number (RFC 8949 Appendix D). */
export function halfToNumber(h: number): number {
  const exp = (h >> 10) & 0x1f;
  const mant = h & 0x3ff;
  const sign = h & 0x8000 ? -1 : 1;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 31) return mant === 0 ? sign * Infinity : NaN;
  return sign * (mant + 1024) * 2 ** (exp - 25);
}

/** Smallest float width in bytes (2, 4 or 8) that represents `v` exactly. */
export function floatWidth(v: number): 2 | 4 | 8 {
  if (Number.isNaN(v) || !Number.isFinite(v)) return 2;
  if (numberToHalf(v) !== undefined) return 2;
  return Math.fround(v) === v ? 4 : 8;
}

/** The half-precision bits of `v` when it is exactly representable, else undefined. */
export function numberToHalf(v: number): number | undefined {
  if (Number.isNaN(v)) return 0x7e00;
  if (v === Infinity) return 0x7c00;
  if (v === -Infinity) return 0xfc00;
  const sign = v < 0 || Object.is(v, -0) ? 0x8000 : 0;
  const a = Math.abs(v);
  if (a === 0) return sign;
  for (let exp = 1; exp < 31; exp++) {
    const mant = a / 2 ** (exp - 25) - 1024;
    if (mant >= 0 && mant < 1024 && Number.isInteger(mant)) return sign | (exp << 10) | mant;
  }
  const sub = a / 2 ** -24;
  if (Number.isInteger(sub) && sub < 1024) return sign | sub;
  return undefined;
}

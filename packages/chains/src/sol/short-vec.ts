/**
 * Solana's compact-u16 ("short_vec") length prefix: 1 to 3 bytes, 7 bits per
 * byte, little-endian groups. Decoding is canonical as in the Solana SDK: no
 * trailing zero group (one length, one byte form), at most 0xffff.
 */
import { CustodianError } from '@custodian/core/errors';
import type { ByteReader } from '../btc/byte-reader.js';

/** Largest compact-u16 value. */
export const SHORT_VEC_MAX = 0xffff;

/** Reads a canonical compact-u16 of at most `max`. */
export function readShortVec(r: ByteReader, what: string, max: number): number {
  let value = 0;
  for (let i = 0; i < 3; i++) {
    const b = r.u8(what);
    // A zero continuation group is an alias of a shorter form (solana-sdk short_vec "Alias").
    if (b === 0 && i > 0) r.fail(`${what}: compact-u16 is not minimally encoded`);
    if (i === 2 && b > 0x03) r.fail(`${what}: compact-u16 overflows 16 bits`);
    value |= (b & 0x7f) << (7 * i);
    if ((b & 0x80) === 0) {
      if (value > max) r.fail(`${what}: ${value} exceeds the limit of ${max}`);
      return value;
    }
  }
  return r.fail(`${what}: compact-u16 longer than 3 bytes`);
}

/** Encodes a compact-u16. */
export function encodeShortVec(n: number): Uint8Array {
  if (!Number.isInteger(n) || n < 0 || n > SHORT_VEC_MAX) throw new CustodianError('E_SOLANA_MESSAGE_MALFORMED', `compact-u16 out of range: ${n}`);
  const out: number[] = [];
  let v = n;
  for (;;) {
    const b = v & 0x7f;
    v >>= 7;
    if (v === 0) {
      out.push(b);
      return Uint8Array.from(out);
    }
    out.push(b | 0x80);
  }
}

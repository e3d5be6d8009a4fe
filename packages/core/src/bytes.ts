/** Byte helpers: strict hex, concatenation, constant-time comparison. */
import { timingSafeEqual } from 'node:crypto';
import { CustodianError } from './errors.js';

const HEX_RE = /^(0x)?([0-9a-fA-F]{2})*$/;

/** Decodes hex (optional 0x prefix, even length) or throws E_HEX_INVALID. */
export function hexToBytes(hex: string, field = 'hex'): Uint8Array {
  if (typeof hex !== 'string' || !HEX_RE.test(hex)) {
    throw new CustodianError('E_HEX_INVALID', `${field} is not valid hex`, { field });
  }
  const body = hex.startsWith('0x') ? hex.slice(2) : hex;
  return new Uint8Array(Buffer.from(body, 'hex'));
}

/** Encodes bytes as lower-case hex without prefix. */
export function bytesToHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

/** Encodes bytes as lower-case hex with a 0x prefix. */
export function bytesTo0x(bytes: Uint8Array): string {
  return '0x' + bytesToHex(bytes);
}

/** Concatenates byte arrays. */
export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** Constant-time equality for equal-length inputs; false on length mismatch. */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/** UTF-8 encoding of a string. */
export function utf8(s: string): Uint8Array {
  return new TextEncoder().encode(s);
}

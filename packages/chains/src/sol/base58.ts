/**
 * Base58 (Bitcoin alphabet), the text form of Solana addresses, blockhashes
 * and signatures. Decoding is strict: only alphabet characters, and a fixed
 * expected length when one is given (32 for an address).
 */
import { CustodianError } from '@custodian/core/errors';

const ALPHABET = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';
/** Longest base58 text decoded (a 64-byte signature is at most 88 characters). */
export const BASE58_CHARS_MAX = 128;

/** Encodes bytes as base58 (leading zero bytes become '1'). */
export function base58Encode(bytes: Uint8Array): string {
  let zeros = 0;
  while (zeros < bytes.length && bytes[zeros] === 0) zeros++;
  const digits: number[] = [];
  for (const b of bytes.subarray(zeros)) {
    let carry = b;
    for (let i = 0; i < digits.length; i++) {
      carry += digits[i]! << 8;
      digits[i] = carry % 58;
      carry = Math.floor(carry / 58);
    }
    while (carry > 0) {
      digits.push(carry % 58);
      carry = Math.floor(carry / 58);
    }
  }
  return '1'.repeat(zeros) + digits.reverse().map((d) => ALPHABET[d]!).join('');
}

/** Decodes base58; `length` (when given) is the exact byte length required. Throws E_ADDRESS_INVALID. */
export function base58Decode(text: string, length?: number): Uint8Array {
  if (typeof text !== 'string' || text.length === 0 || text.length > BASE58_CHARS_MAX) throw new CustodianError('E_ADDRESS_INVALID', 'base58 text is empty or too long');
  let zeros = 0;
  while (zeros < text.length && text[zeros] === '1') zeros++;
  const bytes: number[] = [];
  for (const c of text.slice(zeros)) {
    let carry = ALPHABET.indexOf(c);
    if (carry < 0) throw new CustodianError('E_ADDRESS_INVALID', `${JSON.stringify(c)} is not a base58 character`);
    for (let i = 0; i < bytes.length; i++) {
      carry += bytes[i]! * 58;
      bytes[i] = carry & 0xff;
      carry >>= 8;
    }
    while (carry > 0) {
      bytes.push(carry & 0xff);
      carry >>= 8;
    }
  }
  const out = Uint8Array.from([...new Array<number>(zeros).fill(0), ...bytes.reverse()]);
  if (length !== undefined && out.length !== length) throw new CustodianError('E_ADDRESS_INVALID', `base58 value decodes to ${out.length} bytes, not ${length}`);
  return out;
}

/** A Solana address (base58 of a 32-byte public key) as bytes. */
export function solanaAddressBytes(address: string): Uint8Array {
  return base58Decode(address, 32);
}

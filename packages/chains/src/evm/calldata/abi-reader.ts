/**
 * A bounded, strict reader of Solidity ABI-encoded call arguments (Solidity
 * ABI spec, "Formal Specification of the Encoding"). Every read is checked
 * against the buffer; padding must be zero so one value has one encoding.
 * Only `E_CALLDATA_INVALID` escapes.
 */
import { CustodianError } from '@custodian/core/errors';

/** Size of one ABI word. */
export const ABI_WORD_BYTES = 32;

/** Throws the one error this module raises. */
export function failCalldata(message: string, detail: Record<string, unknown> = {}): never {
  throw new CustodianError('E_CALLDATA_INVALID', message, detail);
}

/** Reads the head and tail of an argument block (the calldata after its selector). */
export class AbiReader {
  constructor(readonly args: Uint8Array, readonly method: string) {}

  /** The 32-byte word at head slot `index`. */
  word(index: number): Uint8Array {
    return this.wordAt(index * ABI_WORD_BYTES, `${this.method} argument ${index}`);
  }

  /** The 32-byte word at byte `offset`. */
  wordAt(offset: number, what: string): Uint8Array {
    if (!Number.isSafeInteger(offset) || offset < 0 || offset + ABI_WORD_BYTES > this.args.length) {
      failCalldata(`${what} lies outside the calldata`, { method: this.method, offset });
    }
    return this.args.subarray(offset, offset + ABI_WORD_BYTES);
  }

  /** A uint256 at head slot `index`. */
  uint(index: number): bigint {
    return wordToUint(this.word(index));
  }

  /** A uint with at most `bits` bits (uint8, uint48 ...); higher bits must be zero. */
  uintN(index: number, bits: number): bigint {
    const v = this.uint(index);
    if (v >> BigInt(bits) !== 0n) failCalldata(`${this.method} argument ${index} does not fit uint${bits}`, { method: this.method, index });
    return v;
  }

  /** An address at head slot `index`: the 12 high bytes must be zero. */
  address(index: number): Uint8Array {
    const w = this.word(index);
    for (let i = 0; i < 12; i++) {
      if (w[i] !== 0) failCalldata(`${this.method} argument ${index} is not a clean address`, { method: this.method, index });
    }
    return new Uint8Array(w.subarray(12));
  }

  /** A bool at head slot `index`: exactly 0 or 1. */
  bool(index: number): boolean {
    const v = this.uint(index);
    if (v > 1n) failCalldata(`${this.method} argument ${index} is not a bool`, { method: this.method, index });
    return v === 1n;
  }

  /** Dynamic `bytes` whose offset is at head slot `index`; padding must be zero. */
  bytes(index: number, maxBytes: number): Uint8Array {
    const offset = this.uint(index);
    if (offset > BigInt(this.args.length)) failCalldata(`${this.method} argument ${index} offset is outside the calldata`, { method: this.method, index });
    const start = Number(offset);
    const len = wordToUint(this.wordAt(start, `${this.method} argument ${index} length`));
    if (len > BigInt(maxBytes)) failCalldata(`${this.method} argument ${index} is longer than ${maxBytes} bytes`, { method: this.method, index });
    const n = Number(len);
    const body = start + ABI_WORD_BYTES;
    const padded = Math.ceil(n / ABI_WORD_BYTES) * ABI_WORD_BYTES;
    if (body + padded > this.args.length) failCalldata(`${this.method} argument ${index} runs past the calldata`, { method: this.method, index });
    for (let i = body + n; i < body + padded; i++) {
      if (this.args[i] !== 0) failCalldata(`${this.method} argument ${index} has non-zero padding`, { method: this.method, index });
    }
    return new Uint8Array(this.args.subarray(body, body + n));
  }

  /** Refuses calldata longer than `words` static words (no trailing bytes). */
  expectStaticLength(words: number): void {
    if (this.args.length !== words * ABI_WORD_BYTES) {
      failCalldata(`${this.method} calldata must be ${words * ABI_WORD_BYTES} bytes after the selector, got ${this.args.length}`, { method: this.method, length: this.args.length });
    }
  }
}

/** Reads a 32-byte big-endian word as an unsigned integer. */
export function wordToUint(w: Uint8Array): bigint {
  return BigInt('0x' + Buffer.from(w).toString('hex'));
}

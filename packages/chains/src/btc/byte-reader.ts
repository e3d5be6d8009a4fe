/**
 * A bounded reader for Bitcoin's little-endian wire formats. Every read checks
 * the remaining length first; CompactSize integers must be minimally encoded
 * (non-canonical forms would give one transaction two byte forms).
 */
import { CustodianError } from '@custodian/core/errors';

/** Reads `bytes` front to back; throws `code` on any malformation. */
export class ByteReader {
  #pos = 0;
  constructor(
    readonly bytes: Uint8Array,
    private readonly code: string,
  ) {}

  get pos(): number {
    return this.#pos;
  }

  get remaining(): number {
    return this.bytes.length - this.#pos;
  }

  fail(message: string): never {
    throw new CustodianError(this.code, message, { offset: this.#pos });
  }

  take(n: number, what: string): Uint8Array {
    // attacker-controlled length: checked against what is left before slicing
    if (n < 0 || n > this.remaining) this.fail(`${what}: needs ${n} bytes, ${this.remaining} left`);
    const out = this.bytes.subarray(this.#pos, this.#pos + n);
    this.#pos += n;
    return out;
  }

  u8(what: string): number {
    return this.take(1, what)[0]!;
  }

  u32(what: string): number {
    const b = this.take(4, what);
    return new DataView(b.buffer, b.byteOffset, 4).getUint32(0, true);
  }

  u64(what: string): bigint {
    const b = this.take(8, what);
    return new DataView(b.buffer, b.byteOffset, 8).getBigUint64(0, true);
  }

  /** A minimally encoded CompactSize, at most `max`. */
  compactSize(what: string, max: number): number {
    const first = this.u8(what);
    let n: number;
    let min: number;
    if (first < 0xfd) return this.#bound(first, what, max);
    if (first === 0xfd) {
      const b = this.take(2, what);
      n = b[0]! | (b[1]! << 8);
      min = 0xfd;
    } else if (first === 0xfe) {
      n = this.u32(what);
      min = 0x10000;
    } else {
      const v = this.u64(what);
      if (v > BigInt(Number.MAX_SAFE_INTEGER)) this.fail(`${what}: length ${v} is impossible`);
      n = Number(v);
      min = 0x100000000;
    }
    if (n < min) this.fail(`${what}: CompactSize is not minimally encoded`);
    return this.#bound(n, what, max);
  }

  #bound(n: number, what: string, max: number): number {
    if (n > max) this.fail(`${what}: ${n} exceeds the limit of ${max}`);
    return n;
  }

  /** A CompactSize-prefixed byte string of at most `max` bytes. */
  varBytes(what: string, max: number): Uint8Array {
    return this.take(this.compactSize(what, max), what);
  }
}

/** Encodes a CompactSize. */
export function compactSize(n: number): Uint8Array {
  if (n < 0xfd) return Uint8Array.of(n);
  if (n <= 0xffff) return Uint8Array.of(0xfd, n & 0xff, n >> 8);
  const b = new Uint8Array(5);
  b[0] = 0xfe;
  new DataView(b.buffer).setUint32(1, n, true);
  return b;
}

/** 4-byte little-endian. */
export function u32le(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n, true);
  return b;
}

/** 8-byte little-endian. */
export function u64le(n: bigint): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, n, true);
  return b;
}

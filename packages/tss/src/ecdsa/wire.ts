/**
 * Binary writer and strict reader for protocol message bodies. The reader
 * checks every length before use and refuses trailing bytes, so a body of the
 * wrong shape is E_MPC_SHAPE (B31) and never a partial parse.
 */
import { fail } from './errors.js';
import { MESSAGE_BODY_BYTES_MAX, POINT_BYTES, SCALAR_BYTES } from './limits.js';
import { pointFromBytes, pointToBytes, scalarFromBytes, scalarToBytes, type Point } from './group.js';
import { concatBytes } from '@custodian/core/bytes';

/** Appends fixed-shape fields to a body. */
export class Writer {
  readonly #parts: Uint8Array[] = [];

  /** Raw bytes whose length the reader knows in advance. */
  fixed(b: Uint8Array): this {
    this.#parts.push(b);
    return this;
  }

  /** A 32-byte scalar. */
  scalar(a: bigint): this {
    return this.fixed(scalarToBytes(a));
  }

  /** A 33-byte compressed point. */
  point(p: Point): this {
    return this.fixed(pointToBytes(p));
  }

  /** A 2-byte count. */
  count(n: number): this {
    const b = new Uint8Array(2);
    new DataView(b.buffer).setUint16(0, n);
    return this.fixed(b);
  }

  /** The body. */
  bytes(): Uint8Array {
    return concatBytes(...this.#parts);
  }
}

/** Reads fixed-shape fields from an untrusted body; `what` names it in errors. */
export class Reader {
  #off = 0;

  constructor(readonly body: Uint8Array, readonly what: string) {
    if (body.length > MESSAGE_BODY_BYTES_MAX) fail('E_MPC_SHAPE', `${what} is larger than ${MESSAGE_BODY_BYTES_MAX} bytes`, { what });
  }

  /** `n` raw bytes. */
  fixed(n: number, field: string): Uint8Array {
    if (this.#off + n > this.body.length) fail('E_MPC_SHAPE', `${this.what} ends before ${field}`, { what: this.what, field });
    const out = this.body.slice(this.#off, this.#off + n);
    this.#off += n;
    return out;
  }

  /** A canonical scalar. */
  scalar(field: string): bigint {
    return scalarFromBytes(this.fixed(SCALAR_BYTES, field), `${this.what}.${field}`);
  }

  /** A valid non-identity point. */
  point(field: string): Point {
    return pointFromBytes(this.fixed(POINT_BYTES, field), `${this.what}.${field}`);
  }

  /** A big-endian 2-byte unsigned integer. */
  u16(field: string): number {
    const b = this.fixed(2, field);
    return new DataView(b.buffer, b.byteOffset, 2).getUint16(0);
  }

  /** A 2-byte count that must equal `expected` (B31: no silent threshold raise). */
  count(field: string, expected: number): number {
    const n = this.u16(field);
    if (n !== expected) fail('E_MPC_SHAPE', `${this.what}.${field} has ${n} items where ${expected} are expected`, { what: this.what, field, expected, actual: n });
    return n;
  }

  /** Refuses trailing bytes. Call last. */
  end(): void {
    if (this.#off !== this.body.length) fail('E_MPC_SHAPE', `${this.what} has ${this.body.length - this.#off} trailing bytes`, { what: this.what });
  }
}

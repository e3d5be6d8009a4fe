/**
 * Strict, bounded CBOR decoder (RFC 8949). Only CustodianError escapes,
 * whatever the input:
 * - size is bounded before parsing (`E_CBOR_TOO_LARGE`);
 * - nesting is depth-counted and capped (`E_CBOR_DEPTH_EXCEEDED`, B03);
 * - every declared length or count is checked against the bytes that remain
 *   BEFORE anything is allocated (`E_CBOR_LENGTH`, B04);
 * - duplicate map keys are refused, never last-wins (`E_CBOR_DUPLICATE_KEY`,
 *   RFC 8949 §5.6, B01);
 * - indefinite lengths are always refused and, unless `preferred: false`,
 *   so are non-shortest arguments and floats (`E_CBOR_NONCANONICAL`, RFC 8949
 *   §4.2.1, B02); `sortedKeys: true` adds the core deterministic key order;
 * - nothing may follow the item (`E_CBOR_TRAILING`) unless the caller asks
 *   for the prefix form.
 */
import { CborFloat, CborMap, CborSimple, CborTag, type CborValue } from './types.js';
import { cborFail } from './errors.js';
import { CBOR_BYTES_MAX, CBOR_DEPTH_MAX, CBOR_ITEMS_MAX } from './limits.js';
import { encodeCbor } from './encode.js';
import { floatWidth, halfToNumber } from './float.js';

/** Options for `decodeCbor`; defaults are the strict ones. */
export interface CborDecodeOptions {
  /** Refuse documents larger than this before parsing (default CBOR_BYTES_MAX). */
  readonly maxBytes?: number;
  /** Deepest nesting of arrays, maps and tags (default CBOR_DEPTH_MAX). */
  readonly maxDepth?: number;
  /** Most array elements plus map entries in the document (default CBOR_ITEMS_MAX). */
  readonly maxItems?: number;
  /** Require preferred (shortest) serialisation of arguments and floats (default true). */
  readonly preferred?: boolean;
  /** Require map keys in bytewise order of their encodings, RFC 8949 §4.2.1 (default false). */
  readonly sortedKeys?: boolean;
}

/** Decodes exactly one CBOR item filling all of `bytes`. */
export function decodeCbor(bytes: Uint8Array, opts: CborDecodeOptions = {}): CborValue {
  const { value, end } = decodeCborPrefix(bytes, opts);
  if (end !== bytes.length) cborFail('E_CBOR_TRAILING', `${bytes.length - end} bytes follow the CBOR item`, { offset: end, trailing: bytes.length - end });
  return value;
}

/** Decodes one CBOR item at the start of `bytes` and says where it ended. */
export function decodeCborPrefix(bytes: Uint8Array, opts: CborDecodeOptions = {}): { value: CborValue; end: number } {
  const maxBytes = opts.maxBytes ?? CBOR_BYTES_MAX;
  if (!(bytes instanceof Uint8Array)) cborFail('E_CBOR_INVALID', 'CBOR input must be bytes');
  if (bytes.length > maxBytes) cborFail('E_CBOR_TOO_LARGE', `CBOR document of ${bytes.length} bytes exceeds the limit of ${maxBytes}`, { size: bytes.length, maxBytes });
  const r = new Reader(bytes, opts.maxDepth ?? CBOR_DEPTH_MAX, opts.maxItems ?? CBOR_ITEMS_MAX, opts.preferred ?? true, opts.sortedKeys ?? false);
  const value = r.item(0);
  return { value, end: r.pos };
}

const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

class Reader {
  pos = 0;
  #items = 0;

  constructor(
    readonly b: Uint8Array,
    readonly maxDepth: number,
    readonly maxItems: number,
    readonly preferred: boolean,
    readonly sortedKeys: boolean,
  ) {}

  get remaining(): number {
    return this.b.length - this.pos;
  }

  byte(): number {
    const v = this.b[this.pos];
    if (v === undefined) return cborFail('E_CBOR_LENGTH', 'CBOR input ends early', { offset: this.pos });
    this.pos++;
    return v;
  }

  /** Reads the argument for additional info `ai` (RFC 8949 §3). */
  argument(ai: number): number | bigint {
    const start = this.pos - 1;
    if (ai < 24) return ai;
    const size = ai === 24 ? 1 : ai === 25 ? 2 : ai === 26 ? 4 : ai === 27 ? 8 : 0;
    if (size === 0) {
      if (ai === 31) cborFail('E_CBOR_NONCANONICAL', 'indefinite-length items are not accepted', { offset: start });
      cborFail('E_CBOR_INVALID', `reserved additional information ${ai}`, { offset: start });
    }
    if (this.remaining < size) cborFail('E_CBOR_LENGTH', 'CBOR input ends inside an argument', { offset: this.pos });
    let v = 0n;
    for (let i = 0; i < size; i++) v = (v << 8n) | BigInt(this.b[this.pos + i]!);
    this.pos += size;
    // RFC 8949 §4.2.1: the argument must use the shortest form.
    if (this.preferred && (size === 1 ? v < 24n : v < 1n << BigInt(4 * size))) {
      cborFail('E_CBOR_NONCANONICAL', 'integer or length not in its shortest encoding', { offset: start });
    }
    return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  }

  /** A length or count, checked against what is left (each unit needs `unitBytes`). */
  length(ai: number, unitBytes: number, what: string): number {
    const start = this.pos - 1;
    const n = this.argument(ai);
    // attacker-controlled: compared with the remaining bytes before any allocation (B04)
    if (typeof n === 'bigint' || n * unitBytes > this.remaining) {
      cborFail('E_CBOR_LENGTH', `${what} declares ${String(n)} but only ${this.remaining} bytes remain`, { offset: start, declared: String(n), remaining: this.remaining });
    }
    return n;
  }

  count(n: number): void {
    this.#items += n;
    if (this.#items > this.maxItems) cborFail('E_CBOR_LENGTH', `CBOR document has more than ${this.maxItems} items`, { maxItems: this.maxItems });
  }

  item(depth: number): CborValue {
    if (depth > this.maxDepth) cborFail('E_CBOR_DEPTH_EXCEEDED', `CBOR nests deeper than ${this.maxDepth} levels`, { offset: this.pos, maxDepth: this.maxDepth });
    const ib = this.byte();
    const major = ib >> 5;
    const ai = ib & 0x1f;
    switch (major) {
      case 0:
        return this.argument(ai);
      case 1: {
        const n = this.argument(ai);
        const v = -1n - BigInt(n);
        return v >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(v) : v;
      }
      case 2: {
        const n = this.length(ai, 1, 'byte string');
        const out = this.b.slice(this.pos, this.pos + n);
        this.pos += n;
        return out;
      }
      case 3: {
        const start = this.pos - 1;
        const n = this.length(ai, 1, 'text string');
        const raw = this.b.subarray(this.pos, this.pos + n);
        this.pos += n;
        try {
          return UTF8.decode(raw);
        } catch {
          return cborFail('E_CBOR_INVALID', 'text string is not valid UTF-8', { offset: start });
        }
      }
      case 4: {
        const n = this.length(ai, 1, 'array');
        this.count(n);
        const out: CborValue[] = [];
        for (let i = 0; i < n; i++) out.push(this.item(depth + 1));
        return Object.freeze(out);
      }
      case 5:
        return this.map(ai, depth);
      case 6: {
        const tag = this.argument(ai);
        return new CborTag(tag, this.item(depth + 1));
      }
      default:
        return this.simple(ai);
    }
  }

  map(ai: number, depth: number): CborMap {
    const n = this.length(ai, 2, 'map');
    this.count(n);
    const entries: (readonly [CborValue, CborValue])[] = [];
    const seen = new Set<string>();
    let prev: Uint8Array | undefined;
    for (let i = 0; i < n; i++) {
      const keyStart = this.pos;
      const k = this.item(depth + 1);
      // Keys are compared by their deterministic encoding, so 1 and 0x1801 collide even when lenient.
      const enc = encodeCbor(k);
      const id = Buffer.from(enc).toString('hex');
      if (seen.has(id)) cborFail('E_CBOR_DUPLICATE_KEY', 'duplicate key in CBOR map', { offset: keyStart, key: id.slice(0, 64) });
      seen.add(id);
      if (this.sortedKeys && prev !== undefined && Buffer.compare(prev, enc) >= 0) {
        cborFail('E_CBOR_NONCANONICAL', 'map keys are not in deterministic order', { offset: keyStart });
      }
      prev = enc;
      entries.push([k, this.item(depth + 1)]);
    }
    return new CborMap(entries);
  }

  simple(ai: number): CborValue {
    const start = this.pos - 1;
    if (ai < 20) return new CborSimple(ai);
    switch (ai) {
      case 20:
        return false;
      case 21:
        return true;
      case 22:
        return null;
      case 23:
        return undefined;
      case 24: {
        const v = this.byte();
        if (v < 32) cborFail('E_CBOR_INVALID', 'simple value below 32 in two-byte form', { offset: start });
        return new CborSimple(v);
      }
      case 25:
      case 26:
      case 27:
        return this.float(ai, start);
      case 31:
        return cborFail('E_CBOR_INVALID', 'break outside an indefinite-length item', { offset: start });
      default:
        return cborFail('E_CBOR_INVALID', `reserved additional information ${ai}`, { offset: start });
    }
  }

  float(ai: number, start: number): CborFloat {
    const size = ai === 25 ? 2 : ai === 26 ? 4 : 8;
    if (this.remaining < size) cborFail('E_CBOR_LENGTH', 'CBOR input ends inside a float', { offset: this.pos });
    const dv = new DataView(this.b.buffer, this.b.byteOffset + this.pos, size);
    this.pos += size;
    const v = size === 2 ? halfToNumber(dv.getUint16(0)) : size === 4 ? dv.getFloat32(0) : dv.getFloat64(0);
    if (this.preferred && floatWidth(v) < size) cborFail('E_CBOR_NONCANONICAL', 'float not in its shortest encoding', { offset: start });
    return new CborFloat(v);
  }
}

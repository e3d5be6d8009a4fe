/**
 * Deterministic CBOR encoder (RFC 8949 §4.2): preferred (shortest) arguments,
 * definite lengths only, shortest floats, and — with `sortKeys` — map keys in
 * bytewise order of their encodings (core deterministic encoding). Without
 * `sortKeys` a CborMap keeps its entry order, so a strictly decoded document
 * re-encodes to the same bytes (STYLE.md: decoders prove canonicity by
 * re-encoding).
 */
import { CborFloat, CborMap, CborSimple, CborTag, type CborValue } from './types.js';
import { cborFail } from './errors.js';
import { CBOR_DEPTH_MAX } from './limits.js';
import { floatWidth, numberToHalf } from './float.js';

/** Options for `encodeCbor`. */
export interface CborEncodeOptions {
  /** Sort map keys bytewise by their encodings (RFC 8949 §4.2.1); default false. */
  readonly sortKeys?: boolean;
}

const U64_MAX = (1n << 64n) - 1n;
const TEXT = new TextEncoder();

/** Encodes a value deterministically; throws E_CBOR_INVALID for values CBOR cannot carry exactly. */
export function encodeCbor(value: CborValue, opts: CborEncodeOptions = {}): Uint8Array {
  const out: number[] = [];
  write(out, value, opts.sortKeys ?? false, 0);
  return Uint8Array.from(out);
}

function head(out: number[], major: number, arg: number | bigint): void {
  const v = BigInt(arg);
  if (v < 0n || v > U64_MAX) cborFail('E_CBOR_INVALID', 'integer outside the 64-bit CBOR range');
  const m = major << 5;
  if (v < 24n) out.push(m | Number(v));
  else if (v < 0x100n) out.push(m | 24, Number(v));
  else if (v < 0x10000n) pushBig(out, m | 25, v, 2);
  else if (v < 0x100000000n) pushBig(out, m | 26, v, 4);
  else pushBig(out, m | 27, v, 8);
}

function pushBig(out: number[], ib: number, v: bigint, size: number): void {
  out.push(ib);
  for (let i = size - 1; i >= 0; i--) out.push(Number((v >> BigInt(8 * i)) & 0xffn));
}

function write(out: number[], v: CborValue, sortKeys: boolean, depth: number): void {
  if (depth > CBOR_DEPTH_MAX) cborFail('E_CBOR_DEPTH_EXCEEDED', `value nests deeper than ${CBOR_DEPTH_MAX} levels`);
  if (v === false) return void out.push(0xf4);
  if (v === true) return void out.push(0xf5);
  if (v === null) return void out.push(0xf6);
  if (v === undefined) return void out.push(0xf7);
  if (typeof v === 'number' || typeof v === 'bigint') {
    if (typeof v === 'number' && !Number.isSafeInteger(v)) cborFail('E_CBOR_INVALID', 'only safe integers encode as numbers; use CborFloat or bigint');
    const b = BigInt(v);
    return b >= 0n ? head(out, 0, b) : head(out, 1, -1n - b);
  }
  if (typeof v === 'string') {
    const t = TEXT.encode(v);
    head(out, 3, t.length);
    for (const x of t) out.push(x);
    return;
  }
  if (v instanceof Uint8Array) {
    head(out, 2, v.length);
    for (const x of v) out.push(x);
    return;
  }
  if (v instanceof CborMap) return writeMap(out, v, sortKeys, depth);
  if (v instanceof CborTag) {
    head(out, 6, v.tag);
    return write(out, v.value, sortKeys, depth + 1);
  }
  if (v instanceof CborFloat) return writeFloat(out, v.value);
  if (v instanceof CborSimple) {
    if (v.value < 20) return void out.push(0xe0 | v.value);
    if (v.value < 32 || v.value > 255) cborFail('E_CBOR_INVALID', `simple value ${v.value} cannot be encoded`);
    return void out.push(0xf8, v.value);
  }
  head(out, 4, v.length);
  for (const x of v) write(out, x, sortKeys, depth + 1);
}

function writeMap(out: number[], m: CborMap, sortKeys: boolean, depth: number): void {
  const parts = m.entries.map(([k, x]) => {
    const kb: number[] = [];
    write(kb, k, sortKeys, depth + 1);
    return { k: Uint8Array.from(kb), x };
  });
  if (sortKeys) parts.sort((a, b) => Buffer.compare(a.k, b.k));
  for (let i = 1; i < parts.length; i++) {
    if (Buffer.compare(parts[i - 1]!.k, parts[i]!.k) === 0) cborFail('E_CBOR_DUPLICATE_KEY', 'duplicate key in CBOR map');
  }
  head(out, 5, parts.length);
  for (const p of parts) {
    for (const x of p.k) out.push(x);
    write(out, p.x, sortKeys, depth + 1);
  }
}

function writeFloat(out: number[], f: number): void {
  const w = floatWidth(f);
  if (w === 2) {
    const h = numberToHalf(f)!;
    out.push(0xf9, h >> 8, h & 0xff);
    return;
  }
  const buf = new DataView(new ArrayBuffer(w));
  if (w === 4) buf.setFloat32(0, f);
  else buf.setFloat64(0, f);
  out.push(w === 4 ? 0xfa : 0xfb);
  for (let i = 0; i < w; i++) out.push(buf.getUint8(i));
}

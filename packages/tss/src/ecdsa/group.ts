/**
 * secp256k1 group and scalar-field helpers over @noble/curves: strict wire
 * forms (32-byte canonical scalars, 33-byte compressed non-identity points)
 * whose decoders throw E_MPC_SHAPE, and uniform sampling from injected
 * randomness.
 */
import { secp256k1 } from '@noble/curves/secp256k1.js';
import type { WeierstrassPoint } from '@noble/curves/abstract/weierstrass.js';
import type { Random } from '@custodian/core/clock';
import { bytesToHex } from '@custodian/core/bytes';
import { fail } from './errors.js';
import { POINT_BYTES, SCALAR_BYTES } from './limits.js';
import { FG, PublicTable, fromFast, toFast } from './curve.js';

/** A secp256k1 point. */
export type Point = WeierstrassPoint<bigint>;
/** The secp256k1 point constructor. */
export const Point = secp256k1.Point;
/** The generator G. */
export const G: Point = Point.BASE;
/** The group order q. */
export const Q: bigint = Point.Fn.ORDER;

/** Reduces `a` into [0, q). */
export function mod(a: bigint): bigint {
  const r = a % Q;
  return r < 0n ? r + Q : r;
}

/** Multiplicative inverse mod q (q prime, a ≠ 0). */
export function inv(a: bigint): bigint {
  return Point.Fn.inv(mod(a));
}

/** Big-endian unsigned integer of `bytes`. */
export function bytesToBig(bytes: Uint8Array): bigint {
  if (bytes.length % 8 !== 0) return bytes.length === 0 ? 0n : BigInt('0x' + bytesToHex(bytes));
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let acc = 0n;
  for (let off = 0; off < bytes.length; off += 8) acc = (acc << 64n) | view.getBigUint64(off);
  return acc;
}

const MASK64 = (1n << 64n) - 1n;

/** 32-byte big-endian encoding of a scalar in [0, q) (four 64-bit words, no hex round trip). */
export function scalarToBytes(a: bigint): Uint8Array {
  const out = new Uint8Array(SCALAR_BYTES);
  writeScalar(out, 0, a);
  return out;
}

/** Writes the 32-byte big-endian encoding of `a` (in [0, 2^256)) at `offset`. */
export function writeScalar(out: Uint8Array, offset: number, a: bigint): void {
  const view = new DataView(out.buffer, out.byteOffset + offset, SCALAR_BYTES);
  view.setBigUint64(0, a >> 192n);
  view.setBigUint64(8, (a >> 128n) & MASK64);
  view.setBigUint64(16, (a >> 64n) & MASK64);
  view.setBigUint64(24, a & MASK64);
}

/** Decodes a canonical 32-byte scalar (< q) or throws E_MPC_SHAPE. */
export function scalarFromBytes(bytes: Uint8Array, what = 'scalar'): bigint {
  if (bytes.length !== SCALAR_BYTES) fail('E_MPC_SHAPE', `${what} must be ${SCALAR_BYTES} bytes`, { what, length: bytes.length });
  const a = bytesToBig(bytes);
  if (a >= Q) fail('E_MPC_SHAPE', `${what} is not reduced modulo the group order`, { what });
  return a;
}

/** A uniform scalar in [1, q) from injected randomness (48 bytes reduced: bias < 2^-128). */
export function randomScalar(random: Random): bigint {
  for (;;) {
    const a = mod(bytesToBig(random.bytes(48)));
    if (a !== 0n) return a;
  }
}

/** `count` scalars from `chunk`-byte pieces of `bytes` (RFC 9380 hash_to_field style: 48 bytes, bias < 2^-128). */
export function scalarsFromUniform(bytes: Uint8Array, count: number, chunk = 48): bigint[] {
  const out: bigint[] = [];
  for (let i = 0; i < count; i++) out.push(mod(bytesToBig(bytes.subarray(chunk * i, chunk * i + chunk))));
  return out;
}

/** Compressed SEC1 encoding of a non-identity point. */
export function pointToBytes(p: Point): Uint8Array {
  return p.toBytes(true);
}

/** Decodes a compressed, on-curve, non-identity point or throws E_MPC_SHAPE. */
export function pointFromBytes(bytes: Uint8Array, what = 'point'): Point {
  if (bytes.length !== POINT_BYTES) fail('E_MPC_SHAPE', `${what} must be a ${POINT_BYTES}-byte compressed point`, { what, length: bytes.length });
  let p: Point;
  try {
    p = Point.fromBytes(bytes);
  } catch {
    return fail('E_MPC_SHAPE', `${what} is not a point on secp256k1`, { what });
  }
  if (p.is0()) fail('E_MPC_SHAPE', `${what} is the identity`, { what });
  return p;
}

/** `a·G` (noble's constant-time, blinded multiply on its table for G, over the fast field of curve.ts), with a = 0 giving the identity. */
export function mulBase(a: bigint): Point {
  const r = mod(a);
  return r === 0n ? Point.ZERO : fromFast(FG.multiply(r));
}

/** Public points whose tables are kept (group keys that sign often); the oldest built goes first. */
const PUBLIC_TABLES_MAX = 8;
const publicTables = new Map<string, PublicTable>();
const publicTablesByPoint = new WeakMap<Point, PublicTable>();
let gTable: PublicTable | undefined;

/**
 * The fixed-base table (curve.ts PublicTable: 4224 affine points, ~10 ms to
 * build, ~0.5 MB) of the public point `p`, kept for the PUBLIC_TABLES_MAX
 * most recently built points by their encoding. Only for public points and
 * public scalars (verification).
 */
export function publicTable(p: Point): PublicTable {
  let t = publicTablesByPoint.get(p);
  if (t !== undefined) return t;
  const key = bytesToHex(p.toBytes(true));
  t = publicTables.get(key);
  if (t === undefined) {
    t = new PublicTable(toFast(p));
    if (publicTables.size >= PUBLIC_TABLES_MAX) publicTables.delete(publicTables.keys().next().value!);
    publicTables.set(key, t);
  }
  publicTablesByPoint.set(p, t);
  return t;
}

/** The fixed-base table of G for public scalars (built on first use). */
export function generatorTable(): PublicTable {
  gTable ??= new PublicTable(FG);
  return gTable;
}

/** `a·P` (noble's constant-time, blinded multiply, over the fast field of curve.ts), with a = 0 giving the identity. */
export function mulPoint(p: Point, a: bigint): Point {
  const r = mod(a);
  return r === 0n || p.is0() ? Point.ZERO : fromFast(toFast(p).multiply(r));
}

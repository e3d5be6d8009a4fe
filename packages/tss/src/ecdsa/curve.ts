/**
 * secp256k1 for the protocol's own arithmetic: @noble/curves' Weierstrass
 * point code (its complete formulas, constant-time blinded `multiply`,
 * variable-time `multiplyUnsafe`, point decoding and validation) over a base
 * field whose multiplication reduces with the special form of
 * p = 2^256 − 2^32 − 977 (two folds of the high half by 2^32 + 977) instead of
 * a general bigint division. Same curve, same points, same encodings as
 * `secp256k1.Point`, about 1.7× faster per point operation
 * (docs/decisions/ecdsa-ot.md, "Implementation choices for speed").
 *
 * Its points are a different class from `secp256k1.Point`, and noble refuses
 * to mix the two: every exported API (key shares, pre-signatures) keeps
 * `secp256k1.Point`; `toFast` and `fromFast` convert at those edges.
 */
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { weierstrass, type WeierstrassPoint } from '@noble/curves/abstract/weierstrass.js';
import { FpInvertBatch, invert, type IField } from '@noble/curves/abstract/modular.js';
import { createHasher, isogenyMap, mapToCurveSimpleSWU } from '@noble/curves/abstract/hash-to-curve.js';
import { normalizeZ } from '@noble/curves/abstract/curve.js';
import { createHash } from 'node:crypto';
import type { CHash } from '@noble/hashes/utils.js';

const NoblePoint = secp256k1.Point;
const Fslow = NoblePoint.Fp;
/** p = 2^256 − FOLD. */
const P = Fslow.ORDER;
const FOLD = 0x1000003d1n;
const MASK256 = (1n << 256n) - 1n;

/** x mod p for 0 ≤ x < 2^512 (two folds leave x < 2^256 + 2^67 < 2p, then one subtraction). */
function reduce(x: bigint): bigint {
  let r = (x & MASK256) + (x >> 256n) * FOLD;
  r = (r & MASK256) + (r >> 256n) * FOLD;
  return r >= P ? r - P : r;
}

function sqrN(x: bigint, n: number): bigint {
  let r = x;
  for (let i = 0; i < n; i++) r = reduce(r * r);
  return r;
}

/** y^((p+1)/4), the square root candidate (p ≡ 3 mod 4), by noble's addition chain; throws when y is not a square. */
function sqrt(y: bigint): bigint {
  const b2 = reduce(reduce(y * y) * y);
  const b3 = reduce(reduce(b2 * b2) * y);
  const b6 = reduce(sqrN(b3, 3) * b3);
  const b9 = reduce(sqrN(b6, 3) * b3);
  const b11 = reduce(sqrN(b9, 2) * b2);
  const b22 = reduce(sqrN(b11, 11) * b11);
  const b44 = reduce(sqrN(b22, 22) * b22);
  const b88 = reduce(sqrN(b44, 44) * b44);
  const b176 = reduce(sqrN(b88, 88) * b88);
  const b220 = reduce(sqrN(b176, 44) * b44);
  const b223 = reduce(sqrN(b220, 3) * b3);
  const t1 = reduce(sqrN(b223, 23) * b22);
  const t2 = reduce(sqrN(t1, 6) * b2);
  const root = sqrN(t2, 2);
  if (reduce(root * root) !== y) throw new Error('Cannot find square root');
  return root;
}

/** a^e mod p, fixed 4-bit windows (public exponents only: sqrt-ratio and Legendre checks). */
function pow(a: bigint, e: bigint): bigint {
  if (e < 0n) throw new Error('negative exponent');
  const table = [1n, a];
  for (let i = 2; i < 16; i++) table.push(reduce(table[i - 1]! * a));
  let acc = 1n;
  const bits = e.toString(2).length;
  for (let shift = Math.ceil(bits / 4) * 4 - 4; shift >= 0; shift -= 4) {
    acc = sqrN(acc, 4);
    const digit = Number((e >> BigInt(shift)) & 15n);
    if (digit !== 0) acc = reduce(acc * table[digit]!);
  }
  return acc;
}

/**
 * The field. Every operation expects canonical elements in [0, p), which is
 * what noble's point code passes (its constructor refuses coordinates outside
 * it); `create` reduces anything.
 */
const Fp: IField<bigint> = Object.freeze({
  ORDER: P,
  BITS: 256,
  BYTES: 32,
  isLE: false,
  ZERO: 0n,
  ONE: 1n,
  create: (n: bigint): bigint => {
    const r = n % P;
    return r < 0n ? r + P : r;
  },
  isValid: (n: bigint): boolean => {
    if (typeof n !== 'bigint') throw new TypeError('invalid field element: expected bigint');
    return 0n <= n && n < P;
  },
  is0: (n: bigint): boolean => n === 0n,
  isValidNot0: (n: bigint): boolean => typeof n === 'bigint' && 0n < n && n < P,
  isOdd: (n: bigint): boolean => (n & 1n) === 1n,
  neg: (n: bigint): bigint => (n === 0n ? 0n : P - n),
  eql: (a: bigint, b: bigint): boolean => a === b,
  sqr: (a: bigint): bigint => reduce(a * a),
  add: (a: bigint, b: bigint): bigint => {
    const r = a + b;
    return r >= P ? r - P : r;
  },
  sub: (a: bigint, b: bigint): bigint => {
    const r = a - b;
    return r < 0n ? r + P : r;
  },
  mul: (a: bigint, b: bigint): bigint => reduce(a * b),
  pow,
  div: (a: bigint, b: bigint): bigint => reduce(a * invert(b, P)),
  sqrN: (a: bigint): bigint => a * a,
  addN: (a: bigint, b: bigint): bigint => a + b,
  subN: (a: bigint, b: bigint): bigint => a - b,
  mulN: (a: bigint, b: bigint): bigint => a * b,
  inv: (a: bigint): bigint => invert(a, P),
  sqrt,
  invertBatch: (lst: bigint[]): bigint[] => FpInvertBatch(Fp, lst, true),
  toBytes: (a: bigint): Uint8Array => Fslow.toBytes(a),
  fromBytes: (b: Uint8Array, skipValidation?: boolean): bigint => Fslow.fromBytes(b, skipValidation),
  cmov: (a: bigint, b: bigint, c: boolean): bigint => (c ? b : a),
});

const G0 = NoblePoint.BASE.toAffine();

/** secp256k1 points over the fast field (same curve, generator and GLV endomorphism as noble's secp256k1). */
export const FastPoint = weierstrass(
  { p: P, n: NoblePoint.Fn.ORDER, h: 1n, a: 0n, b: 7n, Gx: G0.x, Gy: G0.y },
  {
    Fp,
    endo: {
      beta: 0x7ae96a2b657c07106e64479eac3434e99cf0497512f58995c1396c28719501een,
      basises: [
        [0x3086d221a7d46bcde86c90e49284eb15n, -0xe4437ed6010e88286f547fa90abfe4c3n],
        [0x114ca50f7a8e2f3f657c1108d9d44cfd8n, 0x3086d221a7d46bcde86c90e49284eb15n],
      ],
    },
  },
);
/** A point of FastPoint. */
export type FastPoint = WeierstrassPoint<bigint>;
/** The generator, with noble's default table for it. */
export const FG: FastPoint = FastPoint.BASE;
FG.precompute(8);

/** The same point as a FastPoint (one inversion unless `p` is affine already). */
export function toFast(p: WeierstrassPoint<bigint>): FastPoint {
  return p.is0() ? FastPoint.ZERO : FastPoint.fromAffine(p.toAffine());
}

/** The same point as a `secp256k1.Point`. */
export function fromFast(p: FastPoint): WeierstrassPoint<bigint> {
  return p.is0() ? NoblePoint.ZERO : NoblePoint.fromAffine(p.toAffine());
}

const isoMap = isogenyMap(
  Fp,
  [
    // RFC 9380 §E.1, as in @noble/curves/secp256k1: xNum, xDen, yNum, yDen.
    [
      '0x8e38e38e38e38e38e38e38e38e38e38e38e38e38e38e38e38e38e38daaaaa8c7',
      '0x7d3d4c80bc321d5b9f315cea7fd44c5d595d2fc0bf63b92dfff1044f17c6581',
      '0x534c328d23f234e6e2a413deca25caece4506144037c40314ecbd0b53d9dd262',
      '0x8e38e38e38e38e38e38e38e38e38e38e38e38e38e38e38e38e38e38daaaaa88c',
    ],
    [
      '0xd35771193d94918a9ca34ccbb7b640dd86cd409542f8487d9fe6b745781eb49b',
      '0xedadc6f64383dc1df7c4b2d51b54225406d36b641f5e41bbc52a56612a8c6d14',
      '0x0000000000000000000000000000000000000000000000000000000000000001',
    ],
    [
      '0x4bda12f684bda12f684bda12f684bda12f684bda12f684bda12f684b8e38e23c',
      '0xc75e0c32d5cb7c0fa9d0a54b12a0a6d5647ab046d686da6fdffc90fc201d71a3',
      '0x29a6194691f91a73715209ef6512e576722830a201be2018a765e85a9ecee931',
      '0x2f684bda12f684bda12f684bda12f684bda12f684bda12f684bda12f38e38d84',
    ],
    [
      '0xfffffffffffffffffffffffffffffffffffffffffffffffffffffffefffff93b',
      '0x7a06534bb8bdb49fd5e9e6632722c2989467c1bfc8e8d978dfb425d2685c2573',
      '0x6484aa716545ca2cf3a70c3fa8fe337e0a3d21162f0d6299a7bf8192bfd2a76f',
      '0x0000000000000000000000000000000000000000000000000000000000000001',
    ],
  ].map((i) => i.map((j) => BigInt(j))) as [bigint[], bigint[], bigint[], bigint[]],
);
const mapSWU = mapToCurveSimpleSWU(Fp, {
  A: 0x3f8731abdd661adca08a5558f0f5d272e953d363cb6f0e5d405447c01a444533n,
  B: 1771n,
  Z: Fp.create(-11n),
});

/** SHA-256 through node:crypto in the shape expand_message_xmd calls (H(bytes), outputLen, blockLen). */
const sha256Native = Object.assign((msg: Uint8Array): Uint8Array => new Uint8Array(createHash('sha256').update(msg).digest()), {
  outputLen: 32,
  blockLen: 64,
}) as unknown as CHash;

/**
 * RFC 9380 secp256k1_XMD:SHA-256_SSWU_RO_ onto FastPoint: noble's
 * `secp256k1_hasher` with the same map, isogeny and expansion (its SHA-256
 * native), over the fast field (curve.test.ts checks equal outputs and the
 * RFC's vector).
 */
export const fastHasher = createHasher(
  FastPoint,
  (scalars: bigint[]) => {
    const { x, y } = mapSWU(Fp.create(scalars[0]!));
    return isoMap(x, y);
  },
  { DST: 'secp256k1_XMD:SHA-256_SSWU_RO_', encodeDST: 'secp256k1_XMD:SHA-256_SSWU_NU_', p: P, m: 1, k: 128, expand: 'xmd', hash: sha256Native },
);

/**
 * A fixed-base table for variable-time products with public scalars: for
 * every W-bit window w, the affine multiples j·2^(wW)·P (j = 1..2^(W−1)), so
 * that k·P is one addition per window after signed-digit recoding, with no
 * doublings and no table scan (noble's cached kernel scans every entry of a
 * window, which constant time needs and public scalars do not). Only for
 * public points and public scalars (verification).
 */
export class PublicTable {
  static readonly W = 8;
  readonly #windows: FastPoint[][];

  constructor(point: FastPoint) {
    const W = PublicTable.W;
    const half = 2 ** (W - 1);
    const count = Math.ceil(256 / W) + 1;
    const flat: FastPoint[] = [];
    let base = point;
    for (let w = 0; w < count; w++) {
      let acc = base;
      for (let j = 0; j < half; j++) {
        flat.push(acc);
        acc = acc.add(base);
      }
      base = flat[flat.length - 1]!.double();
    }
    const affine = normalizeZ(FastPoint, flat);
    this.#windows = Array.from({ length: count }, (_, w) => affine.slice(w * half, (w + 1) * half));
  }

  /** Adds k·P to `acc` (0 ≤ k < q; variable time). */
  addProduct(acc: FastPoint, k: bigint): FastPoint {
    const W = PublicTable.W;
    const size = 1 << W;
    const half = size >> 1;
    const mask = BigInt(size - 1);
    let rest = k;
    let carry = 0;
    let out = acc;
    for (const window of this.#windows) {
      let digit = Number(rest & mask) + carry;
      rest >>= BigInt(W);
      carry = 0;
      if (digit > half) {
        digit -= size;
        carry = 1;
      }
      if (digit > 0) out = out.add(window[digit - 1]!);
      else if (digit < 0) out = out.subtract(window[-digit - 1]!);
    }
    if (rest !== 0n || carry !== 0) throw new RangeError('scalar out of range for the table');
    return out;
  }
}

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { secp256k1, secp256k1_hasher } from '@noble/curves/secp256k1.js';
import { FG, FastPoint, PublicTable, fastHasher, fromFast, toFast } from './curve.js';

const N = secp256k1.Point.Fn.ORDER;
const P = secp256k1.Point.Fp.ORDER;
const scalar = fc.bigInt({ min: 1n, max: N - 1n });
const NG = secp256k1.Point.BASE;

test('the fast curve computes the same points as @noble/curves secp256k1 (blinded multiply, multiplyUnsafe, add, double, encodings)', () => {
  fc.assert(
    fc.property(scalar, scalar, (a, b) => {
      const A = FG.multiply(a);
      assert.deepEqual(A.toBytes(true), NG.multiply(a).toBytes(true));
      const X = NG.multiply(b);
      const FX = toFast(X);
      assert.deepEqual(FX.multiply(a).toBytes(true), X.multiply(a).toBytes(true));
      assert.deepEqual(FX.multiplyUnsafe(a).toBytes(false), X.multiplyUnsafe(a).toBytes(false));
      if ((a + b) % N === 0n) {
        // b·G + a·G is the point at infinity (fast-check finds a = n − b): it has no encoding, both curves agree it is zero.
        assert.ok(FX.add(A).is0() && X.add(NG.multiply(a)).is0());
      } else {
        assert.deepEqual(FX.add(A).double().toBytes(true), X.add(NG.multiply(a)).double().toBytes(true));
      }
      assert.ok(fromFast(FX.subtract(A)).equals(X.subtract(NG.multiply(a))));
      assert.ok(FastPoint.fromBytes(X.toBytes(true)).equals(FX));
      assert.ok(FastPoint.fromBytes(X.toBytes(false)).equals(FX));
    }),
    { numRuns: 40, examples: [[N - 9n, 9n]] },
  );
});

test('the fast curve and noble agree at the point at infinity: b·G + (n − b)·G is zero, and the sum with zero is the point', () => {
  for (const b of [1n, 9n, N - 1n]) {
    const X = NG.multiply(b);
    const FX = toFast(X);
    assert.ok(FX.add(FG.multiply(N - b)).is0());
    assert.ok(fromFast(FX.add(FastPoint.ZERO)).equals(X));
    assert.ok(FX.subtract(FX).is0());
  }
});

test('the fast curve decodes exactly what noble decodes (square roots, off-curve x, out-of-range x)', () => {
  const edges = [0n, 1n, 2n, 7n, P - 1n, P - 2n, P, P + 1n, (1n << 256n) - 1n];
  fc.assert(
    fc.property(fc.oneof(fc.bigInt({ min: 0n, max: (1n << 256n) - 1n }), fc.constantFrom(...edges)), fc.boolean(), (x, odd) => {
      const bytes = new Uint8Array(33);
      bytes[0] = odd ? 3 : 2;
      bytes.set(Buffer.from(x.toString(16).padStart(64, '0'), 'hex'), 1);
      let theirs: string | undefined;
      let ours: string | undefined;
      try {
        theirs = secp256k1.Point.fromBytes(bytes).toHex(false);
      } catch {
        theirs = undefined;
      }
      try {
        ours = FastPoint.fromBytes(bytes).toHex(false);
      } catch {
        ours = undefined;
      }
      assert.equal(ours, theirs);
    }),
    { numRuns: 400 },
  );
});

test('hash to curve on the fast curve equals noble secp256k1_hasher (RFC 9380 secp256k1_XMD:SHA-256_SSWU_RO_)', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 80 }), (msg) => {
      const DST = 'CUSTODIAN-TEST-DST';
      assert.deepEqual(fastHasher.hashToCurve(msg, { DST }).toBytes(true), secp256k1_hasher.hashToCurve(msg, { DST }).toBytes(true));
    }),
    { numRuns: 60 },
  );
  // RFC 9380 appendix J.8.1 vector: msg "abc".
  const q = fastHasher.hashToCurve(new TextEncoder().encode('abc'), { DST: 'QUUX-V01-CS02-with-secp256k1_XMD:SHA-256_SSWU_RO_' }).toAffine();
  assert.equal(q.x.toString(16), '3377e01eab42db296b512293120c6cee72b6ecf9f9205760bd9ff11fb3cb2c4b');
  assert.equal(q.y.toString(16), '7f95890f33efebd1044d382a01b1bee0900fb6116f94688d487c6c7b9c8371f6');
});

test('PublicTable products equal noble multiplyUnsafe (random, small, edge scalars)', () => {
  const X = toFast(NG.multiply(0xc0ffeen));
  const table = new PublicTable(X);
  const gTable = new PublicTable(FG);
  for (const k of [0n, 1n, 2n, 127n, 128n, 129n, 255n, 256n, N - 1n, N - 2n, (N - 1n) >> 1n, 1n << 255n]) {
    assert.ok(table.addProduct(FastPoint.ZERO, k).equals(X.multiplyUnsafe(k)), `k = ${k}`);
  }
  fc.assert(
    fc.property(scalar, scalar, (a, b) => {
      const both = gTable.addProduct(table.addProduct(FastPoint.ZERO, b), a);
      assert.ok(both.equals(FG.multiplyUnsafe(a).add(X.multiplyUnsafe(b))));
    }),
    { numRuns: 100 },
  );
});

test('the fast field power equals bigint exponentiation (sqrt-ratio exponent, small and random exponents)', () => {
  const F = FastPoint.Fp;
  const ref = (a: bigint, e: bigint): bigint => {
    let acc = 1n;
    let b = a % P;
    for (let k = e; k > 0n; k >>= 1n, b = (b * b) % P) if ((k & 1n) === 1n) acc = (acc * b) % P;
    return acc;
  };
  fc.assert(
    fc.property(fc.bigInt({ min: 0n, max: P - 1n }), fc.oneof(fc.constantFrom(0n, 1n, 2n, 15n, 16n, 17n, (P - 3n) / 4n, (P + 1n) / 4n, P - 2n), fc.bigInt({ min: 0n, max: P })), (a, e) => {
      assert.equal(F.pow(a, e), ref(a, e));
    }),
    { numRuns: 100 },
  );
});

/**
 * Feldman verifiable secret sharing over secp256k1: a random polynomial of
 * degree t−1, its coefficient commitments C_k = a_k·G, and the check
 * f(x)·G = Σ_k x^k·C_k.
 */
import type { Random } from '@custodian/core/clock';
import { Point, mod, mulBase, randomScalar, type Point as PointT } from './group.js';

/** Coefficients a_0..a_{t−1} with a_0 = `constant`. */
export function randomPolynomial(constant: bigint, threshold: number, random: Random): bigint[] {
  const coeffs = [mod(constant)];
  for (let k = 1; k < threshold; k++) coeffs.push(randomScalar(random));
  return coeffs;
}

/** f(x) by Horner's rule. */
export function evalPolynomial(coeffs: readonly bigint[], x: bigint): bigint {
  let acc = 0n;
  for (let k = coeffs.length - 1; k >= 0; k--) acc = mod(acc * x + coeffs[k]!);
  return acc;
}

/** Σ_k x^k·C_k by Horner's rule (public values: variable-time arithmetic is fine). */
export function evalCommitments(commitments: readonly PointT[], x: bigint): PointT {
  let acc: PointT = Point.ZERO;
  for (let k = commitments.length - 1; k >= 0; k--) {
    acc = acc.is0() ? acc : acc.multiplyUnsafe(x);
    acc = acc.add(commitments[k]!);
  }
  return acc;
}

/** True when `share`·G matches the commitments at x. */
export function verifyShare(commitments: readonly PointT[], x: bigint, share: bigint): boolean {
  return mulBase(share).equals(evalCommitments(commitments, x));
}

/**
 * Shamir/Feldman helpers on the library's scalar field and points: polynomial
 * evaluation, Feldman commitment evaluation and Lagrange coefficients at zero
 * (RFC 9591 §4.2 derive_interpolating_value). Used by refresh and reshare.
 */
import { frostError } from './errors.js';
import type { Group, GroupElement } from './group.js';

/** f(x) = Σ_k a_k x^k over the scalar field (Horner). */
export function evaluatePolynomial(group: Group, coefficients: readonly bigint[], x: bigint): bigint {
  const { Fn } = group;
  let acc = Fn.ZERO;
  for (let k = coefficients.length - 1; k >= 0; k--) acc = Fn.add(Fn.mul(acc, x), coefficients[k] ?? Fn.ZERO);
  return acc;
}

/** Σ_k C_k · x^k — Feldman VSS evaluation on public points (variable time is fine: all public). */
export function evaluateCommitment(group: Group, points: readonly GroupElement[], x: bigint): GroupElement {
  const { Fn } = group;
  let acc = group.zero;
  let power = Fn.ONE;
  for (const c of points) {
    acc = acc.add(c.multiplyUnsafe(power));
    power = Fn.mul(power, x);
  }
  return acc;
}

/** RFC 9591 §4.2: λ_i for interpolation at 0 over the set `ids` (distinct, non-zero). */
export function lagrangeAtZero(group: Group, ids: readonly bigint[], i: bigint): bigint {
  const { Fn } = group;
  if (new Set(ids).size !== ids.length || !ids.includes(i) || ids.some((x) => Fn.is0(Fn.create(x)))) {
    throw frostError('E_PARTY_ID_INVALID', 'interpolation set must be distinct non-zero identifiers containing the party');
  }
  let num = Fn.ONE;
  let den = Fn.ONE;
  for (const x of ids) {
    if (x === i) continue;
    num = Fn.mul(num, x);
    den = Fn.mul(den, Fn.sub(x, i));
  }
  return Fn.div(num, den);
}

/**
 * Party identifiers: the Shamir evaluation points. B29: an identifier is
 * reduced modulo q first, then refused when it is zero (id = 0 or id = q would
 * hand out f(0), the secret), when two identifiers collide modulo q, or when it
 * lies outside [1, PARTY_ID_MAX].
 */
import { fail } from './errors.js';
import { PARTIES_MAX } from './limits.js';
import { Q, inv, mod } from './group.js';

/** Largest accepted party identifier (small, so ids stay readable and fit a wire u16). */
export const PARTY_ID_MAX = 0xffffn;

/** Validates one identifier after reduction modulo q. */
export function normalizePartyId(id: bigint | number): bigint {
  if (typeof id === 'number' && !Number.isSafeInteger(id)) fail('E_PARTY_ID_INVALID', 'party id must be an integer', { id: String(id) });
  const raw = BigInt(id);
  const reduced = ((raw % Q) + Q) % Q;
  if (reduced === 0n) fail('E_PARTY_ID_INVALID', 'party id is zero modulo the group order', { id: raw.toString() });
  if (raw !== reduced || reduced > PARTY_ID_MAX) fail('E_PARTY_ID_INVALID', `party id must be between 1 and ${PARTY_ID_MAX}`, { id: raw.toString() });
  return reduced;
}

/** Validates a set of identifiers: each valid, no two equal modulo q, at most PARTIES_MAX; returns them sorted. */
export function normalizePartyIds(ids: readonly (bigint | number)[], what = 'parties'): bigint[] {
  if (ids.length === 0 || ids.length > PARTIES_MAX) fail('E_MPC_SHAPE', `${what} must hold between 1 and ${PARTIES_MAX} ids`, { what, count: ids.length });
  const seen = new Set<bigint>();
  for (const id of ids) {
    const r = ((BigInt(id) % Q) + Q) % Q;
    if (seen.has(r)) fail('E_PARTY_ID_INVALID', 'two party ids are equal modulo the group order', { id: BigInt(id).toString() });
    seen.add(r);
  }
  return ids.map((id) => normalizePartyId(id)).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** Validates a threshold t for n parties: 2 ≤ t ≤ n. */
export function checkThreshold(t: number, n: number): void {
  if (!Number.isSafeInteger(t) || t < 2 || t > n) fail('E_THRESHOLD_INVALID', `threshold must be between 2 and ${n}`, { threshold: t, parties: n });
}

/** Lagrange coefficient at 0 of party `i` within `set`: Π_{j≠i} j / (j − i). */
export function lagrangeAtZero(i: bigint, set: readonly bigint[]): bigint {
  let num = 1n;
  let den = 1n;
  for (const j of set) {
    if (j === i) continue;
    num = mod(num * j);
    den = mod(den * (j - i));
  }
  return mod(num * inv(den));
}

/** Big-endian 2-byte wire form of a (validated) party id. */
export function partyIdBytes(id: bigint): Uint8Array {
  const b = new Uint8Array(2);
  new DataView(b.buffer).setUint16(0, Number(id));
  return b;
}

/**
 * Names the culprit of a bad DKG proof of knowledge (THREATS.md B28) using the
 * library's own check: the library validates round-1 packages only in bulk
 * (inside DKG round 2), so we run that check on a probe state — first over all
 * packages, then, on failure, one package at a time padded with known-good
 * filler packages. The probe and fillers use identifiers above
 * FROST_PARTY_ID_MAX, so they never collide with a real party.
 */
import type { DKG_Round1, DKG_Secret } from '@noble/curves/abstract/frost.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { concatBytes, utf8 } from '@custodian/core/bytes';
import { FROST_PARTY_ID_MAX } from './limits.js';
import type { FrostSuite } from './suite.js';

const PROBE_ID = FROST_PARTY_ID_MAX + 1;
const fillerCache = new Map<string, DKG_Round1[]>();

/** Returns the indexes of the packages whose proof of knowledge (or encoding) the library rejects; `bulkFirst` tries all at once first. */
export function findBadProofs(suite: FrostSuite, threshold: number, packages: readonly DKG_Round1[], bulkFirst = true): number[] {
  if (bulkFirst && packages.length > 0 && accepts(suite, threshold, packages)) return [];
  const bad: number[] = [];
  packages.forEach((p, i) => {
    if (!accepts(suite, threshold, [p])) bad.push(i);
  });
  return bad;
}

function accepts(suite: FrostSuite, threshold: number, packages: readonly DKG_Round1[]): boolean {
  const fillers = fillersFor(suite, threshold).slice(0, Math.max(0, threshold - 1 - packages.length));
  const all = [...packages, ...fillers];
  const probe: DKG_Secret = {
    identifier: BigInt(PROBE_ID),
    coefficients: new Array<bigint>(threshold).fill(1n),
    commitment: [],
    signers: { min: threshold, max: all.length + 1 },
    step: 1,
  };
  try {
    suite.frost.DKG.round2(probe, all);
    return true;
  } catch {
    return false;
  } finally {
    suite.frost.DKG.clean(probe);
  }
}

// Public, throwaway packages from a fixed seed: their secrets protect nothing.
function fillersFor(suite: FrostSuite, threshold: number): DKG_Round1[] {
  const key = `${suite.id}/${threshold}`;
  const cached = fillerCache.get(key);
  if (cached !== undefined) return cached;
  let counter = 0;
  const rng = (n = 32): Uint8Array<ArrayBuffer> => {
    const out = new Uint8Array(n);
    for (let off = 0; off < n; off += 32) out.set(sha256(concatBytes(utf8(`custodian/frost/pok-filler/${key}/`), utf8(String(counter++)))).subarray(0, n - off), off);
    return out;
  };
  const fillers: DKG_Round1[] = [];
  for (let k = 0; k < threshold - 2; k++) {
    const r1 = suite.frost.DKG.round1(suite.frost.Identifier.fromNumber(PROBE_ID + 1 + k), { min: threshold, max: threshold }, undefined, rng);
    suite.frost.DKG.clean(r1.secret);
    fillers.push(r1.public);
  }
  fillerCache.set(key, fillers);
  return fillers;
}

/**
 * Schnorr proof of knowledge of a discrete logarithm (Fiat-Shamir), bound to
 * the session and the prover's id so that a proof copied from another party
 * or session does not verify (B28 rogue-key defence in the DKG).
 */
import type { Random } from '@custodian/core/clock';
import { G, mod, mulBase, pointToBytes, randomScalar, bytesToBig, type Point } from './group.js';
import { hashTranscript } from './transcript.js';
import { partyIdBytes } from './party-id.js';

/** A proof (R, z) with z·G = R + e·X. */
export interface SchnorrProof {
  readonly R: Point;
  readonly z: bigint;
}

function challenge(sessionId: Uint8Array, prover: bigint, X: Point, R: Point): bigint {
  return mod(bytesToBig(hashTranscript('custodian/ecdsa/schnorr-pok/v1', sessionId, partyIdBytes(prover), pointToBytes(X), pointToBytes(R))));
}

/** Proves knowledge of x for X = x·G. */
export function proveDlog(sessionId: Uint8Array, prover: bigint, x: bigint, random: Random): SchnorrProof {
  const k = randomScalar(random);
  const R = G.multiply(k);
  return { R, z: mod(k + challenge(sessionId, prover, mulBase(x), R) * x) };
}

/** True when `proof` shows knowledge of the discrete logarithm of X. */
export function verifyDlog(sessionId: Uint8Array, prover: bigint, X: Point, proof: SchnorrProof): boolean {
  if (X.is0()) return false;
  const e = challenge(sessionId, prover, X, proof.R);
  return mulBase(proof.z).equals(proof.R.add(X.multiplyUnsafe(e)));
}

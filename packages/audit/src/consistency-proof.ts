/**
 * RFC 9162 §2.1.4: Merkle consistency proofs between two tree sizes —
 * generation from a HashSource and verification of two roots.
 */
import { equalBytes } from '@custodian/core/bytes';
import { auditError } from './errors.js';
import { hashChildren } from './hash.js';
import { subtreeHash, type HashSource } from './hash-source.js';
import { HASH_BYTES, PROOF_HASHES_MAX, TREE_SIZE_MAX } from './limits.js';
import { half, isOdd, isPowerOfTwo, largestPowerOfTwoBelow } from './tree-math.js';

/** RFC 9162 §2.1.4.1 PROOF(m, D[n]): proves the tree of `size1` leaves is a prefix of the tree of `size2`. */
export function proveConsistency(source: HashSource, size1: number, size2: number): Uint8Array[] {
  if (!Number.isSafeInteger(size1) || !Number.isSafeInteger(size2) || size1 < 0 || size1 > size2 || size2 > TREE_SIZE_MAX) {
    throw auditError('E_AUDIT_RANGE', `cannot prove consistency from size ${size1} to size ${size2}`, { size1, size2 });
  }
  const proof: Uint8Array[] = [];
  if (size1 === 0 || size1 === size2) return proof;
  subproof(source, size1, 0, size2, true, proof);
  return proof;
}

// SUBPROOF(m, D[start:end], b), RFC 9162 §2.1.4.1.
function subproof(source: HashSource, m: number, start: number, end: number, b: boolean, out: Uint8Array[]): void {
  const n = end - start;
  if (m === n) {
    if (!b) out.push(subtreeHash(source, start, end));
    return;
  }
  const k = largestPowerOfTwoBelow(n);
  if (m <= k) {
    subproof(source, m, start, start + k, b, out);
    out.push(subtreeHash(source, start + k, end));
  } else {
    subproof(source, m - k, start + k, end, false, out);
    out.push(subtreeHash(source, start, start + k));
  }
}

/**
 * RFC 9162 §2.1.4.2: verifies that `root1` (size1 leaves) and `root2` (size2
 * leaves) are views of one append-only tree. Throws E_PROOF_INVALID.
 *
 * A proof from size 0 is refused: every tree extends the empty tree, so such
 * a "proof" shows nothing (transparency-dev/merkle vectors require the
 * refusal); callers that start from an empty view handle that case first.
 */
export function verifyConsistency(size1: number, size2: number, root1: Uint8Array, root2: Uint8Array, proof: readonly Uint8Array[]): void {
  const bad = (why: string): never => {
    throw auditError('E_PROOF_INVALID', `consistency proof from size ${size1} to ${size2} is invalid: ${why}`, { size1, size2 });
  };
  if (!Number.isSafeInteger(size1) || !Number.isSafeInteger(size2) || size1 < 0) bad('sizes are not valid integers');
  if (size2 < size1) bad('the second tree is smaller');
  if (size1 === 0) bad('a proof from the empty tree proves nothing');
  if (size1 === size2) {
    if (proof.length !== 0) bad('equal sizes need an empty proof');
    if (!equalBytes(root1, root2)) bad('equal sizes but different roots');
    return;
  }
  if (proof.length === 0) bad('the proof is empty');
  if (proof.length > PROOF_HASHES_MAX) bad('the proof is too long');
  if (root1.length !== HASH_BYTES || root2.length !== HASH_BYTES) bad('roots must be 32 bytes');
  for (const p of proof) if (p.length !== HASH_BYTES) bad('proof hashes must be 32 bytes');

  const path = isPowerOfTwo(size1) ? [root1, ...proof] : [...proof];
  let fn = size1 - 1;
  let sn = size2 - 1;
  while (isOdd(fn)) {
    fn = half(fn);
    sn = half(sn);
  }
  let fr = path[0]!;
  let sr = path[0]!;
  for (const c of path.slice(1)) {
    if (sn === 0) bad('the proof is too long');
    if (isOdd(fn) || fn === sn) {
      fr = hashChildren(c, fr);
      sr = hashChildren(c, sr);
      while (!isOdd(fn) && fn !== 0) {
        fn = half(fn);
        sn = half(sn);
      }
    } else {
      sr = hashChildren(sr, c);
    }
    fn = half(fn);
    sn = half(sn);
  }
  if (sn !== 0) bad('the proof is too short');
  if (!equalBytes(fr, root1)) bad('it does not reproduce the first root');
  if (!equalBytes(sr, root2)) bad('it does not reproduce the second root');
}

/**
 * RFC 9162 §2.1.3: Merkle inclusion proofs (audit paths) — generation from a
 * HashSource and verification against a root.
 */
import { equalBytes } from '@custodian/core/bytes';
import { auditError } from './errors.js';
import { hashChildren } from './hash.js';
import { subtreeHash, type HashSource } from './hash-source.js';
import { HASH_BYTES, PROOF_HASHES_MAX, TREE_SIZE_MAX } from './limits.js';
import { half, isOdd, largestPowerOfTwoBelow } from './tree-math.js';

/** RFC 9162 §2.1.3.1 PATH(m, D[n]): the inclusion proof of leaf `index` in the tree of `size` leaves. */
export function proveInclusion(source: HashSource, index: number, size: number): Uint8Array[] {
  checkIndex(index, size);
  const proof: Uint8Array[] = [];
  inclusionPath(source, index, 0, size, proof);
  return proof;
}

/** PATH(m, D[start:end]) (RFC 9162 §2.1.3.1) over a range; appends the deepest sibling first. */
export function inclusionPath(source: HashSource, m: number, start: number, end: number, out: Uint8Array[]): void {
  const n = end - start;
  if (n === 1) return;
  const k = largestPowerOfTwoBelow(n);
  if (m < k) {
    inclusionPath(source, m, start, start + k, out);
    out.push(subtreeHash(source, start + k, end));
  } else {
    inclusionPath(source, m - k, start + k, end, out);
    out.push(subtreeHash(source, start, start + k));
  }
}

/**
 * RFC 9162 §2.1.3.2: the root that `proof` yields for `leafHash` at `index`
 * in a tree of `size` leaves. Throws E_PROOF_INVALID when the proof has the
 * wrong shape for that position.
 */
export function rootFromInclusionProof(leafHash: Uint8Array, index: number, size: number, proof: readonly Uint8Array[]): Uint8Array {
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(size) || index < 0 || index >= size) {
    throw auditError('E_PROOF_INVALID', `leaf index ${index} is not inside a tree of size ${size}`, { index, size });
  }
  checkHashes(proof, leafHash);
  let fn = index;
  let sn = size - 1;
  let r = leafHash;
  for (const p of proof) {
    if (sn === 0) throw auditError('E_PROOF_INVALID', 'inclusion proof is longer than the path to the root', { index, size, proofLength: proof.length });
    if (isOdd(fn) || fn === sn) {
      r = hashChildren(p, r);
      if (!isOdd(fn)) {
        while (!isOdd(fn) && fn !== 0) {
          fn = half(fn);
          sn = half(sn);
        }
      }
    } else {
      r = hashChildren(r, p);
    }
    fn = half(fn);
    sn = half(sn);
  }
  if (sn !== 0) throw auditError('E_PROOF_INVALID', 'inclusion proof is shorter than the path to the root', { index, size, proofLength: proof.length });
  return r;
}

/** Verifies an inclusion proof; throws E_PROOF_INVALID unless it proves `leafHash` at `index` under `root`. */
export function verifyInclusion(leafHash: Uint8Array, index: number, size: number, proof: readonly Uint8Array[], root: Uint8Array): void {
  const computed = rootFromInclusionProof(leafHash, index, size, proof);
  if (root.length !== HASH_BYTES || !equalBytes(computed, root)) {
    throw auditError('E_PROOF_INVALID', `inclusion proof for leaf ${index} does not lead to the expected root`, { index, size });
  }
}

function checkIndex(index: number, size: number): void {
  if (!Number.isSafeInteger(size) || size < 1 || size > TREE_SIZE_MAX || !Number.isSafeInteger(index) || index < 0 || index >= size) {
    throw auditError('E_AUDIT_RANGE', `leaf index ${index} is not inside a tree of size ${size}`, { index, size });
  }
}

function checkHashes(proof: readonly Uint8Array[], leafHash: Uint8Array): void {
  if (proof.length > PROOF_HASHES_MAX) throw auditError('E_PROOF_INVALID', `proof has more than ${PROOF_HASHES_MAX} hashes`, { length: proof.length });
  if (leafHash.length !== HASH_BYTES) throw auditError('E_PROOF_INVALID', `leaf hash must be ${HASH_BYTES} bytes`, { length: leafHash.length });
  proof.forEach((p, i) => {
    if (p.length !== HASH_BYTES) throw auditError('E_PROOF_INVALID', `proof hash ${i} must be ${HASH_BYTES} bytes`, { position: i, length: p.length });
  });
}

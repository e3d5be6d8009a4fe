/**
 * Subtrees of a Merkle tree and their proofs, as the Merkle Tree
 * Certificates draft defines them (draft-ietf-plants-merkle-tree-certs,
 * "Subtrees"; also the basis of tlog-tiles subtree cosignatures): a subtree
 * [start, end) is MTH(D[start:end]) with start a multiple of
 * BIT_CEIL(end - start). Subtree inclusion proofs are RFC 9162 inclusion
 * proofs inside the subtree; subtree consistency proofs tie a subtree hash to
 * the root of the whole tree.
 */
import { equalBytes } from '@custodian/core/bytes';
import { auditError } from './errors.js';
import { EMPTY_TREE_ROOT, hashChildren } from './hash.js';
import { subtreeHash, type HashSource } from './hash-source.js';
import { inclusionPath, rootFromInclusionProof } from './inclusion-proof.js';
import { HASH_BYTES, PROOF_HASHES_MAX, TREE_SIZE_MAX } from './limits.js';
import { half, isOdd, largestPowerOfTwoBelow } from './tree-math.js';

/** The smallest power of two ≥ n (BIT_CEIL; 1 for n = 0). */
export function bitCeil(n: number): number {
  let k = 1;
  while (k < n) k *= 2;
  return k;
}

/** MTC draft "Definition of a Subtree": 0 ≤ start ≤ end and start is a multiple of BIT_CEIL(end - start). */
export function isValidSubtree(start: number, end: number): boolean {
  return Number.isSafeInteger(start) && Number.isSafeInteger(end) && start >= 0 && start <= end && end <= TREE_SIZE_MAX && start % bitCeil(end - start) === 0;
}

function invalid(why: string, detail: Record<string, unknown>): never {
  throw auditError('E_PROOF_INVALID', `subtree proof is invalid: ${why}`, detail);
}

/** Verifies that `leafHash` is entry `index` of subtree [start, end) whose hash is `subtreeRoot`. */
export function verifySubtreeInclusion(leafHash: Uint8Array, index: number, start: number, end: number, proof: readonly Uint8Array[], subtreeRoot: Uint8Array): void {
  if (!isValidSubtree(start, end) || !Number.isSafeInteger(index) || index < start || index >= end) invalid('not a valid subtree containing the index', { index, start, end });
  const r = rootFromInclusionProof(leafHash, index - start, end - start, proof);
  if (subtreeRoot.length !== HASH_BYTES || !equalBytes(r, subtreeRoot)) invalid('it does not lead to the subtree hash', { index, start, end });
}

/** The inclusion proof of entry `index` within subtree [start, end). */
export function proveSubtreeInclusion(source: HashSource, index: number, start: number, end: number): Uint8Array[] {
  if (!isValidSubtree(start, end) || index < start || index >= end) throw auditError('E_AUDIT_RANGE', 'not a valid subtree containing the index', { index, start, end });
  const out: Uint8Array[] = [];
  inclusionPath(source, index - start, start, end, out);
  return out;
}

/** SUBTREE_PROOF(start, end, D_n): proves subtree [start, end) is part of the tree of n leaves. */
export function proveSubtreeConsistency(source: HashSource, start: number, end: number, n: number): Uint8Array[] {
  if (!isValidSubtree(start, end) || end > n) throw auditError('E_AUDIT_RANGE', 'not a valid subtree of the tree', { start, end, n });
  const out: Uint8Array[] = [];
  if (start < end) subtreeSubproof(source, start, end, 0, n, true, out);
  return out;
}

// SUBTREE_SUBPROOF(start, end, D[base:base+n], b) with start/end relative to base.
function subtreeSubproof(source: HashSource, start: number, end: number, base: number, n: number, b: boolean, out: Uint8Array[]): void {
  if (start === 0 && end === n) {
    if (!b) out.push(subtreeHash(source, base, base + n));
    return;
  }
  const k = largestPowerOfTwoBelow(n);
  if (end <= k) {
    subtreeSubproof(source, start, end, base, k, b, out);
    out.push(subtreeHash(source, base + k, base + n));
  } else if (k <= start) {
    subtreeSubproof(source, start - k, end - k, base + k, n - k, b, out);
    out.push(subtreeHash(source, base, base + k));
  } else {
    subtreeSubproof(source, 0, end - k, base + k, n - k, false, out);
    out.push(subtreeHash(source, base, base + k));
  }
}

/** MTC draft "Verifying a Subtree Consistency Proof": `nodeHash` of [start, end) is consistent with `rootHash` of n leaves. */
export function verifySubtreeConsistency(start: number, end: number, n: number, nodeHash: Uint8Array, rootHash: Uint8Array, proof: readonly Uint8Array[]): void {
  const detail = { start, end, n };
  if (!isValidSubtree(start, end) || !Number.isSafeInteger(n) || end > n) invalid('not a valid subtree of the tree', detail);
  if (proof.length > PROOF_HASHES_MAX) invalid('the proof is too long', detail);
  if (start === end) {
    if (proof.length !== 0 || !equalBytes(nodeHash, EMPTY_TREE_ROOT)) invalid('an empty subtree needs an empty proof and the empty hash', detail);
    return;
  }
  // Node and root are only compared, so a wrong length simply fails to match (as in the draft's procedure).
  if (proof.some((p) => p.length !== HASH_BYTES)) invalid('proof hashes must be 32 bytes', detail);
  if (proof.length > 0 && nodeHash.length !== HASH_BYTES) invalid('the subtree hash must be 32 bytes', detail);
  let fn = start;
  let sn = end - 1;
  let tn = n - 1;
  const shift = (): void => {
    fn = half(fn);
    sn = half(sn);
    tn = half(tn);
  };
  if (sn === tn) while (fn !== sn) shift();
  else while (fn !== sn && isOdd(sn)) shift();
  const rest = [...proof];
  let fr: Uint8Array;
  if (fn === sn) fr = nodeHash;
  else {
    const first = rest.shift();
    if (first === undefined) invalid('the proof is empty', detail);
    fr = first;
  }
  let sr = fr;
  for (const c of rest) {
    if (tn === 0) invalid('the proof is too long', detail);
    if (isOdd(sn) || sn === tn) {
      if (fn < sn) fr = hashChildren(c, fr);
      sr = hashChildren(c, sr);
      while (!isOdd(sn) && sn !== 0) shift();
    } else {
      sr = hashChildren(sr, c);
    }
    shift();
  }
  if (tn !== 0) invalid('the proof is too short', detail);
  if (!equalBytes(fr, nodeHash)) invalid('it does not reproduce the subtree hash', detail);
  if (!equalBytes(sr, rootHash)) invalid('it does not reproduce the tree root', detail);
}

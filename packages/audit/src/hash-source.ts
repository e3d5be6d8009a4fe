/**
 * Where proof generation reads stored hashes from: the in-memory tree, the
 * tile reader of a tlog-tiles directory, or anything else that can return the
 * hash of a perfect, aligned subtree.
 */
import { EMPTY_TREE_ROOT, hashChildren } from './hash.js';
import { isPowerOfTwo, largestPowerOfTwoBelow, log2Exact } from './tree-math.js';

/** A read-only view of stored tree hashes. */
export interface HashSource {
  /**
   * The hash of the perfect subtree of 2^level leaves starting at leaf
   * index × 2^level (level 0 = leaf hashes). Throws E_AUDIT_RANGE or
   * E_AUDIT_CORRUPT when it cannot be read.
   */
  nodeHash(level: number, index: number): Uint8Array;
}

/**
 * MTH(D[start:end]) per RFC 9162 §2.1.1, reading perfect subtrees from
 * `source` (O(log n) reads). Callers pass ranges produced by the RFC's own
 * recursion, whose left parts are always aligned perfect subtrees.
 */
export function subtreeHash(source: HashSource, start: number, end: number): Uint8Array {
  const n = end - start;
  if (n === 0) return EMPTY_TREE_ROOT;
  if (isPowerOfTwo(n) && start % n === 0) return source.nodeHash(log2Exact(n), start / n);
  const k = largestPowerOfTwoBelow(n);
  return hashChildren(subtreeHash(source, start, start + k), subtreeHash(source, start + k, end));
}

/**
 * A compact range [0, size): the O(log n) right-edge perfect subtrees of a
 * tree, enough to compute its root and to keep appending. The streaming
 * verifier and the log writer use it so memory stays bounded at any size.
 */
import { assert } from '@custodian/core/errors';
import { EMPTY_TREE_ROOT, hashChildren } from './hash.js';

/** One perfect subtree on the right edge: 2^level leaves. */
interface Peak {
  readonly level: number;
  readonly hash: Uint8Array;
}

/** The right edge of a tree growing from leaf 0. */
export class CompactRange {
  #peaks: Peak[] = [];
  #size = 0;

  /** Number of leaves covered. */
  get size(): number {
    return this.#size;
  }

  /**
   * Appends a perfect subtree of 2^level leaves; the current size must be a
   * multiple of 2^level (an aligned subtree), which callers guarantee.
   */
  appendNode(level: number, hash: Uint8Array): void {
    const width = 2 ** level;
    assert(this.#size % width === 0, 'compact range append must be aligned');
    let node: Peak = { level, hash };
    for (;;) {
      const top = this.#peaks[this.#peaks.length - 1];
      if (top === undefined || top.level !== node.level) break;
      this.#peaks.pop();
      node = { level: node.level + 1, hash: hashChildren(top.hash, node.hash) };
    }
    assert(this.#peaks.every((p) => p.level > node.level), 'compact range peaks must shrink to the right');
    this.#peaks.push(node);
    this.#size += width;
  }

  /** Appends one leaf hash. */
  appendLeaf(leafHash: Uint8Array): void {
    this.appendNode(0, leafHash);
  }

  /** RFC 6962 root of the covered tree: peaks folded right to left. */
  root(): Uint8Array {
    if (this.#peaks.length === 0) return EMPTY_TREE_ROOT;
    let acc = this.#peaks[this.#peaks.length - 1]!.hash;
    for (let i = this.#peaks.length - 2; i >= 0; i--) acc = hashChildren(this.#peaks[i]!.hash, acc);
    return acc;
  }

  /** A copy that can grow independently. */
  clone(): CompactRange {
    const c = new CompactRange();
    c.#peaks = [...this.#peaks];
    c.#size = this.#size;
    return c;
  }
}

/**
 * An append-only Merkle tree held in memory: every perfect subtree hash is
 * stored once per level (≈ 2 × 32 bytes per leaf), so roots of any past size
 * and proofs come from O(log n) lookups. Used by writers, tests and benches;
 * the tlog-tiles reader offers the same HashSource from disk.
 */
import { auditError } from './errors.js';
import { hashChildren } from './hash.js';
import { subtreeHash, type HashSource } from './hash-source.js';
import { HASH_BYTES, TREE_SIZE_MAX } from './limits.js';

/** A growable array of 32-byte hashes in one buffer. */
class HashRow {
  #buf = new Uint8Array(HASH_BYTES * 64);
  length = 0;

  push(h: Uint8Array): void {
    if ((this.length + 1) * HASH_BYTES > this.#buf.length) {
      const next = new Uint8Array(this.#buf.length * 2);
      next.set(this.#buf);
      this.#buf = next;
    }
    this.#buf.set(h, this.length * HASH_BYTES);
    this.length++;
  }

  at(i: number): Uint8Array {
    return this.#buf.subarray(i * HASH_BYTES, (i + 1) * HASH_BYTES);
  }
}

/** An in-memory RFC 6962 tree over leaf hashes. */
export class MemoryTree implements HashSource {
  readonly #levels: HashRow[] = [new HashRow()];

  /** Number of leaves. */
  get size(): number {
    return this.#levels[0]!.length;
  }

  /** Appends one leaf hash (already RFC 6962 leaf-hashed) and returns its index. */
  appendLeafHash(leafHash: Uint8Array): number {
    if (leafHash.length !== HASH_BYTES) throw auditError('E_ENTRY_INVALID', 'leaf hash must be 32 bytes', { length: leafHash.length });
    if (this.size >= TREE_SIZE_MAX) throw auditError('E_AUDIT_RANGE', 'tree is full');
    const index = this.size;
    let h = leafHash;
    for (let level = 0; ; level++) {
      const row = this.#levels[level] ?? (this.#levels[level] = new HashRow());
      row.push(h);
      const i = row.length - 1;
      if (i % 2 === 0) break;
      h = hashChildren(row.at(i - 1), row.at(i));
    }
    return index;
  }

  /** HashSource: the stored hash of a perfect subtree. */
  nodeHash(level: number, index: number): Uint8Array {
    const row = this.#levels[level];
    if (row === undefined || index < 0 || index >= row.length) {
      throw auditError('E_AUDIT_RANGE', `no node at level ${level} index ${index}`, { level, index });
    }
    return row.at(index).slice();
  }

  /** The root hash of the first `size` leaves (default: all). */
  root(size: number = this.size): Uint8Array {
    if (!Number.isSafeInteger(size) || size < 0 || size > this.size) throw auditError('E_AUDIT_RANGE', `tree has no size ${size}`, { size });
    return subtreeHash(this, 0, size);
  }
}

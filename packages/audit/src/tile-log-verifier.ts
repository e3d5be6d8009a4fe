/**
 * The auditor's check of a whole tlog-tiles log, with no trust in whoever
 * stored it. Steps, in order: checkpoint (signatures, origin, k-of-m
 * cosignatures) → trusted checkpoint (no rollback, no fork) → every entry
 * bundle (exact size; optionally every entry decodes as an audit entry) →
 * every leaf hash against tile level 0 → every hash tile at every level
 * (full, final partial and kept partial versions) → the trusted root at its
 * size → the checkpoint root. Memory stays bounded (≤ 256 hashes per tile
 * level); the first failure names the index or path and why.
 */
import { equalBytes, bytesToHex } from '@custodian/core/bytes';
import { assert, isCustodianError } from '@custodian/core/errors';
import { auditError } from './errors.js';
import { hashLeaf } from './hash.js';
import { CompactRange } from './compact-range.js';
import { decodeAuditEntry, type AuditEntryKind } from './entry.js';
import { decodeEntryBundle } from './entry-bundle.js';
import { decodeHashTile, perfectRoot } from './tile-hashes.js';
import { entryBundlePath, nodesAtTileLevel, tilePath } from './tile-path.js';
import { verifyCheckpointNote, type CheckpointPolicy, type VerifiedCheckpoint } from './checkpoint-policy.js';
import type { TileStorage } from './tile-storage.js';
import { TILE_HEIGHT, TILE_WIDTH } from './limits.js';

/** Options of a full-log verification. */
export interface VerifyLogOptions {
  readonly policy: CheckpointPolicy;
  /** A checkpoint note the auditor already trusts (needs a valid log signature). */
  readonly trustedCheckpoint?: Uint8Array;
  /** Decode every entry as a Custodian audit entry (default true). */
  readonly decodeEntries?: boolean;
  /**
   * How to decode an entry, in log order, when entries are decoded: returns
   * the kind it is counted under, or throws its typed error (custody leaves:
   * CustodyLogReader). Default: the entry bytes are a typed audit entry.
   */
  readonly readEntry?: (bytes: Uint8Array, index: number) => string;
  /** Called after each entry bundle with entries checked so far. */
  readonly onProgress?: (checked: number, total: number) => void;
}

/** What a successful verification establishes. */
export interface LogVerification {
  readonly origin: string;
  readonly size: number;
  readonly rootHash: string;
  readonly logSigners: readonly string[];
  readonly cosigners: readonly string[];
  readonly trustedSize: number | null;
  readonly tilesChecked: number;
  readonly bundlesChecked: number;
  readonly entriesByKind: Readonly<Record<string, number>>;
}

/** Verifies the whole log; throws the first failure as a typed error (E_AUDIT_CORRUPT, E_CHECKPOINT_*, E_NOTE_*). */
export async function verifyTileLog(storage: TileStorage, o: VerifyLogOptions): Promise<LogVerification> {
  const note = await storage.read('checkpoint');
  if (note === null) throw auditError('E_AUDIT_CORRUPT', 'the log has no checkpoint');
  const head = verifyCheckpointNote(note, o.policy);
  const cp = head.checkpoint;
  const trusted = o.trustedCheckpoint === undefined ? null : checkTrusted(o.trustedCheckpoint, head, o.policy);
  const walker = new TileWalker(storage, cp.size);
  const range = new CompactRange();
  const kinds: Record<string, number> = {};
  for (let b = 0; b * TILE_WIDTH < cp.size; b++) {
    const first = b * TILE_WIDTH;
    const width = Math.min(TILE_WIDTH, cp.size - first);
    const path = entryBundlePath(b, width);
    const bytes = await storage.read(path);
    if (bytes === null) throw auditError('E_AUDIT_CORRUPT', `${path} is missing: entries from ${first} cannot be checked`, { index: first, path });
    const entries = decodeEntryBundle(bytes, width, first);
    await checkOlderBundles(storage, b, bytes, width);
    const leaves = entries.map((e, i) => {
      if (o.decodeEntries !== false) countKind(kinds, o.readEntry ? o.readEntry(e, first + i) : decodeAt(e, first + i));
      return hashLeaf(e);
    });
    await walker.checkLeaves(b, leaves);
    for (const leaf of leaves) {
      range.appendLeaf(leaf);
      if (trusted !== null && range.size === trusted.size && !equalBytes(range.root(), trusted.rootHash)) {
        throw auditError('E_CHECKPOINT_INCONSISTENT', `the log's first ${trusted.size} entries no longer match the trusted checkpoint: history was rewritten`, {
          trustedSize: trusted.size,
          trustedRoot: bytesToHex(trusted.rootHash),
          recomputedRoot: bytesToHex(range.root()),
        });
      }
    }
    o.onProgress?.(first + width, cp.size);
  }
  await walker.finish();
  if (!equalBytes(range.root(), cp.rootHash)) {
    throw auditError('E_AUDIT_CORRUPT', `recomputed root of ${cp.size} entries differs from the checkpoint root`, { size: cp.size, recomputedRoot: bytesToHex(range.root()), checkpointRoot: bytesToHex(cp.rootHash) });
  }
  return {
    origin: cp.origin, size: cp.size, rootHash: bytesToHex(cp.rootHash),
    logSigners: head.logSignatures.map((s) => s.name), cosigners: head.cosignatures.map((s) => s.name),
    trustedSize: trusted?.size ?? null, tilesChecked: walker.tilesChecked, bundlesChecked: Math.ceil(cp.size / TILE_WIDTH), entriesByKind: kinds,
  };
}

// Older partial bundles kept in the store must be byte prefixes of the current bundle;
// widths at or beyond the current one are the bundle itself or not yet committed.
async function checkOlderBundles(storage: TileStorage, b: number, current: Uint8Array, width: number): Promise<void> {
  const widths = (await storage.listPartialWidths?.(entryBundlePath(b))) ?? [];
  for (const w of widths.filter((x) => x < width)) {
    const path = entryBundlePath(b, w);
    const older = await storage.read(path);
    if (older === null) continue;
    if (older.length > current.length || !equalBytes(older, current.subarray(0, older.length))) {
      throw auditError('E_AUDIT_CORRUPT', `${path} disagrees with the current entries (an entry was altered after publication)`, { path, index: b * TILE_WIDTH });
    }
  }
}

function checkTrusted(note: Uint8Array, head: VerifiedCheckpoint, policy: CheckpointPolicy): { size: number; rootHash: Uint8Array } {
  // The auditor chose this file as an anchor: its log signature is checked, its cosignatures are not required.
  const t = verifyCheckpointNote(note, { ...policy, witnessQuorum: 0 }).checkpoint;
  const cp = head.checkpoint;
  const both = { trusted: new TextDecoder().decode(note), current: new TextDecoder().decode(head.note) };
  if (t.size > cp.size) throw auditError('E_CHECKPOINT_ROLLBACK', `the log's checkpoint (size ${cp.size}) is smaller than the trusted one (size ${t.size})`, { trustedSize: t.size, size: cp.size, ...both });
  if (t.size === cp.size && !equalBytes(t.rootHash, cp.rootHash)) throw auditError('E_CHECKPOINT_FORK', `two checkpoints of size ${cp.size} with different roots: the log forked`, { size: cp.size, ...both });
  return t;
}

function decodeAt(entry: Uint8Array, index: number): AuditEntryKind {
  try {
    return decodeAuditEntry(entry).kind;
  } catch (e) {
    throw auditError('E_AUDIT_CORRUPT', `entry ${index} is not a valid audit entry${isCustodianError(e) ? `: ${e.message}` : ''}`, { index, cause: isCustodianError(e) ? e.code : 'unknown' });
  }
}

function countKind(kinds: Record<string, number>, kind: string): void {
  kinds[kind] = (kinds[kind] ?? 0) + 1;
}

/** Rebuilds every tile level from the leaves and compares each stored tile as it completes. */
class TileWalker {
  readonly #rows: Uint8Array[][] = [];
  readonly #fullTiles: number[] = [];
  tilesChecked = 0;

  constructor(readonly storage: TileStorage, readonly size: number) {}

  /** Compares bundle `b`'s leaf hashes with tile level 0 (naming the first bad index) and feeds the upper levels. */
  async checkLeaves(b: number, leaves: readonly Uint8Array[]): Promise<void> {
    const width = leaves.length;
    const stored = await this.#read(tilePath(0, b, width), width);
    leaves.forEach((leaf, i) => {
      if (!equalBytes(leaf, stored[i]!)) throw auditError('E_AUDIT_CORRUPT', `entry ${b * TILE_WIDTH + i} does not match its leaf hash in tile/0 (entry or tile altered)`, { index: b * TILE_WIDTH + i });
    });
    await this.#checkPartials(tilePath(0, b), stored);
    this.tilesChecked++;
    if (width === TILE_WIDTH) await this.#push(1, perfectRoot(leaves));
  }

  async #push(level: number, hash: Uint8Array): Promise<void> {
    const row = this.#rows[level] ?? (this.#rows[level] = []);
    row.push(hash);
    if (row.length < TILE_WIDTH) return;
    const index = this.#fullTiles[level] ?? 0;
    this.#fullTiles[level] = index + 1;
    await this.#compare(level, index, row);
    this.#rows[level] = [];
    await this.#push(level + 1, perfectRoot(row));
  }

  /** Compares the final partial tiles of levels ≥ 1. */
  async finish(): Promise<void> {
    for (let level = 1; nodesAtTileLevel(this.size, level) > 0; level++) {
      const nodes = nodesAtTileLevel(this.size, level);
      const row = this.#rows[level] ?? [];
      assert(row.length === nodes % TILE_WIDTH, 'the walker holds exactly the final partial row of each level');
      if (row.length > 0) await this.#compare(level, Math.floor(nodes / TILE_WIDTH), row);
    }
  }

  async #compare(level: number, index: number, row: readonly Uint8Array[]): Promise<void> {
    const path = tilePath(level, index, row.length);
    const stored = await this.#read(path, row.length);
    row.forEach((h, i) => {
      if (!equalBytes(h, stored[i]!)) {
        const first = (index * TILE_WIDTH + i) * TILE_WIDTH ** level;
        throw auditError('E_AUDIT_CORRUPT', `${path} hash ${i} differs from the hash recomputed from entries ${first}..${first + 2 ** (level * TILE_HEIGHT) - 1}`, { path, index: first });
      }
    });
    await this.#checkPartials(tilePath(level, index), stored);
    this.tilesChecked++;
  }

  // Older partial versions of a tile kept in the store must be prefixes of it.
  async #checkPartials(fullPath: string, stored: readonly Uint8Array[]): Promise<void> {
    const widths = (await this.storage.listPartialWidths?.(fullPath)) ?? [];
    // Widths ≥ the current one are the current tile itself or beyond the checkpoint (not yet committed).
    for (const w of widths.filter((x) => x < stored.length)) {
      const older = await this.#read(`${fullPath}.p/${w}`, w);
      older.forEach((h, i) => {
        if (!equalBytes(h, stored[i]!)) throw auditError('E_AUDIT_CORRUPT', `${fullPath}.p/${w} hash ${i} disagrees with the current tile`, { path: `${fullPath}.p/${w}` });
      });
      this.tilesChecked++;
    }
  }

  async #read(path: string, width: number): Promise<Uint8Array[]> {
    const bytes = await this.storage.read(path);
    if (bytes === null) throw auditError('E_AUDIT_CORRUPT', `${path} is missing`, { path });
    return decodeHashTile(bytes, width, path);
  }
}

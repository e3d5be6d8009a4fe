/**
 * The writer of a tlog-tiles audit log. Each `appendBatch` call adds many
 * entries under one new checkpoint: tiles and entry bundles are written and
 * fsynced first, then the checkpoint is signed (by the caller's `sign`, i.e.
 * the enclaves and witnesses) and, if a policy is given, checked against it,
 * then published durably. Only then does the call resolve — so an entry is
 * acknowledged only when it is durable and witnessed (fail closed: any
 * failure rejects with E_AUDIT_UNAVAILABLE and the writer's state does not
 * move). A batch that failed once its checkpoint was sent for signing is
 * kept and republished unchanged before the next batch: cosigners may have
 * seen it, so a different history at that size would be a fork. Its entries
 * may therefore appear in the log although their append was rejected
 * (at-least-once; callers treat the rejection as "not released"). The writer holds only the right edge of the tree in memory
 * (≤ 255 hashes per tile level plus the partial entry bundle).
 *
 * Durability contract, in order: (1) every tile and entry bundle of the
 * batch is written under a temporary name, fsynced and renamed, and each
 * touched directory fsynced; (2) the checkpoint text is signed by `sign` and,
 * with a policy, has its k-of-m cosignatures; (3) `checkpoint` is replaced
 * atomically and its directory fsynced — the commit point. Bytes a failed
 * batch left beyond the published checkpoint are ignored and overwritten.
 * Every path except `checkpoint` is written once in normal operation; older
 * partial tiles (`.p/<W>`) are kept, as Tessera does, and the verifier checks
 * they are prefixes of the current tiles.
 */
import { equalBytes } from '@custodian/core/bytes';
import { isCustodianError } from '@custodian/core/errors';
import { auditError } from './errors.js';
import { hashLeaf } from './hash.js';
import { CompactRange } from './compact-range.js';
import { decodeCheckpoint, encodeCheckpoint, type Checkpoint } from './checkpoint.js';
import { decodeNoteUnverified } from './note.js';
import { verifyCheckpointNote, type CheckpointPolicy } from './checkpoint-policy.js';
import { decodeEntryBundle, encodeEntryBundle } from './entry-bundle.js';
import { decodeHashTile, encodeHashTile, perfectRoot } from './tile-hashes.js';
import { entryBundlePath, nodesAtTileLevel, tilePath } from './tile-path.js';
import type { TileFile, TileStorage } from './tile-storage.js';
import { APPEND_BATCH_MAX, ENTRY_BYTES_MAX, TILE_HEIGHT, TILE_WIDTH, TREE_SIZE_MAX } from './limits.js';

/** Signs a checkpoint text; returns the full note (log signature and cosignatures). */
export type CheckpointSignFn = (checkpointText: string) => Promise<Uint8Array>;

/** Writer configuration. */
export interface TileLogWriterOptions {
  readonly storage: TileStorage;
  readonly origin: string;
  readonly sign: CheckpointSignFn;
  /** When given, each signed checkpoint must satisfy it before it is published. */
  readonly policy?: CheckpointPolicy;
}

/** The result of a durable batch. */
export interface AppendResult {
  /** Index of the batch's first entry. */
  readonly firstIndex: number;
  /** Tree size after the batch. */
  readonly size: number;
  readonly rootHash: Uint8Array;
  /** The published checkpoint note. */
  readonly checkpoint: Uint8Array;
}

/** The in-memory right edge; copied before a batch so a failed batch leaves it untouched. */
interface EdgeState {
  size: number;
  /** rows[L]: hashes at tree level 8L of the current partial tile at tile level L. */
  rows: Uint8Array[][];
  /** Entries of the current partial bundle. */
  bundle: Uint8Array[];
}

/** Appends batches of entries to a tlog-tiles log. */
export class TileLogWriter {
  readonly #o: TileLogWriterOptions;
  #state: EdgeState;
  #checkpoint: Uint8Array | null;
  #unpublished: PendingBatch | null = null;
  #queue: Promise<unknown> = Promise.resolve();

  private constructor(o: TileLogWriterOptions, state: EdgeState, checkpoint: Uint8Array | null) {
    this.#o = o;
    this.#state = state;
    this.#checkpoint = checkpoint;
  }

  /**
   * Opens a log (empty if it has no checkpoint yet), reloading its right edge
   * from the partial tiles and checking it reproduces the checkpoint's root;
   * otherwise E_AUDIT_CORRUPT (F16: detected at startup).
   */
  static async open(o: TileLogWriterOptions): Promise<TileLogWriter> {
    const note = await o.storage.read('checkpoint');
    if (note === null) return new TileLogWriter(o, { size: 0, rows: [], bundle: [] }, null);
    const cp = o.policy ? verifyCheckpointNote(note, o.policy).checkpoint : decodeCheckpoint(decodeNoteUnverified(note).text);
    if (cp.origin !== o.origin) throw auditError('E_CHECKPOINT_ORIGIN', `log directory holds origin "${cp.origin.slice(0, 80)}", expected "${o.origin}"`);
    return new TileLogWriter(o, await loadEdge(o.storage, cp), note);
  }

  /** Current tree size. */
  get size(): number {
    return this.#state.size;
  }

  /** The last published checkpoint note, or null for an empty log. */
  get checkpoint(): Uint8Array | null {
    return this.#checkpoint;
  }

  /** Appends entries (canonical bytes) under one checkpoint; resolves when durable and published. */
  appendBatch(entries: readonly Uint8Array[]): Promise<AppendResult> {
    const run = this.#queue.then(() => this.#append(entries));
    this.#queue = run.catch(() => undefined);
    return run;
  }

  async #append(entries: readonly Uint8Array[]): Promise<AppendResult> {
    if (entries.length === 0 || entries.length > APPEND_BATCH_MAX) throw auditError('E_AUDIT_RANGE', `a batch holds 1 to ${APPEND_BATCH_MAX} entries`);
    for (const e of entries) if (e.length > ENTRY_BYTES_MAX) throw auditError('E_ENTRY_TOO_LARGE', `entry of ${e.length} bytes exceeds ${ENTRY_BYTES_MAX}`);
    // A batch that failed after its checkpoint went out for signing may already be cosigned
    // (or even published): it is republished, unchanged, before any other history at that size.
    if (this.#unpublished !== null) await this.#publish(this.#unpublished);
    if (this.#state.size + entries.length > TREE_SIZE_MAX) throw auditError('E_AUDIT_RANGE', 'audit log is full');
    const firstIndex = this.#state.size;
    const next: EdgeState = { size: this.#state.size, rows: this.#state.rows.map((r) => [...r]), bundle: [...this.#state.bundle] };
    const files = new Map<string, Uint8Array>();
    for (const e of entries) appendOne(next, e, files);
    writePartials(next, files, firstIndex);
    const rootHash = edgeFromRows(next.rows).root();
    const text = encodeCheckpoint({ origin: this.#o.origin, size: next.size, rootHash, extensions: [] });
    await this.#o.storage.writeDurable([...files].map(([path, bytes]): TileFile => ({ path, bytes })));
    return this.#publish({ next, text, firstIndex, rootHash });
  }

  async #publish(p: PendingBatch): Promise<AppendResult> {
    this.#unpublished = p;
    let note: Uint8Array;
    try {
      note = await this.#o.sign(p.text);
      if (decodeNoteUnverified(note).text !== p.text) throw auditError('E_NOTE_MALFORMED', 'the signed checkpoint is not the one the log asked for');
      if (this.#o.policy) verifyCheckpointNote(note, this.#o.policy);
    } catch (e) {
      const why = isCustodianError(e) ? `${e.code}: ${e.message}` : String(e);
      throw auditError('E_AUDIT_UNAVAILABLE', `checkpoint of size ${p.next.size} could not be signed and witnessed (${why})`, { size: p.next.size });
    }
    await this.#o.storage.publishCheckpoint(note);
    this.#state = p.next;
    this.#checkpoint = note;
    this.#unpublished = null;
    return { firstIndex: p.firstIndex, size: p.next.size, rootHash: p.rootHash, checkpoint: note };
  }
}

/** A batch whose tiles are durable but whose checkpoint is not yet published. */
interface PendingBatch {
  readonly next: EdgeState;
  readonly text: string;
  readonly firstIndex: number;
  readonly rootHash: Uint8Array;
}

function appendOne(s: EdgeState, entry: Uint8Array, files: Map<string, Uint8Array>): void {
  const leaf = hashLeaf(entry);
  s.bundle.push(entry);
  s.size++;
  if (s.bundle.length === TILE_WIDTH) {
    files.set(entryBundlePath(s.size / TILE_WIDTH - 1), encodeEntryBundle(s.bundle));
    s.bundle = [];
  }
  let hash = leaf;
  for (let level = 0; ; level++) {
    const row = s.rows[level] ?? (s.rows[level] = []);
    row.push(hash);
    if (row.length < TILE_WIDTH) break;
    const index = nodesAtTileLevel(s.size, level) / TILE_WIDTH - 1;
    files.set(tilePath(level, index), encodeHashTile(row));
    hash = perfectRoot(row);
    s.rows[level] = [];
  }
}

// The partial tiles and bundle touched by this batch (levels whose node count moved).
function writePartials(s: EdgeState, files: Map<string, Uint8Array>, oldSize: number): void {
  if (s.bundle.length > 0) files.set(entryBundlePath(Math.floor(s.size / TILE_WIDTH), s.bundle.length), encodeEntryBundle(s.bundle));
  s.rows.forEach((row, level) => {
    if (row.length === 0 || nodesAtTileLevel(s.size, level) === nodesAtTileLevel(oldSize, level)) return;
    files.set(tilePath(level, Math.floor(nodesAtTileLevel(s.size, level) / TILE_WIDTH), row.length), encodeHashTile(row));
  });
}

async function loadEdge(storage: TileStorage, cp: Checkpoint): Promise<EdgeState> {
  const rows: Uint8Array[][] = [];
  for (let level = 0; nodesAtTileLevel(cp.size, level) > 0; level++) {
    const nodes = nodesAtTileLevel(cp.size, level);
    const width = nodes % TILE_WIDTH;
    rows[level] = width === 0 ? [] : await readTile(storage, tilePath(level, Math.floor(nodes / TILE_WIDTH), width), width);
  }
  const range = edgeFromRows(rows);
  if (range.size !== cp.size || !equalBytes(range.root(), cp.rootHash)) {
    throw auditError('E_AUDIT_CORRUPT', `partial tiles do not reproduce the checkpoint root at size ${cp.size}`, { size: cp.size });
  }
  const width = cp.size % TILE_WIDTH;
  let bundle: Uint8Array[] = [];
  if (width > 0) {
    const path = entryBundlePath(Math.floor(cp.size / TILE_WIDTH), width);
    const bytes = await storage.read(path);
    if (bytes === null) throw auditError('E_AUDIT_CORRUPT', `${path} is missing`, { path });
    bundle = decodeEntryBundle(bytes, width, cp.size - width).map((e) => e.slice());
    bundle.forEach((e, i) => {
      if (!equalBytes(hashLeaf(e), rows[0]![i]!)) throw auditError('E_AUDIT_CORRUPT', `entry ${cp.size - width + i} does not match its tile hash`, { index: cp.size - width + i });
    });
  }
  return { size: cp.size, rows, bundle };
}

// The right edge as perfect subtrees, largest first: each tile level's partial row holds
// the level-8L nodes not yet folded into a full tile, so together they span the tree.
function edgeFromRows(rows: readonly (readonly Uint8Array[])[]): CompactRange {
  const range = new CompactRange();
  for (let level = rows.length - 1; level >= 0; level--) for (const h of rows[level]!) range.appendNode(level * TILE_HEIGHT, h);
  return range;
}

async function readTile(storage: TileStorage, path: string, width: number): Promise<Uint8Array[]> {
  const bytes = await storage.read(path);
  if (bytes === null) throw auditError('E_AUDIT_CORRUPT', `${path} is missing`, { path });
  return decodeHashTile(bytes, width, path).map((h) => h.slice());
}

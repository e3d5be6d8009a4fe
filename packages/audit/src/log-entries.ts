/**
 * Reading entries back out of a tlog-tiles log: a streaming iterator (one
 * entry bundle in memory at a time) and the "story" of one request — every
 * entry that names it, each with its inclusion proof — for `audit show` and
 * evidence bundles. Callers verify the checkpoint first and pass its size.
 */
import { auditError } from './errors.js';
import { decodeAuditEntry, type AuditEntry } from './entry.js';
import { decodeEntryBundle } from './entry-bundle.js';
import { entryBundlePath } from './tile-path.js';
import { proveInclusionFromTiles } from './tile-proofs.js';
import type { TileStorage } from './tile-storage.js';
import { TILE_WIDTH } from './limits.js';

/** One stored entry and its position. */
export interface IndexedEntry {
  readonly index: number;
  readonly bytes: Uint8Array;
}

/** Yields entries [from, size) in order, reading one bundle at a time. */
export async function* iterateLogEntries(storage: TileStorage, size: number, from = 0): AsyncGenerator<IndexedEntry> {
  if (!Number.isSafeInteger(from) || from < 0 || from > size) throw auditError('E_AUDIT_RANGE', `cannot read from entry ${from} of ${size}`, { from, size });
  for (let b = Math.floor(from / TILE_WIDTH); b * TILE_WIDTH < size; b++) {
    const first = b * TILE_WIDTH;
    const width = Math.min(TILE_WIDTH, size - first);
    const path = entryBundlePath(b, width);
    const bytes = await storage.read(path);
    if (bytes === null) throw auditError('E_AUDIT_CORRUPT', `${path} is missing`, { path, index: first });
    const entries = decodeEntryBundle(bytes, width, first);
    for (let i = Math.max(0, from - first); i < entries.length; i++) yield { index: first + i, bytes: entries[i]! };
  }
}

/** An entry of a request's story with its inclusion proof in the tree of `size`. */
export interface StoryEntry {
  readonly index: number;
  readonly entry: AuditEntry;
  readonly proof: readonly Uint8Array[];
}

/** Every audit entry that carries `requestId` (request, decision, approvals, signature, refusals), with proofs. */
export async function requestStory(storage: TileStorage, size: number, requestId: string): Promise<StoryEntry[]> {
  const out: StoryEntry[] = [];
  for await (const { index, bytes } of iterateLogEntries(storage, size)) {
    const entry = decodeAuditEntry(bytes);
    if ('requestId' in entry && entry.requestId === requestId) out.push({ index, entry, proof: await proveInclusionFromTiles(storage, index, size) });
  }
  return out;
}

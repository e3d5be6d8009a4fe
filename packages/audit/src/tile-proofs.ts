/**
 * Proofs served from a tlog-tiles store: the RFC 9162 algorithms run twice,
 * first against a recorder to learn which tiles they need, then against
 * those tiles fetched once (O(log n) tiles per proof).
 */
import { auditError } from './errors.js';
import { hashLeaf } from './hash.js';
import type { HashSource } from './hash-source.js';
import { proveConsistency } from './consistency-proof.js';
import { proveInclusion } from './inclusion-proof.js';
import { decodeEntryBundle } from './entry-bundle.js';
import { decodeHashTile, perfectRoot } from './tile-hashes.js';
import { entryBundlePath, nodesAtTileLevel, tilePath } from './tile-path.js';
import type { TileStorage } from './tile-storage.js';
import { HASH_BYTES, TILE_HEIGHT, TILE_WIDTH } from './limits.js';

interface TileRef {
  readonly path: string;
  readonly width: number;
}

function locate(level: number, index: number, size: number): { tile: TileRef; offset: number; count: number } {
  const tileLevel = Math.floor(level / TILE_HEIGHT);
  const count = 2 ** (level % TILE_HEIGHT);
  const start = index * count;
  const tileIndex = Math.floor(start / TILE_WIDTH);
  const width = Math.min(TILE_WIDTH, nodesAtTileLevel(size, tileLevel) - tileIndex * TILE_WIDTH);
  if (width < 1 || (start % TILE_WIDTH) + count > width) throw auditError('E_AUDIT_RANGE', `node ${level}/${index} is outside a tree of size ${size}`);
  return { tile: { path: tilePath(tileLevel, tileIndex, width), width }, offset: start % TILE_WIDTH, count };
}

/** Runs `compute` against the tiles of a tree of `size` leaves, fetching each needed tile once. */
export async function withTileHashes<T>(storage: TileStorage, size: number, compute: (source: HashSource) => T): Promise<T> {
  const needed = new Map<string, TileRef>();
  compute({
    nodeHash(level, index) {
      const { tile } = locate(level, index, size);
      needed.set(tile.path, tile);
      return new Uint8Array(HASH_BYTES);
    },
  });
  const tiles = new Map<string, Uint8Array[]>();
  for (const t of needed.values()) {
    const bytes = await storage.read(t.path);
    if (bytes === null) throw auditError('E_AUDIT_CORRUPT', `${t.path} is missing`, { path: t.path });
    tiles.set(t.path, decodeHashTile(bytes, t.width, t.path));
  }
  return compute({
    nodeHash(level, index) {
      const { tile, offset, count } = locate(level, index, size);
      const hashes = tiles.get(tile.path);
      if (hashes === undefined) throw auditError('E_AUDIT_CORRUPT', `${tile.path} was not fetched`);
      return perfectRoot(hashes.slice(offset, offset + count));
    },
  });
}

/** The inclusion proof of entry `index` in the tree of `size` leaves, from tiles. */
export function proveInclusionFromTiles(storage: TileStorage, index: number, size: number): Promise<Uint8Array[]> {
  return withTileHashes(storage, size, (src) => proveInclusion(src, index, size));
}

/** The consistency proof from `size1` to `size2`, from tiles. */
export function proveConsistencyFromTiles(storage: TileStorage, size1: number, size2: number): Promise<Uint8Array[]> {
  return withTileHashes(storage, size2, (src) => proveConsistency(src, size1, size2));
}

/** Reads entry `index` of a tree of `size` leaves and its leaf hash. */
export async function readEntryFromTiles(storage: TileStorage, index: number, size: number): Promise<{ entry: Uint8Array; leafHash: Uint8Array }> {
  if (!Number.isSafeInteger(index) || index < 0 || index >= size) throw auditError('E_AUDIT_RANGE', `entry ${index} is not in a log of ${size} entries`, { index, size });
  const b = Math.floor(index / TILE_WIDTH);
  const width = Math.min(TILE_WIDTH, size - b * TILE_WIDTH);
  const path = entryBundlePath(b, width);
  const bytes = await storage.read(path);
  if (bytes === null) throw auditError('E_AUDIT_CORRUPT', `${path} is missing`, { path, index });
  const entry = decodeEntryBundle(bytes, width, b * TILE_WIDTH)[index % TILE_WIDTH]!.slice();
  return { entry, leafHash: hashLeaf(entry) };
}

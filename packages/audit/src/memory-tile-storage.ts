/**
 * An in-memory TileStorage for tests, benches and simulations (no
 * durability: nothing survives the process).
 */
import { auditError } from './errors.js';
import { isTlogTilesPath } from './tile-path.js';
import type { TileFile, TileStorage } from './tile-storage.js';

/** TileStorage backed by a Map of path → bytes. */
export class MemoryTileStorage implements TileStorage {
  readonly files = new Map<string, Uint8Array>();

  async read(path: string): Promise<Uint8Array | null> {
    if (!isTlogTilesPath(path)) throw auditError('E_AUDIT_RANGE', `not a tlog-tiles path: ${path.slice(0, 80)}`);
    return this.files.get(path)?.slice() ?? null;
  }

  async writeDurable(files: readonly TileFile[]): Promise<void> {
    for (const f of files) this.files.set(f.path, f.bytes.slice());
  }

  async publishCheckpoint(note: Uint8Array): Promise<void> {
    this.files.set('checkpoint', note.slice());
  }

  async listPartialWidths(fullPath: string): Promise<number[]> {
    const prefix = `${fullPath}.p/`;
    return [...this.files.keys()].filter((k) => k.startsWith(prefix)).map((k) => Number(k.slice(prefix.length))).sort((a, b) => a - b);
  }
}

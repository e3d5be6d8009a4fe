/**
 * Where a tlog-tiles log lives. The writer and the verifier speak only this
 * interface; `FileTileStorage` is the default (a directory any static web
 * server can serve). Durability contract: `writeDurable` and
 * `publishCheckpoint` resolve only once the bytes are on stable storage.
 */
import { readFile, readdir, stat } from 'node:fs/promises';
import { isCustodianError } from '@custodian/core/errors';
import { dirname, join } from 'node:path';
import { auditError } from './errors.js';
import { fsyncDirectory, writeFileAtomic, writeFileDurable } from './durable-file.js';
import { isTlogTilesPath } from './tile-path.js';
import { ENTRY_BUNDLE_BYTES_MAX } from './limits.js';

/** One file to write. */
export interface TileFile {
  readonly path: string;
  readonly bytes: Uint8Array;
}

/** Storage of a tlog-tiles log. */
export interface TileStorage {
  /** The bytes at a tlog-tiles path, or null when absent. */
  read(path: string): Promise<Uint8Array | null>;
  /** Writes tiles and entry bundles; resolves when all are durable. */
  writeDurable(files: readonly TileFile[]): Promise<void>;
  /** Replaces `checkpoint` atomically and durably (the commit point of a batch). */
  publishCheckpoint(note: Uint8Array): Promise<void>;
  /** Widths of the partial versions kept for a full tile path (for the verifier), if the store can list. */
  listPartialWidths?(fullPath: string): Promise<number[]>;
}

/** A tlog-tiles log in a directory. */
export class FileTileStorage implements TileStorage {
  constructor(readonly dir: string) {}

  #file(path: string): string {
    if (!isTlogTilesPath(path)) throw auditError('E_AUDIT_RANGE', `not a tlog-tiles path: ${path.slice(0, 80)}`);
    return join(this.dir, path);
  }

  async read(path: string): Promise<Uint8Array | null> {
    const file = this.#file(path);
    let b: Buffer;
    try {
      // Size first (STYLE.md: bounded before parsing): a huge file is refused unread.
      if ((await stat(file)).size > ENTRY_BUNDLE_BYTES_MAX) throw auditError('E_AUDIT_CORRUPT', `${path} is larger than any tile`, { path });
      b = await readFile(file);
    } catch (e) {
      if (isCustodianError(e)) throw e;
      const errno = (e as NodeJS.ErrnoException).code;
      if (errno === 'ENOENT') return null;
      if (errno === 'EISDIR') throw auditError('E_AUDIT_CORRUPT', `${path} is a directory`, { path });
      throw auditError('E_AUDIT_UNAVAILABLE', `cannot read ${path}: ${errno ?? String(e)}`, { path });
    }
    return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  }

  async writeDurable(files: readonly TileFile[]): Promise<void> {
    try {
      await Promise.all(files.map((f) => writeFileAtomic(this.#file(f.path), f.bytes)));
      const dirs = new Set(files.map((f) => dirname(this.#file(f.path))));
      await Promise.all([...dirs].map(fsyncDirectory));
    } catch (e) {
      throw auditError('E_AUDIT_UNAVAILABLE', `audit log write failed: ${e instanceof Error ? e.message : String(e)}`, { dir: this.dir });
    }
  }

  async publishCheckpoint(note: Uint8Array): Promise<void> {
    try {
      await writeFileDurable(join(this.dir, 'checkpoint'), note);
    } catch (e) {
      throw auditError('E_AUDIT_UNAVAILABLE', `checkpoint write failed: ${e instanceof Error ? e.message : String(e)}`, { dir: this.dir });
    }
  }

  async listPartialWidths(fullPath: string): Promise<number[]> {
    try {
      const names = await readdir(this.#file(fullPath) + '.p');
      return names.filter((n) => /^[1-9][0-9]{0,2}$/.test(n)).map(Number).filter((w) => w < 256).sort((a, b) => a - b);
    } catch {
      return [];
    }
  }
}

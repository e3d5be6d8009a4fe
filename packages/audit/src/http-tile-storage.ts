/**
 * A read-only TileStorage over HTTP(S): a tlog-tiles log served as static
 * files by any web server or object store. Everything fetched is untrusted
 * and bounded before it is buffered; the verifier checks it all.
 */
import { auditError } from './errors.js';
import { readBoundedBody } from './http-body.js';
import { isTlogTilesPath } from './tile-path.js';
import type { TileStorage } from './tile-storage.js';
import { ENTRY_BUNDLE_BYTES_MAX } from './limits.js';

/** Per-request timeout when fetching a tile. */
export const HTTP_TILE_TIMEOUT_MS = 30_000;

/** Reads a tlog-tiles log below `baseUrl` (which should end in "/"). */
export class HttpTileStorage implements TileStorage {
  readonly #base: URL;

  constructor(baseUrl: string) {
    this.#base = new URL(baseUrl.endsWith('/') ? baseUrl : baseUrl + '/');
    if (this.#base.protocol !== 'https:' && this.#base.protocol !== 'http:') throw auditError('E_AUDIT_RANGE', 'log URL must be http(s)');
  }

  async read(path: string): Promise<Uint8Array | null> {
    if (!isTlogTilesPath(path)) throw auditError('E_AUDIT_RANGE', `not a tlog-tiles path: ${path.slice(0, 80)}`);
    let res: Response;
    try {
      res = await fetch(new URL(path, this.#base), { signal: AbortSignal.timeout(HTTP_TILE_TIMEOUT_MS), redirect: 'follow' });
    } catch (e) {
      throw auditError('E_AUDIT_UNAVAILABLE', `cannot fetch ${path}: ${e instanceof Error ? e.message : String(e)}`, { path });
    }
    if (res.status === 404) return null;
    if (!res.ok) throw auditError('E_AUDIT_UNAVAILABLE', `fetching ${path} returned HTTP ${res.status}`, { path, status: res.status });
    // attacker-controlled: bounded as it streams
    return readBoundedBody(res, ENTRY_BUNDLE_BYTES_MAX, () => auditError('E_AUDIT_CORRUPT', `${path} is larger than any tile`, { path }));
  }

  async writeDurable(): Promise<void> {
    throw auditError('E_AUDIT_UNAVAILABLE', 'an HTTP log is read-only');
  }

  async publishCheckpoint(): Promise<void> {
    throw auditError('E_AUDIT_UNAVAILABLE', 'an HTTP log is read-only');
  }
}

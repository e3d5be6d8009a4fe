/**
 * C2SP tlog-tiles paths (c2sp.org/tlog-tiles): `tile/<L>/<N>[.p/<W>]` for
 * hash tiles and `tile/entries/<N>[.p/<W>]` for entry bundles, where N is
 * written in groups of three decimal digits, all but the last prefixed with
 * "x" (1234067 → x001/x234/067), and W (1..255) marks a partial tile.
 */
import { auditError } from './errors.js';
import { TILE_WIDTH } from './limits.js';

/** The tile path segment for index `n`. */
export function encodeTileIndex(n: number): string {
  if (!Number.isSafeInteger(n) || n < 0) throw auditError('E_AUDIT_RANGE', `invalid tile index ${n}`);
  const groups: string[] = [];
  let rest = n;
  do {
    groups.unshift(String(rest % 1000).padStart(3, '0'));
    rest = Math.floor(rest / 1000);
  } while (rest > 0);
  return groups.map((g, i) => (i < groups.length - 1 ? 'x' + g : g)).join('/');
}

function suffix(width: number): string {
  if (!Number.isSafeInteger(width) || width < 1 || width > TILE_WIDTH) throw auditError('E_AUDIT_RANGE', `invalid tile width ${width}`);
  return width === TILE_WIDTH ? '' : `.p/${width}`;
}

/** Path of the hash tile at tile level `level`, index `index`, holding `width` hashes (256 = full). */
export function tilePath(level: number, index: number, width: number = TILE_WIDTH): string {
  if (!Number.isSafeInteger(level) || level < 0 || level > 63) throw auditError('E_AUDIT_RANGE', `invalid tile level ${level}`);
  return `tile/${level}/${encodeTileIndex(index)}${suffix(width)}`;
}

/** Path of the entry bundle `index` holding `width` entries (256 = full). */
export function entryBundlePath(index: number, width: number = TILE_WIDTH): string {
  return `tile/entries/${encodeTileIndex(index)}${suffix(width)}`;
}

const PATH_RE = /^(checkpoint|tile\/(entries|[0-9]{1,2})\/(x[0-9]{3}\/)*[0-9]{3}(\.p\/[1-9][0-9]{0,2})?)$/;

/** True for the paths a tlog-tiles store may hold (no traversal, no other names). */
export function isTlogTilesPath(path: string): boolean {
  return PATH_RE.test(path);
}

/** Number of nodes at tree level 8 × `tileLevel` that are complete in a tree of `size` leaves. */
export function nodesAtTileLevel(size: number, tileLevel: number): number {
  return Math.floor(size / TILE_WIDTH ** tileLevel);
}

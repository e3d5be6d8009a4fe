/**
 * Location of the shared test vectors (`../shared/vectors/` beside the
 * repository root, read-only). Tests read vectors only through this helper.
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

/** Absolute path of the repository root. */
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/**
 * Where the vectors are: `CUSTODIAN_VECTORS` when set, else `shared/vectors`
 * beside the checkout (CI lays it there), else the workplace's copy (a clone
 * made elsewhere, e.g. by the fresh-clone check).
 */
export const VECTORS_ROOT =
  process.env['CUSTODIAN_VECTORS'] ?? [join(REPO_ROOT, '..', 'shared', 'vectors'), '/work/shared/vectors'].find((p) => existsSync(p)) ?? join(REPO_ROOT, '..', 'shared', 'vectors');

/** Absolute path of a file or folder under the shared vectors. */
export function vectorPath(...parts: string[]): string {
  return join(VECTORS_ROOT, ...parts);
}

/** Reads a vector file as bytes. */
export function readVector(...parts: string[]): Uint8Array {
  return new Uint8Array(readFileSync(vectorPath(...parts)));
}

/** Reads and parses a JSON vector file (trusted test data, plain JSON.parse). */
export function readJsonVector<T = unknown>(...parts: string[]): T {
  return JSON.parse(readFileSync(vectorPath(...parts), 'utf8')) as T;
}

/**
 * Location of the shared test vectors (`../shared/vectors/` beside the
 * repository root, read-only). Tests read vectors only through this helper.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

/** Absolute path of the repository root. */
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** Absolute path of a file or folder under `../shared/vectors/`. */
export function vectorPath(...parts: string[]): string {
  return join(REPO_ROOT, '..', 'shared', 'vectors', ...parts);
}

/** Reads a vector file as bytes. */
export function readVector(...parts: string[]): Uint8Array {
  return new Uint8Array(readFileSync(vectorPath(...parts)));
}

/** Reads and parses a JSON vector file (trusted test data, plain JSON.parse). */
export function readJsonVector<T = unknown>(...parts: string[]): T {
  return JSON.parse(readFileSync(vectorPath(...parts), 'utf8')) as T;
}

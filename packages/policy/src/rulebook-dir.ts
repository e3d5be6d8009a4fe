/** Reads a rulebook directory (CLI and host side; the enclave receives the bytes). */
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { CustodianError } from '@custodian/core/errors';
import { RULEBOOK_MANIFEST, rulebookFileNames, decodeRulebook, type Rulebook } from './rulebook.js';

/** Largest single rulebook file read from disk. */
export const RULEBOOK_FILE_BYTES_MAX = 256 * 1024 * 1024;

/** Reads the files a directory's manifest names. */
export function readRulebookFiles(dir: string): Map<string, Uint8Array> {
  const read = (name: string): Uint8Array => {
    const path = join(dir, name);
    try {
      const size = statSync(path).size;
      if (size > RULEBOOK_FILE_BYTES_MAX) throw new CustodianError('E_RULEBOOK_INVALID', `${name} is larger than ${RULEBOOK_FILE_BYTES_MAX} bytes`, { file: name });
      return new Uint8Array(readFileSync(path));
    } catch (e) {
      if (e instanceof CustodianError) throw e;
      throw new CustodianError('E_IO', `cannot read rulebook file ${name}: ${e instanceof Error ? e.message : String(e)}`, { file: name });
    }
  };
  const manifest = read(RULEBOOK_MANIFEST);
  const files = new Map<string, Uint8Array>([[RULEBOOK_MANIFEST, manifest]]);
  for (const name of rulebookFileNames(manifest)) files.set(name, read(name));
  return files;
}

/** Loads and validates the rulebook in `dir`. */
export function loadRulebookDir(dir: string): Rulebook {
  return decodeRulebook(readRulebookFiles(dir));
}

/**
 * Test helper: the transparency-dev/merkle proof vectors under the shared
 * vectors (`tlog/transparency-dev-merkle/testdata/<kind>/**.json`), each run
 * through a verifier that must accept the valid ones and refuse every
 * mutation with E_PROOF_INVALID.
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { isCustodianError } from '@custodian/core/errors';
import { readJsonVector, vectorPath } from '@custodian/core/vectors';

/** Standard base64 to bytes (the vectors' encoding). */
export const b64 = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'base64'));
/** A vector's proof (null for none) as hashes. */
export const proofOf = (p: string[] | null): Uint8Array[] => (p ?? []).map(b64);
/** True for the typed proof error. */
export const isProofError = (e: unknown): boolean => isCustodianError(e, 'E_PROOF_INVALID');

/** The vector files of one kind, relative to testdata, sorted. */
export function tlogVectorFiles(kind: string): string[] {
  const base = vectorPath('tlog', 'transparency-dev-merkle', 'testdata');
  const out: string[] = [];
  const walk = (rel: string): void => {
    for (const e of readdirSync(join(base, rel), { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(rel, e.name));
      else if (e.name.endsWith('.json')) out.push(join(rel, e.name));
    }
  };
  walk(kind);
  return out.sort();
}

/** One vector file (a path from `tlogVectorFiles`). */
export function readTlogVector<T>(file: string): T {
  return readJsonVector<T>('tlog', 'transparency-dev-merkle', 'testdata', ...file.split('/'));
}

/** Runs `verify` on every vector of `kind`: wantErr ones must throw E_PROOF_INVALID, the others must not throw. Returns how many files and how many valid. */
export function runTlogVectors<T extends { wantErr: boolean }>(kind: string, verify: (v: T) => void): { files: number; valid: number } {
  const files = tlogVectorFiles(kind);
  let valid = 0;
  for (const f of files) {
    const v = readTlogVector<T>(f);
    if (v.wantErr) assert.throws(() => verify(v), isProofError, f);
    else {
      assert.doesNotThrow(() => verify(v), f);
      valid++;
    }
  }
  return { files: files.length, valid };
}

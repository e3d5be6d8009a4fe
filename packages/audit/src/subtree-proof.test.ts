import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { hexToBytes } from '@custodian/core/bytes';
import { isCustodianError } from '@custodian/core/errors';
import { readJsonVector, vectorPath } from '@custodian/core/vectors';
import { hashLeaf } from './hash.js';
import { MemoryTree } from './memory-tree.js';
import { subtreeHash } from './hash-source.js';
import { isValidSubtree, proveSubtreeConsistency, proveSubtreeInclusion, verifySubtreeConsistency, verifySubtreeInclusion } from './subtree-proof.js';

const b64 = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'base64'));
const proofOf = (p: string[] | null): Uint8Array[] => (p ?? []).map(b64);
const isProofError = (e: unknown): boolean => isCustodianError(e, 'E_PROOF_INVALID');

function files(kind: string): string[] {
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
const read = <T>(f: string): T => readJsonVector<T>('tlog', 'transparency-dev-merkle', 'testdata', ...f.split('/'));

interface SubInclusion { leafIdx: number; start: number; end: number; root: string; leafHash: string; proof: string[] | null; wantErr: boolean }
interface SubConsistency { start: number; end: number; size: number; root1: string; root2: string; proof: string[] | null; wantErr: boolean }

test('subtree inclusion vectors (MTC draft): 12 valid accepted, 192 mutations rejected', () => {
  const fs = files('subtreeinclusion');
  assert.equal(fs.length, 204);
  let ok = 0;
  for (const f of fs) {
    const v = read<SubInclusion>(f);
    const run = (): void => verifySubtreeInclusion(b64(v.leafHash), v.leafIdx, v.start, v.end, proofOf(v.proof), b64(v.root));
    if (v.wantErr) assert.throws(run, isProofError, f);
    else {
      assert.doesNotThrow(run, f);
      ok++;
    }
  }
  assert.equal(ok, 12);
});

test('subtree consistency vectors (MTC draft): 12 valid accepted, 106 mutations rejected', () => {
  const fs = files('subtreeconsistency');
  assert.equal(fs.length, 118);
  let ok = 0;
  for (const f of fs) {
    const v = read<SubConsistency>(f);
    const run = (): void => verifySubtreeConsistency(v.start, v.end, v.size, b64(v.root1), b64(v.root2), proofOf(v.proof));
    if (v.wantErr) assert.throws(run, isProofError, f);
    else {
      assert.doesNotThrow(run, f);
      ok++;
    }
  }
  assert.equal(ok, 12);
});

test('generated subtree proofs match the vectors and verify for every valid subtree of trees up to 40 leaves', () => {
  const ref = readJsonVector<{ leaf_inputs_hex: string[] }>('tlog', 'rfc6962-reference-tree.json');
  const t8 = new MemoryTree();
  for (const h of ref.leaf_inputs_hex) t8.appendLeafHash(hashLeaf(hexToBytes(h)));
  for (const f of files('subtreeconsistency').filter((x) => x.endsWith('happy-path.json'))) {
    const v = read<SubConsistency>(f);
    if (v.size > 8) continue;
    assert.deepEqual(proveSubtreeConsistency(t8, v.start, v.end, v.size).map((p) => Buffer.from(p).toString('base64')), v.proof ?? [], f);
  }
  const t = new MemoryTree();
  for (let i = 0; i < 40; i++) t.appendLeafHash(hashLeaf(new TextEncoder().encode(`s${i}`)));
  for (let n = 1; n <= 40; n++) {
    for (let start = 0; start <= n; start++) {
      for (let end = start; end <= n; end++) {
        if (!isValidSubtree(start, end)) continue;
        const node = subtreeHash(t, start, end);
        verifySubtreeConsistency(start, end, n, node, t.root(n), proveSubtreeConsistency(t, start, end, n));
        if (end > start && n === 40) {
          for (const i of [start, end - 1]) verifySubtreeInclusion(t.nodeHash(0, i), i, start, end, proveSubtreeInclusion(t, i, start, end), node);
        }
      }
    }
  }
});

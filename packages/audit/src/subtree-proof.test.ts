import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hexToBytes } from '@custodian/core/bytes';
import { readJsonVector } from '@custodian/core/vectors';
import { hashLeaf } from './hash.js';
import { MemoryTree } from './memory-tree.js';
import { subtreeHash } from './hash-source.js';
import { b64, proofOf, readTlogVector, runTlogVectors, tlogVectorFiles } from './test-tlog-vectors.js';
import { isValidSubtree, proveSubtreeConsistency, proveSubtreeInclusion, verifySubtreeConsistency, verifySubtreeInclusion } from './subtree-proof.js';


interface SubInclusion { leafIdx: number; start: number; end: number; root: string; leafHash: string; proof: string[] | null; wantErr: boolean }
interface SubConsistency { start: number; end: number; size: number; root1: string; root2: string; proof: string[] | null; wantErr: boolean }

test('subtree inclusion vectors (MTC draft): 12 valid accepted, 192 mutations rejected', () => {
  const r = runTlogVectors<SubInclusion>('subtreeinclusion', (v) => verifySubtreeInclusion(b64(v.leafHash), v.leafIdx, v.start, v.end, proofOf(v.proof), b64(v.root)));
  assert.equal(r.files, 204);
  assert.equal(r.valid, 12);
});

test('subtree consistency vectors (MTC draft): 12 valid accepted, 106 mutations rejected', () => {
  const r = runTlogVectors<SubConsistency>('subtreeconsistency', (v) => verifySubtreeConsistency(v.start, v.end, v.size, b64(v.root1), b64(v.root2), proofOf(v.proof)));
  assert.equal(r.files, 118);
  assert.equal(r.valid, 12);
});

test('generated subtree proofs match the vectors and verify for every valid subtree of trees up to 40 leaves', () => {
  const ref = readJsonVector<{ leaf_inputs_hex: string[] }>('tlog', 'rfc6962-reference-tree.json');
  const t8 = new MemoryTree();
  for (const h of ref.leaf_inputs_hex) t8.appendLeafHash(hashLeaf(hexToBytes(h)));
  for (const f of tlogVectorFiles('subtreeconsistency').filter((x) => x.endsWith('happy-path.json'))) {
    const v = readTlogVector<SubConsistency>(f);
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

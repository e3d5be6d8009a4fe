import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { bytesToHex, hexToBytes } from '@custodian/core/bytes';
import { readJsonVector } from '@custodian/core/vectors';
import { EMPTY_TREE_ROOT, hashLeaf, RFC6962_LEAF_PREFIX, RFC6962_NODE_PREFIX } from './hash.js';
import { MemoryTree } from './memory-tree.js';
import { CompactRange } from './compact-range.js';
import { proveInclusion, verifyInclusion } from './inclusion-proof.js';
import { proveConsistency, verifyConsistency } from './consistency-proof.js';
import { b64, isProofError, proofOf, readTlogVector, runTlogVectors, tlogVectorFiles } from './test-tlog-vectors.js';

interface ReferenceTree {
  leaf_prefix: string;
  node_prefix: string;
  leaf_inputs_hex: string[];
  node_hashes_by_level: string[][];
  root_hash_by_tree_size: Record<string, string>;
}

const ref = readJsonVector<ReferenceTree>('tlog', 'rfc6962-reference-tree.json');

function referenceTree(): MemoryTree {
  const t = new MemoryTree();
  for (const hex of ref.leaf_inputs_hex) t.appendLeafHash(hashLeaf(hexToBytes(hex)));
  return t;
}

function rootsBySize(): string[] {
  return Array.from({ length: 9 }, (_, size) => ref.root_hash_by_tree_size[String(size)] ?? '');
}

test('domain-separation prefixes are the RFC 6962 constants', () => {
  assert.equal(RFC6962_LEAF_PREFIX, 0x00);
  assert.equal(RFC6962_NODE_PREFIX, 0x01);
  assert.equal(ref.leaf_prefix, '00');
  assert.equal(ref.node_prefix, '01');
  assert.equal(bytesToHex(EMPTY_TREE_ROOT), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
});

test('RFC 6962 reference tree: every node hash and every root for sizes 0..8', () => {
  const t = referenceTree();
  ref.node_hashes_by_level.forEach((row, level) => {
    row.forEach((h, i) => assert.equal(bytesToHex(t.nodeHash(level, i)), h, `level ${level} index ${i}`));
  });
  const roots = rootsBySize();
  assert.equal(roots.length, 9);
  const range = new CompactRange();
  assert.equal(bytesToHex(range.root()), roots[0]);
  for (let size = 0; size <= 8; size++) {
    assert.equal(bytesToHex(t.root(size)), roots[size], `root of size ${size}`);
    if (size > 0) {
      range.appendLeaf(t.nodeHash(0, size - 1));
      assert.equal(bytesToHex(range.root()), roots[size], `compact range root of size ${size}`);
    }
  }
});

interface InclusionVector { leafIdx: number; treeSize: number; root: string; leafHash: string; proof: string[] | null; desc: string; wantErr: boolean }
interface ConsistencyVector { size1: number; size2: number; root1: string; root2: string; proof: string[] | null; desc: string; wantErr: boolean }

test('transparency-dev/merkle inclusion vectors: accepts the valid, rejects every mutation', () => {
  const r = runTlogVectors<InclusionVector>('inclusion', (v) => verifyInclusion(b64(v.leafHash), v.leafIdx, v.treeSize, proofOf(v.proof), b64(v.root)));
  assert.equal(r.files, 98);
  assert.equal(r.valid, 6);
});

test('transparency-dev/merkle consistency vectors: accepts the valid, rejects every mutation', () => {
  const r = runTlogVectors<ConsistencyVector>('consistency', (v) => verifyConsistency(v.size1, v.size2, b64(v.root1), b64(v.root2), proofOf(v.proof)));
  assert.equal(r.files, 98);
  assert.equal(r.valid, 6);
});

test('generated proofs equal the vector proofs for the reference tree', () => {
  const t = referenceTree();
  for (const f of tlogVectorFiles('inclusion').filter((x) => x.endsWith('happy-path.json'))) {
    const v = readTlogVector<InclusionVector>(f);
    if (v.treeSize > t.size) continue;
    assert.deepEqual(proveInclusion(t, v.leafIdx, v.treeSize).map((p) => Buffer.from(p).toString('base64')), v.proof ?? [], f);
  }
  for (const f of tlogVectorFiles('consistency').filter((x) => x.endsWith('happy-path.json'))) {
    const v = readTlogVector<ConsistencyVector>(f);
    if (v.size2 > t.size) continue;
    assert.deepEqual(proveConsistency(t, v.size1, v.size2).map((p) => Buffer.from(p).toString('base64')), v.proof ?? [], f);
  }
});

function treeOf(n: number, salt = ''): MemoryTree {
  const t = new MemoryTree();
  for (let i = 0; i < n; i++) t.appendLeafHash(hashLeaf(new TextEncoder().encode(`${salt}entry ${i}`)));
  return t;
}

test('every inclusion and consistency proof of trees up to 70 leaves verifies', () => {
  const t = treeOf(70);
  for (let size = 1; size <= 70; size++) {
    const root = t.root(size);
    for (let i = 0; i < size; i++) verifyInclusion(t.nodeHash(0, i), i, size, proveInclusion(t, i, size), root);
    for (let m = 1; m <= size; m++) verifyConsistency(m, size, t.root(m), root, proveConsistency(t, m, size));
  }
});

test('proofs verify at random positions in a 10^4-leaf tree (property)', () => {
  const t = treeOf(10_000);
  const range = new CompactRange();
  for (let i = 0; i < t.size; i++) range.appendLeaf(t.nodeHash(0, i));
  assert.deepEqual(range.root(), t.root());
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 10_000 }), fc.integer({ min: 1, max: 10_000 }), (a, b) => {
      const [m, n] = a <= b ? [a, b] : [b, a];
      const proof = proveInclusion(t, m - 1, n);
      assert.ok(proof.length <= 14);
      verifyInclusion(t.nodeHash(0, m - 1), m - 1, n, proof, t.root(n));
      verifyConsistency(m, n, t.root(m), t.root(n), proveConsistency(t, m, n));
    }),
    { numRuns: 300 },
  );
});

test('B34 rejects an inclusion proof presented for a different leaf index', () => {
  const t = treeOf(100);
  const proof = proveInclusion(t, 37, 100);
  for (const other of [36, 38, 5, 99]) {
    assert.throws(() => verifyInclusion(t.nodeHash(0, 37), other, 100, proof, t.root()), isProofError);
    assert.throws(() => verifyInclusion(t.nodeHash(0, other), other, 100, proof, t.root()), isProofError);
  }
  assert.throws(() => verifyInclusion(t.nodeHash(0, 37), 37, 200, proof, t.root()), isProofError);
});

test('B34 rejects a consistency proof from a forked tree', () => {
  const honest = treeOf(100);
  const forked = new MemoryTree();
  for (let i = 0; i < 100; i++) forked.appendLeafHash(i === 41 ? hashLeaf(new TextEncoder().encode('forged')) : honest.nodeHash(0, i));
  // The fork's own proof between its own sizes is fine; across the fork it fails in both directions.
  assert.throws(() => verifyConsistency(60, 100, honest.root(60), forked.root(100), proveConsistency(forked, 60, 100)), isProofError);
  assert.throws(() => verifyConsistency(60, 100, forked.root(60), honest.root(100), proveConsistency(honest, 60, 100)), isProofError);
  assert.throws(() => verifyConsistency(60, 100, honest.root(60), forked.root(100), proveConsistency(honest, 60, 100)), isProofError);
  // A fork after the old size is also caught: the prefix is shared but a later leaf differs.
  assert.throws(() => verifyConsistency(30, 50, honest.root(30), forked.root(50), proveConsistency(honest, 30, 50)), isProofError);
  assert.throws(() => verifyConsistency(100, 100, honest.root(), forked.root(), []), isProofError);
});

test('only E_PROOF_INVALID escapes the proof verifiers over arbitrary inputs (property)', async () => {
  const { verifySubtreeConsistency, verifySubtreeInclusion } = await import('./subtree-proof.js');
  const hash = fc.oneof(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ maxLength: 40 }));
  const n = fc.oneof(fc.integer({ min: -2, max: 70 }), fc.constantFrom(2 ** 53, -1, 0.5, Number.MAX_SAFE_INTEGER));
  fc.assert(
    fc.property(n, n, n, hash, hash, fc.array(hash, { maxLength: 10 }), (a, b, c, h1, h2, proof) => {
      for (const run of [
        () => verifyInclusion(h1, a, b, proof, h2),
        () => verifyConsistency(a, b, h1, h2, proof),
        () => verifySubtreeInclusion(h1, a, b, c, proof, h2),
        () => verifySubtreeConsistency(a, b, c, h1, h2, proof),
      ]) {
        try {
          run();
        } catch (e) {
          assert.ok(isProofError(e), String(e));
        }
      }
    }),
    { numRuns: 3000 },
  );
});

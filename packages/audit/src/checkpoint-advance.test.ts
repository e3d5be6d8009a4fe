import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isCustodianError } from '@custodian/core/errors';
import { hashLeaf } from './hash.js';
import { MemoryTree } from './memory-tree.js';
import { proveConsistency } from './consistency-proof.js';
import { verifyCheckpointAdvance } from './checkpoint-advance.js';
import type { Checkpoint } from './checkpoint.js';

const ORIGIN = 'custodian.example/log';
const code = (c: string) => (e: unknown): boolean => isCustodianError(e, c);

function tree(n: number, fork?: number): MemoryTree {
  const t = new MemoryTree();
  for (let i = 0; i < n; i++) t.appendLeafHash(hashLeaf(new TextEncoder().encode(i === fork ? 'forged' : `e${i}`)));
  return t;
}
const cp = (t: MemoryTree, size: number, origin = ORIGIN): Checkpoint => ({ origin, size, rootHash: t.root(size), extensions: [] });

test('accepts the first checkpoint, an equal one, and an append-only extension', () => {
  const t = tree(40);
  verifyCheckpointAdvance(null, cp(t, 10), []);
  verifyCheckpointAdvance(cp(t, 0), cp(t, 10), []);
  verifyCheckpointAdvance(cp(t, 10), cp(t, 10), []);
  verifyCheckpointAdvance(cp(t, 10), cp(t, 40), proveConsistency(t, 10, 40));
});

test('F07/F13 refuses a rollback, a fork, a forked extension and another origin', () => {
  const t = tree(40);
  const f = tree(40, 2);
  assert.throws(() => verifyCheckpointAdvance(cp(t, 30), cp(t, 20), []), code('E_CHECKPOINT_ROLLBACK'));
  assert.throws(() => verifyCheckpointAdvance(cp(t, 30), cp(f, 30), []), code('E_CHECKPOINT_FORK'));
  assert.throws(() => verifyCheckpointAdvance(cp(t, 10), cp(f, 40), proveConsistency(f, 10, 40)), code('E_CHECKPOINT_INCONSISTENT'));
  assert.throws(() => verifyCheckpointAdvance(cp(t, 10), cp(t, 40, 'other.example/log'), proveConsistency(t, 10, 40)), code('E_CHECKPOINT_ORIGIN'));
  assert.throws(() => verifyCheckpointAdvance(cp(t, 10), cp(t, 10), proveConsistency(t, 5, 10)), code('E_PROOF_INVALID'));
});

test('F07 an append-only signer persists before signing and refuses a rolled-back or forked checkpoint', async () => {
  const { AppendOnlySigner } = await import('./append-only-signer.js');
  const { Ed25519NoteKey } = await import('./ed25519-note-key.js');
  const { Secret } = await import('@custodian/core/secret');
  const { encodeCheckpoint } = await import('./checkpoint.js');
  const key = new Ed25519NoteKey(ORIGIN, new Secret(new Uint8Array(32).fill(3)));
  const sealed: Checkpoint[] = [];
  const signer = new AppendOnlySigner(key, null, async (c) => void sealed.push(c));
  const t = tree(30);
  const f = tree(30, 4);
  const text = (tr: MemoryTree, n: number): string => encodeCheckpoint(cp(tr, n));
  await signer.sign(text(t, 10), []);
  await signer.sign(text(t, 30), proveConsistency(t, 10, 30));
  assert.deepEqual(sealed.map((c) => c.size), [10, 30]);
  await assert.rejects(signer.sign(text(t, 20), []), code('E_CHECKPOINT_ROLLBACK'));
  await assert.rejects(signer.sign(text(f, 30), []), code('E_CHECKPOINT_FORK'));
  // Restarted from sealed state: the same refusals hold.
  const restarted = new AppendOnlySigner(key, sealed[sealed.length - 1]!, async () => undefined);
  await assert.rejects(restarted.sign(text(f, 30), []), code('E_CHECKPOINT_FORK'));
  assert.equal(restarted.last?.size, 30);
});

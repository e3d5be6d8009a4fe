import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isCustodianError } from '@custodian/core/errors';
import { Secret } from '@custodian/core/secret';
import { Ed25519NoteKey, NOTE_KEY_TYPE_COSIGNATURE_V1 } from './ed25519-note-key.js';
import { encodeCheckpoint } from './checkpoint.js';
import { addNoteSignatures, signNote } from './note.js';
import { checkpointPolicyFromKeys, verifyCheckpointNote } from './checkpoint-policy.js';
import { MemoryTree } from './memory-tree.js';
import { hashLeaf } from './hash.js';
import { proveConsistency } from './consistency-proof.js';
import { MemoryWitnessStore, Witness, type WitnessStore } from './witness.js';
import { FileWitnessStore } from './witness-file-store.js';

const ORIGIN = 'custodian.example/log';
const logKey = new Ed25519NoteKey(ORIGIN, new Secret(new Uint8Array(32).fill(1)));
const witnessKey = new Ed25519NoteKey('witness.example/w1', new Secret(new Uint8Array(32).fill(5)), NOTE_KEY_TYPE_COSIGNATURE_V1, () => 1_764_000_000);
const code = (...codes: string[]) => (e: unknown): boolean => isCustodianError(e, ...codes);

function tree(n: number, fork?: number): MemoryTree {
  const t = new MemoryTree();
  for (let i = 0; i < n; i++) t.appendLeafHash(hashLeaf(new TextEncoder().encode(i === fork ? 'forged' : `e${i}`)));
  return t;
}

async function checkpointOf(t: MemoryTree, size: number): Promise<Uint8Array> {
  return signNote(encodeCheckpoint({ origin: ORIGIN, size, rootHash: t.root(size), extensions: [] }), [logKey]);
}

function witness(store: WitnessStore): Witness {
  return new Witness({ key: witnessKey, logs: new Map([[ORIGIN, [logKey.verifier()]]]), store, nowMs: () => 1_764_000_000_000 });
}

test('witness cosigns a growing log, and its cosignature satisfies a 1-of-1 policy', async () => {
  const t = tree(50);
  const w = witness(new MemoryWitnessStore());
  let old = 0;
  for (const size of [1, 7, 8, 30, 30, 50]) {
    const cp = await checkpointOf(t, size);
    const sig = await w.addCheckpoint({ oldSize: old, proof: old === 0 ? [] : proveConsistency(t, old, size), checkpoint: cp });
    const policy = checkpointPolicyFromKeys(ORIGIN, [logKey.verifierKey()], [witnessKey.verifierKey()], 1);
    assert.equal(verifyCheckpointNote(addNoteSignatures(cp, [sig]), policy).checkpoint.size, size);
    old = size;
  }
});

test('F13 witness refuses a fork (same size, other root) and keeps the signed checkpoint as evidence', async () => {
  const store = new MemoryWitnessStore();
  const w = witness(store);
  const honest = tree(20);
  await w.addCheckpoint({ oldSize: 0, proof: [], checkpoint: await checkpointOf(honest, 20) });
  const forked = await checkpointOf(tree(20, 3), 20);
  await assert.rejects(w.addCheckpoint({ oldSize: 20, proof: [], checkpoint: forked }), code('E_CHECKPOINT_FORK'));
  assert.equal(store.evidence.length, 1);
  assert.equal(store.evidence[0]!.reason, 'fork');
  assert.deepEqual(store.evidence[0]!.offending, forked);
  assert.equal(store.records.get(ORIGIN)!.size, 20);
  // Claiming another old size does not dodge the fork check (or the evidence).
  await assert.rejects(w.addCheckpoint({ oldSize: 0, proof: [], checkpoint: forked }), code('E_CHECKPOINT_FORK'));
  assert.equal(store.evidence.length, 2);
});

test('F13 witness refuses a rollback (smaller tree) and an inconsistent extension', async () => {
  const store = new MemoryWitnessStore();
  const w = witness(store);
  const honest = tree(40);
  await w.addCheckpoint({ oldSize: 0, proof: [], checkpoint: await checkpointOf(honest, 30) });
  await assert.rejects(w.addCheckpoint({ oldSize: 30, proof: [], checkpoint: await checkpointOf(honest, 10) }), code('E_CHECKPOINT_ROLLBACK'));
  const forked = tree(40, 5);
  await assert.rejects(
    w.addCheckpoint({ oldSize: 30, proof: proveConsistency(forked, 30, 40), checkpoint: await checkpointOf(forked, 40) }),
    code('E_CHECKPOINT_INCONSISTENT'),
  );
  assert.deepEqual(store.evidence.map((e) => e.reason), ['rollback', 'inconsistent']);
  // The honest extension is still accepted afterwards.
  await w.addCheckpoint({ oldSize: 30, proof: proveConsistency(honest, 30, 40), checkpoint: await checkpointOf(honest, 40) });
});

test('witness answers a stale oldSize with a conflict naming its size, and refuses unsigned checkpoints', async () => {
  const w = witness(new MemoryWitnessStore());
  const t = tree(10);
  await w.addCheckpoint({ oldSize: 0, proof: [], checkpoint: await checkpointOf(t, 5) });
  await assert.rejects(w.addCheckpoint({ oldSize: 3, proof: [], checkpoint: await checkpointOf(t, 10) }), (e) => code('E_WITNESS_CONFLICT')(e) && (e as { detail: { size: number } }).detail.size === 5);
  const stranger = new Ed25519NoteKey(ORIGIN, new Secret(new Uint8Array(32).fill(9)));
  const forged = await signNote(encodeCheckpoint({ origin: ORIGIN, size: 10, rootHash: t.root(10), extensions: [] }), [stranger]);
  await assert.rejects(w.addCheckpoint({ oldSize: 5, proof: proveConsistency(t, 5, 10), checkpoint: forged }), code('E_NOTE_UNVERIFIED'));
});

test('file-backed witness state survives a restart and keeps evidence files', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'witness-'));
  try {
    const t = tree(12);
    await witness(new FileWitnessStore(dir)).addCheckpoint({ oldSize: 0, proof: [], checkpoint: await checkpointOf(t, 12) });
    const again = witness(new FileWitnessStore(dir));
    await assert.rejects(again.addCheckpoint({ oldSize: 12, proof: [], checkpoint: await checkpointOf(tree(12, 0), 12) }), code('E_CHECKPOINT_FORK'));
    assert.equal(readdirSync(join(dir, 'evidence')).length, 1);
    assert.equal((await new FileWitnessStore(dir).load(ORIGIN))!.size, 12);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('tlog-witness protocol: request round-trip, 200 with a cosignature line, 409 with the size, 422 for a fork', async () => {
  const { decodeAddCheckpointRequest, encodeAddCheckpointRequest, handleAddCheckpoint } = await import('./witness-protocol.js');
  const t = tree(30);
  const w = witness(new MemoryWitnessStore());
  const first = encodeAddCheckpointRequest({ oldSize: 0, proof: [], checkpoint: await checkpointOf(t, 10) });
  const ok = await handleAddCheckpoint(w, first);
  assert.equal(ok.status, 200);
  assert.match(ok.body, /^— witness\.example\/w1 [A-Za-z0-9+/=]+\n$/);
  const req = { oldSize: 10, proof: proveConsistency(t, 10, 30), checkpoint: await checkpointOf(t, 30) };
  assert.deepEqual(decodeAddCheckpointRequest(encodeAddCheckpointRequest(req)), req);
  const stale = await handleAddCheckpoint(w, encodeAddCheckpointRequest({ ...req, oldSize: 4 }));
  assert.deepEqual([stale.status, stale.body], [409, '10\n']);
  const fork = await handleAddCheckpoint(w, encodeAddCheckpointRequest({ oldSize: 10, proof: [], checkpoint: await checkpointOf(tree(10, 1), 10) }));
  assert.equal(fork.status, 422);
  const bad = await handleAddCheckpoint(w, new TextEncoder().encode('old x\n\nnope'));
  assert.equal(bad.status, 400);
  assert.equal((await handleAddCheckpoint(w, encodeAddCheckpointRequest(req))).status, 200);
});

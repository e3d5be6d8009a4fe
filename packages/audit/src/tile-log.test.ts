import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { isCustodianError } from '@custodian/core/errors';
import { Secret } from '@custodian/core/secret';
import { vectorPath } from '@custodian/core/vectors';
import { decodeSignerKey, Ed25519NoteKey, NOTE_KEY_TYPE_COSIGNATURE_V1 } from './ed25519-note-key.js';
import { addNoteSignatures, signNote } from './note.js';
import { checkpointPolicyFromKeys, verifyCheckpointNote, type CheckpointPolicy } from './checkpoint-policy.js';
import { encodeAuditEntry, type AuditEntry } from './entry.js';
import { FileTileStorage, type TileStorage } from './tile-storage.js';
import { MemoryTileStorage } from './memory-tile-storage.js';
import { TileLogWriter, type CheckpointSignFn } from './tile-log-writer.js';
import { verifyTileLog } from './tile-log-verifier.js';
import { proveConsistencyFromTiles, proveInclusionFromTiles, readEntryFromTiles } from './tile-proofs.js';
import { verifyInclusion } from './inclusion-proof.js';
import { verifyConsistency } from './consistency-proof.js';
import { BatchingAppender } from './batching-appender.js';
import { entryBundlePath, tilePath } from './tile-path.js';
import { hashLeaf } from './hash.js';

const ORIGIN = 'custodian.example/audit';
const code = (...codes: string[]) => (e: unknown): boolean => isCustodianError(e, ...codes);
const logKey = new Ed25519NoteKey(ORIGIN, new Secret(new Uint8Array(32).fill(11)));
const cosigners = [21, 22, 23].map((s, i) => new Ed25519NoteKey(`custodian.example/signer-${i}`, new Secret(new Uint8Array(32).fill(s)), NOTE_KEY_TYPE_COSIGNATURE_V1, () => 1_764_000_000));
const policy: CheckpointPolicy = checkpointPolicyFromKeys(ORIGIN, [logKey.verifierKey()], cosigners.map((c) => c.verifierKey()), 2);

/** Log signature plus the first `k` cosignatures. */
function signer(k = 2, key: Ed25519NoteKey = logKey): CheckpointSignFn {
  return async (text) => {
    const note = await signNote(text, [key]);
    const msg = new TextEncoder().encode(text);
    const sigs = [];
    for (const c of cosigners.slice(0, k)) sigs.push({ name: c.name, keyId: c.keyId, signature: await c.sign(msg) });
    return k === 0 ? note : addNoteSignatures(note, sigs);
  };
}

function entry(i: number): Uint8Array {
  const e: AuditEntry = { v: 1, kind: 'event', at: 1_764_000_000_000 + i, name: 'test.appended', detail: { n: String(i) } };
  return encodeAuditEntry(e);
}

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'tlog-'));
}

function listFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const n of readdirSync(d)) {
      const p = join(d, n);
      if (statSync(p).isDirectory()) walk(p);
      else out.push(relative(dir, p));
    }
  };
  walk(dir);
  return out.sort();
}

test('reproduces the Tessera test log byte for byte (tiles, bundles, all 16 checkpoints)', async () => {
  const words = 'one two three four five six seven eit nain ten ileven twelf threeten fourten fivten'.split(' ');
  const key = decodeSignerKey(new Secret('PRIVATE+KEY+example.com/log/testdata+33d7b496+AeymY/SZAX0jZcJ8enZ5FY1Dz+wTML2yWSkK+9DSF3eg'));
  const storage = new MemoryTileStorage();
  const w = await TileLogWriter.open({ storage, origin: 'example.com/log/testdata', sign: (t) => signNote(t, [key]) });
  const base = vectorPath('tlog', 'tessera-testdata-log');
  for (const [i, word] of words.entries()) {
    const r = await w.appendBatch([new TextEncoder().encode(word)]);
    assert.deepEqual(r.checkpoint, new Uint8Array(readFileSync(join(base, `checkpoint.${i + 1}`))), `checkpoint.${i + 1}`);
  }
  const expected = listFiles(base).filter((f) => f.startsWith('tile/'));
  assert.equal(expected.length, 30);
  for (const f of expected) assert.deepEqual(storage.files.get(f), new Uint8Array(readFileSync(join(base, f))), f);
  assert.deepEqual(storage.files.get('checkpoint'), new Uint8Array(readFileSync(join(base, 'checkpoint'))));
});

test('verifies the Tessera test log directory and serves proofs from its tiles', async () => {
  const storage = new FileTileStorage(vectorPath('tlog', 'tessera-testdata-log'));
  const tessera = checkpointPolicyFromKeys('example.com/log/testdata', ['example.com/log/testdata+33d7b496+AeHTu4Q3hEIMHNqc6fASMsq3rKNx280NI+oO5xCFkkSx'], [], 0);
  const r = await verifyTileLog(storage, { policy: tessera, decodeEntries: false, trustedCheckpoint: new Uint8Array(readFileSync(vectorPath('tlog', 'tessera-testdata-log', 'checkpoint.7'))) });
  assert.equal(r.size, 15);
  assert.equal(r.trustedSize, 7);
  const head = verifyCheckpointNote((await storage.read('checkpoint'))!, tessera).checkpoint;
  for (let i = 0; i < 15; i++) {
    const { leafHash } = await readEntryFromTiles(storage, i, 15);
    verifyInclusion(leafHash, i, 15, await proveInclusionFromTiles(storage, i, 15), head.rootHash);
  }
});

async function buildLog(storage: TileStorage, batches: readonly number[], make: (i: number) => Uint8Array = entry): Promise<{ writer: TileLogWriter; checkpoints: Uint8Array[] }> {
  const writer = await TileLogWriter.open({ storage, origin: ORIGIN, sign: signer(), policy });
  const checkpoints: Uint8Array[] = [];
  let n = writer.size;
  for (const size of batches) {
    const r = await writer.appendBatch(Array.from({ length: size }, (_, i) => make(n + i)));
    assert.equal(r.firstIndex, n);
    n += size;
    checkpoints.push(r.checkpoint);
  }
  return { writer, checkpoints };
}

test('a durable file log of 10^4 entries in uneven batches verifies, proves every entry class, and reopens', async () => {
  const dir = tempDir();
  try {
    const storage = new FileTileStorage(dir);
    const { checkpoints } = await buildLog(storage, [1, 255, 1, 300, 443, 3000, 4096, 1904]);
    const r = await verifyTileLog(storage, { policy, trustedCheckpoint: checkpoints[2]! });
    assert.equal(r.size, 10_000);
    assert.deepEqual(r.entriesByKind, { event: 10_000 });
    assert.deepEqual(r.cosigners, [cosigners[0]!.name, cosigners[1]!.name]);
    const cps = checkpoints.map((c) => verifyCheckpointNote(c, policy).checkpoint);
    const head = cps[cps.length - 1]!;
    for (const i of [0, 1, 255, 256, 257, 511, 4095, 6000, 9999]) {
      const { leafHash } = await readEntryFromTiles(storage, i, head.size);
      verifyInclusion(leafHash, i, head.size, await proveInclusionFromTiles(storage, i, head.size), head.rootHash);
    }
    for (const old of cps.slice(0, -1)) verifyConsistency(old.size, head.size, old.rootHash, head.rootHash, await proveConsistencyFromTiles(storage, old.size, head.size));
    // Reopen: the writer reloads its right edge from the partial tiles and keeps going.
    const again = await buildLog(storage, [17]);
    assert.equal(again.writer.size, 10_017);
    assert.equal((await verifyTileLog(storage, { policy, trustedCheckpoint: checkpoints[7]! })).size, 10_017);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('tiles above level 1 (70,000 entries in memory) are written and verified', async () => {
  const storage = new MemoryTileStorage();
  await buildLog(storage, [...Array.from({ length: 17 }, () => 4096), 368], (i) => new TextEncoder().encode(`raw ${i}`));
  const r = await verifyTileLog(storage, { policy, decodeEntries: false });
  assert.equal(r.size, 4096 * 17 + 368);
  assert.equal(r.size, 70_000);
  assert.ok(storage.files.has(tilePath(2, 0, 1)), 'level-2 partial tile exists');
  assert.ok(storage.files.has(tilePath(1, 0)), 'level-1 full tile exists');
});

async function corruptedLog(mutate: (dir: string) => void, batches: readonly number[] = [600, 100]): Promise<unknown> {
  const dir = tempDir();
  try {
    const storage = new FileTileStorage(dir);
    await buildLog(storage, batches);
    mutate(dir);
    await verifyTileLog(storage, { policy });
    return null;
  } catch (e) {
    return e;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const flipBit = (file: string, byte: number): void => {
  const b = readFileSync(file);
  b[byte] = b[byte]! ^ 0x01;
  writeFileSync(file, b);
};

test('F16 a bit flip in a level-0 tile is E_AUDIT_CORRUPT naming the entry', async () => {
  const e = await corruptedLog((d) => flipBit(join(d, tilePath(0, 1)), 32 * 44 + 3));
  assert.ok(code('E_AUDIT_CORRUPT')(e), String(e));
  assert.equal((e as { detail: { index: number } }).detail.index, 256 + 44);
});

test('F16 a truncated tile and a truncated entry bundle are E_AUDIT_CORRUPT', async () => {
  assert.ok(code('E_AUDIT_CORRUPT')(await corruptedLog((d) => truncateSync(join(d, tilePath(0, 0)), 32 * 100))));
  assert.ok(code('E_AUDIT_CORRUPT')(await corruptedLog((d) => truncateSync(join(d, tilePath(1, 0, 2)), 40))));
  assert.ok(code('E_AUDIT_CORRUPT')(await corruptedLog((d) => truncateSync(join(d, entryBundlePath(2, 700 - 512)), 500))));
  assert.ok(code('E_AUDIT_CORRUPT')(await corruptedLog((d) => rmSync(join(d, tilePath(0, 1))))));
});

test('F16 a changed entry is caught at its index, even with its leaf tile rewritten', async () => {
  const changed = await corruptedLog((d) => flipBit(join(d, entryBundlePath(0)), 2 + 10));
  assert.ok(code('E_AUDIT_CORRUPT')(changed));
  assert.equal((changed as { detail: { index: number } }).detail.index, 0);
  // Rewrite entry 5 and its level-0 tile consistently: the level-1 tile catches it.
  const deeper = await corruptedLog((d) => {
    const forgedEntry = new TextEncoder().encode(new TextDecoder().decode(entry(5)).replace('"n":"5"', '"n":"6"'));
    const bundle = readFileSync(join(d, entryBundlePath(0)));
    writeFileSync(join(d, entryBundlePath(0)), Buffer.from(bundle.toString('latin1').replace('"n":"5"', '"n":"6"'), 'latin1'));
    const tile = readFileSync(join(d, tilePath(0, 0)));
    tile.set(hashLeaf(forgedEntry), 5 * 32);
    writeFileSync(join(d, tilePath(0, 0)), tile);
  });
  assert.ok(code('E_AUDIT_CORRUPT')(deeper), String(deeper));
});

test('removed, inserted and reordered entries are refused', async () => {
  const swap = await corruptedLog((d) => {
    const p = join(d, entryBundlePath(0));
    const b = readFileSync(p).toString('latin1');
    writeFileSync(p, Buffer.from(b.replace('"n":"1"}', '"n":"X"}').replace('"n":"2"}', '"n":"1"}').replace('"n":"X"}', '"n":"2"}'), 'latin1'));
  });
  assert.ok(code('E_AUDIT_CORRUPT')(swap));
  assert.equal((swap as { detail: { index: number } }).detail.index, 1);
  const removed = await corruptedLog((d) => {
    const p = join(d, entryBundlePath(0));
    const b = readFileSync(p);
    const len = (b[0]! << 8) | b[1]!;
    writeFileSync(p, b.subarray(2 + len));
  });
  assert.ok(code('E_AUDIT_CORRUPT')(removed));
  const inserted = await corruptedLog((d) => {
    const p = join(d, entryBundlePath(0));
    const b = readFileSync(p);
    const len = (b[0]! << 8) | b[1]!;
    writeFileSync(p, Buffer.concat([b.subarray(0, 2 + len), b]));
  });
  assert.ok(code('E_AUDIT_CORRUPT')(inserted));
});

test('refuses a checkpoint signed by an unknown key or with too few cosignatures', async () => {
  const dir = tempDir();
  try {
    const storage = new FileTileStorage(dir);
    const w = await TileLogWriter.open({ storage, origin: ORIGIN, sign: signer(1) });
    await w.appendBatch([entry(0)]);
    await assert.rejects(verifyTileLog(storage, { policy }), code('E_CHECKPOINT_UNWITNESSED'));
    const mallory = new Ed25519NoteKey(ORIGIN, new Secret(new Uint8Array(32).fill(99)));
    const w2 = await TileLogWriter.open({ storage, origin: ORIGIN, sign: signer(2, mallory) });
    await w2.appendBatch([entry(1)]);
    await assert.rejects(verifyTileLog(storage, { policy }), code('E_NOTE_UNVERIFIED'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('refuses a rollback, a fork at equal size, and a rewritten history against a trusted checkpoint', async () => {
  const dir = tempDir();
  try {
    const storage = new FileTileStorage(dir);
    const { checkpoints } = await buildLog(storage, [10, 10]);
    const snapshot = tempDir();
    cpSync(dir, snapshot, { recursive: true });
    await buildLog(storage, [5]);
    const trusted = (await storage.read('checkpoint'))!;
    // Rollback: the directory is restored to its size-20 state.
    await assert.rejects(verifyTileLog(new FileTileStorage(snapshot), { policy, trustedCheckpoint: trusted }), code('E_CHECKPOINT_ROLLBACK'));
    // Fork: a log (with a compromised log key) shows another size-20 tree.
    const forkDir = tempDir();
    const forkStorage = new FileTileStorage(forkDir);
    const fw = await TileLogWriter.open({ storage: forkStorage, origin: ORIGIN, sign: signer(), policy });
    await fw.appendBatch(Array.from({ length: 20 }, (_, i) => entry(i === 3 ? 333 : i)));
    await assert.rejects(verifyTileLog(forkStorage, { policy, trustedCheckpoint: checkpoints[1]! }), (e) => code('E_CHECKPOINT_FORK')(e) && typeof (e as { detail: { trusted: string } }).detail.trusted === 'string');
    // Rewritten history: the fork grows past the trusted size.
    await fw.appendBatch([entry(20)]);
    await assert.rejects(verifyTileLog(forkStorage, { policy, trustedCheckpoint: checkpoints[0]! }), code('E_CHECKPOINT_INCONSISTENT'));
    rmSync(snapshot, { recursive: true, force: true });
    rmSync(forkDir, { recursive: true, force: true });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('F16 the writer refuses to open a log whose partial tiles do not match its checkpoint', async () => {
  const dir = tempDir();
  try {
    const storage = new FileTileStorage(dir);
    await buildLog(storage, [300]);
    flipBit(join(dir, tilePath(0, 1, 44)), 7);
    await assert.rejects(TileLogWriter.open({ storage, origin: ORIGIN, sign: signer(), policy }), code('E_AUDIT_CORRUPT'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('F01 fail closed: when the checkpoint cannot be witnessed the batch is rejected and nothing moves', async () => {
  const storage = new MemoryTileStorage();
  const { writer } = await buildLog(storage, [3]);
  const before = storage.files.get('checkpoint');
  const failing = await TileLogWriter.open({ storage, origin: ORIGIN, sign: signer(1), policy });
  await assert.rejects(failing.appendBatch([entry(3)]), code('E_AUDIT_UNAVAILABLE'));
  assert.equal(failing.size, 3);
  assert.deepEqual(storage.files.get('checkpoint'), before);
  const down = await TileLogWriter.open({ storage, origin: ORIGIN, sign: () => Promise.reject(new Error('quorum unreachable')), policy });
  await assert.rejects(down.appendBatch([entry(3)]), code('E_AUDIT_UNAVAILABLE'));
  // The healthy writer still appends; stale bytes written beyond the checkpoint are overwritten.
  await writer.appendBatch([entry(3), entry(4)]);
  assert.equal((await verifyTileLog(storage, { policy })).size, 5);
});

test('batching appender: 500 concurrent appends, unique indices, few checkpoints', async () => {
  const storage = new MemoryTileStorage();
  const writer = await TileLogWriter.open({ storage, origin: ORIGIN, sign: signer(), policy });
  const appender = new BatchingAppender(writer, { maxBatch: 128, maxDelayMs: 2 });
  const receipts = await Promise.all(Array.from({ length: 500 }, (_, i) => appender.append({ v: 1, kind: 'event', at: i, name: 'test.concurrent', detail: {} })));
  assert.deepEqual(receipts.map((r) => r.index).sort((a, b) => a - b), Array.from({ length: 500 }, (_, i) => i));
  const checkpoints = new Set(receipts.map((r) => r.size));
  assert.ok(checkpoints.size <= 8, `${checkpoints.size} checkpoints`);
  await appender.flush();
  assert.equal((await verifyTileLog(storage, { policy })).size, 500);
});

test('iterates entries from any index and tells the story of one request with proofs', async () => {
  const { iterateLogEntries, requestStory } = await import('./log-entries.js');
  const storage = new MemoryTileStorage();
  const writer = await TileLogWriter.open({ storage, origin: ORIGIN, sign: signer(), policy });
  const H = 'ab'.repeat(32);
  const story: AuditEntry[] = [
    { v: 1, kind: 'request', at: 1, requestId: 'req-9', initiator: 'alice', action: 'transfer', chain: 'eth', payloadHash: H },
    { v: 1, kind: 'approval', at: 2, requestId: 'req-9', approver: 'bob', group: 'treasury', digest: H, approvalHash: H },
    { v: 1, kind: 'signature.released', at: 3, requestId: 'req-9', scheme: 'single', keyId: 'w1', digest: H, signatureHash: H },
  ];
  await writer.appendBatch([...Array.from({ length: 300 }, (_, i) => entry(i)), encodeAuditEntry(story[0]!)]);
  await writer.appendBatch([entry(301), encodeAuditEntry(story[1]!), encodeAuditEntry(story[2]!)]);
  const seen: number[] = [];
  for await (const e of iterateLogEntries(storage, writer.size, 250)) seen.push(e.index);
  assert.deepEqual(seen, Array.from({ length: 54 }, (_, i) => 250 + i));
  const head = verifyCheckpointNote(writer.checkpoint!, policy).checkpoint;
  const found = await requestStory(storage, head.size, 'req-9');
  assert.deepEqual(found.map((f) => f.entry), story);
  for (const f of found) verifyInclusion(hashLeaf(encodeAuditEntry(f.entry)), f.index, head.size, f.proof, head.rootHash);
});

test('a batch whose checkpoint was cosigned but not published is republished unchanged, so the witness sees no fork', async () => {
  const { Witness, MemoryWitnessStore } = await import('./witness.js');
  const storage = new MemoryTileStorage();
  const w1 = cosigners[0]!;
  const witness = new Witness({ key: w1, logs: new Map([[ORIGIN, [logKey.verifier()]]]), store: new MemoryWitnessStore(), nowMs: () => 0 });
  let lastSize = 0;
  let failNext = false;
  const sign: CheckpointSignFn = async (text) => {
    const note = await signNote(text, [logKey]);
    const size = Number(text.split('\n')[1]);
    const proof = lastSize === 0 || lastSize === size ? [] : await proveConsistencyFromTiles(storage, lastSize, size);
    const cosig = await witness.addCheckpoint({ oldSize: lastSize, proof, checkpoint: note });
    lastSize = size;
    if (failNext) {
      failNext = false;
      throw new Error('response lost after the witness cosigned');
    }
    const second = cosigners[1]!;
    return addNoteSignatures(note, [cosig, { name: second.name, keyId: second.keyId, signature: await second.sign(new TextEncoder().encode(text)) }]);
  };
  const writer = await TileLogWriter.open({ storage, origin: ORIGIN, sign, policy });
  await writer.appendBatch([entry(0), entry(1)]);
  failNext = true;
  await assert.rejects(writer.appendBatch([entry(2)]), code('E_AUDIT_UNAVAILABLE'));
  const r = await writer.appendBatch([entry(3)]);
  assert.equal(r.firstIndex, 3);
  assert.equal(r.size, 4);
  assert.equal((await verifyTileLog(storage, { policy })).size, 4);
});

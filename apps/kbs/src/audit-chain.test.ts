import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { p256 } from '@noble/curves/nist.js';
import { CustodianError, isCustodianError } from '@custodian/core/errors';
import { SignedChainAuditSink, verifyKbsAuditLog, KBS_AUDIT_GENESIS } from './audit-chain.js';
import { KBS_AUDIT_FILE, openKbs } from './kbs-runtime.js';

const secret = p256.utils.randomSecretKey();
const publicKey = p256.getPublicKey(secret, false);
// The HSM signs the SHA-256 of the statement (CKM_ECDSA over a digest); so does this stand-in.
const sign = async (b: Uint8Array): Promise<Uint8Array> => p256.sign(b, secret, { prehash: true, format: 'compact', lowS: false });
const invalid = (line: number) => (e: unknown) => isCustodianError(e, 'E_KBS_AUDIT_INVALID') && e.detail['line'] === line;

async function logOf(n: number): Promise<{ path: string; lines: string[] }> {
  const path = join(mkdtempSync(join(tmpdir(), 'kbs-audit-')), 'kbs-audit.jsonl');
  const sink = await SignedChainAuditSink.open(path, sign, publicKey);
  // Concurrent appends still make one chain.
  await Promise.all(Array.from({ length: n }, (_, i) => sink.append({ kind: 'kbs.key_released', atMs: 1_000 + i, body: { i } })));
  return { path, lines: readFileSync(path, 'utf8').trimEnd().split('\n') };
}

test('entries chain and verify under the broker key; a reopened sink continues the chain', async () => {
  const { path } = await logOf(5);
  const v = verifyKbsAuditLog(readFileSync(path), publicKey);
  assert.deepEqual(v.entries.map((e) => e.seq), [0, 1, 2, 3, 4]);
  assert.notEqual(v.head.headHash, KBS_AUDIT_GENESIS);
  const again = await SignedChainAuditSink.open(path, sign, publicKey);
  assert.deepEqual(again.head, v.head);
  await again.append({ kind: 'breakglass.requested', atMs: 9, body: { id: 'x' } });
  const w = verifyKbsAuditLog(readFileSync(path), publicKey);
  assert.equal(w.head.size, 6);
  assert.equal(w.entries[5]!.kind, 'breakglass.requested');
});

test('an edited body, a removed or reordered line, a cut line or another key is refused, naming the line', async () => {
  const { path, lines } = await logOf(4);
  const write = (ls: string[], tail = '\n') => {
    writeFileSync(path, ls.join('\n') + tail);
    return readFileSync(path);
  };
  assert.throws(() => verifyKbsAuditLog(write(lines.map((l, i) => (i === 2 ? l.replace('"i":2', '"i":7') : l))), publicKey), invalid(3));
  assert.throws(() => verifyKbsAuditLog(write(lines.filter((_, i) => i !== 1)), publicKey), invalid(2));
  assert.throws(() => verifyKbsAuditLog(write([lines[0]!, lines[2]!, lines[1]!, lines[3]!]), publicKey), invalid(2));
  assert.throws(() => verifyKbsAuditLog(write(lines, ''), publicKey), (e) => isCustodianError(e, 'E_KBS_AUDIT_INVALID'));
  assert.throws(() => verifyKbsAuditLog(write(lines), p256.getPublicKey(p256.utils.randomSecretKey(), false)), invalid(1));
  // A broker never extends a chain that does not verify.
  write(lines.map((l, i) => (i === 0 ? l.replace('"i":0', '"i":5') : l)));
  await assert.rejects(SignedChainAuditSink.open(path, sign, publicKey), invalid(1));
});

test('a broker opened on its data directory writes its audit as this chain, signed by its root', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kbs-audit-rt-'));
  const rt = await openKbs({ dataDir: dir, root: { kind: 'software' }, quorum: { threshold: 1, members: [] }, warn: () => undefined });
  try {
    const n = rt.broker.issueNonce();
    await assert.rejects(rt.broker.release({ nonce: n.nonce, evidence: new Uint8Array(64), publicKey: new Uint8Array(32).fill(1) }));
    const v = verifyKbsAuditLog(readFileSync(join(dir, KBS_AUDIT_FILE)), await rt.root.publicKey('kbs-signing'));
    assert.deepEqual(v.entries.map((e) => e.kind), ['kbs.release_refused']);
  } finally {
    await rt.close();
  }
});

test('F10 a root that cannot sign the audit entry refuses the release, naming the HSM as the cause (E_AUDIT_UNAVAILABLE, cause E_HSM_UNAVAILABLE)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kbs-audit-down-'));
  const down = async (): Promise<Uint8Array> => {
    throw new CustodianError('E_HSM_UNAVAILABLE', 'CKR_DEVICE_REMOVED', {});
  };
  const audit = await SignedChainAuditSink.open(join(dir, 'chain.jsonl'), down, publicKey);
  const rt = await openKbs({ dataDir: dir, root: { kind: 'software' }, quorum: { threshold: 1, members: [] }, audit, warn: () => undefined });
  try {
    const n = rt.broker.issueNonce();
    await assert.rejects(rt.broker.release({ nonce: n.nonce, evidence: new Uint8Array(64), publicKey: new Uint8Array(32).fill(1) }), (e) => isCustodianError(e, 'E_AUDIT_UNAVAILABLE') && e.detail['cause'] === 'E_HSM_UNAVAILABLE' && e.message.includes('E_HSM_UNAVAILABLE'));
  } finally {
    await rt.close();
  }
});

test('F01 an append whose fsync fails leaves no entry behind: the next append continues one chain that still verifies', async () => {
  const { path } = await logOf(2);
  const sink = await SignedChainAuditSink.open(path, sign, publicKey);
  const probe = await open(path, 'r');
  const proto = Object.getPrototypeOf(probe) as { sync: () => Promise<void> };
  await probe.close();
  const sync = proto.sync;
  let failures = 1;
  proto.sync = async function (this: unknown) {
    if (failures-- > 0) throw Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' });
    return sync.call(this);
  };
  try {
    await assert.rejects(sink.append({ kind: 'kbs.key_released', atMs: 5, body: { lost: true } }), /EIO/);
  } finally {
    proto.sync = sync;
  }
  await sink.append({ kind: 'kbs.key_released', atMs: 6, body: { after: true } });
  const v = verifyKbsAuditLog(readFileSync(path), publicKey);
  assert.deepEqual(v.entries.map((e) => e.body), [{ i: 0 }, { i: 1 }, { after: true }], 'the unsynced entry is not in the chain, and nothing forks it');
  assert.deepEqual((await SignedChainAuditSink.open(path, sign, publicKey)).head, v.head, 'the broker still opens its own audit file');
});

test('F01 an append that fails and cannot be cut off stops the sink: later appends refuse instead of chaining after an unknown tail', async () => {
  const { path } = await logOf(1);
  const sink = await SignedChainAuditSink.open(path, sign, publicKey);
  const probe = await open(path, 'r');
  const proto = Object.getPrototypeOf(probe) as { sync: () => Promise<void> };
  await probe.close();
  const sync = proto.sync;
  proto.sync = async () => {
    throw Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' });
  };
  try {
    await assert.rejects(sink.append({ kind: 'kbs.key_released', atMs: 5, body: {} }), /EIO/);
  } finally {
    proto.sync = sync;
  }
  await assert.rejects(sink.append({ kind: 'kbs.key_released', atMs: 6, body: {} }), (e) => isCustodianError(e, 'E_KBS_AUDIT_INVALID'));
});

/** `custodian evidence export|verify` and `custodian audit show` against a witnessed file log built here. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Secret } from '@custodian/core/secret';
import { Ed25519NoteKey, NOTE_KEY_TYPE_COSIGNATURE_V1 } from '@custodian/audit/ed25519-note-key';
import { addNoteSignatures, signNote } from '@custodian/audit/note';
import { encodeCheckpointPolicyDocument } from '@custodian/audit/checkpoint-policy';
import { FileTileStorage } from '@custodian/audit/tile-storage';
import { TileLogWriter } from '@custodian/audit/tile-log-writer';
import { encodeAuditEntry, type AuditEntry } from '@custodian/audit/entry';
import { evidenceCommand } from './evidence.js';
import { auditShowCommand } from './audit-show.js';

const ORIGIN = 'custodian.example/audit';
const T0 = 1_764_000_000_000;
const H = (c: string): string => c.repeat(64);
const logKey = new Ed25519NoteKey(ORIGIN, new Secret(new Uint8Array(32).fill(5)));
const ws = [6, 7, 8].map((s, i) => new Ed25519NoteKey(`custodian.example/signer-${i}`, new Secret(new Uint8Array(32).fill(s)), NOTE_KEY_TYPE_COSIGNATURE_V1));
const doc = { origin: ORIGIN, logKeys: [logKey.verifierKey()], witnessKeys: ws.map((w) => w.verifierKey()), witnessQuorum: 2 };

async function run(cmd: (a: readonly string[]) => Promise<number>, args: string[]): Promise<{ code: number; last: Record<string, unknown> }> {
  const chunks: string[] = [];
  const origOut = process.stdout.write.bind(process.stdout);
  const origErr = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((s: string, ...rest: never[]) => (String(s).startsWith('{') ? (chunks.push(String(s)), true) : origOut(s, ...rest))) as typeof process.stdout.write;
  process.stderr.write = (() => true) as typeof process.stderr.write;
  try {
    const code = await cmd(args);
    const lines = chunks.join('').trim().split('\n');
    return { code, last: JSON.parse(lines[lines.length - 1] ?? '{}') as Record<string, unknown> };
  } finally {
    process.stdout.write = origOut;
    process.stderr.write = origErr;
  }
}

async function setup(): Promise<{ dir: string; log: string; policy: string; first: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'evidence-cli-'));
  const log = join(dir, 'log');
  const sign = async (text: string): Promise<Uint8Array> => {
    const note = await signNote(text, [logKey]);
    const msg = new TextEncoder().encode(text);
    return addNoteSignatures(note, await Promise.all(ws.slice(0, 2).map(async (w) => ({ name: w.name, keyId: w.keyId, signature: await w.sign(msg) }))));
  };
  const writer = await TileLogWriter.open({ storage: new FileTileStorage(log), origin: ORIGIN, sign });
  const story: AuditEntry[] = [
    { v: 1, kind: 'attestation', at: T0, subject: 'signer-0', platform: 'sim', evidenceHash: H('0'), status: 'affirming', measurement: 'ab'.repeat(48), reasons: [] },
    { v: 1, kind: 'request', at: T0 + 1, requestId: 'r-1', initiator: 'alice', action: 'transfer', chain: 'eth', payloadHash: H('b') },
    { v: 1, kind: 'policy.decision', at: T0 + 2, requestId: 'r-1', decision: 'needs-approval', policyHash: H('c'), addressBookHash: H('d'), priceTableHash: H('e'), screeningListHash: H('f'), policies: ['p1'], reasons: [] },
  ];
  const first = await writer.appendBatch(story.map(encodeAuditEntry));
  await writer.appendBatch([
    { v: 1, kind: 'approval', at: T0 + 3, requestId: 'r-1', approver: 'bob', group: 'treasury', digest: H('1'), approvalHash: H('2') },
    { v: 1, kind: 'signature.released', at: T0 + 4, requestId: 'r-1', scheme: 'frost-ed25519', keyId: 'wallet-1', digest: H('1'), signatureHash: H('4') },
  ].map((e) => encodeAuditEntry(e as AuditEntry)));
  const policy = join(dir, 'policy.json');
  writeFileSync(policy, encodeCheckpointPolicyDocument(doc));
  writeFileSync(join(dir, 'trusted'), first.checkpoint);
  return { dir, log, policy, first: join(dir, 'trusted') };
}

test('evidence export then verify (exit 0), a tampered bundle exits 1 with a named code, usage exits 2, a missing file 3', async () => {
  const s = await setup();
  try {
    const out = join(s.dir, 'bundle.json');
    const ex = await run(evidenceCommand, ['export', '--log', s.log, '--request', 'r-1', '--out', out, '--policy', s.policy, '--trusted-checkpoint', s.first, '--json']);
    assert.equal(ex.code, 0, JSON.stringify(ex.last));
    assert.equal(ex.last['entries'], 5);
    assert.equal(ex.last['consistencyProofs'], 1);
    const ok = await run(evidenceCommand, ['verify', '--bundle', out, '--policy', s.policy, '--trusted-checkpoint', s.first, '--json']);
    assert.equal(ok.code, 0, JSON.stringify(ok.last));
    assert.equal(ok.last['bundleDigest'], ex.last['bundleDigest']);
    assert.equal(ok.last['trust'], 'policy-file');
    assert.equal(ok.last['trustedSize'], 3);
    const bundleOnly = await run(evidenceCommand, ['verify', out, '--json']);
    assert.equal(bundleOnly.code, 0);
    assert.equal(bundleOnly.last['trust'], 'bundle');
    const tampered = join(s.dir, 'tampered.json');
    writeFileSync(tampered, readFileSync(out, 'utf8').replace('"approver":"bob"', '"approver":"eve"'));
    const bad = await run(evidenceCommand, ['verify', '--bundle', tampered, '--policy', s.policy, '--json']);
    assert.equal(bad.code, 1);
    assert.equal((bad.last['error'] as { code: string }).code, 'E_EVIDENCE_MANIFEST_MISMATCH');
    writeFileSync(join(s.dir, 'rulebook.cedar'), 'permit (principal, action, resource);\n');
    const unnamed = await run(evidenceCommand, ['export', '--log', s.log, '--request', 'r-1', '--out', out, '--policy', s.policy, '--attach', join(s.dir, 'rulebook.cedar'), '--json']);
    assert.equal(unnamed.code, 1);
    assert.equal((unnamed.last['error'] as { code: string }).code, 'E_EVIDENCE_ATTACHMENT');
    assert.equal((await run(evidenceCommand, ['verify', '--json'])).code, 2);
    assert.equal((await run(evidenceCommand, ['export', '--log', s.log, '--out', out, '--policy', s.policy, '--json'])).code, 2);
    assert.equal((await run(evidenceCommand, ['verify', '--bundle', join(s.dir, 'absent.json'), '--json'])).code, 3);
    const range = await run(evidenceCommand, ['export', '--log', s.log, '--from', new Date(T0 + 1).toISOString(), '--to', String(T0 + 3), '--out', out, '--policy', s.policy, '--json']);
    assert.equal(range.code, 0, JSON.stringify(range.last));
    assert.equal(range.last['entries'], 2);
  } finally {
    rmSync(s.dir, { recursive: true, force: true });
  }
});

test('audit show prints the verified story of a request; an unknown request exits 1', async () => {
  const s = await setup();
  try {
    const r = await run(auditShowCommand, ['--log', s.log, '--request', 'r-1', '--policy', s.policy, '--json']);
    assert.equal(r.code, 0, JSON.stringify(r.last));
    const story = r.last['story'] as { kind: string; role: string; proofVerified: boolean }[];
    assert.deepEqual(story.map((e) => `${e.role}:${e.kind}`), ['context:attestation', 'story:request', 'story:policy.decision', 'story:approval', 'story:signature.released']);
    assert.ok(story.every((e) => e.proofVerified));
    assert.equal((r.last['summary'] as { signatureReleased: boolean }).signatureReleased, true);
    const none = await run(auditShowCommand, ['audit', 'show', '--log', s.log, '--request', 'r-404', '--policy', s.policy, '--json']);
    assert.equal(none.code, 1);
    assert.equal((none.last['error'] as { code: string }).code, 'E_EVIDENCE_EMPTY');
  } finally {
    rmSync(s.dir, { recursive: true, force: true });
  }
});

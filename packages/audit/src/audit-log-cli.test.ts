/**
 * Runs `custodian audit verify|prove` (apps/cli/src/commands/audit-log.ts) as
 * a separate process, the way an auditor would, against logs built here. The
 * command is started by path, not imported, so the audit package's import
 * boundary (core only) holds.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hexToBytes } from '@custodian/core/bytes';
import { REPO_ROOT } from '@custodian/core/vectors';
import { Secret } from '@custodian/core/secret';
import { Ed25519NoteKey, NOTE_KEY_TYPE_COSIGNATURE_V1 } from './ed25519-note-key.js';
import { addNoteSignatures, signNote } from './note.js';
import { checkpointPolicyFromKeys, encodeCheckpointPolicyDocument } from './checkpoint-policy.js';
import { writeLogPolicyDocument } from './log-policy-file.js';
import { FileTileStorage } from './tile-storage.js';
import { TileLogWriter } from './tile-log-writer.js';
import { encodeAuditEntry } from './entry.js';
import { tilePath } from './tile-path.js';
import { verifyInclusion } from './inclusion-proof.js';

const COMMAND = join(REPO_ROOT, 'apps', 'cli', 'src', 'commands', 'audit-log.ts');
const origin = 'custodian.example/audit';
const log = new Ed25519NoteKey(origin, new Secret(new Uint8Array(32).fill(1)));
const ws = [2, 3].map((s, i) => new Ed25519NoteKey(`custodian.example/signer-${i}`, new Secret(new Uint8Array(32).fill(s)), NOTE_KEY_TYPE_COSIGNATURE_V1));
const doc = { origin, logKeys: [log.verifierKey()], witnessKeys: ws.map((w) => w.verifierKey()), witnessQuorum: 2 };

function run(args: string[]): Promise<{ code: number; last: Record<string, unknown> }> {
  const script = `const m = await import(${JSON.stringify(COMMAND)}); process.exitCode = await m.auditLogCommand(${JSON.stringify(args)});`;
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: REPO_ROOT }, (err, stdout) => {
      const lines = stdout.trim().split('\n');
      resolve({ code: err === null ? 0 : Number((err as { code?: number }).code), last: JSON.parse(lines[lines.length - 1] ?? '{}') as Record<string, unknown> });
    });
  });
}

async function buildLog(dir: string): Promise<Uint8Array[]> {
  const policy = checkpointPolicyFromKeys(doc.origin, doc.logKeys, doc.witnessKeys, 2);
  const w = await TileLogWriter.open({
    storage: new FileTileStorage(dir), origin, policy,
    sign: async (t) => addNoteSignatures(await signNote(t, [log]), await Promise.all(ws.map(async (c) => ({ name: c.name, keyId: c.keyId, signature: await c.sign(new TextEncoder().encode(t)) })))),
  });
  const cps: Uint8Array[] = [];
  for (const n of [300, 300]) {
    const start = w.size;
    cps.push((await w.appendBatch(Array.from({ length: n }, (_, i) => encodeAuditEntry({ v: 1, kind: 'event', at: start + i, name: 'cli.test', detail: {} })))).checkpoint);
  }
  await writeLogPolicyDocument(dir, doc);
  return cps;
}

test('custodian audit verify and prove: exit 0 with JSON, 1 on a flipped tile bit, 1 on a rollback', async () => {
  const root = mkdtempSync(join(tmpdir(), 'audit-cli-'));
  try {
    const dir = join(root, 'log');
    const cps = await buildLog(dir);
    const policyFile = join(root, 'policy.json');
    writeFileSync(policyFile, encodeCheckpointPolicyDocument(doc));
    const trustedFile = join(root, 'trusted');
    writeFileSync(trustedFile, cps[0]!);

    const ok = await run(['verify', '--log', dir, '--policy', policyFile, '--trusted-checkpoint', trustedFile, '--json']);
    assert.equal(ok.code, 0, JSON.stringify(ok.last));
    assert.equal(ok.last['ok'], true);
    assert.equal(ok.last['size'], 600);
    assert.equal(ok.last['trustedSize'], 300);

    const proof = await run(['prove', '--log', dir, '--entry', '450', '--json']);
    assert.equal(proof.code, 0);
    assert.equal(proof.last['trust'], 'log-directory');
    verifyInclusion(hexToBytes(proof.last['leafHash'] as string), 450, 600, (proof.last['proof'] as string[]).map((h) => hexToBytes(h)), hexToBytes(proof.last['rootHash'] as string));

    // Rollback: an older copy of the directory checked against the newer trusted checkpoint.
    const old = join(root, 'old');
    cpSync(dir, old, { recursive: true });
    writeFileSync(join(old, 'checkpoint'), cps[0]!);
    writeFileSync(trustedFile, cps[1]!);
    const rolled = await run(['verify', '--log', old, '--policy', policyFile, '--trusted-checkpoint', trustedFile, '--json']);
    assert.equal(rolled.code, 1);
    assert.equal((rolled.last['error'] as { code: string }).code, 'E_CHECKPOINT_ROLLBACK');

    const tile = join(dir, tilePath(0, 1));
    const bytes = readFileSync(tile);
    bytes[32 * 10] = bytes[32 * 10]! ^ 0x80;
    writeFileSync(tile, bytes);
    const bad = await run(['verify', '--log', dir, '--policy', policyFile, '--json']);
    assert.equal(bad.code, 1);
    assert.equal(bad.last['ok'], false);
    assert.deepEqual(bad.last['error'], { code: 'E_AUDIT_CORRUPT', message: 'entry 266 does not match its leaf hash in tile/0 (entry or tile altered)', detail: { index: 266 } });

    const usage = await run(['verify', '--json']);
    assert.equal(usage.code, 2);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

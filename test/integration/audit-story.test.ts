/**
 * The auditor's path on the demo deployment's own transparency log (three
 * sim signers, the host, anvil; the demo rulebook; a 2-of-3 threshold ECDSA
 * wallet): `custodian audit verify` decodes every enclave-signed leaf and
 * checks each signer's chain, `audit show --request` tells the story of a
 * request from the log, and `evidence export` / `verify` / `report` work on
 * it — with the refusals an auditor relies on (a key that is not the
 * signer's, an altered report, an altered log).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Json } from '@custodian/core/canonical-json';
import { REPO_ROOT } from '@custodian/core/vectors';
import { CUSTODY_SIGNERS_FILE_NAME } from '@custodian/audit/custody-signers';
import { approveRequest, buildTransfer, createWallet, proposeTx, waitForStatus } from '../../apps/cli/src/operations.js';
import { CLI } from '../../scripts/lib/processes.js';
import { DEMO_ORG, DEMO_RECIPIENT, DEMO_RULEBOOK_DIR, fund, startDeployment, type Deployment } from '../../scripts/lib/deployment.js';
import { AUDIT_LOG_DIR } from '../../apps/host/src/server.js';

const exec = promisify(execFile);
type R = Record<string, Json>;
const SIGNERS = ['signer-1', 'signer-2', 'signer-3'];

let d: Deployment;
let log = '';
let requestId = '';
let startedMs = 0;

/** Runs the CLI; the exit code and the last stdout line (the JSON result or error). */
async function cli(args: string[]): Promise<{ code: number; last: R }> {
  try {
    const out = await exec(process.execPath, [CLI, ...args], { cwd: REPO_ROOT, maxBuffer: 64 * 1024 * 1024 });
    return { code: 0, last: JSON.parse(out.stdout.trim().split('\n').at(-1)!) as R };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    const line = (err.stdout ?? '').trim().split('\n').at(-1) ?? '';
    return { code: typeof err.code === 'number' ? err.code : -1, last: line.startsWith('{') ? (JSON.parse(line) as R) : { stderr: err.stderr ?? '' } };
  }
}

const errorCode = (r: { last: R }): string => String((r.last['error'] as R | undefined)?.['code']);

before(async () => {
  startedMs = Date.now();
  d = await startDeployment({ dataDir: mkdtempSync(join(tmpdir(), 'custodian-audit-story-')), rulebook: DEMO_RULEBOOK_DIR });
  log = join(d.dataDir, 'host', AUDIT_LOG_DIR);
  const w = (await createWallet(d.client, d.actors['alice']!, { orgId: DEMO_ORG, walletId: 'hot-eth-1', scheme: 'ecdsa-dkls', threshold: 2, signers: SIGNERS })) as R;
  const from = String(w['address']);
  await fund(d.anvil.url, from, 10n ** 19n);
  const raw = await buildTransfer(d.client, from, DEMO_RECIPIENT, 5n * 10n ** 17n);
  requestId = String(((await proposeTx(d.client, d.actors['dave']!, { orgId: DEMO_ORG, walletId: 'hot-eth-1', rawTx: raw })) as R)['requestId']);
  for (const who of ['bob', 'carol']) await approveRequest(d.client, d.actors[who]!, requestId);
  const done = await waitForStatus(d.client, requestId, ['confirmed', 'failed'], 60_000);
  assert.equal(done['receiptStatus'], 'success');
});

after(async () => {
  await d?.stop();
});

test('audit verify decodes every leaf of the custody log (no --opaque-entries) and checks every signer\'s chain', async () => {
  const r = await cli(['audit', 'verify', '--log', log, '--json']);
  assert.equal(r.code, 0, JSON.stringify(r.last));
  assert.equal(r.last['ok'], true);
  assert.equal(r.last['entryFormat'], 'custody');
  assert.equal(r.last['signerTrust'], 'log-directory');
  const kinds = r.last['entriesByKind'] as Record<string, number>;
  for (const k of ['manifest.change', 'attestation', 'wallet.created', 'request', 'policy.decision', 'approval', 'signing.approved', 'signature.released']) assert.ok((kinds[k] ?? 0) > 0, `no ${k} entry: ${JSON.stringify(kinds)}`);
  const chains = r.last['statementsBySigner'] as Record<string, number>;
  assert.deepEqual(Object.keys(chains).sort(), SIGNERS);
  assert.equal(Object.values(chains).reduce((a, b) => a + b, 0), r.last['size']);
  const signers = r.last['signers'] as Record<string, { source: string; attestedBy: string[] }>;
  for (const id of SIGNERS) assert.deepEqual(signers[id]!.attestedBy, SIGNERS.filter((x) => x !== id), `${id}'s key is the one its peers attested`);
  // Every event the enclave wrote had a typed record of its own (the fallback would show as an event entry).
  const prove = await cli(['audit', 'prove', '--log', log, '--entry', '0', '--json']);
  assert.equal(prove.code, 0, JSON.stringify(prove.last));
  assert.equal((prove.last['signedBy'] as R)['signatureVerified'], true);
});

test('audit show --request tells the request\'s story from the log: proposal, decision with versions, approvals, signers\' attestations, signature', async () => {
  const r = await cli(['audit', 'show', '--log', log, '--request', requestId, '--json']);
  assert.equal(r.code, 0, JSON.stringify(r.last));
  const story = r.last['story'] as { role: string; kind: string; entry: R; signedBy?: { signerId: string }; proofVerified: boolean }[];
  const kinds = story.filter((e) => e.role === 'story').map((e) => e.kind);
  for (const k of ['request', 'policy.decision', 'approval', 'signing.approved', 'signature.released']) assert.ok(kinds.includes(k), `story lacks ${k}: ${kinds.join(', ')}`);
  assert.ok(story.every((e) => e.proofVerified && e.signedBy !== undefined));
  const decision = story.find((e) => e.kind === 'policy.decision')!.entry;
  assert.match(String(decision['policyHash']), /^[0-9a-f]{64}$/);
  assert.match(String((decision['versions'] as R)['rulebookDigest']), /^[0-9a-f]{64}$/);
  const attested = new Set(story.filter((e) => e.role === 'context' && e.kind === 'attestation').map((e) => String(e.entry['subject'])));
  const signing = new Set(story.filter((e) => e.kind === 'signing.approved').map((e) => e.signedBy!.signerId));
  assert.ok(signing.size >= 2, 'two signers decided to sign');
  for (const id of signing) assert.ok(attested.has(id), `the attestation of ${id} is in the story`);
  assert.equal((r.last['summary'] as R)['signatureReleased'], true);
  assert.deepEqual((r.last['summary'] as R)['approvers'], ['bob', 'carol']);
});

test('evidence export, verify and report on the custody log; an altered report, a wrong signer key and an altered log are refused', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'custodian-evidence-'));
  const bundle = join(dir, 'bundle.tar');
  const ex = await cli(['evidence', 'export', '--log', log, '--from', new Date(startedMs - 60_000).toISOString(), '--to', new Date(Date.now() + 60_000).toISOString(), '--out', bundle, '--json']);
  assert.equal(ex.code, 0, JSON.stringify(ex.last));
  assert.equal(ex.last['format'], 'tar');
  assert.equal(ex.last['signerTrust'], 'log-directory');
  const v = await cli(['evidence', 'verify', bundle, '--json']);
  assert.equal(v.code, 0, JSON.stringify(v.last));
  assert.equal(v.last['entries'], ex.last['entries']);
  assert.equal((v.last['leaves'] as R)['signerTrust'], 'bundle-keys');
  const given = await cli(['evidence', 'verify', bundle, '--signers', join(log, CUSTODY_SIGNERS_FILE_NAME), '--policy', join(log, 'custodian-log-policy.json'), '--json']);
  assert.equal(given.code, 0, JSON.stringify(given.last));
  assert.equal((given.last['leaves'] as R)['signerTrust'], 'given-keys');

  const report = join(dir, 'report.html');
  const rep = await cli(['evidence', 'report', '--bundle', bundle, '--out', report, '--json']);
  assert.equal(rep.code, 0, JSON.stringify(rep.last));
  const html = readFileSync(report, 'utf8');
  assert.ok(html.startsWith('<!doctype html>'));
  assert.ok((html.match(/<svg /g) ?? []).length >= 3, 'inline SVG charts');
  assert.ok(!/(src|href)=/.test(html), 'no external assets');
  assert.ok(html.includes(requestId.slice(0, 16)), 'the request is in the story table');
  assert.ok(html.includes('Checkpoints and cosigners'));
  assert.equal(readFileSync(bundle).includes(Buffer.from(html)), true, 'the archive carries the same report');

  // An altered report inside the archive (same length) is refused.
  const tar = readFileSync(bundle);
  const at = tar.indexOf(Buffer.from('Custodian evidence report</h1>'));
  const changed = Buffer.from(tar);
  changed.write('Kustodian', at);
  writeFileSync(join(dir, 'altered.tar'), changed);
  const bad = await cli(['evidence', 'verify', join(dir, 'altered.tar'), '--json']);
  assert.equal(bad.code, 1);
  assert.equal(errorCode(bad), 'E_EVIDENCE_MANIFEST_MISMATCH');

  // A signers document naming another key for signer-2: its leaves are refused, naming the first one.
  const signers = JSON.parse(readFileSync(join(log, CUSTODY_SIGNERS_FILE_NAME), 'utf8')) as { signers: { signerId: string; identityKey: string }[] };
  signers.signers.find((s) => s.signerId === 'signer-2')!.identityKey = signers.signers.find((s) => s.signerId === 'signer-3')!.identityKey;
  const wrong = join(dir, 'signers.json');
  writeFileSync(wrong, JSON.stringify(signers));
  const forged = await cli(['audit', 'verify', '--log', log, '--signers', wrong, '--json']);
  assert.equal(forged.code, 1);
  assert.ok(['E_LEAF_SIGNATURE', 'E_SIGNER_KEY_MISMATCH'].includes(errorCode(forged)), JSON.stringify(forged.last));
  assert.equal(typeof ((forged.last['error'] as R)['detail'] as R)['index'], 'number');

  // One byte of one stored entry changed: audit verify names the index.
  const copy = join(dir, 'log');
  cpSync(log, copy, { recursive: true });
  // Every stored version of the entry bundle (full or partial) holding the request entry is altered alike.
  const files = (readdirSync(join(copy, 'tile', 'entries'), { recursive: true }) as string[]).map((n) => join(copy, 'tile', 'entries', n)).filter((p) => statSync(p).isFile());
  let altered = 0;
  for (const file of files) {
    const bytes = readFileSync(file);
    const pos = bytes.indexOf(Buffer.from('"initiator":"dave"'));
    if (pos < 0) continue;
    bytes.write('"initiator":"mall"', pos);
    writeFileSync(file, bytes);
    altered++;
  }
  assert.ok(altered > 0, 'the request entry is in a stored entry bundle');
  const corrupt = await cli(['audit', 'verify', '--log', copy, '--json']);
  assert.equal(corrupt.code, 1);
  // The leaf is decoded before its hash meets tile level 0: its enclave signature fails first.
  assert.ok(['E_LEAF_SIGNATURE', 'E_AUDIT_CORRUPT'].includes(errorCode(corrupt)), JSON.stringify(corrupt.last));
  assert.equal(typeof ((corrupt.last['error'] as R)['detail'] as R)['index'], 'number');
  assert.ok(existsSync(bundle));
});

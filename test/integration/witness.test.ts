/**
 * An independent witness (`custodian witness serve`) of the organisation's
 * audit log: every checkpoint carries its cosignature, a rollback shown to it
 * is refused and kept as evidence, and with the witness down nothing is
 * signed (fail closed).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Json } from '@custodian/core/canonical-json';
import { isCustodianError } from '@custodian/core/errors';
import { approveRequest, buildTransfer, createWallet, proposeTx, waitForStatus } from '../../apps/cli/src/operations.js';
import { verifyOrg } from '../../apps/cli/src/verify-org.js';
import { DEMO_ORG, DEMO_RECIPIENT, fund, startDeployment, type Deployment } from '../../scripts/lib/deployment.js';
import { CLI, startHostProcess, startProcess, type Proc } from '../../scripts/lib/processes.js';
import { verifyAuditLog } from '../../scripts/lib/verify-audit-log.js';

type R = Record<string, Json>;
let d: Deployment;
let witness: Proc;
const wdir = mkdtempSync(join(tmpdir(), 'custodian-witness-'));

function startWitness(): Promise<Proc> {
  const policy = join(d.dataDir, 'host', 'tlog', 'custodian-log-policy.json');
  return startProcess(process.execPath, [CLI, 'witness', 'serve', '--data-dir', wdir, '--policy', policy, '--port', String(witness?.ready['url'] ? new URL(String(witness.ready['url'])).port : 0)]);
}

async function restartHostWithWitness(): Promise<void> {
  const port = Number(d.host.ready['port']);
  const signers = d.signers.map((s, i) => ({ id: `signer-${i + 1}`, port: Number(s.ready['port']) }));
  await d.host.stop();
  d.host = await startHostProcess(join(d.dataDir, 'host'), signers, d.anvil.url, undefined, port, undefined, ['--witness', `${String(witness.ready['vkey'])}@${String(witness.ready['url'])}`]);
}

before(async () => {
  d = await startDeployment({ dataDir: mkdtempSync(join(tmpdir(), 'custodian-wit-')) });
  witness = await startWitness();
  await restartHostWithWitness();
});

after(async () => {
  await witness?.stop();
  await d?.stop();
});

async function transfer(walletId: string): Promise<string> {
  const w = (await createWallet(d.client, d.actors['alice']!, { orgId: DEMO_ORG, walletId, signerId: 'signer-1', scheme: 'single' })) as R;
  await fund(d.anvil.url, String(w['address']), 10n ** 18n);
  const raw = await buildTransfer(d.client, String(w['address']), DEMO_RECIPIENT, 1000n);
  const r = (await proposeTx(d.client, d.actors['dave']!, { orgId: DEMO_ORG, walletId, rawTx: raw })) as R;
  return String(r['requestId']);
}

test('every new checkpoint is cosigned by the witness, and the log verifies with its key in the policy', async () => {
  const id = await transfer('wa');
  await approveRequest(d.client, d.actors['bob']!, id);
  await approveRequest(d.client, d.actors['carol']!, id);
  assert.equal((await waitForStatus(d.client, id, ['confirmed', 'failed']))['receiptStatus'], 'success');
  const note = readFileSync(join(d.dataDir, 'host', 'tlog', 'checkpoint'), 'utf8');
  assert.match(note, /— custodian-witness /);
  const policy = JSON.parse(readFileSync(join(d.dataDir, 'host', 'tlog', 'custodian-log-policy.json'), 'utf8')) as { witnessKeys: string[]; witnessQuorum: number };
  assert.ok(policy.witnessKeys.includes(String(witness.ready['vkey'])));
  assert.equal(policy.witnessQuorum, 3);
  const org = await verifyOrg(d.client);
  assert.ok((await verifyAuditLog(join(d.dataDir, 'host', 'tlog'), org.identityKeys)).cosigners >= 3);
});

test('F13: the witness refuses a rollback and keeps the offending checkpoint as evidence', async () => {
  const old = readFileSync(join(d.dataDir, 'host', 'tlog', 'checkpoint'));
  await transfer('wb');
  const oldSize = Number(old.toString('utf8').split('\n')[1]);
  const res = await fetch(new URL('add-checkpoint', String(witness.ready['url'])), { method: 'POST', body: Buffer.concat([Buffer.from(`old ${oldSize}\n\n`), old]) });
  assert.notEqual(res.status, 200);
  assert.ok(readdirSync(join(wdir, 'evidence')).length >= 1, 'the refused checkpoint is kept');
});

test('with the witness down nothing is signed; once it is back, signing resumes', async () => {
  const id = await transfer('wc');
  await approveRequest(d.client, d.actors['bob']!, id);
  await witness.stop();
  await assert.rejects(approveRequest(d.client, d.actors['carol']!, id), (e) => isCustodianError(e, 'E_AUDIT_UNAVAILABLE'));
  const pending = (await d.client.get(`/v1/requests/${id}`)) as R;
  assert.equal(pending['signedTx'], null);
  witness = await startWitness();
  await approveRequest(d.client, d.actors['carol']!, id);
  assert.equal((await waitForStatus(d.client, id, ['confirmed', 'failed']))['receiptStatus'], 'success');
});

/**
 * Recovering a lost signer from its backup, as a break-glass action (issue 7
 * item 5), across real processes: three sim signers that got their sealing
 * keys from a key broker, a FROST 2-of-3 wallet, backups encrypted to the
 * broker's recovery key kept by the host; signer-3's machine is lost (its
 * sealed state and counter deleted) and a pristine signer-3 is started; the
 * quorum requests, approves and — after the time-lock, on the broker's
 * trusted clock — executes `recover-signer`; the CLI drives the restore
 * through the broker and the host. The restored signer is the lost one (same
 * identity), its share works (a refresh needs every party), and the audit
 * log still verifies end to end.
 *
 * The broker runs in this process so the test can move its monotonic clock
 * past the time-lock instead of waiting; the signers reach it over HTTP as
 * they would a `custodian kbs serve`.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Json } from '@custodian/core/canonical-json';
import { createWallet, refreshWallet } from '../../apps/cli/src/operations.js';
import { DEMO_ORG, startDeployment, type Deployment } from '../../scripts/lib/deployment.js';
import { cliJson, InProcessKbs } from './helpers.js';

type R = Record<string, Json>;
const SIGNERS = ['signer-1', 'signer-2', 'signer-3'];
const TIMELOCK_MS = 60_000;

let d: Deployment;
let dataDir: string;
/** The broker, in this process: break-glass 3 of alice/bob/frank (daily 2), guardian erin, a 60 s time-lock the test moves past. */
const broker = new InProcessKbs((member) => ({ approvers: { threshold: 3, members: [member('alice'), member('bob'), member('frank')] }, dailyThreshold: 2, guardians: [member('erin')], timelockMs: TIMELOCK_MS }));
const cli = (args: string[]): Promise<R> => cliJson(d, args);

const key = (id: string): string => join(dataDir, 'operators', `${id}.key.json`);
const rejectsWith = (p: Promise<unknown>, code: string) => assert.rejects(p, (e: { code?: string }) => e.code === code);

before(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'custodian-recovery-it-'));
  d = await startDeployment({ dataDir, kbs: broker.start });
  await createWallet(d.client, d.actors['alice']!, { orgId: DEMO_ORG, walletId: 'sol-r', scheme: 'frost-ed25519', threshold: 2, signers: SIGNERS });
});

after(async () => {
  await d?.stop();
});

test('every party of a new wallet keeps a backup encrypted to the recovery key; the host holds ciphertext only', async () => {
  for (const id of SIGNERS) {
    const b = await cli(['backup', 'show', '--signer', id]);
    assert.match(String(b['backupSha256']), /^[0-9a-f]{64}$/);
    assert.deepEqual(b['wallets'], ['sol-r']);
  }
  const kept = (await d.client.get('/v1/signers/signer-3/backup')) as R;
  const text = JSON.stringify(kept);
  assert.doesNotMatch(text, /identitySecret|"share"|frost-ed25519/, 'the kept backup must not show the state it encrypts');
});

test('B33 item 5: a lost signer is re-created from its backup only after an executed recover-signer request, with its identity and a working share', async () => {
  const before = (await d.client.get('/v1/signers')) as R[];
  const lostIdentity = before.find((s) => s['signerId'] === 'signer-3')!['identityKey'];
  const backup = await cli(['backup', 'show', '--signer', 'signer-3']);
  const payload = JSON.stringify({ signerId: 'signer-3', backupSha256: backup['backupSha256'] });

  // The machine is lost: sealed state and platform counter gone; a pristine signer-3 takes its place.
  await d.signers[2]!.stop();
  rmSync(join(dataDir, 'signers', 'signer-3'), { recursive: true, force: true });
  await d.restartSigner(2);

  // Without an executed break-glass request the broker opens nothing.
  await rejectsWith(cli(['backup', 'restore', '--signer', 'signer-3', '--kbs', broker.url, '--request', 'recover-3']), 'E_BREAKGLASS_UNKNOWN');

  await cli(['breakglass', 'request', '--kbs', broker.url, '--key', key('alice'), '--operator', 'alice', '--id', 'recover-3', '--action', 'recover-signer', '--payload', payload]);
  await cli(['breakglass', 'approve', '--kbs', broker.url, '--key', key('bob'), '--operator', 'bob', '--id', 'recover-3']);
  // Two of three is the daily quorum, not break-glass: still pending, then time-locked at three.
  await rejectsWith(cli(['breakglass', 'execute', '--kbs', broker.url, '--id', 'recover-3', '--payload', payload]), 'E_QUORUM_NOT_MET');
  await cli(['breakglass', 'approve', '--kbs', broker.url, '--key', key('frank'), '--operator', 'frank', '--id', 'recover-3']);
  await rejectsWith(cli(['breakglass', 'execute', '--kbs', broker.url, '--id', 'recover-3', '--payload', payload]), 'E_TIMELOCK_NOT_ELAPSED');
  await rejectsWith(cli(['backup', 'restore', '--signer', 'signer-3', '--kbs', broker.url, '--request', 'recover-3']), 'E_BREAKGLASS_NOT_EXECUTED');

  broker.aheadMs += TIMELOCK_MS + 1_000;
  const executed = await cli(['breakglass', 'execute', '--kbs', broker.url, '--id', 'recover-3', '--payload', payload]);
  assert.equal((executed['state'] as R | undefined)?.['status'] ?? executed['status'], 'executed');

  const t0 = performance.now();
  const restored = await cli(['backup', 'restore', '--signer', 'signer-3', '--kbs', broker.url, '--request', 'recover-3']);
  const restoreMs = Math.round(performance.now() - t0);
  assert.equal(restored['identityKey'], lostIdentity, 'the restored signer is the lost one: same attested identity');
  assert.deepEqual(restored['wallets'], ['sol-r']);
  assert.equal(restored['backupSha256'], backup['backupSha256']);
  console.log(`restore of signer-3 through broker and host (CLI process included): ${restoreMs} ms`);

  // Its share is the lost one's: a refresh needs every party's share of the same key.
  const refreshed = (await refreshWallet(d.client, d.actors['alice']!, { orgId: DEMO_ORG, walletId: 'sol-r' })) as R;
  assert.deepEqual(refreshed['parties'], SIGNERS);

  // The request is used: a second restore is refused (the signer is no longer pristine, and the broker would refuse too).
  await rejectsWith(cli(['backup', 'restore', '--signer', 'signer-3', '--kbs', broker.url, '--request', 'recover-3']), 'E_RESTORE_NOT_PRISTINE');

  const kinds = broker.audit.events.map((e) => e.kind);
  assert.ok(kinds.includes('backup.recovered'), `broker audit: ${kinds.join(', ')}`);
  const signerAudit = (await d.client.get('/v1/audit')) as { signerId: string; kind: string }[];
  assert.ok(signerAudit.some((e) => e.signerId === 'signer-3' && e.kind === 'backup.restored'), 'the restore is in the restored signer\'s own audit chain');
});

test('the custody log verifies after the restore: one chain per signer, every entry under its attested key', async () => {
  const r = await cli(['audit', 'verify', '--log', join(dataDir, 'host', 'tlog')]);
  assert.equal(r['ok'], true, JSON.stringify(r).slice(-2000));
});

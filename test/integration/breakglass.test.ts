/**
 * Break-glass freeze and unfreeze across real processes (issue 7 item 6,
 * THREATS.md B33): three sim signers that got their sealing keys from the key
 * broker, the host and anvil. A guardian freezes a wallet through the CLI
 * (`custodian breakglass request`, immediate, one guardian); `custodian
 * breakglass apply` fetches the broker-signed execution and the host hands it
 * to every signer, which verifies it under the broker key it was launched
 * with; the frozen wallet then refuses to sign (E_WALLET_FROZEN) while another
 * wallet still signs. The unfreeze needs the break-glass quorum and the
 * time-lock; once executed and applied, the wallet signs again, and the old
 * freeze replayed by the host is refused as stale.
 *
 * The broker runs in this process so the test can move its monotonic clock
 * past the time-lock (the shortest a configuration allows is 60 s) instead of
 * waiting; the signers reach it over HTTP as they would `custodian kbs serve`.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Json } from '@custodian/core/canonical-json';
import { REPO_ROOT } from '@custodian/core/vectors';
import { BREAKGLASS_TIMELOCK_MS_MIN } from '@custodian/kbs/breakglass/breakglass';
import { approveRequest, buildTransfer, createWallet, proposeTx, waitForStatus } from '../../apps/cli/src/operations.js';
import { DEMO_ORG, DEMO_RECIPIENT, fund, startDeployment, type Deployment } from '../../scripts/lib/deployment.js';
import { CLI } from '../../scripts/lib/processes.js';
import { InProcessKbs, refused } from './helpers.js';

const run = promisify(execFile);
type R = Record<string, Json>;

let d: Deployment;
let dataDir: string;
/** The broker, in this process: break-glass 2 of alice/bob/frank (daily 1), guardian erin, the shortest time-lock (moved past, not waited for). */
const broker = new InProcessKbs((member) => ({ approvers: { threshold: 2, members: [member('alice'), member('bob'), member('frank')] }, dailyThreshold: 1, guardians: [member('erin')], timelockMs: BREAKGLASS_TIMELOCK_MS_MIN }));
const wallets = new Map<string, string>();

/** Runs the CLI as a process against the deployment's host; resolves with its exit code and last JSON line. */
async function cli(args: string[]): Promise<{ code: number; out: R }> {
  const argv = [CLI, ...args, '--host', String(d.host.ready['url']), '--json'];
  const done = await run(process.execPath, argv, { cwd: REPO_ROOT, maxBuffer: 16 * 1024 * 1024 }).then(
    (r) => ({ code: 0, stdout: r.stdout }),
    (e: { code?: number; stdout?: string }) => ({ code: typeof e.code === 'number' ? e.code : -1, stdout: String(e.stdout ?? '') }),
  );
  const last = done.stdout.trim().split('\n').pop() ?? '';
  return { code: done.code, out: (last === '' ? {} : JSON.parse(last)) as R };
}

/** The options naming the broker and a member's key file (written by the deployment). */
const as = (id: string): string[] => ['--kbs', broker.url, '--key', join(dataDir, 'operators', `${id}.key.json`), '--operator', id];
const errorCode = (r: { out: R }): unknown => (r.out['error'] as R | undefined)?.['code'];
const status = (r: { out: R }): unknown => (r.out['state'] as R | undefined)?.['status'];

/** Proposes a small transfer from the wallet and has the treasury approve it; resolves with the receipt status. */
async function spend(walletId: string): Promise<unknown> {
  const raw = await buildTransfer(d.client, wallets.get(walletId)!, DEMO_RECIPIENT, 1000n);
  const proposed = (await proposeTx(d.client, d.actors['dave']!, { orgId: DEMO_ORG, walletId, rawTx: raw })) as R;
  const requestId = String(proposed['requestId']);
  for (const who of ['bob', 'carol']) await approveRequest(d.client, d.actors[who]!, requestId);
  return (await waitForStatus(d.client, requestId, ['confirmed', 'failed'], 60_000))['receiptStatus'];
}

before(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'custodian-breakglass-it-'));
  d = await startDeployment({ dataDir, kbs: broker.start, maxValueWei: 10n ** 18n });
  for (const [walletId, signerId] of [['w-ice', 'signer-1'], ['w-free', 'signer-2']] as const) {
    const w = (await createWallet(d.client, d.actors['alice']!, { orgId: DEMO_ORG, walletId, signerId, scheme: 'single' })) as R;
    wallets.set(walletId, String(w['address']));
    await fund(d.anvil.url, String(w['address']), 10n ** 19n);
  }
});

after(async () => {
  await d?.stop();
});

test('B33 a guardian alone freezes a wallet through the CLI; apply delivers it to every signer; the wallet refuses to sign (E_WALLET_FROZEN), another still signs', async () => {
  assert.equal(await d.keyReleases(), 3, 'every signer got its sealing key from this broker');
  const freeze = JSON.stringify({ scope: 'wallet', walletId: 'w-ice' });
  // An approver is not a guardian: it cannot freeze alone.
  const lone = await cli(['breakglass', 'request', ...as('frank'), '--id', 'freeze-frank', '--action', 'freeze-wallet', '--payload', freeze]);
  assert.equal(lone.code, 1);
  assert.equal(errorCode(lone), 'E_BREAKGLASS_SIGNATURE_INVALID');

  const req = await cli(['breakglass', 'request', ...as('erin'), '--id', 'freeze-1', '--action', 'freeze-wallet', '--payload', freeze]);
  assert.equal(req.code, 0, JSON.stringify(req.out));
  assert.equal(status(req), 'executed', 'a freeze takes effect at once, without a time-lock');

  const applied = await cli(['breakglass', 'apply', '--kbs', broker.url, '--id', 'freeze-1']);
  assert.equal(applied.code, 0, JSON.stringify(applied.out));
  assert.deepEqual(
    (applied.out['applied'] as R[]).map((a) => [a['signerId'], a['ok']]),
    ['signer-1', 'signer-2', 'signer-3'].map((id) => [id, true]),
  );

  const raw = await buildTransfer(d.client, wallets.get('w-ice')!, DEMO_RECIPIENT, 1000n);
  await refused(proposeTx(d.client, d.actors['dave']!, { orgId: DEMO_ORG, walletId: 'w-ice', rawTx: raw }), 'E_WALLET_FROZEN');
  assert.equal(await spend('w-free'), 'success', 'a freeze of one wallet leaves the others signing');

  const list = await cli(['breakglass', 'list', '--kbs', broker.url]);
  const row = (list.out as unknown as R[]).find((r) => r['id'] === 'freeze-1');
  assert.equal(row?.['status'], 'executed');
  assert.equal(row?.['unlocksAtMs'], null);
});

test('B33 an unfreeze needs the quorum and the time-lock; once executed and applied the wallet signs again, and the replayed freeze is refused as stale', async () => {
  const unfreeze = JSON.stringify({ scope: 'wallet', walletId: 'w-ice' });
  assert.equal((await cli(['breakglass', 'request', ...as('alice'), '--id', 'unfreeze-1', '--action', 'unfreeze', '--payload', unfreeze])).code, 0);
  const early = await cli(['breakglass', 'execute', '--kbs', broker.url, '--id', 'unfreeze-1', '--payload', unfreeze]);
  assert.equal(errorCode(early), 'E_QUORUM_NOT_MET', 'one approval is not the break-glass quorum');
  const approved = await cli(['breakglass', 'approve', ...as('bob'), '--id', 'unfreeze-1']);
  assert.equal(status(approved), 'time-locked', JSON.stringify(approved.out));
  const locked = await cli(['breakglass', 'execute', '--kbs', broker.url, '--id', 'unfreeze-1', '--payload', unfreeze]);
  assert.equal(locked.code, 1);
  assert.equal(errorCode(locked), 'E_TIMELOCK_NOT_ELAPSED');
  // Nothing executed, nothing to deliver: the wallet stays frozen.
  const notYet = await cli(['breakglass', 'apply', '--kbs', broker.url, '--id', 'unfreeze-1']);
  assert.equal(notYet.code, 1);
  assert.equal(errorCode(notYet), 'E_BREAKGLASS_NOT_EXECUTED');
  const raw = await buildTransfer(d.client, wallets.get('w-ice')!, DEMO_RECIPIENT, 1000n);
  await refused(proposeTx(d.client, d.actors['dave']!, { orgId: DEMO_ORG, walletId: 'w-ice', rawTx: raw }), 'E_WALLET_FROZEN');

  broker.aheadMs += BREAKGLASS_TIMELOCK_MS_MIN + 1_000;
  const executed = await cli(['breakglass', 'execute', '--kbs', broker.url, '--id', 'unfreeze-1', '--payload', unfreeze]);
  assert.equal(status(executed), 'executed', JSON.stringify(executed.out));
  const applied = await cli(['breakglass', 'apply', '--kbs', broker.url, '--id', 'unfreeze-1']);
  assert.equal(applied.code, 0, JSON.stringify(applied.out));
  assert.equal(await spend('w-ice'), 'success', 'the unfrozen wallet signs again');

  // The host replays the older freeze: every signer refuses it, the CLI exits 1, the wallet keeps signing.
  const replay = await cli(['breakglass', 'apply', '--kbs', broker.url, '--id', 'freeze-1']);
  assert.equal(replay.code, 1);
  assert.equal(errorCode(replay), 'E_BREAKGLASS_NOT_APPLIED');
  const refusals = (((replay.out['error'] as R)['detail'] as R)['applied'] as R[]).map((a) => a['code']);
  assert.deepEqual(refusals, ['E_BREAKGLASS_STALE', 'E_BREAKGLASS_STALE', 'E_BREAKGLASS_STALE']);
  assert.equal(await spend('w-ice'), 'success');

  const kinds = broker.audit.events.filter((e) => String(e.body['id'] ?? '').endsWith('-1')).map((e) => e.kind);
  assert.deepEqual(kinds.filter((k) => k === 'breakglass.executed').length, 2, `broker audit: ${kinds.join(', ')}`);
});

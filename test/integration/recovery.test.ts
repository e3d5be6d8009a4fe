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
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Json } from '@custodian/core/canonical-json';
import { systemClock } from '@custodian/core/clock';
import { REPO_ROOT } from '@custodian/core/vectors';
import { openKbs, type KbsRuntime } from '@custodian/kbs/kbs-runtime';
import { createKbsServer, listenKbs } from '@custodian/kbs/server';
import { attestationAppraiser } from '@custodian/kbs/attestation-appraiser';
import { MemoryAuditSink } from '@custodian/kbs/audit-sink';
import { readSimRoot } from '../../apps/cli/src/commands/org.js';
import { createWallet, refreshWallet } from '../../apps/cli/src/operations.js';
import { DEMO_ORG, startDeployment, type Deployment, type ExternalKbs } from '../../scripts/lib/deployment.js';
import { CLI } from '../../scripts/lib/processes.js';

const run = promisify(execFile);
type R = Record<string, Json>;
const SIGNERS = ['signer-1', 'signer-2', 'signer-3'];
const TIMELOCK_MS = 60_000;

let d: Deployment;
let dataDir: string;
let kbs: KbsRuntime;
let kbsUrl: string;
const kbsAudit = new MemoryAuditSink();
/** Added to the broker's monotonic clock: the test moves trusted time, not the host's clock. */
let monotonicAheadMs = 0;

/** The broker, in this process: software root, sim appraisal, break-glass 3 of alice/bob/frank (daily 2), guardian erin. */
const inProcessKbs: ExternalKbs = async ({ dataDir: dir, manifest, simRootFile, actors }) => {
  const member = (id: string) => ({ id, publicKey: actors[id]!.key.publicKey });
  kbs = await openKbs({
    dataDir: join(dir, 'kbs'),
    root: { kind: 'software' },
    quorum: { threshold: 2, members: [member('alice'), member('bob')] },
    appraise: attestationAppraiser({ policy: { version: 1, allowSimulated: true } as never, clock: systemClock, simRootPublicKey: readSimRoot(simRootFile).publicKey }),
    audit: kbsAudit,
    manifest,
    breakglass: { approvers: { threshold: 3, members: [member('alice'), member('bob'), member('frank')] }, dailyThreshold: 2, guardians: [member('erin')], timelockMs: TIMELOCK_MS },
    monotonic: () => performance.now() + monotonicAheadMs,
    warn: () => undefined,
  });
  const server = createKbsServer({ broker: kbs.broker, root: kbs.root, measurements: kbs.measurements, manifests: kbs.manifests, trustedClock: kbs.trustedClock, ...(kbs.breakglass ? { breakglass: kbs.breakglass } : {}) });
  kbsUrl = await listenKbs(server, '127.0.0.1', 0);
  return {
    url: kbsUrl,
    hsm: 'software',
    dataDir: join(dir, 'kbs'),
    stop: async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await kbs.close();
    },
  };
};

/** Runs the CLI against the deployment's host; resolves with the last JSON line, or rejects with the error line's code. */
async function cli(args: string[]): Promise<R> {
  try {
    const { stdout } = await run(process.execPath, ['--import', 'tsx', CLI, ...args, '--host', String(d.host.ready['url']), '--json'], { cwd: REPO_ROOT, maxBuffer: 16 * 1024 * 1024 });
    return JSON.parse(stdout.trim().split('\n').pop()!) as R;
  } catch (e) {
    const out = String((e as { stdout?: string }).stdout ?? '').trim().split('\n').pop() ?? '';
    const err = (JSON.parse(out || '{}') as { error?: { code?: string; message?: string } }).error;
    throw Object.assign(new Error(`${err?.code ?? 'no code'}: ${err?.message ?? String(e)}`), { code: err?.code });
  }
}

const key = (id: string): string => join(dataDir, 'operators', `${id}.key.json`);
const rejectsWith = (p: Promise<unknown>, code: string) => assert.rejects(p, (e: { code?: string }) => e.code === code);

before(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'custodian-recovery-it-'));
  d = await startDeployment({ dataDir, kbs: inProcessKbs });
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
  await rejectsWith(cli(['backup', 'restore', '--signer', 'signer-3', '--kbs', kbsUrl, '--request', 'recover-3']), 'E_BREAKGLASS_UNKNOWN');

  await cli(['breakglass', 'request', '--kbs', kbsUrl, '--key', key('alice'), '--operator', 'alice', '--id', 'recover-3', '--action', 'recover-signer', '--payload', payload]);
  await cli(['breakglass', 'approve', '--kbs', kbsUrl, '--key', key('bob'), '--operator', 'bob', '--id', 'recover-3']);
  // Two of three is the daily quorum, not break-glass: still pending, then time-locked at three.
  await rejectsWith(cli(['breakglass', 'execute', '--kbs', kbsUrl, '--id', 'recover-3', '--payload', payload]), 'E_QUORUM_NOT_MET');
  await cli(['breakglass', 'approve', '--kbs', kbsUrl, '--key', key('frank'), '--operator', 'frank', '--id', 'recover-3']);
  await rejectsWith(cli(['breakglass', 'execute', '--kbs', kbsUrl, '--id', 'recover-3', '--payload', payload]), 'E_TIMELOCK_NOT_ELAPSED');
  await rejectsWith(cli(['backup', 'restore', '--signer', 'signer-3', '--kbs', kbsUrl, '--request', 'recover-3']), 'E_BREAKGLASS_NOT_EXECUTED');

  monotonicAheadMs += TIMELOCK_MS + 1_000;
  const executed = await cli(['breakglass', 'execute', '--kbs', kbsUrl, '--id', 'recover-3', '--payload', payload]);
  assert.equal((executed['state'] as R | undefined)?.['status'] ?? executed['status'], 'executed');

  const t0 = performance.now();
  const restored = await cli(['backup', 'restore', '--signer', 'signer-3', '--kbs', kbsUrl, '--request', 'recover-3']);
  const restoreMs = Math.round(performance.now() - t0);
  assert.equal(restored['identityKey'], lostIdentity, 'the restored signer is the lost one: same attested identity');
  assert.deepEqual(restored['wallets'], ['sol-r']);
  assert.equal(restored['backupSha256'], backup['backupSha256']);
  console.log(`restore of signer-3 through broker and host (CLI process included): ${restoreMs} ms`);

  // Its share is the lost one's: a refresh needs every party's share of the same key.
  const refreshed = (await refreshWallet(d.client, d.actors['alice']!, { orgId: DEMO_ORG, walletId: 'sol-r' })) as R;
  assert.deepEqual(refreshed['parties'], SIGNERS);

  // The request is used: a second restore is refused (the signer is no longer pristine, and the broker would refuse too).
  await rejectsWith(cli(['backup', 'restore', '--signer', 'signer-3', '--kbs', kbsUrl, '--request', 'recover-3']), 'E_RESTORE_NOT_PRISTINE');

  const kinds = kbsAudit.events.map((e) => e.kind);
  assert.ok(kinds.includes('backup.recovered'), `broker audit: ${kinds.join(', ')}`);
  const signerAudit = (await d.client.get('/v1/audit')) as { signerId: string; kind: string }[];
  assert.ok(signerAudit.some((e) => e.signerId === 'signer-3' && e.kind === 'backup.restored'), 'the restore is in the restored signer\'s own audit chain');
});

test('the custody log verifies after the restore: one chain per signer, every entry under its attested key', async () => {
  const { stdout } = await run(process.execPath, ['--import', 'tsx', CLI, 'audit', 'verify', '--log', join(dataDir, 'host', 'tlog'), '--json'], { cwd: REPO_ROOT, maxBuffer: 16 * 1024 * 1024 });
  const r = JSON.parse(stdout.trim().split('\n').pop()!) as R;
  assert.equal(r['ok'], true, stdout.slice(-2000));
});

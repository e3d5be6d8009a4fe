/**
 * The custody path step by step through the `custodian` command itself, as an
 * operator would run it: keys, manifest, wallet, proposal, approvals, status,
 * audit — each with --json and the exit-code contract.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from '@custodian/core/vectors';
import { buildEnclave } from '../../scripts/build-enclave.js';
import { CLI, startAnvil, startHostProcess, startSigner, type Proc } from '../../scripts/lib/processes.js';
import { fund, DEMO_RECIPIENT } from '../../scripts/lib/deployment.js';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'custodian-cli-'));
const procs: Proc[] = [];
let hostUrl = '';
let anvilUrl = '';
let measurement = '';

type J = Record<string, unknown>;

/** Runs the CLI; returns exit code and the last stdout line parsed. */
async function cli(...args: string[]): Promise<{ code: number; json: J; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, ...args, '--json', '--host', hostUrl], { cwd: REPO_ROOT });
    return { code: 0, json: JSON.parse(stdout.trim().split('\n').at(-1)!) as J, stderr };
  } catch (e) {
    const x = e as { code: number; stdout: string; stderr: string };
    return { code: x.code, json: JSON.parse(x.stdout.trim().split('\n').at(-1) || '{}') as J, stderr: x.stderr };
  }
}

before(async () => {
  measurement = await buildEnclave(REPO_ROOT);
  assert.equal((await cli('init', '--data-dir', dir)).code, 0);
  const anvil = await startAnvil();
  anvilUrl = anvil.url;
  procs.push(anvil);
  const signers = await Promise.all(['signer-1', 'signer-2'].map((id) => startSigner(id, join(dir, 'signers', id), join(dir, 'sim-root.json'))));
  procs.push(...signers);
  const host = await startHostProcess(join(dir, 'host'), signers.map((s, i) => ({ id: `signer-${i + 1}`, port: Number(s.ready['port']) })), anvil.url);
  procs.push(host);
  hostUrl = String(host.ready['url']);
});

after(async () => {
  for (const p of procs.reverse()) await p.stop();
});

test('the custody path runs command by command through the CLI', async () => {
  for (const [who, alg] of [['alice', 'ed25519'], ['dave', 'ed25519'], ['bob', 'ed25519'], ['carol', 'p256']] as const) {
    const r = await cli('operator', 'keygen', '--out', join(dir, `${who}.key`), '--alg', alg);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.json['alg'], alg);
  }
  const mf = join(dir, 'manifest.json');
  const created = await cli(
    'manifest', 'create', '--out', mf, '--org', 'acme', '--chain-id', '31337', '--sim-root', join(dir, 'sim-root.json'), '--measurement', measurement,
    '--operator', `id=alice,roles=admin,key=${join(dir, 'alice.key')}`,
    '--operator', `id=dave,roles=initiator,key=${join(dir, 'dave.key')}`,
    '--operator', `id=bob,roles=approver,groups=treasury,key=${join(dir, 'bob.key')}`,
    '--operator', `id=carol,roles=approver,groups=treasury,key=${join(dir, 'carol.key')}`,
    '--quorum', '2:alice,bob,carol', '--max-value-wei', '1000000000000000000', '--allow', DEMO_RECIPIENT, '--approvals', 'treasury:2',
  );
  assert.equal(created.code, 0, created.stderr);
  assert.equal((await cli('manifest', 'sign', '--manifest', mf, '--key', join(dir, 'alice.key'), '--operator', 'alice')).code, 0);
  const early = await cli('manifest', 'submit', '--manifest', mf);
  assert.equal(early.code, 1, 'one signature is below the quorum');
  assert.equal((early.json['error'] as J)['code'], 'E_MANIFEST_QUORUM');
  assert.equal((await cli('manifest', 'sign', '--manifest', mf, '--key', join(dir, 'carol.key'), '--operator', 'carol')).code, 0);
  const submitted = await cli('manifest', 'submit', '--manifest', mf);
  assert.equal(submitted.code, 0, submitted.stderr);

  const wallet = await cli('wallet', 'create', '--id', 'ops', '--signer', 'signer-2', '--key', join(dir, 'alice.key'), '--operator', 'alice');
  assert.equal(wallet.code, 0, wallet.stderr);
  const address = String(wallet.json['address']);
  assert.match(address, /^0x[0-9a-fA-F]{40}$/);
  await fund(anvilUrl, address, 10n ** 19n);
  const listed = await cli('wallet', 'list');
  assert.equal((listed.json['wallets'] as J[])[0]!['walletId'], 'ops');

  const denied = await cli('tx', 'propose', '--wallet', 'ops', '--to', DEMO_RECIPIENT, '--value-wei', '2000000000000000000', '--key', join(dir, 'dave.key'), '--operator', 'dave');
  assert.equal(denied.code, 1);
  assert.equal(denied.json['status'], 'denied');

  const proposed = await cli('tx', 'propose', '--wallet', 'ops', '--to', DEMO_RECIPIENT, '--value-wei', '1000', '--key', join(dir, 'dave.key'), '--operator', 'dave');
  assert.equal(proposed.code, 0, proposed.stderr);
  const id = String(proposed.json['requestId']);
  const wrong = await cli('tx', 'approve', '--request', id, '--key', join(dir, 'dave.key'), '--operator', 'dave');
  assert.equal(wrong.code, 1);
  assert.equal((wrong.json['error'] as J)['code'], 'E_ROLE_MISSING');
  for (const who of ['bob', 'carol']) {
    const a = await cli('tx', 'approve', '--request', id, '--key', join(dir, `${who}.key`), '--operator', who);
    assert.equal(a.code, 0, a.stderr);
  }
  let status: J = {};
  for (let i = 0; i < 100 && status['status'] !== 'confirmed'; i++) {
    status = (await cli('tx', 'status', '--request', id)).json;
    if (status['status'] !== 'confirmed') await new Promise((r) => setTimeout(r, 200));
  }
  assert.equal(status['receiptStatus'], 'success');
  assert.equal(((await cli('tx', 'list')).json['requests'] as J[]).length, 2);

  const audit = await cli('audit', 'list', '--request', id);
  assert.equal(audit.code, 0, audit.stderr);
  assert.equal(audit.json['ok'], true);
  // dave's refused approval is part of the request's story too.
  assert.deepEqual((audit.json['entries'] as J[]).map((e) => e['kind']), ['request.proposed', 'policy.decision', 'approval.rejected', 'approval.accepted', 'approval.accepted', 'sign.approved', 'signature.released']);
});

test('an operator who pinned the manifest hash refuses a host serving another manifest', async () => {
  process.env['CUSTODIAN_MANIFEST_HASH'] = 'ab'.repeat(32);
  try {
    const r = await cli('wallet', 'list');
    assert.equal(r.code, 1);
    assert.equal((r.json['error'] as J)['code'], 'E_MANIFEST_UNTRUSTED');
  } finally {
    delete process.env['CUSTODIAN_MANIFEST_HASH'];
  }
  const shown = await cli('manifest', 'show');
  process.env['CUSTODIAN_MANIFEST_HASH'] = String(shown.json['manifestHash']);
  try {
    assert.equal((await cli('wallet', 'list')).code, 0);
  } finally {
    delete process.env['CUSTODIAN_MANIFEST_HASH'];
  }
});

test('usage errors exit 2 and an unreachable host exits 3', async () => {
  assert.equal((await cli('tx', 'approve', '--bogus', 'x')).code, 2);
  const saved = hostUrl;
  hostUrl = 'http://127.0.0.1:1';
  try {
    const r = await cli('wallet', 'list');
    assert.equal(r.code, 3);
    assert.equal((r.json['error'] as J)['code'], 'E_HOST_UNAVAILABLE');
  } finally {
    hostUrl = saved;
  }
});

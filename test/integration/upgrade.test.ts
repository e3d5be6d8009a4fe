/**
 * A signer moved to a new enclave build across real processes (DESIGN.md
 * flow 6; issue 7 item 2): three sim signers, the host and anvil; a FROST
 * wallet of all three; a second enclave bundle (another measurement) started
 * as a pristine signer-1. The move is refused while the installed manifest
 * does not list the new measurement; once a manifest v2 signed by the quorum
 * lists it, `custodian signer migrate` moves signer-1's state there: same
 * identity, the wallet still refreshes (every party's share is needed), the
 * old process refuses with E_SIGNER_RETIRED, and the custody log verifies.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Json } from '@custodian/core/canonical-json';
import { REPO_ROOT } from '@custodian/core/vectors';
import { encodeSignedManifest, manifestHash, signManifest } from '@custodian/protocol/manifest';
import { createWallet, refreshWallet } from '../../apps/cli/src/operations.js';
import { SIM_ROOT_FILE } from '../../apps/cli/src/commands/org.js';
import { SignerLink } from '../../apps/host/src/signer-link.js';
import type { HostStore } from '../../apps/host/src/store.js';
import { DEMO_ORG, startDeployment, type Deployment } from '../../scripts/lib/deployment.js';
import { startSigner, type Proc } from '../../scripts/lib/processes.js';
import { cliJson } from './helpers.js';

type R = Record<string, Json>;
const SIGNERS = ['signer-1', 'signer-2', 'signer-3'];

let d: Deployment;
let dataDir: string;
let next: Proc;
let other: { path: string; measurement: string };
let oldEndpoint: string;

const cli = (args: string[]): Promise<R> => cliJson(d, args);

const rejectsWith = (p: Promise<unknown>, code: string) => assert.rejects(p, (e: { code?: string; message?: string }) => e.code === code || (e.message ?? '').includes(code));

/** The enclave bundle with a trailing comment: the same code, another measurement (the new build). */
function otherBuild(): { path: string; measurement: string } {
  const bytes = Buffer.concat([readFileSync(join(REPO_ROOT, 'dist/enclave/enclave.mjs')), Buffer.from('\n// build 2\n')]);
  const path = join(dataDir, 'enclave-v2.mjs');
  writeFileSync(path, bytes);
  return { path, measurement: createHash('sha384').update(bytes).digest('hex') };
}

before(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'custodian-upgrade-it-'));
  d = await startDeployment({ dataDir });
  await createWallet(d.client, d.actors['alice']!, { orgId: DEMO_ORG, walletId: 'sol-u', scheme: 'frost-ed25519', threshold: 2, signers: SIGNERS });
  other = otherBuild();
  // A pristine signer-1 of the new build, on its own data directory (its sealing key is its measurement's).
  next = await startSigner('signer-1', join(dataDir, 'signers', 'signer-1-v2'), join(dataDir, SIM_ROOT_FILE), undefined, 0, { bundle: other.path });
  oldEndpoint = `127.0.0.1:${Number(d.signers[0]!.ready['port'])}`;
});

after(async () => {
  await next?.stop();
  await d?.stop();
});

test('issue 7 item 2: no move to a build the installed manifest does not list (E_ATTEST_MEASUREMENT); signer-1 keeps serving', async () => {
  assert.notEqual(other.measurement, d.measurement);
  await rejectsWith(cli(['signer', 'migrate', '--signer', 'signer-1', '--to', `127.0.0.1:${Number(next.ready['port'])}`]), 'E_ATTEST_MEASUREMENT');
  const refreshed = (await refreshWallet(d.client, d.actors['alice']!, { orgId: DEMO_ORG, walletId: 'sol-u' })) as R;
  assert.deepEqual(refreshed['parties'], SIGNERS);
});

test('flow 6: under a manifest v2 listing the new build, signer-1 moves there with its identity and its share; the old process is retired', async () => {
  const v1 = d.signedManifest.payload as R;
  const payload: Json = { ...v1, version: 2, previousHash: manifestHash(v1), enclave: { ...(v1['enclave'] as R), measurements: [d.measurement, other.measurement] } };
  await d.client.post('/v1/manifest', encodeSignedManifest({ payload, signatures: ['alice', 'bob'].map((id) => signManifest(payload, id, d.actors[id]!.key)) }));
  const before = ((await d.client.get('/v1/signers')) as R[]).find((s) => s['signerId'] === 'signer-1')!;

  const moved = await cli(['signer', 'migrate', '--signer', 'signer-1', '--to', `127.0.0.1:${Number(next.ready['port'])}`]);
  assert.equal(moved['identityKey'], before['identityKey'], 'the new build is the same signer');
  assert.equal(moved['fromMeasurement'], d.measurement);
  assert.equal(moved['toMeasurement'], other.measurement);
  assert.deepEqual(moved['wallets'], ['sol-u']);
  const after = ((await d.client.get('/v1/signers')) as R[]).find((s) => s['signerId'] === 'signer-1')!;
  assert.equal(after['measurement'], other.measurement);
  assert.equal(after['endpoint'], `127.0.0.1:${Number(next.ready['port'])}`);

  // The migrated share is the old one: a refresh needs every party's share of the same key.
  const refreshed = (await refreshWallet(d.client, d.actors['alice']!, { orgId: DEMO_ORG, walletId: 'sol-u' })) as R;
  assert.deepEqual(refreshed['parties'], SIGNERS);

  // The old process still runs, and refuses everything but hello.
  const oldLink = new SignerLink('signer-1', oldEndpoint, {} as HostStore);
  try {
    await rejectsWith(oldLink.call('checkpoint.sign', {}), 'E_SIGNER_RETIRED');
    await rejectsWith(oldLink.call('wallet.refresh.abort', {}), 'E_SIGNER_RETIRED');
    assert.equal((await oldLink.hello()).signerId, 'signer-1');
  } finally {
    oldLink.close();
  }
  const audit = (await d.client.get('/v1/audit')) as { signerId: string; kind: string }[];
  const kinds = audit.filter((e) => e.signerId === 'signer-1').map((e) => e.kind);
  assert.equal(kinds.indexOf('state.migrated_in'), kinds.indexOf('state.migrated_out') + 1, 'the move is two consecutive entries of signer-1\'s chain');
  // Moving back to the retired build is refused by the retired build itself.
  await rejectsWith(cli(['signer', 'migrate', '--signer', 'signer-1', '--to', oldEndpoint]), 'E_SIGNER_RETIRED');
});

test('the custody log verifies after the move: one chain per signer, every entry under its attested key', async () => {
  const r = await cli(['audit', 'verify', '--log', join(dataDir, 'host', 'tlog')]);
  assert.equal(r['ok'], true, JSON.stringify(r).slice(-2000));
});

/**
 * Sealing keys by attested release, against real processes: the key broker
 * (`custodian kbs serve`) on a SoftHSM2 token through PKCS#11, three sim
 * signers started with `--kbs`, the host and anvil. The signers boot only
 * with a key the broker released after appraising their evidence; a restart
 * gets the same key again, so every wallet stays usable; an enclave build the
 * organisation manifest does not name is refused with the broker's reasons
 * until a manifest naming it is installed with the quorum; the broker's audit
 * has every release and refusal.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Json } from '@custodian/core/canonical-json';
import { REPO_ROOT } from '@custodian/core/vectors';
import { encodeSignedManifest, manifestHash, signManifest, type SignedManifest } from '@custodian/protocol/manifest';
import { verifyWorkloadCredential } from '@custodian/protocol/workload-credential';
import { hexToBytes } from '@custodian/core/bytes';
import { approveRequest, buildTransfer, createWallet, proposeTx, waitForStatus } from '../../apps/cli/src/operations.js';
import { verifyOrg } from '../../apps/cli/src/verify-org.js';
import { SIM_ROOT_FILE } from '../../apps/cli/src/commands/org.js';
import { DEMO_ORG, DEMO_RECIPIENT, fund, startDeployment, type Deployment } from '../../scripts/lib/deployment.js';
import { CLI, freePort, startSigner, type Proc } from '../../scripts/lib/processes.js';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

type R = Record<string, Json>;
let d: Deployment;
const wallets: { id: string; address: string }[] = [];
const dataDir = mkdtempSync(join(tmpdir(), 'custodian-kbs-it-'));
const extra: Proc[] = [];

before(async () => {
  d = await startDeployment({ dataDir, kbs: 'softhsm', maxValueWei: 10n ** 18n });
  const single = (await createWallet(d.client, d.actors['alice']!, { orgId: DEMO_ORG, walletId: 'w-single', signerId: 'signer-1', scheme: 'single' })) as R;
  const threshold = (await createWallet(d.client, d.actors['alice']!, { orgId: DEMO_ORG, walletId: 'w-threshold', scheme: 'ecdsa-dkls', threshold: 2, signers: ['signer-1', 'signer-2', 'signer-3'] })) as R;
  wallets.push({ id: 'w-single', address: String(single['address']) }, { id: 'w-threshold', address: String(threshold['address']) });
  for (const w of wallets) await fund(d.anvil.url, w.address, 10n ** 19n);
});

after(async () => {
  await Promise.all(extra.map((p) => p.stop()));
  await d?.stop();
});

interface KbsEvent {
  readonly kind: string;
  readonly body: Record<string, unknown>;
}

function kbsAudit(): KbsEvent[] {
  const text = readFileSync(join(d.kbs!.dataDir, 'kbs-audit.jsonl'), 'utf8');
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as KbsEvent);
}

async function spend(walletId: string, from: string): Promise<void> {
  const raw = await buildTransfer(d.client, from, DEMO_RECIPIENT, 1000n);
  const proposed = (await proposeTx(d.client, d.actors['dave']!, { orgId: DEMO_ORG, walletId, rawTx: raw })) as R;
  const requestId = String(proposed['requestId']);
  for (const who of ['bob', 'carol']) await approveRequest(d.client, d.actors[who]!, requestId);
  const done = await waitForStatus(d.client, requestId, ['confirmed', 'failed'], 60_000);
  assert.equal(done['receiptStatus'], 'success', `${walletId} could not sign after the restart`);
}

/** The enclave bundle with a trailing comment: the same code, another measurement (what an unapproved build looks like). */
function otherBuild(): { path: string; measurement: string } {
  const bytes = Buffer.concat([readFileSync(join(REPO_ROOT, 'dist/enclave/enclave.mjs')), Buffer.from('\n// another build, not in the manifest\n')]);
  const path = join(dataDir, 'other-enclave.mjs');
  writeFileSync(path, bytes);
  return { path, measurement: createHash('sha384').update(bytes).digest('hex') };
}

async function postManifest(signed: SignedManifest): Promise<{ status: number; json: R }> {
  const r = await fetch(`${d.kbs!.url}/v1/manifest`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(encodeSignedManifest(signed)) });
  return { status: r.status, json: (await r.json()) as R };
}

test('every signer booted with a sealing key the SoftHSM2-backed key broker released to its attested measurement', async () => {
  assert.equal(d.kbs?.hsm, 'pkcs11');
  for (const s of d.signers) assert.equal(s.ready['sealingKey'], 'kbs');
  assert.equal(await d.keyReleases(), 3);
  const released = kbsAudit().filter((e) => e.kind === 'kbs.key_released');
  assert.equal(released.length, 3);
  for (const e of released) assert.equal(e.body['measurement'], d.measurement);
  // Each release bound a different ephemeral key and a different nonce.
  assert.equal(new Set(released.map((e) => e.body['publicKey'])).size, 3);
  assert.equal(new Set(released.map((e) => e.body['nonce'])).size, 3);
});

test('workload identity: each signer holds a broker credential naming its identity key and measurement, which the host required (--kbs-key) and passed to its peers', async () => {
  const signing = hexToBytes(String(((await (await fetch(`${d.kbs!.url}/v1/kbs-public-key`)).json()) as R)['signing']));
  const listed = (await d.client.get('/v1/signers')) as unknown as R[];
  assert.equal(listed.length, 3);
  for (const rec of listed) {
    const nonce = 'ab'.repeat(32);
    const att = (await d.client.get(`/v1/signers/${String(rec['signerId'])}/attestation?nonce=${nonce}`)) as R;
    assert.equal(att['identityKey'], rec['identityKey']);
    const claims = verifyWorkloadCredential(att['credential']!, signing, Date.now(), { subjectKey: hexToBytes(String(rec['identityKey'])), measurement: d.measurement, platform: 'sim' });
    assert.equal(claims.measurement, rec['measurement']);
  }
  const issued = kbsAudit().filter((e) => e.kind === 'kbs.credential_issued');
  assert.deepEqual(new Set(issued.map((e) => e.body['publicKey'])), new Set(listed.map((r) => r['identityKey'])));
  assert.equal(kbsAudit().filter((e) => e.kind === 'kbs.credential_refused').length, 0);
});

test('a restart obtains the same sealing keys again: every wallet still verifies and signs', async () => {
  await d.restartAll();
  for (const s of d.signers) assert.equal(s.ready['sealingKey'], 'kbs');
  assert.equal(await d.keyReleases(), 6);
  const org = await verifyOrg(d.client);
  assert.equal(org.identityKeys.size, 3);
  const listed = (await d.client.get('/v1/wallets')) as R[];
  for (const w of wallets) assert.ok(listed.some((l) => l['walletId'] === w.id && String(l['address']).toLowerCase() === w.address.toLowerCase()), `${w.id} is listed after the restart`);
  for (const w of wallets) await spend(w.id, w.address);
});

test('B24 an enclave build the manifest does not name is refused with the broker reasons, fails to boot and seals nothing', async () => {
  const other = otherBuild();
  assert.notEqual(other.measurement, d.measurement);
  const signerDir = join(dataDir, 'signers', 'signer-x');
  await assert.rejects(
    startSigner('signer-x', signerDir, join(dataDir, SIM_ROOT_FILE), undefined, 0, { kbs: d.kbs!.url, bundle: other.path }),
    (e: Error) => {
      assert.match(e.message, /E_KBS_MEASUREMENT_NOT_APPROVED/);
      assert.match(e.message, /not listed in the organisation manifest acme-treasury version 1/);
      return true;
    },
  );
  assert.equal(existsSync(join(signerDir, 'sealed-state.bin')), false, 'a refused enclave sealed nothing');
  const refusal = kbsAudit().find((e) => e.kind === 'kbs.release_refused' && e.body['measurement'] === other.measurement);
  assert.ok(refusal, 'the refusal is in the broker audit');
  assert.equal(refusal.body['code'], 'E_KBS_MEASUREMENT_NOT_APPROVED');
  assert.ok(Array.isArray(refusal.body['reasons']) && (refusal.body['reasons'] as unknown[]).length > 0);
  assert.equal(await d.keyReleases(), 6, 'nothing was released');
});

test('the new build gets its key only once a manifest naming it is installed with the quorum of the installed manifest', async () => {
  const other = otherBuild();
  const v1 = d.signedManifest.payload as R;
  const payload: Json = { ...v1, version: 2, previousHash: manifestHash(v1), enclave: { ...(v1['enclave'] as R), measurements: [d.measurement, other.measurement] } };
  // One signature is below the quorum (2 of alice, bob, carol): refused and audited, nothing approved.
  const lone = await postManifest({ payload, signatures: [signManifest(payload, 'alice', d.actors['alice']!.key)] });
  assert.equal(lone.status, 403, JSON.stringify(lone.json));
  assert.equal((lone.json['error'] as R)['code'], 'E_MANIFEST_QUORUM');
  assert.ok(kbsAudit().some((e) => e.kind === 'kbs.manifest_refused' && e.body['code'] === 'E_MANIFEST_QUORUM'));
  // A manifest that skips a version is not a successor.
  const skipped: Json = { ...(payload as R), version: 3 };
  const skip = await postManifest({ payload: skipped, signatures: ['alice', 'carol'].map((id) => signManifest(skipped, id, d.actors[id]!.key)) });
  assert.equal((skip.json['error'] as R)['code'], 'E_MANIFEST_SEQUENCE');

  const ok = await postManifest({ payload, signatures: ['alice', 'carol'].map((id) => signManifest(payload, id, d.actors[id]!.key)) });
  assert.equal(ok.status, 200, JSON.stringify(ok.json));
  assert.deepEqual(ok.json['measurements'], [d.measurement, other.measurement]);
  assert.ok(kbsAudit().some((e) => e.kind === 'kbs.manifest_installed' && e.body['version'] === 2));

  const signer = await startSigner('signer-x', join(dataDir, 'signers', 'signer-x'), join(dataDir, SIM_ROOT_FILE), undefined, 0, { kbs: d.kbs!.url, bundle: other.path });
  extra.push(signer);
  assert.equal(signer.ready['sealingKey'], 'kbs');
  assert.equal(signer.ready['measurement'], other.measurement);
  assert.equal(await d.keyReleases(), 7);
  assert.ok(kbsAudit().some((e) => e.kind === 'kbs.key_released' && e.body['measurement'] === other.measurement));
});

test('a signer whose pinned broker key differs, or whose broker is unreachable, does not start', async () => {
  const args = (kbs: string, extraArgs: string[] = []): string[] => [CLI, 'signer', '--platform', 'sim', '--id', 'signer-y', '--data-dir', join(dataDir, 'signers', 'signer-y'), '--sim-root', join(dataDir, SIM_ROOT_FILE), '--kbs', kbs, ...extraArgs];
  const wrongKey = '04' + 'ab'.repeat(64);
  const pinned = await run(process.execPath, args(d.kbs!.url, ['--kbs-key', wrongKey]), { cwd: REPO_ROOT }).then(
    () => assert.fail('started with the wrong broker key'),
    (e: { code: number; stderr: string }) => e,
  );
  assert.equal(pinned.code, 1);
  assert.match(pinned.stderr, /E_KBS_KEY_MISMATCH/);
  const down = await run(process.execPath, args(`http://127.0.0.1:${await freePort()}`), { cwd: REPO_ROOT }).then(
    () => assert.fail('started without a broker'),
    (e: { code: number; stderr: string }) => e,
  );
  assert.match(down.stderr, /E_KBS_UNAVAILABLE/);
  assert.equal(existsSync(join(dataDir, 'signers', 'signer-y', 'sealed-state.bin')), false);
});

test('the broker run by `kbs serve --breakglass` on PKCS#11: a guardian freezes a wallet, the signers apply it, the request is listed; the audit file is a chain signed in the token', async () => {
  const kbsArgs = (id: string) => ['--kbs', d.kbs!.url, '--key', join(dataDir, 'operators', `${id}.key.json`), '--operator', id];
  const cli = async (args: string[]): Promise<R> => {
    const { stdout } = await run(process.execPath, ['--import', 'tsx', CLI, ...args, '--host', String(d.host.ready['url']), '--json'], { cwd: REPO_ROOT, maxBuffer: 16 * 1024 * 1024 });
    return JSON.parse(stdout.trim().split('\n').pop()!) as R;
  };
  const freeze = JSON.stringify({ scope: 'wallet', walletId: 'w-single' });
  const requested = await cli(['breakglass', 'request', ...kbsArgs('erin'), '--id', 'freeze-single', '--action', 'freeze-wallet', '--payload', freeze]);
  assert.equal((requested['state'] as R)['status'], 'executed');
  await cli(['breakglass', 'apply', '--kbs', d.kbs!.url, '--id', 'freeze-single']);
  const raw = await buildTransfer(d.client, wallets.find((w) => w.id === 'w-single')!.address, DEMO_RECIPIENT, 1000n);
  await assert.rejects(proposeTx(d.client, d.actors['dave']!, { orgId: DEMO_ORG, walletId: 'w-single', rawTx: raw }), (e: { code?: string }) => e.code === 'E_WALLET_FROZEN');
  // An unfreeze waits for three approvals and the 48 h time-lock: one approver's request stays pending.
  await cli(['breakglass', 'request', ...kbsArgs('alice'), '--id', 'unfreeze-single', '--action', 'unfreeze', '--payload', freeze]);
  const { stdout } = await run(process.execPath, ['--import', 'tsx', CLI, 'breakglass', 'list', '--kbs', d.kbs!.url, '--json'], { cwd: REPO_ROOT });
  const listed = JSON.parse(stdout.trim().split('\n').pop()!) as R[];
  assert.deepEqual(listed.map((r) => [r['id'], r['status']]), [['freeze-single', 'executed'], ['unfreeze-single', 'pending']]);

  const verified = await cli(['kbs', 'audit', 'verify', '--file', join(d.kbs!.dataDir, 'kbs-audit.jsonl'), '--kbs', d.kbs!.url]);
  assert.equal(verified['ok'], true);
  const kinds = verified['kinds'] as Record<string, number>;
  for (const k of ['kbs.key_released', 'kbs.credential_issued', 'breakglass.executed', 'breakglass.requested']) assert.ok((kinds[k] ?? 0) > 0, `${k} in ${JSON.stringify(kinds)}`);
});

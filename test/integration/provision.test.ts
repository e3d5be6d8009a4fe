/**
 * Quorum provisioning end to end (issue 7 item 4): the dealer splits a secret
 * 2-of-3 with `custodian provision split`; two root-quorum members approve the
 * split (`provision approve`; with one approval the signer opens nothing);
 * each member's `custodian provision
 * post` verifies the signer process's announcement (root-quorum manifest, sim
 * root, expected measurement, binding of identity key, enclave key, split and
 * challenge) and posts its share through the untrusted host. A wrong
 * measurement stops the member before anything is posted; a share that does
 * not match its commitment is refused and audited naming the member; the
 * signer reconstructs at the threshold, audits provision.completed, and the
 * sealed secret survives a restart of the signer process.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { isCustodianError } from '@custodian/core/errors';
import type { Json } from '@custodian/core/canonical-json';
import { bytesToHex, hexToBytes } from '@custodian/core/bytes';
import { REPO_ROOT } from '@custodian/core/vectors';
import { hpkeSeal } from '@custodian/core/hpke-seal';
import { openMemberShare, provisioningNonce } from '@custodian/tss/shamir/member';
import { ENCLAVE_SHARE_INFO, postingAad, shareInfo } from '@custodian/tss/shamir/contexts';
import { encodeShareManifest, manifestHash } from '@custodian/tss/shamir/share-manifest';
import { readApprovals, readEncryptedShare, readMemberKey, readShareManifest } from '../../apps/cli/src/commands/provision.js';
import { DEMO_ORG, startDeployment, type Deployment } from '../../scripts/lib/deployment.js';
import { CLI } from '../../scripts/lib/processes.js';

const run = promisify(execFile);
type R = Record<string, Json>;
let d: Deployment;
let dir: string;

before(async () => {
  d = await startDeployment({ dataDir: mkdtempSync(join(tmpdir(), 'custodian-provision-it-')) });
  dir = mkdtempSync(join(tmpdir(), 'custodian-provision-members-'));
});

after(async () => {
  await d?.stop();
});

/** Runs the CLI; answers its exit code and its last JSON line. */
async function cli(...args: string[]): Promise<{ code: number; out: R }> {
  try {
    const { stdout } = await run(process.execPath, [CLI, ...args, '--json', '--host', String(d.host.ready['url'])], { cwd: REPO_ROOT });
    return { code: 0, out: JSON.parse(stdout.trim().split('\n').at(-1)!) as R };
  } catch (e) {
    const x = e as { code?: number; stdout?: string };
    return { code: x.code ?? -1, out: JSON.parse(String(x.stdout).trim().split('\n').at(-1)!) as R };
  }
}

test('provision: 2-of-3 split with the CLI; members verify the signer process and post; a wrong measurement and a wrong share are refused; the sealed secret survives a restart', async () => {
  const members = ['m0', 'm1', 'm2'];
  for (const m of members) assert.equal((await cli('provision', 'keygen', '--out', join(dir, `${m}.key.json`))).code, 0);
  const secret = new Uint8Array(randomBytes(32));
  writeFileSync(join(dir, 'secret.hex'), bytesToHex(secret) + '\n', { mode: 0o600 });
  const split = await cli('provision', 'split', '--secret-file', join(dir, 'secret.hex'), '--threshold', '2', ...members.flatMap((m) => ['--member', `${m}=${join(dir, `${m}.key.json.pub`)}`]), '--out', join(dir, 'split'));
  assert.equal(split.code, 0, JSON.stringify(split.out));
  const manifestFile = join(dir, 'split', 'share-manifest.json');
  const manifest = readShareManifest(manifestFile);
  const mh = bytesToHex(manifestHash(manifest));
  assert.equal(split.out['shareManifestHash'], mh);
  const approvalsFile = join(dir, 'split', 'approvals.json');
  const approveAs = (op: string) => cli('provision', 'approve', '--share-manifest', manifestFile, '--org', DEMO_ORG, '--operator', op, '--key', join(d.dataDir, 'operators', `${op}.key.json`), '--approvals', approvalsFile);
  const post = (m: string, measurement = d.measurement) =>
    cli('provision', 'post', '--signer', 'signer-1', '--share-manifest', manifestFile, '--approvals', approvalsFile, '--share', join(dir, 'split', `share-${m}.json`), '--key', join(dir, `${m}.key.json`), '--measurement', measurement);

  // One root-quorum approval of the two required: the signer opens nothing.
  assert.equal((await approveAs('alice')).code, 0);
  const unapproved = await post('m0');
  assert.equal(unapproved.code, 1);
  assert.equal((unapproved.out['error'] as R)['code'], 'E_PROVISION_UNAPPROVED');
  const approved = await approveAs('bob');
  assert.deepEqual(approved.out['approvedBy'], ['alice', 'bob']);

  // A member expecting another measurement posts nothing.
  const wrongMeasurement = await post('m0', 'ab'.repeat(48));
  assert.equal(wrongMeasurement.code, 1);
  assert.equal((wrongMeasurement.out['error'] as R)['code'], 'E_SHAMIR_ENCLAVE_REFUSED');

  // m1 bypasses its CLI and posts an altered share through the host: refused, audited naming m1.
  const ann = (await d.client.post('/v1/signers/signer-1/provision/announce', { shareManifest: encodeShareManifest(manifest), approvals: readApprovals(approvalsFile).approvals, challenge: bytesToHex(randomBytes(32)) })) as R;
  const enclaveKey = hexToBytes(String(ann['enclaveKey']));
  const own = await openMemberShare(manifest, readEncryptedShare(join(dir, 'split', 'share-m1.json')), readMemberKey(join(dir, 'm1.key.json')).privateKey);
  const altered = Uint8Array.from(own.expose());
  altered[0]! ^= 1;
  const forged = await hpkeSeal(enclaveKey, altered, shareInfo(ENCLAVE_SHARE_INFO, manifestHash(manifest), 'm1'), postingAad(enclaveKey, provisioningNonce(manifest)));
  await assert.rejects(d.client.post('/v1/signers/signer-1/provision/share', { shareManifestHash: mh, memberId: 'm1', enc: bytesToHex(forged.enc), ciphertext: bytesToHex(forged.ciphertext) }), (e) => isCustodianError(e, 'E_SHARE_COMMITMENT_MISMATCH'));

  const first = await post('m0');
  assert.equal(first.code, 0, JSON.stringify(first.out));
  assert.equal(first.out['complete'], false);
  assert.equal(first.out['accepted'], 1);
  const second = await post('m2');
  assert.equal(second.code, 0, JSON.stringify(second.out));
  assert.equal(second.out['complete'], true);
  assert.deepEqual(second.out['members'], ['m0', 'm2']);

  const audit = JSON.stringify(await d.client.get('/v1/audit'));
  assert.ok(audit.includes('provision.share_refused') && audit.includes('E_SHARE_COMMITMENT_MISMATCH'), 'the wrong share is audited');
  assert.ok(audit.includes('provision.completed') && audit.includes(mh), 'completion is audited with the share-manifest hash');
  assert.ok(!audit.includes(bytesToHex(secret)), 'the secret is in no audit entry');

  // Sealed: after a restart of the signer process it still holds the secret and takes no more shares.
  await d.restartSigner(0);
  const late = await post('m1');
  assert.equal(late.code, 1);
  assert.equal((late.out['error'] as R)['code'], 'E_PROVISION_COMPLETE');
});

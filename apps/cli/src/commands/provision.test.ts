/**
 * `custodian provision keygen|split` offline, and the CLI's report-data
 * binding against the enclave's (the CLI may not import the enclave, so the
 * two are kept equal by this test).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bytesToHex, equalBytes } from '@custodian/core/bytes';
import { isCustodianError } from '@custodian/core/errors';
import { secretCommitment } from '@custodian/tss/shamir/share-manifest';
import { openMemberShare } from '@custodian/tss/shamir/member';
import { provisioningReportData as enclaveReportData } from '../../../enclave/src/provisioning-ops.js';
import { provisionCommand, provisioningReportData, readEncryptedShare, readMemberKey, readShareManifest } from './provision.js';

/** Runs the command quietly; answers its exit code and the last JSON line it printed. */
async function quiet(args: string[]): Promise<{ code: number; out: Record<string, unknown> }> {
  const lines: string[] = [];
  const write = process.stdout.write.bind(process.stdout);
  const ewrite = process.stderr.write.bind(process.stderr);
  // Only the command's text is captured: the test runner's own (binary) reports pass through.
  process.stdout.write = ((s: string | Uint8Array, ...rest: unknown[]) => (typeof s === 'string' ? (lines.push(s), true) : (write as (...a: unknown[]) => boolean)(s, ...rest))) as typeof process.stdout.write;
  process.stderr.write = (() => true) as typeof process.stderr.write;
  try {
    const code = await provisionCommand([...args, '--json']);
    return { code, out: JSON.parse(lines.join('').trim().split('\n').at(-1) ?? '{}') as Record<string, unknown> };
  } finally {
    process.stdout.write = write;
    process.stderr.write = ewrite;
  }
}

test('keygen and split: a 2-of-3 split whose shares each open only with their member key and reconstruct the committed secret', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'custodian-provision-cli-'));
  for (const m of ['alice', 'bob', 'carol']) assert.equal((await quiet(['keygen', '--out', join(dir, `${m}.key`)])).code, 0);
  assert.equal(statSync(join(dir, 'alice.key')).mode & 0o777, 0o600);
  // Never overwrites a key.
  const again = await quiet(['keygen', '--out', join(dir, 'alice.key')]);
  assert.equal((again.out['error'] as { code: string }).code, 'E_IO');
  const secret = new Uint8Array(randomBytes(32));
  writeFileSync(join(dir, 'secret.hex'), `${bytesToHex(secret)}\n`);
  const members = ['alice', 'bob', 'carol'].flatMap((m) => ['--member', `${m}=${join(dir, `${m}.key.pub`)}`]);
  const r = await quiet(['split', '--secret-file', join(dir, 'secret.hex'), '--threshold', '2', ...members, '--out', join(dir, 'out')]);
  assert.equal(r.code, 0, JSON.stringify(r.out));
  const manifest = readShareManifest(join(dir, 'out', 'share-manifest.json'));
  assert.equal(manifest.threshold, 2);
  assert.equal(manifest.secretCommitment, secretCommitment(manifest.setId, secret));
  assert.ok(!readFileSync(join(dir, 'out', 'share-manifest.json'), 'utf8').includes(bytesToHex(secret)));
  const bob = readEncryptedShare(join(dir, 'out', 'share-bob.json'));
  await openMemberShare(manifest, bob, readMemberKey(join(dir, 'bob.key')).privateKey);
  await assert.rejects(openMemberShare(manifest, bob, readMemberKey(join(dir, 'alice.key')).privateKey), (e) => isCustodianError(e, 'E_HPKE_OPEN_FAILED'));

  // Bad input: a threshold above the members, a secret that is not hex, a tampered key file.
  const tooHigh = await quiet(['split', '--secret-file', join(dir, 'secret.hex'), '--threshold', '4', ...members, '--out', join(dir, 'out4')]);
  assert.equal((tooHigh.out['error'] as { code: string }).code, 'E_SHAMIR_MANIFEST_INVALID');
  writeFileSync(join(dir, 'bad.hex'), 'not hex');
  const notHex = await quiet(['split', '--secret-file', join(dir, 'bad.hex'), '--threshold', '2', ...members, '--out', join(dir, 'out5')]);
  assert.equal((notHex.out['error'] as { code: string }).code, 'E_SHAMIR_SECRET_INVALID');
  const key = JSON.parse(readFileSync(join(dir, 'carol.key'), 'utf8')) as Record<string, string>;
  writeFileSync(join(dir, 'carol-bad.key'), JSON.stringify({ ...key, publicKey: bytesToHex(randomBytes(32)) }));
  assert.throws(() => readMemberKey(join(dir, 'carol-bad.key')), (e) => isCustodianError(e, 'E_KEY_INVALID'));
});

test('the CLI binds the announcement exactly as the enclave does', () => {
  const parts = [32, 32, 32, 32].map((n) => new Uint8Array(randomBytes(n))) as [Uint8Array, Uint8Array, Uint8Array, Uint8Array];
  assert.ok(equalBytes(provisioningReportData(...parts), enclaveReportData(...parts)));
  assert.ok(!equalBytes(provisioningReportData(parts[0], parts[1], parts[2], parts[3]), provisioningReportData(parts[1], parts[0], parts[2], parts[3])));
});

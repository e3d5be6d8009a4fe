/**
 * Genesis against real processes: signers refuse a manifest without the root
 * quorum, the host refuses signers whose evidence does not match the
 * manifest's measurement, and signers refuse peers running another bundle.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, appendFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:net';
import { randomBytes } from 'node:crypto';
import { CustodianError, isCustodianError } from '@custodian/core/errors';
import type { Json } from '@custodian/core/canonical-json';
import { bytesToHex } from '@custodian/core/bytes';
import { REPO_ROOT } from '@custodian/core/vectors';
import { RpcPeer } from '@custodian/protocol/frame-rpc';
import { encodeSignedManifest, signManifest } from '@custodian/protocol/manifest';
import { decodeAuditEntry, decodeEnclaveSigned, statementHash } from '@custodian/protocol/enclave-signed';
import { startSimSigner, type SimSigner } from '../../apps/host/src/sim-launcher.js';
import { readSimRoot, SIM_ROOT_FILE } from '../../apps/cli/src/commands/org.js';
import { startDeployment, type Deployment } from '../../scripts/lib/deployment.js';

type R = Record<string, Json>;
let d: Deployment;
let rogue: SimSigner | null = null;

before(async () => {
  d = await startDeployment({ dataDir: mkdtempSync(join(tmpdir(), 'custodian-genesis-')), install: false });
});

after(async () => {
  await rogue?.stop();
  await d?.stop();
});

async function refused(p: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(p, (e) => isCustodianError(e, code) || assert.fail(`expected ${code}, got ${(e as { code?: string }).code}: ${(e as Error).message}`));
}

/** A direct connection to a signer that records the audit entries it is asked to append. */
async function directLink(port: number, entries: Json[]): Promise<RpcPeer> {
  const socket = connect({ host: '127.0.0.1', port });
  await new Promise((res) => socket.once('connect', res));
  return new RpcPeer(socket, async (op, body) => {
    if (op !== 'audit.append') throw new CustodianError('E_UNKNOWN_OP', op);
    const e = decodeEnclaveSigned((body as R)['entry'] as Json, 'entry');
    entries.push(e.statement);
    return { hash: statementHash(e.statement) };
  });
}

async function auditedCodes(kind: string): Promise<string[]> {
  const rows = (await d.client.get('/v1/audit')) as R[];
  return rows.filter((r) => r['kind'] === kind).map((r) => String((((r['entry'] as R)['statement'] as R)['data'] as R)['code']));
}

test('signers refuse a manifest signed by fewer than the quorum, and audit the refusal', async () => {
  const one = { payload: d.signedManifest.payload, signatures: d.signedManifest.signatures.slice(0, 1) };
  await refused(d.client.post('/v1/manifest', encodeSignedManifest(one)), 'E_MANIFEST_QUORUM');
  assert.equal((await auditedCodes('manifest.rejected')).filter((c) => c === 'E_MANIFEST_QUORUM').length, 3);
});

test('a signer refuses a manifest signed by fewer than the quorum, even from a host that skips the check', async () => {
  const peer = await directLink(Number(d.signers[0]!.ready['port']), []);
  try {
    const one = { payload: d.signedManifest.payload, signatures: [d.signedManifest.signatures[0]!, d.signedManifest.signatures[0]!] };
    await refused(peer.call('manifest.install', { signedManifest: encodeSignedManifest(one) }), 'E_MANIFEST_QUORUM');
    // A signature by a non-member (dave) does not count either.
    const dave = signManifest(d.signedManifest.payload, 'dave', d.actors['dave']!.key);
    await refused(peer.call('manifest.install', { signedManifest: encodeSignedManifest({ payload: d.signedManifest.payload, signatures: [d.signedManifest.signatures[0]!, dave] }) }), 'E_MANIFEST_QUORUM');
    const hello = (await peer.call('hello', { nonce: bytesToHex(randomBytes(32)) })) as R;
    assert.equal(hello['phase'], 'AWAITING_MANIFEST');
  } finally {
    peer.close();
  }
});

test('signers whose evidence does not match the expected measurement are refused, and it is audited', async () => {
  const payload = { ...(d.signedManifest.payload as R), enclave: { ...((d.signedManifest.payload as R)['enclave'] as R), measurements: ['ab'.repeat(48)] } };
  const signed = { payload, signatures: [signManifest(payload, 'alice', d.actors['alice']!.key), signManifest(payload, 'carol', d.actors['carol']!.key)] };
  await refused(d.client.post('/v1/manifest', encodeSignedManifest(signed)), 'E_ATTEST_MEASUREMENT');
  assert.equal((await auditedCodes('manifest.rejected')).filter((c) => c === 'E_ATTEST_MEASUREMENT').length, 3);
});

test('with the right manifest installed, signers refuse a peer running another bundle, and audit it', async () => {
  const res = (await d.client.post('/v1/manifest', encodeSignedManifest(d.signedManifest))) as R;
  for (const v of res['peerVerdicts'] as R[]) assert.equal((v['rejected'] as Json[]).length, 0);
  const modified = join(d.dataDir, 'enclave-modified.mjs');
  copyFileSync(join(REPO_ROOT, 'dist/enclave/enclave.mjs'), modified);
  appendFileSync(modified, '\n// one extra byte changes the measurement\n');
  rogue = await startSimSigner({ signerId: 'signer-9', bundlePath: modified, dataDir: join(d.dataDir, 'rogue'), root: readSimRoot(join(d.dataDir, SIM_ROOT_FILE)), port: 0, stderr: 'ignore' });
  const rogueEntries: Json[] = [];
  const rogueLink = await directLink(rogue.port, rogueEntries);
  const nonce = bytesToHex(randomBytes(32));
  const hello = (await rogueLink.call('hello', { nonce })) as R;
  rogueLink.close();
  const entries: Json[] = [];
  const peer = await directLink(Number(d.signers[0]!.ready['port']), entries);
  try {
    const verdict = (await peer.call('peers.install', { peers: [{ signerId: 'signer-9', identityKey: hello['identityKey']!, nonce, evidence: hello['evidence']! }] })) as R;
    assert.equal((verdict['accepted'] as Json[]).length, 0);
    assert.equal(((verdict['rejected'] as R[])[0]!)['code'], 'E_ATTEST_MEASUREMENT');
    // The same evidence presented with another identity key fails the binding.
    const v2 = (await peer.call('peers.install', { peers: [{ signerId: 'signer-9', identityKey: 'cd'.repeat(32), nonce, evidence: hello['evidence']! }] })) as R;
    assert.equal(((v2['rejected'] as R[])[0]!)['code'], 'E_ATTEST_BINDING');
  } finally {
    peer.close();
  }
  const kinds = entries.map((e) => decodeAuditEntry(e));
  assert.ok(kinds.some((e) => e.kind === 'attest.rejected' && (e.data as R)['code'] === 'E_ATTEST_MEASUREMENT'));
});

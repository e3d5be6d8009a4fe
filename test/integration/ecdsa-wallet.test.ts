/**
 * A 2-of-3 threshold ECDSA (DKLs23) wallet across the three sim signer
 * enclaves, relayed by the untrusted host: key generation, an EIP-1559
 * transfer mined by anvil, a hostile relay (tampering, replaying) refused by
 * the enclaves' HPKE peer channels, and availability: one signer down still
 * signs (F04), two down signs nothing (E_QUORUM_UNAVAILABLE).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:net';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { CustodianError } from '@custodian/core/errors';
import type { Json } from '@custodian/core/canonical-json';
import { bytesToHex, hexToBytes } from '@custodian/core/bytes';
import { decodeUnsignedEip1559, eip1559SigningDigest } from '@custodian/chains/evm/eip1559';
import { addressFromPublicKey, toChecksumAddress } from '@custodian/chains/evm/address';
import { decodeRlp } from '@custodian/chains/evm/rlp';
import { RpcPeer } from '@custodian/protocol/frame-rpc';
import { decodeEnclaveSigned, statementHash } from '@custodian/protocol/enclave-signed';
import { decodePeerEnvelope } from '@custodian/protocol/hpke/peer-envelope';
import { envelopeHeader, type RelayedEnvelope } from '@custodian/protocol/mpc-relay';
import { ThresholdRelay, type RelayTap } from '../../apps/host/src/threshold-relay.js';
import { approveRequest, buildTransfer, createWallet, proposeTx, verifyThresholdWallet, waitForStatus } from '../../apps/cli/src/operations.js';
import { verifyOrg } from '../../apps/cli/src/verify-org.js';
import { DEMO_ORG, DEMO_RECIPIENT, fund, startDeployment, type Deployment } from '../../scripts/lib/deployment.js';
import { auditEntries, refused, signedApproval } from './helpers.js';
import { CLI } from '../../scripts/lib/processes.js';
import { REPO_ROOT } from '@custodian/core/vectors';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

type R = Record<string, Json>;
const SIGNERS = ['signer-1', 'signer-2', 'signer-3'];
let d: Deployment;
let from = '';
let publicKey = '';

before(async () => {
  d = await startDeployment({ dataDir: mkdtempSync(join(tmpdir(), 'custodian-ecdsa-it-')), maxValueWei: 10n ** 18n });
  const w = await createWallet(d.client, d.actors['alice']!, { orgId: DEMO_ORG, walletId: 'tw1', scheme: 'ecdsa-dkls', threshold: 2, signers: SIGNERS });
  const listed = ((await d.client.get('/v1/wallets')) as R[]).find((x) => x['walletId'] === 'tw1')!;
  const verified = verifyThresholdWallet(await verifyOrg(d.client), listed);
  assert.equal(verified.address, (w as R)['address']);
  from = verified.address;
  publicKey = verified.publicKey;
  await fund(d.anvil.url, from, 10n ** 20n);
});

after(async () => {
  await d?.stop();
});

async function propose(): Promise<R> {
  const raw = await buildTransfer(d.client, from, DEMO_RECIPIENT, 1000n);
  return (await proposeTx(d.client, d.actors['dave']!, { orgId: DEMO_ORG, walletId: 'tw1', rawTx: raw })) as R;
}

/**
 * A hostile relay: its own connections to the signers (acknowledging their
 * audit entries without storing them, as a host could) and a tap on every
 * envelope. Connections to stopped signers fail as for the real host.
 */
async function hostileRelay(tap: RelayTap | null): Promise<{ relay: ThresholdRelay; up: ReadonlySet<string>; peers: ReadonlyMap<string, RpcPeer>; close: () => void }> {
  const peers = new Map<string, RpcPeer>();
  for (const [i, id] of SIGNERS.entries()) {
    const port = Number(d.signers[i]!.ready['port']);
    const socket = connect({ host: '127.0.0.1', port });
    const ok = await new Promise<boolean>((res) => {
      socket.once('connect', () => res(true));
      socket.once('error', () => res(false));
    });
    if (!ok) continue;
    peers.set(
      id,
      new RpcPeer(socket, async (op, body) => {
        if (op !== 'audit.append') throw new CustodianError('E_UNKNOWN_OP', op);
        return { hash: statementHash(decodeEnclaveSigned((body as R)['entry'] as Json, 'entry').statement) };
      }),
    );
  }
  const endpoint = (signerId: string) => ({
    signerId,
    call: (op: string, body: Json) => {
      const p = peers.get(signerId);
      return p ? p.call(op, body) : Promise.reject(new CustodianError('E_SIGNER_UNAVAILABLE', `${signerId} is down`));
    },
  });
  return { relay: new ThresholdRelay(endpoint, tap), up: new Set(peers.keys()), peers, close: () => peers.forEach((p) => p.close()) };
}

function signBody(r: R, approvals: Json[], signers: readonly string[], combiner: string): Json {
  return { kind: 'sign', proposal: r['proposal']!, approvals, signers: [...signers], combiner };
}

test('a 2-of-3 ecdsa-dkls wallet: every signer attests the same key; a transfer is signed, mined, and verifies under plain secp256k1', async () => {
  assert.equal(toChecksumAddress(addressFromPublicKey(hexToBytes(publicKey))), from);
  const r = await propose();
  const id = String(r['requestId']);
  assert.equal(r['status'], 'pending');
  await approveRequest(d.client, d.actors['bob']!, id);
  await approveRequest(d.client, d.actors['carol']!, id);
  const done = await waitForStatus(d.client, id, ['confirmed', 'failed']);
  assert.equal(done['receiptStatus'], 'success');
  // The signature verifies under plain secp256k1 ECDSA and recovers to the wallet address.
  const signed = hexToBytes(String(done['signedTx']));
  const fields = decodeRlp(signed.subarray(1), signed.length) as Uint8Array[];
  const [yParity, rBytes, sBytes] = fields.slice(-3) as [Uint8Array, Uint8Array, Uint8Array];
  const big = (b: Uint8Array): bigint => (b.length === 0 ? 0n : BigInt('0x' + bytesToHex(b)));
  const digest = eip1559SigningDigest(decodeUnsignedEip1559(hexToBytes(String((((r['proposal'] as R)['payload'] as R)['rawTx'])))));
  const sig = new secp256k1.Signature(big(rBytes), big(sBytes), Number(big(yParity)));
  assert.ok(secp256k1.verify(sig.toBytes('compact'), digest, hexToBytes(publicKey), { prehash: false, lowS: true }));
  assert.equal(toChecksumAddress(addressFromPublicKey(sig.recoverPublicKey(digest).toBytes(true))), from);
  // Each signer of the session audited its own decision; the combiner audited the release.
  const entries = await auditEntries(d, id);
  const approvedBy = entries.filter((e) => e.kind === 'sign.approved').map((e) => e.signerId);
  assert.equal(approvedBy.length, 2);
  const released = entries.filter((e) => e.kind === 'signature.released');
  assert.equal(released.length, 1);
  assert.ok(approvedBy.includes(released[0]!.signerId));
});

test('custodian wallet refresh: new shares across the three signers for the same key (committed on every confirmation); the wallet still signs and the transfer is mined', async () => {
  const { stdout } = await run(process.execPath, [CLI, 'wallet', 'refresh', '--wallet', 'tw1', '--key', join(d.dataDir, 'operators', 'alice.key.json'), '--operator', 'alice', '--json', '--host', String(d.host.ready['url'])], { cwd: REPO_ROOT });
  const r = JSON.parse(stdout.trim().split('\n').at(-1)!) as R;
  assert.deepEqual(r['parties'], SIGNERS);
  assert.equal(r['address'], from, 'same key, same address');
  console.log(`ecdsa-dkls 2-of-3 refresh across three signers: ${String(r['refreshedInMs'])} ms`);
  // Every signer audited its commit of this very session.
  const rows = (await d.client.get('/v1/audit')) as R[];
  const committed = rows.filter((x) => x['kind'] === 'wallet.refreshed' && (((x['entry'] as R)['statement'] as R)['data'] as R)['sessionId'] === r['sessionId']).map((x) => String(x['signerId']));
  assert.deepEqual(committed.sort(), SIGNERS);
  const p = await propose();
  const id = String(p['requestId']);
  await approveRequest(d.client, d.actors['bob']!, id);
  await approveRequest(d.client, d.actors['carol']!, id);
  const done = await waitForStatus(d.client, id, ['confirmed', 'failed']);
  assert.equal(done['receiptStatus'], 'success');
});

test('custodian wallet create --scheme ecdsa-dkls creates a 2-of-3 wallet that wallet list verifies against every signer', async () => {
  const cli = async (...args: string[]): Promise<R> => {
    const { stdout } = await run(process.execPath, [CLI, ...args, '--json', '--host', String(d.host.ready['url'])], { cwd: REPO_ROOT });
    return JSON.parse(stdout.trim().split('\n').at(-1)!) as R;
  };
  const key = join(d.dataDir, 'operators', 'alice.key.json');
  const w = await cli('wallet', 'create', '--scheme', 'ecdsa-dkls', '--threshold', '2', '--signers', SIGNERS.join(','), '--id', 'tw-cli', '--key', key, '--operator', 'alice');
  assert.equal(w['scheme'], 'ecdsa-dkls');
  assert.equal(w['threshold'], 2);
  assert.deepEqual(w['signers'], SIGNERS);
  const listed = ((await cli('wallet', 'list'))['wallets'] as R[]).find((x) => x['walletId'] === 'tw-cli')!;
  assert.equal(listed['address'], w['address']);
  assert.notEqual(w['address'], from, 'a new key, not the first wallet\'s');
  // The CLI proposes and approves on the threshold wallet, verifying its signers' attestations on the way.
  const ops = join(d.dataDir, 'operators');
  const r = await cli('tx', 'propose', '--wallet', 'tw-cli', '--to', DEMO_RECIPIENT, '--value-wei', '1000', '--key', join(ops, 'dave.key.json'), '--operator', 'dave');
  assert.equal(r['status'], 'pending');
  const a = await cli('tx', 'approve', '--request', String(r['requestId']), '--key', join(ops, 'bob.key.json'), '--operator', 'bob');
  assert.deepEqual((a['approvals'] as R[]).map((x) => x['operatorId']), ['bob']);
});

test('the relay sees only ciphertext: no envelope carries the session id or a protocol message in the clear', async () => {
  const r = await propose();
  const seen: RelayedEnvelope[] = [];
  const { relay, close } = await hostileRelay((e) => {
    seen.push(e);
    return [e];
  });
  try {
    const out = await relay.run(['signer-1', 'signer-2'], signBody(r, [signedApproval(d, 'bob', r), signedApproval(d, 'carol', r)], ['signer-1', 'signer-2'], 'signer-1'));
    assert.ok(out.results.get('signer-1'), 'the combiner released a signature');
    assert.ok(seen.length >= 5);
    for (const e of seen) {
      const env = decodePeerEnvelope(new TextEncoder().encode(e.envelope));
      assert.deepEqual(Object.keys(JSON.parse(e.envelope) as object).sort(), ['ct', 'enc', 'from', 'seq', 'sessionId', 'suite', 'to', 'v']);
      // An EcdsaMessage in the clear starts with version 1 and carries the 32-byte session id.
      assert.ok(!bytesToHex(env.ct).includes(String(out.sessionId)), 'the session id does not appear in the ciphertext');
      assert.ok(env.sessionId === `mpc-${String(out.sessionId)}`);
    }
  } finally {
    close();
  }
});

test('a tampered relayed message is refused (E_PEER_AUTH_FAILED), the session ends and nothing is released', async () => {
  const r = await propose();
  const { relay, close } = await hostileRelay((e, round) => {
    if (round !== 2 || envelopeHeader(e.envelope).to !== 'signer-1') return [e];
    const json = JSON.parse(e.envelope) as Record<string, unknown>;
    const ct = String(json['ct']);
    json['ct'] = (ct[0] === '0' ? '1' : '0') + ct.slice(1);
    return [{ to: e.to, envelope: JSON.stringify(Object.fromEntries(Object.keys(json).sort().map((k) => [k, json[k]]))) }];
  });
  try {
    const e = await refused(relay.run(['signer-1', 'signer-2'], signBody(r, [signedApproval(d, 'bob', r), signedApproval(d, 'carol', r)], ['signer-1', 'signer-2'], 'signer-1')), 'E_PEER_AUTH_FAILED');
    assert.equal(e.detail['signerId'], 'signer-1');
  } finally {
    close();
  }
});

test('L08 a replayed relayed message is refused (E_PEER_REPLAY): round 1 delivered again in round 2', async () => {
  const r = await propose();
  const earlier = new Map<string, RelayedEnvelope>();
  const { relay, close } = await hostileRelay((e, round) => {
    if (round === 1) earlier.set(e.to, e);
    if (round === 2 && e.to === 'signer-2') return [earlier.get('signer-2')!];
    return [e];
  });
  try {
    await refused(relay.run(['signer-1', 'signer-2'], signBody(r, [signedApproval(d, 'bob', r), signedApproval(d, 'carol', r)], ['signer-1', 'signer-2'], 'signer-1')), 'E_PEER_REPLAY');
  } finally {
    close();
  }
});

test('F04 with one signer stopped the other two still sign, and the transfer is mined', async () => {
  await d.signers[0]!.stop();
  try {
    const r = await propose();
    const id = String(r['requestId']);
    await approveRequest(d.client, d.actors['bob']!, id);
    await approveRequest(d.client, d.actors['carol']!, id);
    const done = await waitForStatus(d.client, id, ['confirmed', 'failed']);
    assert.equal(done['receiptStatus'], 'success');
    const signers = (await auditEntries(d, id)).filter((e) => e.kind === 'sign.approved').map((e) => e.signerId).sort();
    assert.deepEqual(signers, ['signer-2', 'signer-3']);
  } finally {
    await d.restartSigner(0);
  }
});

test('F04 a signer killed mid-session: the relay sets it aside and another 2-subset signs in a new session', async () => {
  const r = await propose();
  const approvals = [signedApproval(d, 'bob', r), signedApproval(d, 'carol', r)];
  let killed = false;
  const { relay, peers, close } = await hostileRelay((e, round) => {
    if (round === 2 && !killed) {
      killed = true;
      void d.signers[1]!.stop('SIGKILL');
    }
    return [e];
  });
  const sets: string[][] = [];
  try {
    const out = await relay.sign(SIGNERS, 2, async (id) => peers.get(id)?.closed === false, (signers, combiner) => {
      sets.push([...signers]);
      return signBody(r, approvals, signers, combiner);
    });
    assert.ok(killed);
    assert.deepEqual(sets, [['signer-1', 'signer-2'], ['signer-1', 'signer-3']]);
    assert.deepEqual(out.signers, ['signer-1', 'signer-3']);
    assert.match(String((out.answer as R)['signedTx']), /^0x02/);
  } finally {
    close();
    await d.restartSigner(1);
  }
});

test('a 3-of-3 wallet with a signer down stays approved but unsigned (E_QUORUM_UNAVAILABLE recorded) and is signed once the signer is back', async () => {
  const w = (await createWallet(d.client, d.actors['alice']!, { orgId: DEMO_ORG, walletId: 'tw-3of3', scheme: 'ecdsa-dkls', threshold: 3, signers: SIGNERS })) as R;
  const addr = String(w['address']);
  await fund(d.anvil.url, addr, 10n ** 19n);
  const raw = await buildTransfer(d.client, addr, DEMO_RECIPIENT, 1000n);
  const r = (await proposeTx(d.client, d.actors['dave']!, { orgId: DEMO_ORG, walletId: 'tw-3of3', rawTx: raw })) as R;
  const id = String(r['requestId']);
  await d.signers[2]!.stop();
  let restarted = false;
  try {
    await approveRequest(d.client, d.actors['bob']!, id);
    const { result } = await approveRequest(d.client, d.actors['carol']!, id);
    assert.equal((result as R)['status'], 'pending');
    assert.equal((result as R)['error'], 'E_QUORUM_UNAVAILABLE');
    assert.equal((result as R)['signedTx'], null);
    assert.ok(!(await auditEntries(d, id)).some((e) => e.kind === 'sign.approved'), 'no signer even started');
    await d.restartSigner(2);
    restarted = true;
    const done = await waitForStatus(d.client, id, ['confirmed', 'failed']);
    assert.equal(done['receiptStatus'], 'success');
    assert.equal(done['error'], null);
    assert.deepEqual((await auditEntries(d, id)).filter((e) => e.kind === 'sign.approved').map((e) => e.signerId).sort(), SIGNERS);
  } finally {
    if (!restarted) await d.restartSigner(2);
  }
});

// With two of three signers down the real host cannot even accept the last approval (its audit entry
// needs a cosigning majority, F01: E_AUDIT_UNAVAILABLE), so the signing step is driven here by the
// relay itself, over its own connections, exactly as the host's signing path calls it.
test('with two signers stopped: E_QUORUM_UNAVAILABLE and nothing signed', async () => {
  const r = await propose();
  const approvals = [signedApproval(d, 'bob', r), signedApproval(d, 'carol', r)];
  await d.signers[1]!.stop();
  await d.signers[2]!.stop();
  const { relay, up, close } = await hostileRelay(null);
  assert.deepEqual([...up], ['signer-1']);
  const reachable = async (id: string): Promise<boolean> => up.has(id);
  let sessions = 0;
  try {
    await refused(
      relay.sign(SIGNERS, 2, reachable, (signers, combiner) => {
        sessions += 1;
        return signBody(r, approvals, signers, combiner);
      }),
      'E_QUORUM_UNAVAILABLE',
    );
    assert.equal(sessions, 0, 'no session was even opened');
    // Through the host the request cannot gather a signature either.
    const view = (await d.client.get(`/v1/requests/${String(r['requestId'])}`)) as R;
    assert.equal(view['signedTx'], null);
  } finally {
    close();
    await d.restartSigner(1);
    await d.restartSigner(2);
  }
});

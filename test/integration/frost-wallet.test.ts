/**
 * FROST wallets (frost-ed25519 for Solana, frost-secp256k1-tr for Bitcoin
 * taproot) across the three sim signer enclaves, relayed by the untrusted
 * host through the same threshold relay and HPKE mesh as ecdsa-dkls: key
 * generation with no dealer, every party attesting the same group key and
 * address, the host seeing ciphertext only, a tampered or replayed message
 * refused, and the sealed shares surviving a restart of every signer.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:net';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { CustodianError, isCustodianError } from '@custodian/core/errors';
import type { Json } from '@custodian/core/canonical-json';
import { hexToBytes } from '@custodian/core/bytes';
import { REPO_ROOT } from '@custodian/core/vectors';
import { base58Encode } from '@custodian/chains/sol/base58';
import { taprootTweakPublicKey } from '@custodian/chains/btc/bip341';
import { encodeSegwitAddress } from '@custodian/chains/btc/segwit-address';
import { encodeSignedRequest, signRequest } from '@custodian/protocol/operator-request';
import { WALLET_CREATE_TYPE, type ThresholdScheme } from '@custodian/protocol/payloads';
import { RpcPeer } from '@custodian/protocol/frame-rpc';
import { decodeEnclaveSigned, statementHash } from '@custodian/protocol/enclave-signed';
import { decodePeerEnvelope } from '@custodian/protocol/hpke/peer-envelope';
import { envelopeHeader, type RelayedEnvelope } from '@custodian/protocol/mpc-relay';
import { ThresholdRelay, type RelayTap } from '../../apps/host/src/threshold-relay.js';
import { buildTransfer, createWallet, newNonce, proposeTx, verifyAnyWallet, verifyThresholdWallet } from '../../apps/cli/src/operations.js';
import { verifyOrg } from '../../apps/cli/src/verify-org.js';
import { DEMO_ORG, DEMO_RECIPIENT, startDeployment, type Deployment } from '../../scripts/lib/deployment.js';
import { CLI } from '../../scripts/lib/processes.js';

const run = promisify(execFile);

type R = Record<string, Json>;
const SIGNERS = ['signer-1', 'signer-2', 'signer-3'];
let d: Deployment;
const dkgMs: Record<string, number> = {};

before(async () => {
  d = await startDeployment({ dataDir: mkdtempSync(join(tmpdir(), 'custodian-frost-it-')), maxValueWei: 10n ** 18n });
  for (const [walletId, scheme] of [['sol1', 'frost-ed25519'], ['btc1', 'frost-secp256k1-tr']] as const) {
    const t0 = performance.now();
    await createWallet(d.client, d.actors['alice']!, { orgId: DEMO_ORG, walletId, scheme, threshold: 2, signers: SIGNERS });
    dkgMs[scheme] = Math.round(performance.now() - t0);
  }
});

after(async () => {
  // Figures for the report (not asserted): DKG latency across the three signer processes.
  console.log(`frost DKG 2-of-3 across three signers (ms): ${JSON.stringify(dkgMs)}`);
  await d?.stop();
});

async function listed(walletId: string): Promise<R> {
  return ((await d.client.get('/v1/wallets')) as R[]).find((x) => x['walletId'] === walletId)!;
}

async function refused(p: Promise<unknown>, code: string): Promise<CustodianError> {
  try {
    await p;
  } catch (e) {
    assert.ok(isCustodianError(e, code), `expected ${code}, got ${String((e as Error).message)} (${(e as { code?: string }).code})`);
    return e as CustodianError;
  }
  assert.fail(`expected ${code}, but it succeeded`);
}

/** An admin's signed request to create a 2-of-3 wallet, as the relay hands it to mpc.open. */
function dkgBody(walletId: string, scheme: ThresholdScheme): Json {
  const payload = { type: WALLET_CREATE_TYPE, orgId: DEMO_ORG, walletId, scheme, threshold: 2, parties: SIGNERS, nonce: newNonce(), createdAtMs: Date.now() };
  return { kind: 'dkg', request: encodeSignedRequest(signRequest(payload, 'alice', d.actors['alice']!.key)) };
}

/** A hostile relay: its own connections to the signers (acknowledging audit entries without storing them) and a tap on every envelope. */
async function hostileRelay(tap: RelayTap | null): Promise<{ relay: ThresholdRelay; close: () => void }> {
  const peers = new Map<string, RpcPeer>();
  for (const [i, id] of SIGNERS.entries()) {
    const socket = connect({ host: '127.0.0.1', port: Number(d.signers[i]!.ready['port']) });
    await new Promise<void>((res, rej) => {
      socket.once('connect', () => res());
      socket.once('error', rej);
    });
    peers.set(
      id,
      new RpcPeer(socket, async (op, body) => {
        if (op !== 'audit.append') throw new CustodianError('E_UNKNOWN_OP', op);
        return { hash: statementHash(decodeEnclaveSigned((body as R)['entry'] as Json, 'entry').statement) };
      }),
    );
  }
  const endpoint = (signerId: string) => ({ signerId, call: (op: string, body: Json) => peers.get(signerId)!.call(op, body) });
  return { relay: new ThresholdRelay(endpoint, tap), close: () => peers.forEach((p) => p.close()) };
}

test('a 2-of-3 frost-ed25519 wallet: every signer attests the same group key, and the address is its Solana base58 form', async () => {
  const w = verifyThresholdWallet(await verifyOrg(d.client), await listed('sol1'));
  assert.equal(w.scheme, 'frost-ed25519');
  assert.equal(w.threshold, 2);
  assert.deepEqual(w.signers, SIGNERS);
  assert.equal(hexToBytes(w.publicKey).length, 32);
  assert.equal(w.address, base58Encode(hexToBytes(w.publicKey)));
  assert.equal(w.outputKey, w.publicKey);
  assert.equal(((await listed('sol1'))['statements'] as Json[]).length, 3);
});

test('a 2-of-3 frost-secp256k1-tr wallet: every signer attests the internal key, the BIP86 output key and its P2TR address', async () => {
  const w = verifyThresholdWallet(await verifyOrg(d.client), await listed('btc1'));
  assert.equal(w.scheme, 'frost-secp256k1-tr');
  const internal = hexToBytes(w.publicKey);
  assert.equal(internal.length, 33);
  const q = taprootTweakPublicKey(internal.slice(1));
  assert.equal(w.outputKey, Buffer.from(q).toString('hex'));
  assert.equal(w.network, 'regtest');
  assert.equal(w.address, encodeSegwitAddress('regtest', 1, q));
  assert.match(w.address, /^bcrt1p[02-9ac-hj-np-z]{58}$/);
});

test('custodian wallet create --scheme frost-ed25519 and frost-secp256k1-tr, and wallet list verifies them against every signer', async () => {
  const cli = async (...args: string[]): Promise<R> => {
    const { stdout } = await run(process.execPath, [CLI, ...args, '--json', '--host', String(d.host.ready['url'])], { cwd: REPO_ROOT });
    return JSON.parse(stdout.trim().split('\n').at(-1)!) as R;
  };
  const key = join(d.dataDir, 'operators', 'alice.key.json');
  const w = await cli('wallet', 'create', '--scheme', 'frost-ed25519', '--threshold', '2', '--signers', SIGNERS.join(','), '--id', 'sol-cli', '--key', key, '--operator', 'alice');
  assert.equal(w['scheme'], 'frost-ed25519');
  assert.deepEqual(w['signers'], SIGNERS);
  const all = (await cli('wallet', 'list'))['wallets'] as R[];
  const sol = all.find((x) => x['walletId'] === 'sol-cli')!;
  assert.equal(sol['address'], w['address']);
  assert.notEqual(sol['address'], (await listed('sol1'))['address'], 'a new key, not the first wallet\'s');
  assert.deepEqual(all.filter((x) => ['sol1', 'btc1', 'sol-cli'].includes(String(x['walletId']))).map((x) => x['scheme']).sort(), ['frost-ed25519', 'frost-ed25519', 'frost-secp256k1-tr']);
});

test('an EVM transaction proposed on a FROST wallet is refused (E_SCHEME_MISMATCH): these wallets never sign EVM transactions', async () => {
  const raw = await buildTransfer(d.client, DEMO_RECIPIENT, DEMO_RECIPIENT, 1000n);
  for (const walletId of ['sol1', 'btc1']) await refused(proposeTx(d.client, d.actors['dave']!, { orgId: DEMO_ORG, walletId, rawTx: raw }), 'E_SCHEME_MISMATCH');
});

test('the relay sees only ciphertext: FROST DKG envelopes carry no share, commitment or session id in the clear', async () => {
  const seen: RelayedEnvelope[] = [];
  const { relay, close } = await hostileRelay((e) => {
    seen.push(e);
    return [e];
  });
  try {
    const out = await relay.run(SIGNERS, dkgBody('spy1', 'frost-ed25519'));
    assert.equal(out.results.size, 3);
    const keys = [...out.results.values()].map((r) => String(((r as R)['statement'] as R)['publicKey']));
    assert.equal(new Set(keys).size, 1, 'every signer derived the same group key');
    // 3 rounds (round-1 broadcast, echo, shares), each 3 signers × 2 peers.
    assert.equal(seen.length, 18);
    for (const e of seen) {
      const env = decodePeerEnvelope(new TextEncoder().encode(e.envelope));
      assert.deepEqual(Object.keys(JSON.parse(e.envelope) as object).sort(), ['ct', 'enc', 'from', 'seq', 'sessionId', 'suite', 'to', 'v']);
      assert.equal(env.sessionId, `mpc-${String(out.sessionId)}`);
      assert.ok(!e.envelope.includes('frost/'), 'no FROST message kind in the clear');
      assert.ok(!e.envelope.includes(keys[0]!), 'the group key does not appear');
    }
  } finally {
    close();
  }
});

test('a tampered FROST DKG echo is refused (E_PEER_AUTH_FAILED), the session ends before any share is delivered, and no wallet is created', async () => {
  const { relay, close } = await hostileRelay((e, round) => {
    if (round !== 2 || envelopeHeader(e.envelope).to !== 'signer-2') return [e];
    const json = JSON.parse(e.envelope) as Record<string, unknown>;
    const ct = String(json['ct']);
    json['ct'] = (ct[0] === '0' ? '1' : '0') + ct.slice(1);
    return [{ to: e.to, envelope: JSON.stringify(Object.fromEntries(Object.keys(json).sort().map((k) => [k, json[k]]))) }];
  });
  try {
    const e = await refused(relay.run(SIGNERS, dkgBody('tamper1', 'frost-secp256k1-tr')), 'E_PEER_AUTH_FAILED');
    assert.equal(e.detail['signerId'], 'signer-2');
  } finally {
    close();
  }
  // The session ended everywhere: the same wallet id is still free, and a clean run creates it.
  const { relay: clean, close: close2 } = await hostileRelay(null);
  try {
    const out = await clean.run(SIGNERS, dkgBody('tamper1', 'frost-secp256k1-tr'));
    assert.equal(out.results.size, 3);
  } finally {
    close2();
  }
});

test('L08 a replayed FROST DKG message is refused (E_PEER_REPLAY): a round-1 broadcast delivered again as an echo', async () => {
  const earlier = new Map<string, RelayedEnvelope>();
  const { relay, close } = await hostileRelay((e, round) => {
    if (round === 1 && e.to === 'signer-3') earlier.set(envelopeHeader(e.envelope).from, e);
    if (round === 2 && e.to === 'signer-3') return [earlier.get(envelopeHeader(e.envelope).from)!];
    return [e];
  });
  try {
    await refused(relay.run(SIGNERS, dkgBody('replay1', 'frost-ed25519')), 'E_PEER_REPLAY');
  } finally {
    close();
  }
});

test('restarting every signer keeps the FROST wallets: sealed shares reload, a second creation of the same id is refused (E_WALLET_EXISTS)', async () => {
  for (let i = 0; i < SIGNERS.length; i++) await d.restartSigner(i);
  const org = await verifyOrg(d.client);
  for (const id of ['sol1', 'btc1']) verifyAnyWallet(org, await listed(id));
  const { relay, close } = await hostileRelay(null);
  try {
    await refused(relay.run(SIGNERS, dkgBody('sol1', 'frost-ed25519')), 'E_WALLET_EXISTS');
    await refused(relay.run(SIGNERS, dkgBody('spy1', 'frost-ed25519')), 'E_WALLET_EXISTS');
  } finally {
    close();
  }
});

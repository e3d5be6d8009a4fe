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
import { mkdtempSync, readFileSync } from 'node:fs';
import { ed25519 } from '@noble/curves/ed25519.js';
import { schnorr } from '@noble/curves/secp256k1.js';
import * as btc from '@scure/btc-signer';
import { LiteSVM } from 'litesvm';
import { getTransactionDecoder } from '@solana/kit';
import { compileTestMessageBytes, systemTransfer } from '@custodian/chains/sol/test-messages';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:net';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { CustodianError } from '@custodian/core/errors';
import type { Json } from '@custodian/core/canonical-json';
import { bytesToHex, hexToBytes } from '@custodian/core/bytes';
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
import { approveRequest, buildTransfer, createWallet, newNonce, proposeTx, verifyAnyWallet, verifyThresholdWallet, waitForStatus } from '../../apps/cli/src/operations.js';
import { verifyOrg } from '../../apps/cli/src/verify-org.js';
import { DEMO_ORG, DEMO_RECIPIENT, DEMO_RULEBOOK_DIR, startDeployment, type Deployment } from '../../scripts/lib/deployment.js';
import { refused } from './helpers.js';
import { CLI } from '../../scripts/lib/processes.js';

const run = promisify(execFile);
const BOOK = JSON.parse(readFileSync(join(DEMO_RULEBOOK_DIR, 'address-book.json'), 'utf8')) as { entries: { chain: string; address: string }[] };
/** The demo address book's recipient on `chain`. */
const listedOn = (chain: string): string => BOOK.entries.find((e) => e.chain === chain)!.address;
const REGTEST = { bech32: 'bcrt', pubKeyHash: 0x6f, scriptHash: 0xc4, wif: 0xef };
const signMs: number[] = [];

type R = Record<string, Json>;
const SIGNERS = ['signer-1', 'signer-2', 'signer-3'];
let d: Deployment;
const dkgMs: Record<string, number> = {};

before(async () => {
  d = await startDeployment({ dataDir: mkdtempSync(join(tmpdir(), 'custodian-frost-it-')), maxValueWei: 10n ** 18n, rulebook: DEMO_RULEBOOK_DIR });
  for (const [walletId, scheme] of [['sol1', 'frost-ed25519'], ['btc1', 'frost-secp256k1-tr']] as const) {
    const t0 = performance.now();
    await createWallet(d.client, d.actors['alice']!, { orgId: DEMO_ORG, walletId, scheme, threshold: 2, signers: SIGNERS });
    dkgMs[scheme] = Math.round(performance.now() - t0);
  }
});

after(async () => {
  // Figures for the report (not asserted): DKG latency across the three signer processes.
  console.log(`frost DKG 2-of-3 across three signers (ms): ${JSON.stringify(dkgMs)}; last approval → signed (ms): ${JSON.stringify(signMs)}`);
  await d?.stop();
});

async function listed(walletId: string): Promise<R> {
  return ((await d.client.get('/v1/wallets')) as R[]).find((x) => x['walletId'] === walletId)!;
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

/** The CLI as an operator runs it (last JSON line of stdout). */
async function cli(...args: string[]): Promise<R> {
  const { stdout } = await run(process.execPath, [CLI, ...args, '--json', '--host', String(d.host.ready['url'])], { cwd: REPO_ROOT });
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as R;
}

/** Proposes through the CLI as dave, approves as bob and carol (each CLI checks the enclave's summary against the bytes), waits for the signature. */
async function proposeApproveSign(walletId: string, raw: Uint8Array): Promise<R> {
  const key = (id: string): string => join(d.dataDir, 'operators', `${id}.key.json`);
  const proposed = await cli('tx', 'propose', '--wallet', walletId, '--raw-base64', Buffer.from(raw).toString('base64'), '--key', key('dave'), '--operator', 'dave');
  assert.equal(proposed['status'], 'pending', JSON.stringify(proposed['reasons']));
  const requestId = String(proposed['requestId']);
  await approveRequest(d.client, d.actors['bob']!, requestId);
  const t0 = performance.now();
  const { check } = await approveRequest(d.client, d.actors['carol']!, requestId);
  const done = await waitForStatus(d.client, requestId, ['signed', 'failed'], 60_000);
  signMs.push(Math.round(performance.now() - t0));
  assert.equal(done['status'], 'signed', String(done['error']));
  return { ...done, checkedText: check.text };
}

test('a Solana transfer from the frost-ed25519 wallet: proposed with the CLI, decided by the demo rulebook, approved by two, signed across the signer processes and executed by litesvm', async () => {
  const w = verifyThresholdWallet(await verifyOrg(d.client), await listed('sol1'));
  const svm = new LiteSVM();
  svm.airdrop(w.address as never, 3_000_000_000n as never);
  const to = listedOn('solana-devnet');
  const raw = compileTestMessageBytes({ payer: w.address, instructions: [systemTransfer(w.address, to, 500_000_000n)], blockhash: String(svm.latestBlockhash()) });
  const done = await proposeApproveSign('sol1', raw);
  assert.match(String(done['checkedText']), /Send 0\.5 SOL \(500000000 lamports\) to /);
  const signedTx = hexToBytes(String(done['signedTx']));
  assert.ok(ed25519.verify(signedTx.slice(1, 65), raw, hexToBytes(w.publicKey)), 'plain Ed25519 verifies the FROST signature');
  const result = svm.sendTransaction(getTransactionDecoder().decode(signedTx) as never);
  assert.equal(result.constructor.name, 'TransactionMetadata', `litesvm refused: ${String((result as { err?: () => unknown }).err?.())}`);
  assert.equal(svm.getBalance(to as never), 500_000_000n);
  assert.equal(done['txHash'], base58Encode(signedTx.slice(1, 65)));
});

test('a taproot spend from the frost-secp256k1-tr wallet: a PSBT proposed with the CLI, every input signed across the signer processes, finalised like @scure/btc-signer', async () => {
  const w = verifyThresholdWallet(await verifyOrg(d.client), await listed('btc1'));
  const internal = hexToBytes(w.publicKey).slice(1);
  const mine = btc.p2tr(internal, undefined, REGTEST).script;
  const tx = new btc.Transaction();
  tx.addInput({ txid: new Uint8Array(32).fill(0xb1), index: 1, witnessUtxo: { script: mine, amount: 500_000n }, tapInternalKey: internal });
  tx.addInput({ txid: new Uint8Array(32).fill(0xb2), index: 0, witnessUtxo: { script: mine, amount: 250_000n }, tapInternalKey: internal });
  tx.addOutput({ script: btc.OutScript.encode(btc.Address(REGTEST).decode(listedOn('bitcoin-regtest'))), amount: 600_000n });
  tx.addOutput({ script: mine, amount: 148_500n });
  const done = await proposeApproveSign('btc1', tx.toPSBT(0));
  const signed = btc.Transaction.fromRaw(hexToBytes(String(done['signedTx'])), { allowUnknownOutputs: true });
  for (const i of [0, 1]) {
    const sig = signed.getInput(i).finalScriptWitness![0]!;
    assert.ok(schnorr.verify(sig, tx.preimageWitnessV1(i, [mine, mine], 0, [500_000n, 250_000n]), hexToBytes(w.outputKey!)), `input ${i}: BIP 340 under the output key, scure's sighash`);
    tx.updateInput(i, { tapKeySig: sig });
  }
  tx.finalize();
  assert.equal(bytesToHex(tx.extract()), String(done['signedTx']).slice(2));
  assert.equal(done['txHash'], tx.id);
});

test('after every signer restarted, the FROST wallets still sign (sealed shares, fresh nonces)', async () => {
  // Runs after the restart test above (tests in a file run in order).
  const w = verifyThresholdWallet(await verifyOrg(d.client), await listed('sol1'));
  const raw = compileTestMessageBytes({ payer: w.address, instructions: [systemTransfer(w.address, listedOn('solana-devnet'), 1_000_000n)], blockhash: base58Encode(new Uint8Array(32).fill(0x5a)) });
  const done = await proposeApproveSign('sol1', raw);
  assert.ok(ed25519.verify(hexToBytes(String(done['signedTx'])).slice(1, 65), raw, hexToBytes(w.publicKey)));
});

test('custodian wallet refresh on the frost-secp256k1-tr wallet: new shares for the same output key; a taproot spend still verifies under it', async () => {
  const before = verifyThresholdWallet(await verifyOrg(d.client), await listed('btc1'));
  const t0 = performance.now();
  const r = await cli('wallet', 'refresh', '--wallet', 'btc1', '--key', join(d.dataDir, 'operators', 'alice.key.json'), '--operator', 'alice');
  console.log(`frost-secp256k1-tr 2-of-3 refresh across three signers: ${Math.round(performance.now() - t0)} ms (host: ${String(r['refreshedInMs'])} ms)`);
  assert.equal(r['address'], before.address);
  const internal = hexToBytes(before.publicKey).slice(1);
  const mine = btc.p2tr(internal, undefined, REGTEST).script;
  const tx = new btc.Transaction();
  tx.addInput({ txid: new Uint8Array(32).fill(0xd1), index: 0, witnessUtxo: { script: mine, amount: 200_000n }, tapInternalKey: internal });
  tx.addOutput({ script: btc.OutScript.encode(btc.Address(REGTEST).decode(listedOn('bitcoin-regtest'))), amount: 199_000n });
  const done = await proposeApproveSign('btc1', tx.toPSBT(0));
  const sig = btc.Transaction.fromRaw(hexToBytes(String(done['signedTx'])), { allowUnknownOutputs: true }).getInput(0).finalScriptWitness![0]!;
  assert.ok(schnorr.verify(sig, tx.preimageWitnessV1(0, [mine], 0, [200_000n]), hexToBytes(before.outputKey!)));
});

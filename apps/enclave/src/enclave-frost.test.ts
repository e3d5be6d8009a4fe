/**
 * FROST wallet signing across three in-process enclaves (frost-ed25519 for
 * Solana, frost-secp256k1-tr for Bitcoin taproot) under the demo Cedar
 * rulebook: the proposal decoded and decided inside each enclave, two
 * treasury approvals, one relayed session per signing set, the Solana
 * transaction executed by litesvm and the taproot spend finalised like
 * @scure/btc-signer does; nonces sealed before commitments leave and consumed
 * before shares do; a restart between rounds loses the session, never a nonce.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { ed25519 } from '@noble/curves/ed25519.js';
import { schnorr } from '@noble/curves/secp256k1.js';
import * as btc from '@scure/btc-signer';
import { LiteSVM } from 'litesvm';
import { getTransactionDecoder } from '@solana/kit';
import type { Json } from '@custodian/core/canonical-json';
import { bytesTo0x, bytesToHex, hexToBytes } from '@custodian/core/bytes';
import { REPO_ROOT } from '@custodian/core/vectors';
import { rulebookFilesDigest } from '@custodian/protocol/manifest';
import { readRulebookFiles } from '@custodian/policy/rulebook-dir';
import { encodeSignedRequest, signRequest } from '@custodian/protocol/operator-request';
import { APPROVAL_TYPE, TX_PROPOSAL_TYPE, WALLET_CREATE_TYPE, WALLET_REFRESH_TYPE, type FrostScheme, type TxChain } from '@custodian/protocol/payloads';
import { decodeEnclaveSigned, verifyStatement } from '@custodian/protocol/enclave-signed';
import { compileTestMessageBytes, systemTransfer } from '@custodian/chains/sol/test-messages';
import { base58Encode } from '@custodian/chains/sol/base58';
import { Enclave } from './enclave.js';
import { unseal } from './sealed-state.js';
import { decodeState } from './state.js';
import { bootSigners, memoryPlatform, orgKeys, orgManifest, RecordingHost, rejectsWith, requestNonce, runSession, simHardware, type MemoryPlatform } from './test-signers.js';

type R = Record<string, Json>;
const IDS = ['signer-1', 'signer-2', 'signer-3'];
const DEMO = join(REPO_ROOT, 'examples/policies/demo');
const FILES = readRulebookFiles(DEMO);
const RULEBOOK: Json = Object.fromEntries([...FILES].map(([n, b]) => [n, bytesToHex(b)]));
const BOOK = JSON.parse(readFileSync(join(DEMO, 'address-book.json'), 'utf8')) as { entries: { chain: string; address: string }[] };
const listed = (chain: string): string => BOOK.entries.find((e) => e.chain === chain)!.address;

const hw = simHardware();
const keys = orgKeys();
const host = new RecordingHost();
const platforms = new Map<string, MemoryPlatform>(IDS.map((id) => [id, memoryPlatform(hw)]));
const manifest = orgManifest(hw, keys, { rulebookDigest: rulebookFilesDigest(FILES) });
let enclaves = new Map<string, Enclave>();
const ready = (async () => {
  enclaves = await bootSigners(IDS, platforms, manifest, host, RULEBOOK);
})();

/** Creates a 2-of-3 FROST wallet; answers its (agreed) statement. */
async function createWallet(walletId: string, scheme: FrostScheme): Promise<R> {
  await ready;
  const req = encodeSignedRequest(signRequest({ type: WALLET_CREATE_TYPE, orgId: 'acme', walletId, scheme, threshold: 2, parties: IDS, nonce: requestNonce(), createdAtMs: Date.now() }, 'alice', keys['alice']!));
  const results = await runSession(enclaves, host, IDS, { kind: 'dkg', request: req });
  const statements = IDS.map((id) => decodeEnclaveSigned(results.get(id)!, 'wallet'));
  statements.forEach((st, i) => assert.ok(verifyStatement('wallet.v1', st, enclaves.get(IDS[i]!)!.identityKey())));
  return statements[0]!.statement as R;
}

const solWallet = createWallet('sol', 'frost-ed25519');
const btcWallet = createWallet('btc', 'frost-secp256k1-tr');

/** Proposes `raw` on `walletId` as dave, checks it needs bob's and carol's approvals, and returns what signing needs. */
async function propose(walletId: string, chain: TxChain, raw: Uint8Array): Promise<{ proposal: Json; approvals: Json[]; requestId: string; answer: R }> {
  const proposal = encodeSignedRequest(signRequest({ type: TX_PROPOSAL_TYPE, orgId: 'acme', walletId, chain, rawTx: bytesTo0x(raw), nonce: requestNonce(), createdAtMs: Date.now() }, 'dave', keys['dave']!));
  const answer = (await enclaves.get('signer-1')!.handle('tx.propose', { request: proposal }, host.peer)) as R;
  const requestId = String(answer['requestId']);
  const approvals = ['bob', 'carol'].map((id) =>
    encodeSignedRequest(
      signRequest({ type: APPROVAL_TYPE, orgId: 'acme', requestId, txDigest: String(answer['txDigest']), summaryHash: String(answer['summaryHash']), expiresAtMs: Date.now() + 600_000, nonce: requestNonce() }, id, keys[id]!),
    ),
  );
  return { proposal, approvals, requestId, answer };
}

/** Signs with `signers` (the first combines); answers the combiner's result. */
async function sign(p: { proposal: Json; approvals: Json[] }, signers: string[]): Promise<R> {
  const results = await runSession(enclaves, host, signers, { kind: 'sign', proposal: p.proposal, approvals: p.approvals, signers, combiner: signers[0]! });
  return results.get(signers[0]!) as R;
}

test('frost-ed25519: a Solana transfer to the address book, decided by Cedar, approved by two, signed by signers 2 and 3, executed by litesvm', async () => {
  const w = await solWallet;
  const from = String(w['address']);
  assert.equal(from, base58Encode(hexToBytes(String(w['publicKey']))));
  const svm = new LiteSVM();
  svm.airdrop(from as never, 2_000_000_000n as never);
  const to = listed('solana-devnet');
  const raw = compileTestMessageBytes({ payer: from, instructions: [systemTransfer(from, to, 250_000_000n)], blockhash: String(svm.latestBlockhash()) });
  const p = await propose('sol', 'sol', raw);
  assert.equal(p.answer['decision'], 'needs-approval', String(p.answer['reasons']));
  const summary = decodeEnclaveSigned(p.answer['summary']!, 'summary').statement as R;
  assert.equal(summary['chain'], 'sol');
  assert.deepEqual(summary['transfers'], [{ to, asset: 'SOL', amount: '250000000' }]);
  assert.match(String(summary['text']), /Send 0\.25 SOL \(250000000 lamports\) to /);

  const out = await sign(p, ['signer-2', 'signer-3']);
  assert.equal(out['replayed'], false);
  const signedTx = hexToBytes(String(out['signedTx']));
  const sig = signedTx.slice(1, 65);
  assert.ok(ed25519.verify(sig, raw, hexToBytes(String(w['publicKey']))), 'a plain Ed25519 verifier accepts the FROST signature');
  assert.equal(out['txHash'], base58Encode(sig));
  const result = svm.sendTransaction(getTransactionDecoder().decode(signedTx) as never);
  assert.equal(result.constructor.name, 'TransactionMetadata', `litesvm refused: ${String((result as { err?: () => unknown }).err?.())}`);
  assert.equal(svm.getBalance(to as never), 250_000_000n);

  // Both signers decided and audited before contributing; the combiner released.
  const approved = host.of('sign.approved', p.requestId);
  assert.deepEqual(approved.map((e) => e.signerId).sort(), ['signer-2', 'signer-3']);
  assert.equal(host.of('signature.released', p.requestId).length, 1);
  assert.equal(host.of('signature.released', p.requestId)[0]!.signerId, 'signer-2');
  // Asked again: the sealed record answers, nothing is signed twice.
  const opened = (await enclaves.get('signer-2')!.handle('mpc.open', { kind: 'sign', proposal: p.proposal, approvals: p.approvals, signers: ['signer-2', 'signer-3'], combiner: 'signer-2' }, host.peer)) as R;
  assert.equal((opened['signed'] as R)['txHash'], out['txHash']);
});

test('frost-secp256k1-tr: a two-input taproot spend with change, one BIP 340 signature per input, finalised byte for byte like @scure/btc-signer', async () => {
  const w = await btcWallet;
  const outputKey = hexToBytes(String(w['outputKey']));
  const internal = hexToBytes(String(w['publicKey'])).slice(1);
  const REGTEST = { bech32: 'bcrt', pubKeyHash: 0x6f, scriptHash: 0xc4, wif: 0xef };
  const mine = btc.p2tr(internal, undefined, REGTEST).script;
  const payee = btc.OutScript.encode(btc.Address(REGTEST).decode(listed('bitcoin-regtest')));
  const tx = new btc.Transaction();
  tx.addInput({ txid: new Uint8Array(32).fill(0xa1), index: 0, witnessUtxo: { script: mine, amount: 300_000n }, tapInternalKey: internal });
  tx.addInput({ txid: new Uint8Array(32).fill(0xa2), index: 2, witnessUtxo: { script: mine, amount: 200_000n }, tapInternalKey: internal });
  tx.addOutput({ script: payee, amount: 400_000n });
  tx.addOutput({ script: mine, amount: 99_000n });
  const p = await propose('btc', 'btc', tx.toPSBT(0));
  assert.equal(p.answer['decision'], 'needs-approval', String(p.answer['reasons']));
  const summary = decodeEnclaveSigned(p.answer['summary']!, 'summary').statement as R;
  assert.deepEqual(summary['transfers'], [{ to: listed('bitcoin-regtest'), asset: 'BTC', amount: '400000' }], 'change back to the wallet is not a transfer');
  assert.equal(summary['feeMax'], '1000');

  const out = await sign(p, ['signer-1', 'signer-3']);
  const signed = btc.Transaction.fromRaw(hexToBytes(String(out['signedTx'])), { allowUnknownOutputs: true });
  const prevScripts = [mine, mine];
  for (const i of [0, 1]) {
    const sig = signed.getInput(i).finalScriptWitness![0]!;
    assert.equal(sig.length, 64, 'SIGHASH_DEFAULT: a bare 64-byte signature');
    assert.ok(schnorr.verify(sig, tx.preimageWitnessV1(i, prevScripts, 0, [300_000n, 200_000n]), outputKey), `input ${i} verifies under the output key with scure's own sighash`);
    tx.updateInput(i, { tapKeySig: sig });
  }
  tx.finalize();
  assert.equal(bytesToHex(tx.extract()), String(out['signedTx']).slice(2));
  assert.equal(out['txHash'], tx.id);
});

test('nonces: sealed before the commitment leaves, consumed and sealed before the share leaves; a restart between rounds loses the session, never reuses a nonce', async () => {
  const w = await solWallet;
  const from = String(w['address']);
  const raw = compileTestMessageBytes({ payer: from, instructions: [systemTransfer(from, listed('solana-devnet'), 1_000_000n)], blockhash: base58Encode(new Uint8Array(32).fill(9)) });
  const p = await propose('sol', 'sol', raw);
  const signers = ['signer-1', 'signer-2'];
  const open = { kind: 'sign', proposal: p.proposal, approvals: p.approvals, signers, combiner: 'signer-1' };
  const opened = new Map<string, R>();
  for (const id of signers) opened.set(id, (await enclaves.get(id)!.handle('mpc.open', open, host.peer)) as R);
  const contributions = signers.map((id) => ({ signerId: id, nonce: opened.get(id)!['nonce']! }));
  const started = new Map<string, R>();
  for (const id of signers) started.set(id, (await enclaves.get(id)!.handle('mpc.start', { nonce: opened.get(id)!['nonce']!, contributions }, host.peer)) as R);
  const sealed = (id: string) => {
    const pl = platforms.get(id)!;
    const { version, plaintext } = unseal(pl.key, id, pl.blob!);
    return decodeState(plaintext, version);
  };
  assert.equal(sealed('signer-2').frostNonces.size, 1, 'the nonce pair is sealed once its commitment has left');
  // signer-2 restarts after its commitment left: the session is gone with it.
  const restarted = new Enclave(platforms.get('signer-2')!, 'signer-2');
  await restarted.boot();
  enclaves.set('signer-2', restarted);
  const inbox = (to: string) => [...started].filter(([id]) => id !== to).flatMap(([, a]) => (a['outbox'] as R[]).filter((e) => e['to'] === to));
  await rejectsWith(restarted.handle('mpc.step', { sessionId: started.get('signer-2')!['sessionId']!, inbox: inbox('signer-2') }, host.peer), 'E_SESSION_UNKNOWN');
  assert.equal(sealed('signer-2').frostNonces.size, 1, 'the unused nonce stays sealed as fresh (pruned after the session time), never handed out');
  await enclaves.get('signer-1')!.handle('mpc.abort', { key: String(started.get('signer-1')!['sessionId']) }, host.peer);
  // A new session with fresh nonces signs; every nonce it used is consumed, sealed.
  const out = await sign(p, signers);
  assert.ok(ed25519.verify(hexToBytes(String(out['signedTx'])).slice(1, 65), raw, hexToBytes(String(w['publicKey']))));
  for (const id of signers) assert.ok(sealed(id).frostConsumed.size >= 1, `${id} sealed its nonce as consumed`);
});

test('a tampered signature-share envelope is refused (E_PEER_AUTH_FAILED) naming the sender, audited; another session signs', async () => {
  const w = await solWallet;
  const from = String(w['address']);
  const raw = compileTestMessageBytes({ payer: from, instructions: [systemTransfer(from, listed('solana-devnet'), 2_000_000n)], blockhash: base58Encode(new Uint8Array(32).fill(7)) });
  const p = await propose('sol', 'sol', raw);
  const signers = ['signer-1', 'signer-3'];
  const flip = (to: string, round: number, envelope: string): string => {
    if (round !== 2 || to !== 'signer-3') return envelope;
    const json = JSON.parse(envelope) as Record<string, string>;
    json['ct'] = (json['ct']![0] === '0' ? '1' : '0') + json['ct']!.slice(1);
    return JSON.stringify(Object.fromEntries(Object.keys(json).sort().map((k) => [k, json[k]])));
  };
  await rejectsWith(runSession(enclaves, host, signers, { kind: 'sign', proposal: p.proposal, approvals: p.approvals, signers, combiner: 'signer-3' }, flip), 'E_PEER_AUTH_FAILED');
  const aborted = host.of('mpc.aborted', p.requestId).at(-1)!;
  assert.equal(aborted.signerId, 'signer-3');
  assert.equal(aborted.data['culprit'] ?? aborted.data['peer'], 'signer-1');
  const out = await sign(p, signers);
  assert.ok(ed25519.verify(hexToBytes(String(out['signedTx'])).slice(1, 65), raw, hexToBytes(String(w['publicKey']))));
});

test('refused before anything is signed: another chain than the wallet\'s (E_SCHEME_MISMATCH), a destination outside the address book (E_DESTINATION_NOT_ALLOWED)', async () => {
  const w = await solWallet;
  const from = String(w['address']);
  const raw = compileTestMessageBytes({ payer: from, instructions: [systemTransfer(from, listed('solana-devnet'), 1n)], blockhash: base58Encode(new Uint8Array(32).fill(3)) });
  await rejectsWith(propose('btc', 'sol', raw), 'E_SCHEME_MISMATCH');
  await rejectsWith(propose('sol', 'btc', raw), 'E_SCHEME_MISMATCH');
  const stranger = base58Encode(ed25519.getPublicKey(ed25519.utils.randomSecretKey()));
  const p = await propose('sol', 'sol', compileTestMessageBytes({ payer: from, instructions: [systemTransfer(from, stranger, 1_000n)], blockhash: base58Encode(new Uint8Array(32).fill(4)) }));
  assert.equal(p.answer['decision'], 'deny');
  assert.equal(p.answer['code'], 'E_DESTINATION_NOT_ALLOWED');
  await rejectsWith(sign(p, ['signer-1', 'signer-2']), 'E_DESTINATION_NOT_ALLOWED');
});

test('without a Cedar rulebook a Solana spend is denied (E_POLICY_UNCONFIGURED): the first policy limits EVM transfers only', async () => {
  const hw2 = simHardware();
  const h2 = new RecordingHost();
  const ids = ['s-1', 's-2'];
  const pl = new Map(ids.map((id) => [id, memoryPlatform(hw2)]));
  const e2 = await bootSigners(ids, pl, orgManifest(hw2, keys), h2);
  const req = encodeSignedRequest(signRequest({ type: WALLET_CREATE_TYPE, orgId: 'acme', walletId: 'sol2', scheme: 'frost-ed25519', threshold: 2, parties: ids, nonce: requestNonce(), createdAtMs: Date.now() }, 'alice', keys['alice']!));
  const st = decodeEnclaveSigned((await runSession(e2, h2, ids, { kind: 'dkg', request: req })).get('s-1')!, 'wallet').statement as R;
  const from = String(st['address']);
  const raw = compileTestMessageBytes({ payer: from, instructions: [systemTransfer(from, listed('solana-devnet'), 1n)], blockhash: base58Encode(new Uint8Array(32).fill(5)) });
  const proposal = encodeSignedRequest(signRequest({ type: TX_PROPOSAL_TYPE, orgId: 'acme', walletId: 'sol2', chain: 'sol', rawTx: bytesTo0x(raw), nonce: requestNonce(), createdAtMs: Date.now() }, 'dave', keys['dave']!));
  const a = (await e2.get('s-1')!.handle('tx.propose', { request: proposal }, h2.peer)) as R;
  assert.equal(a['decision'], 'deny');
  assert.equal(a['code'], 'E_POLICY_UNCONFIGURED');
});

/** An admin's refresh request for `walletId`, as the relay hands it to mpc.open. */
function refreshBody(walletId: string): Json {
  return { kind: 'refresh', request: encodeSignedRequest(signRequest({ type: WALLET_REFRESH_TYPE, orgId: 'acme', walletId, nonce: requestNonce(), createdAtMs: Date.now() }, 'alice', keys['alice']!)) };
}

/** The wallet's share as sealed on `id`'s platform (hex of its signing share). */
function sealedShare(id: string, walletId: string): string {
  const pl = platforms.get(id)!;
  const { version, plaintext } = unseal(pl.key, id, pl.blob!);
  const w = decodeState(plaintext, version).wallets.get(walletId)!;
  assert.ok(w.scheme === 'frost-ed25519' || w.scheme === 'frost-secp256k1-tr');
  return bytesToHex(w.share.signingShare.expose());
}

test('refresh across the three signers: new shares for the same key, committed only with every party\'s confirmation; the refreshed wallet signs', async () => {
  const w = await btcWallet;
  const before = IDS.map((id) => sealedShare(id, 'btc'));
  const results = await runSession(enclaves, host, IDS, refreshBody('btc'));
  for (const id of IDS) assert.equal((results.get(id) as R)['committed'], true);
  const after = IDS.map((id) => sealedShare(id, 'btc'));
  IDS.forEach((_, i) => assert.notEqual(after[i], before[i], 'every share changed'));
  assert.equal(host.of('wallet.refreshed').length, 3);
  // Same key: a taproot spend with the refreshed shares verifies under the unchanged output key.
  const outputKey = hexToBytes(String(w['outputKey']));
  const internal = hexToBytes(String(w['publicKey'])).slice(1);
  const REGTEST = { bech32: 'bcrt', pubKeyHash: 0x6f, scriptHash: 0xc4, wif: 0xef };
  const mine = btc.p2tr(internal, undefined, REGTEST).script;
  const tx = new btc.Transaction();
  tx.addInput({ txid: new Uint8Array(32).fill(0xc1), index: 0, witnessUtxo: { script: mine, amount: 100_000n }, tapInternalKey: internal });
  tx.addOutput({ script: btc.OutScript.encode(btc.Address(REGTEST).decode(listed('bitcoin-regtest'))), amount: 99_500n });
  const p = await propose('btc', 'btc', tx.toPSBT(0));
  const out = await sign(p, ['signer-2', 'signer-3']);
  const sig = btc.Transaction.fromRaw(hexToBytes(String(out['signedTx'])), { allowUnknownOutputs: true }).getInput(0).finalScriptWitness![0]!;
  assert.ok(schnorr.verify(sig, tx.preimageWitnessV1(0, [mine], 0, [100_000n]), outputKey));
});

test('a party that missed the confirmations keeps its share pending and signs nothing (E_REFRESH_PENDING) until handed the others\' confirmations', async () => {
  const w = await solWallet;
  let last = 0;
  // The relay withholds the final round (the confirmations) from signer-3.
  await rejectsWith(
    runSession(enclaves, host, IDS, refreshBody('sol'), (to, round, envelope) => {
      last = Math.max(last, round);
      return round === 4 && to === 'signer-3' ? null : envelope;
    }),
    'E_REFRESH_UNCONFIRMED',
  );
  const from = String(w['address']);
  const raw = compileTestMessageBytes({ payer: from, instructions: [systemTransfer(from, listed('solana-devnet'), 3_000_000n)], blockhash: base58Encode(new Uint8Array(32).fill(0x33)) });
  const p = await propose('sol', 'sol', raw);
  await rejectsWith(sign(p, ['signer-1', 'signer-3']), 'E_REFRESH_PENDING');
  // signers 1 and 2 committed: their confirmations let signer-3 commit too.
  const proof = (await enclaves.get('signer-1')!.handle('wallet.refresh.proof', { walletId: 'sol' }, host.peer)) as R;
  const refresh = proof['refresh'] as R;
  const pending = (await enclaves.get('signer-3')!.handle('wallet.refresh.proof', { walletId: 'sol' }, host.peer)) as R;
  assert.equal(pending['pending'], refresh['sessionId']);
  // A forged set (one confirmation missing) is refused.
  await rejectsWith(enclaves.get('signer-3')!.handle('wallet.refresh.commit', { walletId: 'sol', sessionId: refresh['sessionId']!, confirmations: (refresh['confirmations'] as Json[]).slice(1) }, host.peer), 'E_REFRESH_UNCONFIRMED');
  const c = (await enclaves.get('signer-3')!.handle('wallet.refresh.commit', { walletId: 'sol', sessionId: refresh['sessionId']!, confirmations: refresh['confirmations']! }, host.peer)) as R;
  assert.equal(c['committed'], true);
  const out = await sign(p, ['signer-1', 'signer-3']);
  assert.ok(ed25519.verify(hexToBytes(String(out['signedTx'])).slice(1, 65), raw, hexToBytes(String(w['publicKey']))));
});

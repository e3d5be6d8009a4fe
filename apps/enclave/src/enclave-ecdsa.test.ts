/**
 * Threshold ECDSA (ecdsa-dkls) wallets across three in-process enclaves on
 * in-memory sim platforms, with a scripted relay standing in for the host:
 * peer channel keys accepted only when signed by the attested identity key,
 * key generation and 2-of-3 signing, the pre-signature sealed as used before
 * its online message leaves, a crash mid-session (the session is gone, a new
 * one signs), and the refusals of the session operations.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { ed25519 } from '@noble/curves/ed25519.js';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { CustodianError } from '@custodian/core/errors';
import type { Json } from '@custodian/core/canonical-json';
import { bytesTo0x, bytesToHex, hexToBytes } from '@custodian/core/bytes';
import { encodeSignedRequest, signRequest } from '@custodian/protocol/operator-request';
import { APPROVAL_TYPE, TX_PROPOSAL_TYPE, WALLET_CREATE_TYPE } from '@custodian/protocol/payloads';
import { decodeAuditEntry, decodeEnclaveSigned, encodeEnclaveSigned, signStatement, verifyStatement } from '@custodian/protocol/enclave-signed';
import { PEER_KEY_KIND } from '@custodian/protocol/mpc-relay';
import type { RpcPeer } from '@custodian/protocol/frame-rpc';
import { decodeUnsignedEip1559, eip1559SigningDigest, encodeUnsignedEip1559 } from '@custodian/chains/evm/eip1559';
import { parseAddress } from '@custodian/chains/evm/address';
import { decodeRlp } from '@custodian/chains/evm/rlp';
import { Enclave } from './enclave.js';
import { unseal } from './sealed-state.js';
import { decodeState } from './state.js';
import { bootSigners, memoryPlatform, orgKeys, orgManifest, RecordingHost, rejectsWith, requestNonce, runSession as relay, simHardware, type MemoryPlatform, type Tamper } from './test-signers.js';

const TO = '0x70997970c51812dc3a010c7d01b50e0d17dc79c8';
const IDS = ['signer-1', 'signer-2', 'signer-3'];
type R = Record<string, Json>;

const hw = simHardware();
const keys = orgKeys();
/** A host that acknowledges and keeps every audit entry (all signers in one list). */
const host = new RecordingHost();
const manifest = orgManifest(hw, keys, { allowlist: [TO], maxValueWei: '1000000' });

const platforms = new Map<string, MemoryPlatform>(IDS.map((id) => [id, memoryPlatform(hw)]));
let enclaves = new Map<string, Enclave>();

async function hello(id: string): Promise<R> {
  const n = bytesToHex(randomBytes(32));
  const h = (await enclaves.get(id)!.handle('hello', { nonce: n }, host.peer)) as R;
  return { signerId: id, identityKey: h['identityKey']!, nonce: n, evidence: h['evidence']!, peerKey: h['peerKey']! };
}

/** Boots three signers, installs the manifest and lets each verify the others (as the host's manifest submission does). */
const ready = (async () => {
  enclaves = await bootSigners(IDS, platforms, manifest, host);
})();

/** The scripted relay: open, start, then move every outbox to its recipient until all are done. */
const runSession = (ids: readonly string[], open: Json, tamper?: Tamper): Promise<Map<string, Json>> => relay(enclaves, host, ids, open, tamper);

/** The wallet, created once for all tests (key generation is the slow part). */
const wallet = (async () => {
  await ready;
  const req = encodeSignedRequest(signRequest({ type: WALLET_CREATE_TYPE, orgId: 'acme', walletId: 'tw', scheme: 'ecdsa-dkls', threshold: 2, parties: IDS, nonce: requestNonce(), createdAtMs: Date.now() }, 'alice', keys['alice']!));
  const results = await runSession(IDS, { kind: 'dkg', request: req });
  const statements = IDS.map((id) => decodeEnclaveSigned(results.get(id)!, 'wallet'));
  statements.forEach((st, i) => assert.ok(verifyStatement('wallet.v1', st, enclaves.get(IDS[i]!)!.identityKey())));
  return statements.map((st) => st.statement as R);
})();

async function proposal(): Promise<{ proposal: Json; approvals: Json[]; requestId: string; digest: Uint8Array }> {
  const [w] = await wallet;
  void w;
  const raw = encodeUnsignedEip1559({ chainId: 31337n, nonce: BigInt(Math.floor(Math.random() * 1e6)), maxPriorityFeePerGas: 1n, maxFeePerGas: 2n, gasLimit: 21000n, to: parseAddress(TO), value: 5n, data: new Uint8Array(0), accessList: [] });
  const p = encodeSignedRequest(signRequest({ type: TX_PROPOSAL_TYPE, orgId: 'acme', walletId: 'tw', chain: 'eth', rawTx: bytesTo0x(raw), nonce: requestNonce(), createdAtMs: Date.now() }, 'dave', keys['dave']!));
  // The proposal goes to one signer; approvals name its summary, which every party accepts.
  const res = (await enclaves.get('signer-3')!.handle('tx.propose', { request: p }, host.peer)) as R;
  const approvals = ['bob', 'carol'].map((who) =>
    encodeSignedRequest(signRequest({ type: APPROVAL_TYPE, orgId: 'acme', requestId: String(res['requestId']), txDigest: String(res['txDigest']), summaryHash: String(res['summaryHash']), expiresAtMs: Date.now() + 60_000, nonce: requestNonce() }, who, keys[who]!)),
  );
  return { proposal: p, approvals, requestId: String(res['requestId']), digest: eip1559SigningDigest(decodeUnsignedEip1559(raw)) };
}

const signOpen = (p: { proposal: Json; approvals: Json[] }, signers: string[], combiner = signers[0]!): Json => ({ kind: 'sign', proposal: p.proposal, approvals: p.approvals, signers, combiner });

test('key generation: every party attests the same key and address, naming org, manifest, threshold and parties', async () => {
  const st = await wallet;
  for (const [i, s] of st.entries()) {
    assert.equal(s['signerId'], IDS[i]);
    assert.equal(s['publicKey'], st[0]!['publicKey']);
    assert.equal(s['address'], st[0]!['address']);
    assert.equal(s['orgId'], 'acme');
    assert.equal(s['threshold'], 2);
    assert.deepEqual(s['parties'], IDS);
    assert.match(String(s['manifestHash']), /^[0-9a-f]{64}$/);
  }
  assert.equal(host.entries.filter((e) => e.kind === 'wallet.created').length, 3);
});

test('2-of-3 signing: the combiner releases a signature that verifies under plain secp256k1; both signers audited sign.approved', async () => {
  const st = await wallet;
  const p = await proposal();
  const results = await runSession(['signer-1', 'signer-3'], signOpen(p, ['signer-1', 'signer-3']));
  const out = results.get('signer-1') as R;
  assert.ok(!results.has('signer-3'), 'only the combiner returns a signature');
  const signed = hexToBytes(String(out['signedTx']));
  assert.equal(signed[0], 2);
  const kinds = host.entries.filter((e) => e.requestId === p.requestId).map((e) => `${e.signerId}:${e.kind}`);
  assert.ok(kinds.includes('signer-1:sign.approved') && kinds.includes('signer-3:sign.approved') && kinds.includes('signer-1:signature.released'));
  assert.ok(!kinds.includes('signer-3:signature.released'));
  // The signature (the last two fields of the signed transaction) verifies under the group key.
  const fields = decodeRlp(signed.subarray(1), signed.length) as Uint8Array[];
  const big = (b: Uint8Array): bigint => (b.length === 0 ? 0n : BigInt(bytesTo0x(b)));
  const sig = new secp256k1.Signature(big(fields.at(-2)!), big(fields.at(-1)!));
  assert.ok(secp256k1.verify(sig.toBytes('compact'), p.digest, hexToBytes(String(st[0]!['publicKey'])), { prehash: false, lowS: true }));
  // A second session for the signed request answers the same transaction instead of signing again.
  const again = await enclaves.get('signer-1')!.handle('mpc.open', signOpen(p, ['signer-1', 'signer-2']), host.peer);
  assert.equal(((again as R)['signed'] as R)['signedTx'], out['signedTx']);
});

test('the pre-signature is sealed as used before the online message leaves', async () => {
  await wallet;
  const p = await proposal();
  const platform = platforms.get('signer-2')!;
  const usedBefore = decodeState(unseal(platform.key, 'signer-2', platform.blob!).plaintext, 0n).usedPresigs.size;
  let checked = false;
  // Round 3 carries signer-2's online message to the combiner: by then its sealed state already holds the mark.
  await runSession(['signer-1', 'signer-2'], signOpen(p, ['signer-1', 'signer-2']), (to, round, envelope) => {
    if (round === 3 && to === 'signer-1') {
      const sealed = decodeState(unseal(platform.key, 'signer-2', platform.blob!).plaintext, 0n);
      assert.equal(sealed.usedPresigs.size, usedBefore + 1);
      assert.ok(sealed.mpcApproved.has(p.requestId));
      checked = true;
    }
    return envelope;
  });
  assert.ok(checked);
});

test('F04/F02 a signer that restarts mid-session has lost the session (E_SESSION_UNKNOWN); a new session with the same approvals signs', async () => {
  await wallet;
  const p = await proposal();
  const open = signOpen(p, ['signer-2', 'signer-3']);
  const n2 = (await enclaves.get('signer-2')!.handle('mpc.open', open, host.peer)) as R;
  const n3 = (await enclaves.get('signer-3')!.handle('mpc.open', open, host.peer)) as R;
  const contributions = [{ signerId: 'signer-2', nonce: n2['nonce']! }, { signerId: 'signer-3', nonce: n3['nonce']! }];
  const a2 = (await enclaves.get('signer-2')!.handle('mpc.start', { nonce: n2['nonce']!, contributions }, host.peer)) as R;
  await enclaves.get('signer-3')!.handle('mpc.start', { nonce: n3['nonce']!, contributions }, host.peer);
  // signer-3 crashes and restarts from its sealed state
  const restarted = new Enclave(platforms.get('signer-3')!, 'signer-3');
  await restarted.boot();
  enclaves.set('signer-3', restarted);
  await rejectsWith(restarted.handle('mpc.step', { sessionId: a2['sessionId']!, inbox: a2['outbox']! }, host.peer), 'E_SESSION_UNKNOWN');
  await enclaves.get('signer-2')!.handle('mpc.abort', { key: String(a2['sessionId']) }, host.peer);
  // A new session: fresh contributions, the approvals (already consumed by these signers for this very request) still count.
  const results = await runSession(['signer-2', 'signer-3'], open);
  assert.match(String((results.get('signer-2') as R)['txHash']), /^0x[0-9a-f]{64}$/);
});

test('a tampered envelope is refused (E_PEER_AUTH_FAILED), audited as mpc.aborted, and the session is gone', async () => {
  await wallet;
  const p = await proposal();
  const flip = (to: string, round: number, envelope: string): string => {
    if (round !== 1 || to !== 'signer-2') return envelope;
    const j = JSON.parse(envelope) as Record<string, string>;
    j['ct'] = (j['ct']!.startsWith('0') ? '1' : '0') + j['ct']!.slice(1);
    return JSON.stringify(Object.fromEntries(Object.keys(j).sort().map((k) => [k, j[k]])));
  };
  await rejectsWith(runSession(['signer-1', 'signer-2'], signOpen(p, ['signer-1', 'signer-2']), flip), 'E_PEER_AUTH_FAILED');
  assert.ok(host.entries.some((e) => e.signerId === 'signer-2' && e.kind === 'mpc.aborted' && e.data['code'] === 'E_PEER_AUTH_FAILED'));
  assert.ok(!host.entries.some((e) => e.requestId === p.requestId && e.kind === 'signature.released'));
});

test('a combiner whose release was not logged releases the sealed signature on the next open, without auditing sign.approved twice', async () => {
  await wallet;
  const p = await proposal();
  // The host fails the combiner's `signature.released` once: the signature is sealed, unreleased.
  let fail = true;
  const flaky = {
    call: async (op: string, body: Json): Promise<Json> => {
      const e = decodeAuditEntry(decodeEnclaveSigned((body as R)['entry']!, 'entry').statement);
      if (fail && e.kind === 'signature.released') {
        fail = false;
        throw new CustodianError('E_UNAVAILABLE', 'host went away');
      }
      return (host.peer as unknown as { call: (o: string, b: Json) => Promise<Json> }).call(op, body);
    },
  } as unknown as RpcPeer;
  const viaFlaky = new Map([...enclaves].map(([id, e]) => [id, { handle: (op: string, b: Json) => e.handle(op, b, flaky) } as unknown as Enclave]));
  await rejectsWith(relay(viaFlaky, host, ['signer-1', 'signer-2'], signOpen(p, ['signer-1', 'signer-2'])), 'E_AUDIT_UNAVAILABLE');
  assert.ok(!host.entries.some((e) => e.requestId === p.requestId && e.kind === 'signature.released'));
  const again = (await enclaves.get('signer-1')!.handle('mpc.open', signOpen(p, ['signer-1', 'signer-2']), host.peer)) as R;
  assert.match(String((again['signed'] as R)['signedTx']), /^0x02/);
  const mine = host.entries.filter((e) => e.requestId === p.requestId && e.signerId === 'signer-1').map((e) => e.kind);
  assert.equal(mine.filter((k) => k === 'sign.approved').length, 1, `signer-1 wrote ${mine.join(', ')}`);
  assert.equal(mine.filter((k) => k === 'signature.released').length, 1);
});

test('peers.install refuses a channel key not signed by the attested identity key (E_PEER_KEY_INVALID)', async () => {
  await ready;
  const h = await hello('signer-2');
  const forged = encodeEnclaveSigned(signStatement(PEER_KEY_KIND, { signerId: 'signer-2', peerKey: bytesToHex(new Uint8Array(32).fill(1)) }, ed25519.utils.randomSecretKey()));
  const r = (await enclaves.get('signer-1')!.handle('peers.install', { peers: [{ ...h, peerKey: forged }] }, host.peer)) as R;
  assert.equal(((r['rejected'] as R[])[0] as R)['code'], 'E_PEER_KEY_INVALID');
  // The genuine key is installed again (the forged one never replaced it).
  await enclaves.get('signer-1')!.handle('peers.install', { peers: [h] }, host.peer);
});

test('refusals: tx.sign on a threshold wallet, a signing set of the wrong size or with a stranger, contributions that omit us', async () => {
  await wallet;
  const p = await proposal();
  await rejectsWith(enclaves.get('signer-1')!.handle('tx.sign', { proposal: p.proposal, approvals: p.approvals }, host.peer), 'E_SCHEME_MISMATCH');
  await rejectsWith(enclaves.get('signer-1')!.handle('mpc.open', signOpen(p, IDS), host.peer), 'E_MPC_SHAPE');
  await rejectsWith(enclaves.get('signer-1')!.handle('mpc.open', signOpen(p, ['signer-1', 'signer-9']), host.peer), 'E_PARTY_UNKNOWN');
  await rejectsWith(enclaves.get('signer-1')!.handle('mpc.open', signOpen({ proposal: p.proposal, approvals: p.approvals.slice(0, 1) }, ['signer-1', 'signer-2']), host.peer), 'E_QUORUM_NOT_MET');
  const n = (await enclaves.get('signer-1')!.handle('mpc.open', signOpen(p, ['signer-1', 'signer-2']), host.peer)) as R;
  await rejectsWith(enclaves.get('signer-1')!.handle('mpc.start', { nonce: n['nonce']!, contributions: [{ signerId: 'signer-1', nonce: 'ab'.repeat(32) }, { signerId: 'signer-2', nonce: 'cd'.repeat(32) }] }, host.peer), 'E_SESSION_MISMATCH');
  await rejectsWith(enclaves.get('signer-1')!.handle('mpc.step', { sessionId: 'ef'.repeat(32), inbox: [] }, host.peer), 'E_SESSION_UNKNOWN');
  const dkgElsewhere = encodeSignedRequest(signRequest({ type: WALLET_CREATE_TYPE, orgId: 'acme', walletId: 'tw2', scheme: 'ecdsa-dkls', threshold: 2, parties: ['signer-2', 'signer-3'], nonce: requestNonce(), createdAtMs: Date.now() }, 'alice', keys['alice']!));
  await rejectsWith(enclaves.get('signer-1')!.handle('mpc.open', { kind: 'dkg', request: dkgElsewhere }, host.peer), 'E_WRONG_SIGNER');
  const byApprover = encodeSignedRequest(signRequest({ type: WALLET_CREATE_TYPE, orgId: 'acme', walletId: 'tw3', scheme: 'ecdsa-dkls', threshold: 2, parties: IDS, nonce: requestNonce(), createdAtMs: Date.now() }, 'bob', keys['bob']!));
  await assert.rejects(enclaves.get('signer-1')!.handle('mpc.open', { kind: 'dkg', request: byApprover }, host.peer), (e: unknown) => e instanceof CustodianError);
});

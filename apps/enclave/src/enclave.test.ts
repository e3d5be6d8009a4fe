/**
 * The enclave in-process on an in-memory sim platform and a scripted host:
 * crash recovery of the signing step (F02), refusal to adopt entries it did
 * not write, and sealed-state tampering.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CustodianError, isCustodianError } from '@custodian/core/errors';
import type { Json } from '@custodian/core/canonical-json';
import { bytesTo0x, bytesToHex } from '@custodian/core/bytes';
import { generateOperatorKey, type OperatorKeyPair } from '@custodian/protocol/operator-key';
import { encodeSignedRequest, signRequest } from '@custodian/protocol/operator-request';
import { APPROVAL_TYPE, TX_PROPOSAL_TYPE, WALLET_CREATE_TYPE } from '@custodian/protocol/payloads';
import { decodeAuditEntry, decodeEnclaveSigned, signStatement, statementHash, verifyAuditChain, AUDIT_ENTRY_KIND, type EnclaveSigned } from '@custodian/protocol/enclave-signed';
import type { RpcPeer } from '@custodian/protocol/frame-rpc';
import { encodeUnsignedEip1559 } from '@custodian/chains/evm/eip1559';
import { parseAddress } from '@custodian/chains/evm/address';
import { Enclave } from './enclave.js';
import { unseal } from './sealed-state.js';
import { memoryPlatform, orgKeys, orgManifest, rejectsWith, requestNonce, simHardware, type MemoryPlatform } from './test-signers.js';

const hw = simHardware();
const TO = '0x70997970c51812dc3a010c7d01b50e0d17dc79c8';

/** A scripted host: stores entries like the SQLite store, can be told to fail. */
class ScriptedHost {
  readonly entries = new Map<number, EnclaveSigned>();
  failOnKind: string | null = null;
  forgeConflict = false;
  readonly peer = { call: (op: string, body: Json) => this.#call(op, body) } as unknown as RpcPeer;

  async #call(op: string, body: Json): Promise<Json> {
    assert.equal(op, 'audit.append');
    const signed = decodeEnclaveSigned((body as Record<string, Json>)['entry']!, 'entry');
    const e = decodeAuditEntry(signed.statement);
    if (e.kind === this.failOnKind) throw new CustodianError('E_UNAVAILABLE', 'host went away');
    const existing = this.entries.get(e.seq);
    if (this.forgeConflict) {
      const forged = signStatement(AUDIT_ENTRY_KIND, { ...(signed.statement as Record<string, Json>), kind: 'forged' }, generateOperatorKey('ed25519').secretKey.expose());
      throw new CustodianError('E_AUDIT_CONFLICT', 'taken', { entry: JSON.stringify({ statement: forged.statement, signature: bytesToHex(forged.signature) }) });
    }
    if (existing && statementHash(existing.statement) !== statementHash(signed.statement)) {
      throw new CustodianError('E_AUDIT_CONFLICT', 'taken', { entry: JSON.stringify({ statement: existing.statement, signature: bytesToHex(existing.signature) }) });
    }
    this.entries.set(e.seq, signed);
    return { hash: statementHash(signed.statement) };
  }

  chain(): EnclaveSigned[] {
    return [...this.entries.keys()].sort((a, b) => a - b).map((k) => this.entries.get(k)!);
  }
}

interface Org {
  keys: Record<string, OperatorKeyPair>;
  manifest: Json;
}

/** The shared organisation, with carol approving under a P-256 key. */
function org(): Org {
  const keys = { ...orgKeys(), carol: generateOperatorKey('p256') };
  return { keys, manifest: orgManifest(hw, keys, { allowlist: [TO], maxValueWei: '1000000' }) };
}

async function setup(): Promise<{ o: Org; platform: MemoryPlatform; host: ScriptedHost; enclave: Enclave; proposal: Json; approvals: Json[] }> {
  const o = org();
  const platform = memoryPlatform(hw);
  const host = new ScriptedHost();
  const enclave = new Enclave(platform, 'signer-1');
  await enclave.boot();
  await enclave.handle('manifest.install', { signedManifest: o.manifest }, host.peer);
  const wc = signRequest({ type: WALLET_CREATE_TYPE, orgId: 'acme', walletId: 'w', scheme: 'single', signerId: 'signer-1', nonce: requestNonce(), createdAtMs: Date.now() }, 'alice', o.keys['alice']!);
  await enclave.handle('wallet.create', { request: encodeSignedRequest(wc) }, host.peer);
  const raw = encodeUnsignedEip1559({ chainId: 31337n, nonce: 0n, maxPriorityFeePerGas: 1n, maxFeePerGas: 2n, gasLimit: 21000n, to: parseAddress(TO), value: 5n, data: new Uint8Array(0), accessList: [] });
  const proposal = encodeSignedRequest(signRequest({ type: TX_PROPOSAL_TYPE, orgId: 'acme', walletId: 'w', chain: 'eth', rawTx: bytesTo0x(raw), nonce: requestNonce(), createdAtMs: Date.now() }, 'dave', o.keys['dave']!));
  const res = (await enclave.handle('tx.propose', { request: proposal }, host.peer)) as Record<string, Json>;
  const approvals = ['bob', 'carol'].map((who) =>
    encodeSignedRequest(signRequest({ type: APPROVAL_TYPE, orgId: 'acme', requestId: String(res['requestId']), txDigest: String(res['txDigest']), summaryHash: String(res['summaryHash']), expiresAtMs: Date.now() + 60_000, nonce: requestNonce() }, who, o.keys[who]!)),
  );
  return { o, platform, host, enclave, proposal, approvals };
}

test('F02: a crash between the audit append and the release never releases an unaudited signature, and recovers', async () => {
  const { platform, host, enclave, proposal, approvals } = await setup();
  host.failOnKind = 'signature.released';
  await rejectsWith(enclave.handle('tx.sign', { proposal, approvals }, host.peer), 'E_AUDIT_UNAVAILABLE');
  // Restart from the sealed blob: the host kept `sign.approved` the enclave never saw acknowledged.
  host.failOnKind = null;
  const restarted = new Enclave(platform, 'signer-1');
  await restarted.boot();
  const first = (await restarted.handle('tx.sign', { proposal, approvals }, host.peer)) as Record<string, Json>;
  const again = (await restarted.handle('tx.sign', { proposal, approvals }, host.peer)) as Record<string, Json>;
  assert.equal(first['signedTx'], again['signedTx']);
  assert.equal(again['replayed'], true);
  const chain = host.chain();
  assert.equal(verifyAuditChain(chain, restarted.identityKey()), -1, 'chain stays whole across the crash');
  const kinds = chain.map((e) => decodeAuditEntry(e.statement).kind);
  assert.equal(kinds.filter((k) => k === 'signature.released').length, 1);
  assert.ok(kinds.indexOf('sign.approved') < kinds.indexOf('signature.released'));
});

test('refuses to adopt a conflicting entry that it did not sign', async () => {
  const { host, enclave, proposal, approvals } = await setup();
  host.forgeConflict = true;
  await rejectsWith(enclave.handle('tx.sign', { proposal, approvals }, host.peer), 'E_AUDIT_UNAVAILABLE');
});

test('an approval replayed after signing does not count again and nonces stay consumed across restarts', async () => {
  const { platform, host, enclave, proposal, approvals } = await setup();
  await enclave.handle('tx.sign', { proposal, approvals }, host.peer);
  const restarted = new Enclave(platform, 'signer-1');
  await restarted.boot();
  await rejectsWith(restarted.handle('approval.check', { proposal, approval: approvals[0]!, prior: [] }, host.peer), 'E_REQUEST_ALREADY_SIGNED');
});

test('a tampered or foreign sealed blob is refused and the signer does not start', async () => {
  const { platform } = await setup();
  const blob = Uint8Array.from(platform.blob!);
  assert.throws(() => unseal(platform.key, 'signer-2', blob), (e) => isCustodianError(e, 'E_SEALED_STATE_INVALID'));
  blob[blob.length - 20]! ^= 1;
  platform.blob = blob;
  const e = new Enclave(platform, 'signer-1');
  await rejectsWith(e.boot(), 'E_SEALED_STATE_INVALID');
  assert.equal(e.phase, 'ERROR');
});

test('nothing is served before a manifest is installed', async () => {
  const enclave = new Enclave(memoryPlatform(hw), 'signer-1');
  await enclave.boot();
  assert.equal(enclave.phase, 'AWAITING_MANIFEST');
  await rejectsWith(enclave.handle('tx.sign', { proposal: null, approvals: [] }, new ScriptedHost().peer), 'E_NO_MANIFEST');
});

test('F07: a rolled-back sealed blob is detected against the monotonic counter and the signer refuses to start', async () => {
  const { platform, host, enclave, proposal, approvals } = await setup();
  const old = platform.blob!;
  await enclave.handle('tx.sign', { proposal, approvals }, host.peer);
  platform.blob = old;
  const restarted = new Enclave(platform, 'signer-1');
  await rejectsWith(restarted.boot(), 'E_STATE_ROLLBACK_DETECTED');
  assert.equal(restarted.phase, 'ERROR');
  platform.blob = null;
  await rejectsWith(new Enclave(platform, 'signer-1').boot(), 'E_STATE_ROLLBACK_DETECTED');
});

test('F08: turning the clock back does not revive an expired approval', async () => {
  const { platform, host, enclave, proposal, approvals } = await setup();
  platform.skewMs = 120_000;
  await rejectsWith(enclave.handle('tx.sign', { proposal, approvals }, host.peer), 'E_QUORUM_NOT_MET');
  platform.skewMs = -3_600_000;
  await rejectsWith(enclave.handle('tx.sign', { proposal, approvals }, host.peer), 'E_TIME_SKEW_DETECTED');
});

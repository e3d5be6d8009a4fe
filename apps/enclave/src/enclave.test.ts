/**
 * The enclave in-process on an in-memory sim platform and a scripted host:
 * crash recovery of the signing step (F02), refusal to adopt entries it did
 * not write, and sealed-state tampering.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { CustodianError, isCustodianError } from '@custodian/core/errors';
import type { Json } from '@custodian/core/canonical-json';
import { bytesTo0x, bytesToHex } from '@custodian/core/bytes';
import { createSimRoot, issueSimEvidence } from '@custodian/attestation/sim/sim-evidence';
import { generateOperatorKey, type OperatorKeyPair } from '@custodian/protocol/operator-key';
import { encodeSignedManifest, MANIFEST_TYPE, signManifest } from '@custodian/protocol/manifest';
import { encodeSignedRequest, signRequest } from '@custodian/protocol/operator-request';
import { APPROVAL_TYPE, TX_PROPOSAL_TYPE, WALLET_CREATE_TYPE } from '@custodian/protocol/payloads';
import { decodeAuditEntry, decodeEnclaveSigned, signStatement, statementHash, verifyAuditChain, AUDIT_ENTRY_KIND, type EnclaveSigned } from '@custodian/protocol/enclave-signed';
import type { RpcPeer } from '@custodian/protocol/frame-rpc';
import { encodeUnsignedEip1559 } from '@custodian/chains/evm/eip1559';
import { parseAddress } from '@custodian/chains/evm/address';
import type { Platform } from './platform.js';
import { Enclave } from './enclave.js';
import { unseal } from './sealed-state.js';

const root = createSimRoot();
const measurement = new Uint8Array(48).fill(9);
const sealingKey = new Uint8Array(randomBytes(32));
const TO = '0x70997970c51812dc3a010c7d01b50e0d17dc79c8';

/** An in-memory sim platform whose sealed blob survives "restarts". */
function memoryPlatform(): Platform & { blob: Uint8Array | null; counter: bigint; skewMs: number } {
  const p = {
    name: 'sim' as const,
    blob: null as Uint8Array | null,
    counter: 0n,
    readCounter: async () => p.counter,
    advanceCounter: async (v: bigint) => {
      assert.ok(v >= p.counter);
      p.counter = v;
    },
    attest: async (rd: Uint8Array) => issueSimEvidence(root, measurement, rd, Date.now()),
    sealingKey: async () => sealingKey,
    loadSealed: async () => p.blob,
    storeSealed: async (b: Uint8Array) => {
      p.blob = b;
    },
    skewMs: 0,
    nowMs: () => Date.now() + p.skewMs,
  };
  return p;
}

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

function org(): Org {
  const keys: Record<string, OperatorKeyPair> = { alice: generateOperatorKey('ed25519'), dave: generateOperatorKey('ed25519'), bob: generateOperatorKey('ed25519'), carol: generateOperatorKey('p256') };
  const op = (id: string, roles: string[], groups: string[]): Json => ({ id, name: id, roles, groups, publicKey: { alg: keys[id]!.alg, key: bytesToHex(keys[id]!.publicKey) } });
  const payload = {
    type: MANIFEST_TYPE,
    orgId: 'acme',
    version: 1,
    previousHash: '',
    chainId: '31337',
    operators: [op('alice', ['admin'], []), op('dave', ['initiator'], []), op('bob', ['approver'], ['treasury']), op('carol', ['approver'], ['treasury'])],
    quorum: { threshold: 2, members: ['alice', 'bob', 'carol'] },
    enclave: { platform: 'sim', measurements: [bytesToHex(measurement)], simRoot: bytesToHex(root.publicKey) },
    policy: { maxValueWei: '1000000', allowlist: [TO], approvals: { group: 'treasury', count: 2 } },
  };
  const signed = { payload, signatures: [signManifest(payload, 'alice', keys['alice']!), signManifest(payload, 'bob', keys['bob']!)] };
  return { keys, manifest: encodeSignedManifest(signed) };
}

const nonce = (): string => bytesToHex(randomBytes(16));

async function setup(): Promise<{ o: Org; platform: ReturnType<typeof memoryPlatform>; host: ScriptedHost; enclave: Enclave; proposal: Json; approvals: Json[] }> {
  const o = org();
  const platform = memoryPlatform();
  const host = new ScriptedHost();
  const enclave = new Enclave(platform, 'signer-1');
  await enclave.boot();
  await enclave.handle('manifest.install', { signedManifest: o.manifest }, host.peer);
  const wc = signRequest({ type: WALLET_CREATE_TYPE, orgId: 'acme', walletId: 'w', scheme: 'single', signerId: 'signer-1', nonce: nonce(), createdAtMs: Date.now() }, 'alice', o.keys['alice']!);
  await enclave.handle('wallet.create', { request: encodeSignedRequest(wc) }, host.peer);
  const raw = encodeUnsignedEip1559({ chainId: 31337n, nonce: 0n, maxPriorityFeePerGas: 1n, maxFeePerGas: 2n, gasLimit: 21000n, to: parseAddress(TO), value: 5n, data: new Uint8Array(0), accessList: [] });
  const proposal = encodeSignedRequest(signRequest({ type: TX_PROPOSAL_TYPE, orgId: 'acme', walletId: 'w', chain: 'eth', rawTx: bytesTo0x(raw), nonce: nonce(), createdAtMs: Date.now() }, 'dave', o.keys['dave']!));
  const res = (await enclave.handle('tx.propose', { request: proposal }, host.peer)) as Record<string, Json>;
  const approvals = ['bob', 'carol'].map((who) =>
    encodeSignedRequest(signRequest({ type: APPROVAL_TYPE, orgId: 'acme', requestId: String(res['requestId']), txDigest: String(res['txDigest']), summaryHash: String(res['summaryHash']), expiresAtMs: Date.now() + 60_000, nonce: nonce() }, who, o.keys[who]!)),
  );
  return { o, platform, host, enclave, proposal, approvals };
}

test('F02: a crash between the audit append and the release never releases an unaudited signature, and recovers', async () => {
  const { platform, host, enclave, proposal, approvals } = await setup();
  host.failOnKind = 'signature.released';
  await assert.rejects(enclave.handle('tx.sign', { proposal, approvals }, host.peer), (e) => isCustodianError(e, 'E_AUDIT_UNAVAILABLE'));
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
  await assert.rejects(enclave.handle('tx.sign', { proposal, approvals }, host.peer), (e) => isCustodianError(e, 'E_AUDIT_UNAVAILABLE'));
});

test('an approval replayed after signing does not count again and nonces stay consumed across restarts', async () => {
  const { platform, host, enclave, proposal, approvals } = await setup();
  await enclave.handle('tx.sign', { proposal, approvals }, host.peer);
  const restarted = new Enclave(platform, 'signer-1');
  await restarted.boot();
  await assert.rejects(restarted.handle('approval.check', { proposal, approval: approvals[0]!, prior: [] }, host.peer), (e) => isCustodianError(e, 'E_REQUEST_ALREADY_SIGNED'));
});

test('a tampered or foreign sealed blob is refused and the signer does not start', async () => {
  const { platform } = await setup();
  const blob = Uint8Array.from(platform.blob!);
  assert.throws(() => unseal(sealingKey, 'signer-2', blob), (e) => isCustodianError(e, 'E_SEALED_STATE_INVALID'));
  blob[blob.length - 20]! ^= 1;
  platform.blob = blob;
  const e = new Enclave(platform, 'signer-1');
  await assert.rejects(e.boot(), (x) => isCustodianError(x, 'E_SEALED_STATE_INVALID'));
  assert.equal(e.phase, 'ERROR');
});

test('nothing is served before a manifest is installed', async () => {
  const enclave = new Enclave(memoryPlatform(), 'signer-1');
  await enclave.boot();
  assert.equal(enclave.phase, 'AWAITING_MANIFEST');
  await assert.rejects(enclave.handle('tx.sign', { proposal: null, approvals: [] }, new ScriptedHost().peer), (e) => isCustodianError(e, 'E_NO_MANIFEST'));
});

test('F07: a rolled-back sealed blob is detected against the monotonic counter and the signer refuses to start', async () => {
  const { platform, host, enclave, proposal, approvals } = await setup();
  const old = platform.blob!;
  await enclave.handle('tx.sign', { proposal, approvals }, host.peer);
  platform.blob = old;
  const restarted = new Enclave(platform, 'signer-1');
  await assert.rejects(restarted.boot(), (e) => isCustodianError(e, 'E_STATE_ROLLBACK_DETECTED'));
  assert.equal(restarted.phase, 'ERROR');
  platform.blob = null;
  await assert.rejects(new Enclave(platform, 'signer-1').boot(), (e) => isCustodianError(e, 'E_STATE_ROLLBACK_DETECTED'));
});

test('F08: turning the clock back does not revive an expired approval', async () => {
  const { platform, host, enclave, proposal, approvals } = await setup();
  platform.skewMs = 120_000;
  await assert.rejects(enclave.handle('tx.sign', { proposal, approvals }, host.peer), (e) => isCustodianError(e, 'E_QUORUM_NOT_MET'));
  platform.skewMs = -3_600_000;
  await assert.rejects(enclave.handle('tx.sign', { proposal, approvals }, host.peer), (e) => isCustodianError(e, 'E_TIME_SKEW_DETECTED'));
});

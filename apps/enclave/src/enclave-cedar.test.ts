/**
 * The enclave in-process with a manifest that pins the demo Cedar rulebook:
 * the rulebook must come with the manifest and match its digest (the host
 * cannot swap it), it is sealed with the spending ledger and survives a
 * restart, and decisions audit the version hashes they used. Without a
 * pinned rulebook the first policy decides, and audits its own hash.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { CustodianError, isCustodianError } from '@custodian/core/errors';
import type { Json } from '@custodian/core/canonical-json';
import { bytesTo0x, bytesToHex } from '@custodian/core/bytes';
import { REPO_ROOT } from '@custodian/core/vectors';
import { createSimRoot, issueSimEvidence } from '@custodian/attestation/sim/sim-evidence';
import { generateOperatorKey, type OperatorKeyPair } from '@custodian/protocol/operator-key';
import { encodeSignedManifest, MANIFEST_TYPE, rulebookFilesDigest, signManifest } from '@custodian/protocol/manifest';
import { encodeSignedRequest, signRequest } from '@custodian/protocol/operator-request';
import { APPROVAL_TYPE, TX_PROPOSAL_TYPE, WALLET_CREATE_TYPE } from '@custodian/protocol/payloads';
import { decodeAuditEntry, decodeEnclaveSigned, statementHash } from '@custodian/protocol/enclave-signed';
import type { RpcPeer } from '@custodian/protocol/frame-rpc';
import { encodeUnsignedEip1559 } from '@custodian/chains/evm/eip1559';
import { parseAddress } from '@custodian/chains/evm/address';
import { readRulebookFiles } from '@custodian/policy/rulebook-dir';
import type { Platform } from './platform.js';
import { Enclave } from './enclave.js';

const root = createSimRoot();
const measurement = new Uint8Array(48).fill(7);
const sealingKey = new Uint8Array(randomBytes(32));
const TO = '0x70997970C51812dc3A010C7d01b50e0d17dc79C8';
const FILES = readRulebookFiles(join(REPO_ROOT, 'examples/policies/demo'));
const DIGEST = rulebookFilesDigest(FILES);
const filesJson = (files: ReadonlyMap<string, Uint8Array>): Json => Object.fromEntries([...files].map(([n, b]) => [n, bytesToHex(b)]));

function memoryPlatform(): Platform & { blob: Uint8Array | null } {
  const p = {
    name: 'sim' as const,
    blob: null as Uint8Array | null,
    counter: 0n,
    readCounter: async () => p.counter,
    advanceCounter: async (v: bigint) => {
      p.counter = v;
    },
    attest: async (rd: Uint8Array) => issueSimEvidence(root, measurement, rd, Date.now()),
    sealingKey: async () => sealingKey,
    loadSealed: async () => p.blob,
    storeSealed: async (b: Uint8Array) => {
      p.blob = b;
    },
    nowMs: () => Date.now(),
  };
  return p;
}

/** A host that accepts every audit entry and keeps the decoded entries. */
class Host {
  readonly entries: { kind: string; requestId: string | null; data: Record<string, Json> }[] = [];
  readonly peer = { call: async (op: string, body: Json) => this.#call(op, body) } as unknown as RpcPeer;
  #call(op: string, body: Json): Json {
    if (op !== 'audit.append') throw new CustodianError('E_UNKNOWN_OP', op);
    const signed = decodeEnclaveSigned((body as Record<string, Json>)['entry']!, 'entry');
    const e = decodeAuditEntry(signed.statement);
    this.entries.push({ kind: e.kind, requestId: e.requestId, data: (signed.statement as Record<string, Json>)['data'] as Record<string, Json> });
    return { hash: statementHash(signed.statement) };
  }
}

const keys: Record<string, OperatorKeyPair> = { alice: generateOperatorKey('ed25519'), dave: generateOperatorKey('ed25519'), bob: generateOperatorKey('ed25519'), carol: generateOperatorKey('ed25519') };

function manifest(rulebookDigest: string | null): Json {
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
    policy: { maxValueWei: '10000000000000000000', allowlist: [TO.toLowerCase()], approvals: { group: 'treasury', count: 2 }, ...(rulebookDigest ? { rulebookDigest } : {}) },
  };
  return encodeSignedManifest({ payload, signatures: [signManifest(payload, 'alice', keys['alice']!), signManifest(payload, 'bob', keys['bob']!)] });
}

const nonce = (): string => bytesToHex(randomBytes(16));

async function withWallet(enclave: Enclave, host: Host): Promise<void> {
  const wc = signRequest({ type: WALLET_CREATE_TYPE, orgId: 'acme', walletId: 'w', scheme: 'single', signerId: 'signer-1', nonce: nonce(), createdAtMs: Date.now() }, 'alice', keys['alice']!);
  await enclave.handle('wallet.create', { request: encodeSignedRequest(wc) }, host.peer);
}

/** Proposes `value` wei to `to` at account nonce `n`, then signs it with bob's and carol's approvals. */
async function proposeAndSign(enclave: Enclave, host: Host, n: bigint, value: bigint, to = TO): Promise<Record<string, Json>> {
  const raw = encodeUnsignedEip1559({ chainId: 31337n, nonce: n, maxPriorityFeePerGas: 1n, maxFeePerGas: 2_000_000_000n, gasLimit: 21000n, to: parseAddress(to), value, data: new Uint8Array(0), accessList: [] });
  const proposal = encodeSignedRequest(signRequest({ type: TX_PROPOSAL_TYPE, orgId: 'acme', walletId: 'w', chain: 'eth', rawTx: bytesTo0x(raw), nonce: nonce(), createdAtMs: Date.now() }, 'dave', keys['dave']!));
  const res = (await enclave.handle('tx.propose', { request: proposal }, host.peer)) as Record<string, Json>;
  if (res['decision'] === 'deny') return res;
  const approvals = ['bob', 'carol'].map((who) =>
    encodeSignedRequest(signRequest({ type: APPROVAL_TYPE, orgId: 'acme', requestId: String(res['requestId']), txDigest: String(res['txDigest']), summaryHash: String(res['summaryHash']), expiresAtMs: Date.now() + 60_000, nonce: nonce() }, who, keys[who]!)),
  );
  return (await enclave.handle('tx.sign', { proposal, approvals }, host.peer)) as Record<string, Json>;
}

test('a manifest that pins a rulebook is refused without its files or with other files, and audited', async () => {
  const enclave = new Enclave(memoryPlatform(), 'signer-1');
  await enclave.boot();
  const host = new Host();
  await assert.rejects(enclave.handle('manifest.install', { signedManifest: manifest(DIGEST) }, host.peer), (e) => isCustodianError(e, 'E_RULEBOOK_INVALID'));
  const swapped = new Map(FILES);
  swapped.set('address-book.json', new TextEncoder().encode(new TextDecoder().decode(FILES.get('address-book.json')!).replace('0x70997970C51812dc3A010C7d01b50e0d17dc79C8', '0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC')));
  await assert.rejects(enclave.handle('manifest.install', { signedManifest: manifest(DIGEST), rulebook: filesJson(swapped) }, host.peer), (e) => isCustodianError(e, 'E_RULEBOOK_INVALID'));
  await assert.rejects(enclave.handle('manifest.install', { signedManifest: manifest(null), rulebook: filesJson(FILES) }, host.peer), (e) => isCustodianError(e, 'E_RULEBOOK_INVALID'));
  assert.equal(host.entries.filter((e) => e.kind === 'manifest.rejected' && e.data['code'] === 'E_RULEBOOK_INVALID').length, 3);
  assert.equal(enclave.phase, 'AWAITING_MANIFEST');
  await enclave.handle('manifest.install', { signedManifest: manifest(DIGEST), rulebook: filesJson(FILES) }, host.peer);
  assert.equal(enclave.phase, 'READY');
  assert.equal((host.entries.find((e) => e.kind === 'manifest.installed')!.data['rulebook'] as Record<string, Json>)['digest'], DIGEST);
});

test('the rulebook and the spending ledger are sealed: after a restart the 24 h wallet limit still holds', async () => {
  const platform = memoryPlatform();
  const host = new Host();
  const enclave = new Enclave(platform, 'signer-1');
  await enclave.boot();
  await enclave.handle('manifest.install', { signedManifest: manifest(DIGEST), rulebook: filesJson(FILES) }, host.peer);
  await withWallet(enclave, host);
  for (let n = 0n; n < 5n; n++) assert.match(String((await proposeAndSign(enclave, host, n, 9n * 10n ** 17n))['signedTx']), /^0x02/);
  const restarted = new Enclave(platform, 'signer-1');
  await restarted.boot();
  const res = await proposeAndSign(restarted, host, 5n, 9n * 10n ** 17n);
  assert.equal(res['decision'], 'deny');
  assert.equal(res['code'], 'E_POLICY_VELOCITY_EXCEEDED');
  const denied = host.entries.filter((e) => e.kind === 'policy.denied').at(-1)!;
  assert.equal((denied.data['versions'] as Record<string, Json>)['rulebookDigest'], DIGEST);
  // Every signing decision recorded the rulebook and the policy that allowed it.
  const approved = host.entries.filter((e) => e.kind === 'sign.approved');
  assert.equal(approved.length, 5);
  for (const a of approved) assert.deepEqual((a.data['versions'] as Record<string, Json>)['policies'], ['demo-transfer-up-to-1-eth-to-address-book']);
});

test('without a pinned rulebook the first policy decides and its decisions record its hash', async () => {
  const host = new Host();
  const enclave = new Enclave(memoryPlatform(), 'signer-1');
  await enclave.boot();
  await enclave.handle('manifest.install', { signedManifest: manifest(null) }, host.peer);
  await withWallet(enclave, host);
  // 9 ETH: the first policy's 10 ETH limit allows it (the demo rulebook would not).
  assert.match(String((await proposeAndSign(enclave, host, 0n, 9n * 10n ** 18n))['signedTx']), /^0x02/);
  for (const e of host.entries.filter((x) => x.kind === 'policy.decision' || x.kind === 'sign.approved')) {
    assert.match(String((e.data['versions'] as Record<string, Json>)['firstPolicy']), /^[0-9a-f]{64}$/);
  }
});

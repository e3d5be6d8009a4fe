/**
 * The enclave in-process with a manifest that pins the demo Cedar rulebook:
 * the rulebook must come with the manifest and match its digest (the host
 * cannot swap it), it is sealed with the spending ledger and survives a
 * restart, and decisions audit the version hashes they used. Without a
 * pinned rulebook the first policy decides, and audits its own hash.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { Json } from '@custodian/core/canonical-json';
import { bytesTo0x, bytesToHex } from '@custodian/core/bytes';
import { REPO_ROOT } from '@custodian/core/vectors';
import { decodeSignedManifest, encodeSignedManifest, manifestHash, rulebookFilesDigest, signManifest } from '@custodian/protocol/manifest';
import { encodeSignedRequest, signRequest } from '@custodian/protocol/operator-request';
import { APPROVAL_TYPE, TX_PROPOSAL_TYPE, WALLET_CREATE_TYPE } from '@custodian/protocol/payloads';
import { encodeUnsignedEip1559 } from '@custodian/chains/evm/eip1559';
import { parseAddress } from '@custodian/chains/evm/address';
import { readRulebookFiles } from '@custodian/policy/rulebook-dir';
import { Enclave } from './enclave.js';
import { memoryPlatform, orgKeys, orgManifest, RecordingHost, rejectsWith, requestNonce, simHardware } from './test-signers.js';

const hw = simHardware();
const TO = '0x70997970C51812dc3A010C7d01b50e0d17dc79C8';
const FILES = readRulebookFiles(join(REPO_ROOT, 'examples/policies/demo'));
const DIGEST = rulebookFilesDigest(FILES);
const filesJson = (files: ReadonlyMap<string, Uint8Array>): Json => Object.fromEntries([...files].map(([n, b]) => [n, bytesToHex(b)]));

const keys = orgKeys();

/** The organisation's manifest, pinning the rulebook of `rulebookDigest` (none: the first policy decides). */
function manifest(rulebookDigest: string | null): Json {
  const allowlist = [TO.toLowerCase()];
  return orgManifest(hw, keys, rulebookDigest ? { rulebookDigest, allowlist } : { allowlist });
}

async function withWallet(enclave: Enclave, host: RecordingHost): Promise<void> {
  const wc = signRequest({ type: WALLET_CREATE_TYPE, orgId: 'acme', walletId: 'w', scheme: 'single', signerId: 'signer-1', nonce: requestNonce(), createdAtMs: Date.now() }, 'alice', keys['alice']!);
  await enclave.handle('wallet.create', { request: encodeSignedRequest(wc) }, host.peer);
}

/** Proposes `value` wei to `to` at account nonce `n`, then signs it with bob's and carol's approvals. */
async function proposeAndSign(enclave: Enclave, host: RecordingHost, n: bigint, value: bigint, to = TO): Promise<Record<string, Json>> {
  const raw = encodeUnsignedEip1559({ chainId: 31337n, nonce: n, maxPriorityFeePerGas: 1n, maxFeePerGas: 2_000_000_000n, gasLimit: 21000n, to: parseAddress(to), value, data: new Uint8Array(0), accessList: [] });
  const proposal = encodeSignedRequest(signRequest({ type: TX_PROPOSAL_TYPE, orgId: 'acme', walletId: 'w', chain: 'eth', rawTx: bytesTo0x(raw), nonce: requestNonce(), createdAtMs: Date.now() }, 'dave', keys['dave']!));
  const res = (await enclave.handle('tx.propose', { request: proposal }, host.peer)) as Record<string, Json>;
  if (res['decision'] === 'deny') return res;
  const approvals = ['bob', 'carol'].map((who) =>
    encodeSignedRequest(signRequest({ type: APPROVAL_TYPE, orgId: 'acme', requestId: String(res['requestId']), txDigest: String(res['txDigest']), summaryHash: String(res['summaryHash']), expiresAtMs: Date.now() + 60_000, nonce: requestNonce() }, who, keys[who]!)),
  );
  return (await enclave.handle('tx.sign', { proposal, approvals }, host.peer)) as Record<string, Json>;
}

test('a manifest that pins a rulebook is refused without its files or with other files, and audited', async () => {
  const enclave = new Enclave(memoryPlatform(hw), 'signer-1');
  await enclave.boot();
  const host = new RecordingHost();
  await rejectsWith(enclave.handle('manifest.install', { signedManifest: manifest(DIGEST) }, host.peer), 'E_RULEBOOK_INVALID');
  const swapped = new Map(FILES);
  swapped.set('address-book.json', new TextEncoder().encode(new TextDecoder().decode(FILES.get('address-book.json')!).replace('0x70997970C51812dc3A010C7d01b50e0d17dc79C8', '0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC')));
  await rejectsWith(enclave.handle('manifest.install', { signedManifest: manifest(DIGEST), rulebook: filesJson(swapped) }, host.peer), 'E_RULEBOOK_INVALID');
  await rejectsWith(enclave.handle('manifest.install', { signedManifest: manifest(null), rulebook: filesJson(FILES) }, host.peer), 'E_RULEBOOK_INVALID');
  assert.equal(host.entries.filter((e) => e.kind === 'manifest.rejected' && e.data['code'] === 'E_RULEBOOK_INVALID').length, 3);
  assert.equal(enclave.phase, 'AWAITING_MANIFEST');
  await enclave.handle('manifest.install', { signedManifest: manifest(DIGEST), rulebook: filesJson(FILES) }, host.peer);
  assert.equal(enclave.phase, 'READY');
  assert.equal((host.entries.find((e) => e.kind === 'manifest.installed')!.data['rulebook'] as Record<string, Json>)['digest'], DIGEST);
});

test('the rulebook and the spending ledger are sealed: after a restart the 24 h wallet limit still holds', async () => {
  const platform = memoryPlatform(hw);
  const host = new RecordingHost();
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
  const host = new RecordingHost();
  const enclave = new Enclave(memoryPlatform(hw), 'signer-1');
  await enclave.boot();
  await enclave.handle('manifest.install', { signedManifest: manifest(null) }, host.peer);
  await withWallet(enclave, host);
  // 9 ETH: the first policy's 10 ETH limit allows it (the demo rulebook would not).
  assert.match(String((await proposeAndSign(enclave, host, 0n, 9n * 10n ** 18n))['signedTx']), /^0x02/);
  for (const e of host.entries.filter((x) => x.kind === 'policy.decision' || x.kind === 'sign.approved')) {
    assert.match(String((e.data['versions'] as Record<string, Json>)['firstPolicy']), /^[0-9a-f]{64}$/);
  }
});

/** The demo rulebook files with `policies/30-governance.cedar` replaced (and optionally a comment added to the transfer policies, which changes the policy set). */
function rulebookWith(governance: string, marker = ''): Map<string, Uint8Array> {
  const files = new Map(FILES);
  files.set('policies/30-governance.cedar', new TextEncoder().encode(governance));
  if (marker) files.set('policies/10-demo-transfers.cedar', new TextEncoder().encode(`${new TextDecoder().decode(FILES.get('policies/10-demo-transfers.cedar')!)}\n// ${marker}\n`));
  return files;
}

/** The next version of a signed manifest, pinning `rulebookDigest`, signed by `signers` (the first one proposes). */
function nextManifest(previous: Json, rulebookDigest: string, signers: string[]): Json {
  const prev = decodeSignedManifest(previous);
  const payload = { ...(prev.payload as Record<string, Json>), version: 2, previousHash: manifestHash(prev.payload), policy: { ...((prev.payload as Record<string, Json>)['policy'] as Record<string, Json>), rulebookDigest } };
  return encodeSignedManifest({ payload, signatures: signers.map((id) => signManifest(payload, id, keys[id]!)) });
}

/**
 * A signer on a genesis manifest whose rulebook governs its own change with
 * `annotations` (approvals, delay), and the next rulebook (v2) to propose.
 */
async function governedSigner(annotations: string): Promise<{ host: RecordingHost; enclave: Enclave; genesis: Json; next: ReturnType<typeof rulebookWith> }> {
  const governed = rulebookWith(`@id("policy-change-treasury")\n${annotations}\npermit (principal, action == Custodian::Action::"policy-change", resource);\n`);
  const host = new RecordingHost();
  const enclave = new Enclave(memoryPlatform(hw), 'signer-1');
  await enclave.boot();
  const genesis = orgManifest(hw, keys, { rulebookDigest: rulebookFilesDigest(governed), allowlist: [TO.toLowerCase()] });
  await enclave.handle('manifest.install', { signedManifest: genesis, rulebook: filesJson(governed) }, host.peer);
  return { host, enclave, genesis, next: rulebookWith(new TextDecoder().decode(governed.get('policies/30-governance.cedar')!), 'v2') };
}

test('a rulebook change is a policy-change request decided by the rulebook in force: approvals by group, a time-lock from first sight, and a deny without a permit', async () => {
  const { host, enclave, genesis, next } = await governedSigner('@approvals("treasury:1")\n@delay("2s")');
  // Proposed by alice, approved by bob (treasury): the quorum signed, the approval is there, the 2 s lock is not over.
  const v2 = nextManifest(genesis, rulebookFilesDigest(next), ['alice', 'bob']);
  await rejectsWith(enclave.handle('manifest.install', { signedManifest: v2, rulebook: filesJson(next) }, host.peer), 'E_QUORUM_NOT_MET');
  const refused = host.of('manifest.rejected').at(-1)!;
  assert.match(String(refused.data['reason']), /time-locked until/);
  // Proposed by bob with alice (no group): the treasury approval is missing, whatever the time.
  const unapproved = nextManifest(genesis, rulebookFilesDigest(next), ['bob', 'alice']);
  await rejectsWith(enclave.handle('manifest.install', { signedManifest: unapproved, rulebook: filesJson(next) }, host.peer), 'E_QUORUM_NOT_MET');
  assert.match(String(host.of('manifest.rejected').at(-1)!.data['reason']), /approvals missing: 1 more from treasury/);
  // Once the lock (from this signer's first sight of v2) is over, the same manifest installs.
  await new Promise((r) => setTimeout(r, 2_100));
  const ok = (await enclave.handle('manifest.install', { signedManifest: v2, rulebook: filesJson(next) }, host.peer)) as Record<string, Json>;
  assert.equal(ok['installed'], true);

  // The demo's own governance (2 admins of group "admins" and 24 h) permits nothing to these operators: denied.
  const demo = new Enclave(memoryPlatform(hw), 'signer-2');
  await demo.boot();
  const g2 = manifest(DIGEST);
  await demo.handle('manifest.install', { signedManifest: g2, rulebook: filesJson(FILES) }, host.peer);
  const changed = rulebookWith(new TextDecoder().decode(FILES.get('policies/30-governance.cedar')!), 'changed');
  await rejectsWith(demo.handle('manifest.install', { signedManifest: nextManifest(g2, rulebookFilesDigest(changed), ['alice', 'bob']), rulebook: filesJson(changed) }, host.peer), 'E_POLICY_NO_PERMIT');
});

test('F12 the host cannot hand the signer a decision: a forged "allowed" decision on tx.sign is refused as an unknown field (E_FIELD_UNKNOWN, audited), and the enclave decides itself', async () => {
  const enclave = new Enclave(memoryPlatform(hw), 'signer-1');
  await enclave.boot();
  const host = new RecordingHost();
  await enclave.handle('manifest.install', { signedManifest: manifest(DIGEST), rulebook: filesJson(FILES) }, host.peer);
  await withWallet(enclave, host);
  // An unlisted destination: the rulebook denies it, whatever the host claims.
  const UNLISTED = '0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC';
  const raw = encodeUnsignedEip1559({ chainId: 31337n, nonce: 0n, maxPriorityFeePerGas: 1n, maxFeePerGas: 2_000_000_000n, gasLimit: 21000n, to: parseAddress(UNLISTED), value: 1n, data: new Uint8Array(0), accessList: [] });
  const proposal = encodeSignedRequest(signRequest({ type: TX_PROPOSAL_TYPE, orgId: 'acme', walletId: 'w', chain: 'eth', rawTx: bytesTo0x(raw), nonce: requestNonce(), createdAtMs: Date.now() }, 'dave', keys['dave']!));
  const forged = { decision: 'allow', policies: ['demo-transfer-up-to-1-eth-to-address-book'], signedBy: 'policy-service' };
  await rejectsWith(enclave.handle('tx.sign', { proposal, approvals: [], decision: forged }, host.peer), 'E_FIELD_UNKNOWN');
  assert.equal(host.of('input.rejected').at(-1)!.data['op'], 'tx.sign');
  await rejectsWith(enclave.handle('tx.sign', { proposal, approvals: [] }, host.peer), 'E_DESTINATION_NOT_ALLOWED');
  assert.equal(host.of('signature.released').length, 0);
});

test('approvals given for the summary of first sight keep counting when the policy state moves (a destination no longer first-time after an earlier signing)', async () => {
  // The demo rulebook, its anvil permit needing 1 treasury approval, plus 2 while the destination is first-time.
  const transfers = new TextDecoder().decode(FILES.get('policies/10-demo-transfers.cedar')!);
  const relaxed = transfers.replace('@id("demo-transfer-up-to-1-eth-to-address-book")\n@approvals("treasury:2")', '@id("demo-transfer-up-to-1-eth-to-address-book")\n@approvals("treasury:1")');
  assert.notEqual(relaxed, transfers);
  const files = new Map(FILES);
  files.set('policies/10-demo-transfers.cedar', new TextEncoder().encode(`${relaxed}\n@id("first-time-destination-two-approvals")\n@approvals("treasury:2")\npermit (principal, action == Custodian::Action::"transfer", resource)\nwhen { context.chain == "anvil" && context.destination.firstTime };\n`));
  const enclave = new Enclave(memoryPlatform(hw), 'signer-1');
  await enclave.boot();
  const host = new RecordingHost();
  await enclave.handle('manifest.install', { signedManifest: orgManifest(hw, keys, { rulebookDigest: rulebookFilesDigest(files), allowlist: [TO.toLowerCase()] }), rulebook: filesJson(files) }, host.peer);
  await withWallet(enclave, host);
  const proposeOne = async (n: bigint): Promise<{ proposal: Json; approvals: Json[]; res: Record<string, Json> }> => {
    const raw = encodeUnsignedEip1559({ chainId: 31337n, nonce: n, maxPriorityFeePerGas: 1n, maxFeePerGas: 2_000_000_000n, gasLimit: 21000n, to: parseAddress(TO), value: 1000n, data: new Uint8Array(0), accessList: [] });
    const proposal = encodeSignedRequest(signRequest({ type: TX_PROPOSAL_TYPE, orgId: 'acme', walletId: 'w', chain: 'eth', rawTx: bytesTo0x(raw), nonce: requestNonce(), createdAtMs: Date.now() }, 'dave', keys['dave']!));
    const res = (await enclave.handle('tx.propose', { request: proposal }, host.peer)) as Record<string, Json>;
    const approvals = ['bob', 'carol'].map((who) =>
      encodeSignedRequest(signRequest({ type: APPROVAL_TYPE, orgId: 'acme', requestId: String(res['requestId']), txDigest: String(res['txDigest']), summaryHash: String(res['summaryHash']), expiresAtMs: Date.now() + 60_000, nonce: requestNonce() }, who, keys[who]!)),
    );
    return { proposal, approvals, res };
  };
  const a = await proposeOne(0n);
  const b = await proposeOne(1n);
  assert.match(String(b.res['reasons']), /needs 2 more approvals from treasury/);
  await enclave.handle('tx.sign', { proposal: a.proposal, approvals: a.approvals }, host.peer);
  // The destination has now been paid: b's summary today would say 1 approval; the two given for what dave and the approvers saw still count.
  const again = (await enclave.handle('tx.propose', { request: b.proposal }, host.peer)) as Record<string, Json>;
  assert.notEqual(again['summaryHash'], b.res['summaryHash'], 'the policy state moved');
  const signed = (await enclave.handle('tx.sign', { proposal: b.proposal, approvals: b.approvals }, host.peer)) as Record<string, Json>;
  assert.match(String(signed['signedTx']), /^0x02/);
});

test('B14 a rulebook change counts only approvals whose manifest signature verifies: a signature entry the host appended in a treasury member\'s name is no approval (and not audited as a signer)', async () => {
  const { host, enclave, genesis, next } = await governedSigner('@approvals("treasury:2")\n@delay("1s")');
  // The quorum (alice, bob) signed; carol (treasury) did not: the host appends an entry in her name with bob's signature bytes.
  const v2 = decodeSignedManifest(nextManifest(genesis, rulebookFilesDigest(next), ['alice', 'bob']));
  const forged = encodeSignedManifest({ payload: v2.payload, signatures: [...v2.signatures, { operatorId: 'carol', signature: v2.signatures[1]!.signature }] });
  await rejectsWith(enclave.handle('manifest.install', { signedManifest: forged, rulebook: filesJson(next) }, host.peer), 'E_QUORUM_NOT_MET');
  assert.match(String(host.of('manifest.rejected').at(-1)!.data['reason']), /approvals missing: 1 more from treasury/);
  assert.equal(host.of('manifest.installed').length, 1);
  // With carol's real signature (once the 1 s lock from first sight is over) it installs, and the audit names the three who signed.
  await new Promise((r) => setTimeout(r, 1_100));
  const real = nextManifest(genesis, rulebookFilesDigest(next), ['alice', 'bob', 'carol']);
  await enclave.handle('manifest.install', { signedManifest: real, rulebook: filesJson(next) }, host.peer);
  assert.deepEqual(host.of('manifest.installed').at(-1)!.data['signedBy'], ['alice', 'bob', 'carol']);
});

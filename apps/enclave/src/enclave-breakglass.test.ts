/**
 * Break-glass freezes applied by in-process signers (issue 7 item 6): the key
 * broker's signed execution statements (signed here with a P-256 key standing
 * in for its HSM-held `kbs-signing` key) freeze and unfreeze a wallet or the
 * organisation; a frozen scope refuses proposals, single-key signing,
 * threshold sessions, refresh and wallet creation, audited; forged, foreign,
 * altered (B33), stale and misdirected statements are refused, audited; a
 * freeze is sealed and survives a restart.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { p256 } from '@noble/curves/nist.js';
import type { Json } from '@custodian/core/canonical-json';
import { canonicalJsonBytes } from '@custodian/core/canonical-json';
import { encodeSignedRequest, signRequest } from '@custodian/protocol/operator-request';
import { WALLET_CREATE_TYPE, WALLET_REFRESH_TYPE } from '@custodian/protocol/payloads';
import type { BreakglassAction, BreakglassExecution } from '@custodian/protocol/breakglass-execution';
import { Enclave } from './enclave.js';
import { unseal } from './sealed-state.js';
import { decodeState, encodeState, initialState } from './state.js';
import { FREEZE_SCOPES_MAX } from './freeze.js';
import { EMPTY_AUDIT_MAP_CONTEXT, mapAuditEvent } from './audit-entry-map.js';
import { bootSigners, memoryPlatform, orgKeys, orgManifest, proposeTransfer, RecordingHost, rejectsWith, requestNonce, runSession, simHardware, singleKeySigner, TestBroker } from './test-signers.js';
import type { KeyBrokerTrust } from './platform.js';

type R = Record<string, Json>;
const TO = '0x70997970c51812dc3a010c7d01b50e0d17dc79c8';
const hw = simHardware();
const keys = orgKeys();
const manifest = orgManifest(hw, keys, { allowlist: [TO], maxValueWei: '1000000' });

/** The key broker (its P-256 key stands in for the HSM-held kbs-signing key). */
const broker = new TestBroker();
const KBS = broker.trust;
const otherBroker = p256.utils.randomSecretKey();
const execution = (id: string, action: BreakglassAction, payload: Json, over: Partial<BreakglassExecution> = {}, secret = broker.secret): Json => broker.execution(id, action, payload, over, secret);
const walletScope = (walletId: string): Json => ({ scope: 'wallet', walletId });
const orgScope = (orgId = 'acme'): Json => ({ scope: 'organisation', orgId });
const proposeWithApprovals = (to: Enclave, host: RecordingHost, walletId: string) => proposeTransfer(to, host, keys, walletId, TO);
/** One signer with the broker configured (or `kbs`) and a single-key wallet `w`. */
const singleSigner = (kbs: KeyBrokerTrust | null = KBS) => singleKeySigner(hw, manifest, keys, kbs);

const apply = (e: Enclave, host: RecordingHost, exec: Json): Promise<R> => e.handle('breakglass.apply', { execution: exec }, host.peer) as Promise<R>;
const last = (host: RecordingHost, kind: string): R => host.of(kind).at(-1)!.data;

test('freeze-wallet: tx.propose and tx.sign refuse E_WALLET_FROZEN, audited; unfreeze lets the wallet sign again', async () => {
  const { host, enclave } = await singleSigner();
  const p = await proposeWithApprovals(enclave, host, 'w');
  const answer = await apply(enclave, host, execution('bg-freeze-1', 'freeze-wallet', walletScope('w')));
  assert.deepEqual(answer, { breakglassId: 'bg-freeze-1', action: 'freeze-wallet', scope: 'wallet', walletId: 'w', frozen: true, applied: true });
  const applied = last(host, 'breakglass.applied');
  assert.equal(applied['walletId'], 'w');
  assert.equal(applied['frozen'], true);
  assert.equal(applied['signerId'], 'signer-1');
  // The typed record auditors read: a break-glass step applied by this signer to wallet w.
  const typed = mapAuditEvent('breakglass.applied', null, applied, 1, EMPTY_AUDIT_MAP_CONTEXT);
  assert.ok(typed.kind === 'breakglass.step' && typed.step === 'applied' && typed.actor === 'signer-1' && typed.target === 'wallet:w' && typed.breakglassId === 'bg-freeze-1');

  await rejectsWith(enclave.handle('tx.sign', { proposal: p.proposal, approvals: p.approvals }, host.peer), 'E_WALLET_FROZEN');
  assert.equal(last(host, 'sign.refused')['code'], 'E_WALLET_FROZEN');
  await rejectsWith(proposeWithApprovals(enclave, host, 'w'), 'E_WALLET_FROZEN');
  assert.equal(last(host, 'request.rejected')['code'], 'E_WALLET_FROZEN');
  assert.equal(host.of('signature.released').length, 0);

  const unfrozen = await apply(enclave, host, execution('bg-unfreeze-1', 'unfreeze', walletScope('w')));
  assert.equal(unfrozen['frozen'], false);
  const signed = (await enclave.handle('tx.sign', { proposal: p.proposal, approvals: p.approvals }, host.peer)) as R;
  assert.match(String(signed['signedTx']), /^0x02/);
  assert.equal(host.of('signature.released').length, 1);
});

test('a freeze of another wallet leaves this one signing; an organisation freeze stops every wallet and wallet creation', async () => {
  const { host, enclave } = await singleSigner();
  await apply(enclave, host, execution('bg-other-1', 'freeze-wallet', walletScope('other')));
  const p = await proposeWithApprovals(enclave, host, 'w');
  await apply(enclave, host, execution('bg-org-1', 'freeze-organisation', orgScope()));
  await rejectsWith(enclave.handle('tx.sign', { proposal: p.proposal, approvals: p.approvals }, host.peer), 'E_ORGANISATION_FROZEN');
  assert.equal(last(host, 'sign.refused')['code'], 'E_ORGANISATION_FROZEN');
  const wc = signRequest({ type: WALLET_CREATE_TYPE, orgId: 'acme', walletId: 'w2', scheme: 'single', signerId: 'signer-1', nonce: requestNonce(), createdAtMs: Date.now() }, 'alice', keys['alice']!);
  await rejectsWith(enclave.handle('wallet.create', { request: encodeSignedRequest(wc) }, host.peer), 'E_ORGANISATION_FROZEN');
  assert.equal(last(host, 'wallet.rejected')['code'], 'E_ORGANISATION_FROZEN');
  // The organisation unfrozen: wallet w signs (the freeze of `other` is its own scope).
  await apply(enclave, host, execution('bg-org-2', 'unfreeze', orgScope()));
  assert.match(String(((await enclave.handle('tx.sign', { proposal: p.proposal, approvals: p.approvals }, host.peer)) as R)['signedTx']), /^0x02/);
});

test('the same execution applied twice is idempotent; B33 an older unfreeze replayed after a newer freeze is refused E_BREAKGLASS_STALE, audited', async () => {
  const { host, enclave } = await singleSigner();
  const freeze1 = execution('bg-f1', 'freeze-wallet', walletScope('w'));
  const unfreeze1 = execution('bg-u1', 'unfreeze', walletScope('w'));
  await apply(enclave, host, freeze1);
  await apply(enclave, host, unfreeze1);
  const freeze2 = execution('bg-f2', 'freeze-wallet', walletScope('w'));
  assert.equal((await apply(enclave, host, freeze2))['applied'], true);
  assert.equal((await apply(enclave, host, freeze2))['applied'], false, 'the same statement again changes nothing');
  assert.equal(last(host, 'breakglass.applied')['repeated'], true);
  await rejectsWith(apply(enclave, host, unfreeze1), 'E_BREAKGLASS_STALE');
  const refused = last(host, 'breakglass.refused');
  assert.equal(refused['code'], 'E_BREAKGLASS_STALE');
  assert.equal(refused['breakglassId'], 'bg-u1');
  await rejectsWith(apply(enclave, host, freeze1), 'E_BREAKGLASS_STALE');
  // A different statement executed at the very same time as the last one is not later either.
  await rejectsWith(apply(enclave, host, execution('bg-u2', 'unfreeze', walletScope('w'), { executedAtMs: broker.lastExecutedAtMs })), 'E_BREAKGLASS_STALE');
  await rejectsWith(proposeWithApprovals(enclave, host, 'w'), 'E_WALLET_FROZEN');
});

test('B33 a forged statement, one signed by another broker key, or a swapped payload is refused, audited, and changes nothing', async () => {
  const { host, enclave } = await singleSigner();
  await apply(enclave, host, execution('bg-f1', 'freeze-wallet', walletScope('w')));
  const refusedBefore = host.of('breakglass.refused').length;

  const forged = execution('bg-u1', 'unfreeze', walletScope('w')) as R;
  const sig = String(forged['signature']);
  await rejectsWith(apply(enclave, host, { ...forged, signature: `${sig[0] === '0' ? '1' : '0'}${sig.slice(1)}` }), 'E_BREAKGLASS_EXECUTION_INVALID');
  const relabelled = forged['execution'] as R;
  await rejectsWith(apply(enclave, host, { ...forged, execution: { ...relabelled, executedAtMs: Number(relabelled['executedAtMs']) + 1 } }), 'E_BREAKGLASS_EXECUTION_INVALID');
  await rejectsWith(apply(enclave, host, execution('bg-u2', 'unfreeze', walletScope('w'), {}, otherBroker)), 'E_BREAKGLASS_EXECUTION_INVALID');
  // The quorum approved unfreezing `other`; the host hands that statement with w's payload.
  const approvedOther = execution('bg-u3', 'unfreeze', walletScope('other')) as R;
  await rejectsWith(apply(enclave, host, { ...approvedOther, payload: walletScope('w') }), 'E_BREAKGLASS_PAYLOAD_CHANGED');

  const refusals = host.of('breakglass.refused').slice(refusedBefore).map((e) => e.data['code']);
  assert.deepEqual(refusals, ['E_BREAKGLASS_EXECUTION_INVALID', 'E_BREAKGLASS_EXECUTION_INVALID', 'E_BREAKGLASS_EXECUTION_INVALID', 'E_BREAKGLASS_PAYLOAD_CHANGED']);
  await rejectsWith(proposeWithApprovals(enclave, host, 'w'), 'E_WALLET_FROZEN');
});

test('refused: another organisation (E_ORG_MISMATCH), an action signers do not apply here, a payload that does not fit its action, no broker configured', async () => {
  const { host, enclave } = await singleSigner();
  await rejectsWith(apply(enclave, host, execution('bg-o1', 'freeze-organisation', orgScope('globex'))), 'E_ORG_MISMATCH');
  await rejectsWith(apply(enclave, host, execution('bg-r1', 'recover-signer', { signerId: 'signer-2', backupSha256: 'ab'.repeat(32) })), 'E_BREAKGLASS_ACTION_UNSUPPORTED');
  // A manifest successor is authorised through manifest.install, not applied here.
  await rejectsWith(apply(enclave, host, execution('bg-p1', 'change-root-quorum', { manifestHash: 'ab'.repeat(32) })), 'E_BREAKGLASS_ACTION_UNSUPPORTED');
  await rejectsWith(apply(enclave, host, execution('bg-w1', 'freeze-wallet', orgScope())), 'E_FIELD_INVALID');
  await rejectsWith(enclave.handle('breakglass.apply', { execution: { nonsense: true } }, host.peer), 'E_FIELD_MISSING');
  assert.deepEqual(host.of('breakglass.refused').map((e) => e.data['code']), ['E_ORG_MISMATCH', 'E_BREAKGLASS_ACTION_UNSUPPORTED', 'E_BREAKGLASS_ACTION_UNSUPPORTED', 'E_FIELD_INVALID', 'E_FIELD_MISSING']);
  assert.match(String(((await proposeWithApprovals(enclave, host, 'w')).requestId)), /^[0-9a-f]{64}$/, 'nothing was frozen');

  const none = await singleSigner(null);
  await rejectsWith(apply(none.enclave, none.host, execution('bg-f1', 'freeze-wallet', walletScope('w'))), 'E_BREAKGLASS_NOT_CONFIGURED');
  assert.equal(last(none.host, 'breakglass.refused')['code'], 'E_BREAKGLASS_NOT_CONFIGURED');
});

test('a freeze is sealed: it survives a restart, and state sealed before freezes existed decodes with none', async () => {
  const { platform, host, enclave } = await singleSigner();
  const p = await proposeWithApprovals(enclave, host, 'w');
  await apply(enclave, host, execution('bg-f1', 'freeze-wallet', walletScope('w')));
  const { version, plaintext } = unseal(platform.key, 'signer-1', platform.blob!);
  assert.deepEqual([...decodeState(plaintext, version).freezes.keys()], ['wallet:w']);

  const restarted = new Enclave(platform, 'signer-1');
  await restarted.boot();
  await rejectsWith(restarted.handle('tx.sign', { proposal: p.proposal, approvals: p.approvals }, host.peer), 'E_WALLET_FROZEN');
  // The restarted signer still orders statements against the sealed one.
  await rejectsWith(apply(restarted, host, execution('bg-old', 'unfreeze', walletScope('w'), { executedAtMs: 1 })), 'E_BREAKGLASS_STALE');

  const fresh = initialState(new Uint8Array(32).fill(1), new Uint8Array(32).fill(2), new Uint8Array(32).fill(3), new Uint8Array(32).fill(4));
  const bytes = encodeState(fresh);
  assert.ok(!('freezes' in (JSON.parse(new TextDecoder().decode(bytes)) as R)), 'no freezes: the sealed form is as before');
  assert.equal(decodeState(bytes, 0n).freezes.size, 0);
  const withFreezes = (freezes: Json): Uint8Array => canonicalJsonBytes({ ...(JSON.parse(new TextDecoder().decode(bytes)) as R), freezes });
  assert.equal(decodeState(withFreezes([{ scope: 'organisation:acme', executionId: 'bg-1', executedAtMs: 5, frozen: true }]), 0n).freezes.get('organisation:acme')?.frozen, true);
  assert.throws(() => decodeState(withFreezes([{ scope: 'somewhere:acme', executionId: 'bg-1', executedAtMs: 5, frozen: true }]), 0n), /E_SEALED_STATE_INVALID|sealed state/);
  const tooMany = Array.from({ length: FREEZE_SCOPES_MAX + 1 }, (_, i) => ({ scope: `wallet:w${i}`, executionId: 'bg-1', executedAtMs: 5, frozen: true }));
  assert.throws(() => decodeState(withFreezes(tooMany), 0n), /bounded/);
});

test('threshold ECDSA: an organisation freeze stops signing at mpc.open, a session opened before it at mpc.start, refresh and key generation; unfreeze signs', async () => {
  const ids = ['signer-1', 'signer-2', 'signer-3'];
  const host = new RecordingHost();
  const platforms = new Map(ids.map((id) => [id, broker.platform(hw)] as const));
  const enclaves = await bootSigners(ids, platforms, manifest, host);
  const dkg = (walletId: string): Json => ({ kind: 'dkg', request: encodeSignedRequest(signRequest({ type: WALLET_CREATE_TYPE, orgId: 'acme', walletId, scheme: 'ecdsa-dkls', threshold: 2, parties: ids, nonce: requestNonce(), createdAtMs: Date.now() }, 'alice', keys['alice']!)) });
  await runSession(enclaves, host, ids, dkg('tw'));
  const p = await proposeWithApprovals(enclaves.get('signer-1')!, host, 'tw');
  const signers = ['signer-1', 'signer-2'];
  const open: Json = { kind: 'sign', proposal: p.proposal, approvals: p.approvals, signers, combiner: 'signer-1' };
  const applyAll = async (exec: Json): Promise<void> => {
    for (const e of enclaves.values()) await apply(e, host, exec);
  };

  // Opened before the freeze: the session goes no further than mpc.start.
  const opened = new Map<string, R>();
  for (const id of signers) opened.set(id, (await enclaves.get(id)!.handle('mpc.open', open, host.peer)) as R);
  await applyAll(execution('bg-org-f', 'freeze-organisation', orgScope()));
  const contributions = signers.map((id) => ({ signerId: id, nonce: opened.get(id)!['nonce']! }));
  await rejectsWith(enclaves.get('signer-1')!.handle('mpc.start', { nonce: opened.get('signer-1')!['nonce']!, contributions }, host.peer), 'E_ORGANISATION_FROZEN');
  const aborted = last(host, 'mpc.aborted');
  assert.equal(aborted['code'], 'E_ORGANISATION_FROZEN');
  assert.equal(aborted['kind'], 'sign');

  await rejectsWith(runSession(enclaves, host, signers, open), 'E_ORGANISATION_FROZEN');
  assert.equal(last(host, 'sign.refused')['code'], 'E_ORGANISATION_FROZEN');
  await rejectsWith(runSession(enclaves, host, ids, dkg('tw2')), 'E_ORGANISATION_FROZEN');
  assert.equal(last(host, 'wallet.rejected')['code'], 'E_ORGANISATION_FROZEN');

  // The organisation unfrozen, the wallet frozen on its own: refresh and signing refuse E_WALLET_FROZEN.
  await applyAll(execution('bg-org-u', 'unfreeze', orgScope()));
  await applyAll(execution('bg-tw-f', 'freeze-wallet', walletScope('tw')));
  const refresh: Json = { kind: 'refresh', request: encodeSignedRequest(signRequest({ type: WALLET_REFRESH_TYPE, orgId: 'acme', walletId: 'tw', nonce: requestNonce(), createdAtMs: Date.now() }, 'alice', keys['alice']!)) };
  await rejectsWith(runSession(enclaves, host, ids, refresh), 'E_WALLET_FROZEN');
  assert.equal(last(host, 'wallet.rejected')['code'], 'E_WALLET_FROZEN');
  await rejectsWith(runSession(enclaves, host, signers, open), 'E_WALLET_FROZEN');

  await applyAll(execution('bg-tw-u', 'unfreeze', walletScope('tw')));
  const results = await runSession(enclaves, host, signers, open);
  assert.match(String((results.get('signer-1') as R)['signedTx']), /^0x02/);
});

test('a signer launched with a key broker requires its peers\' workload credentials even when it has no route to the broker itself (the trust, not the channel, decides)', async () => {
  const host = new RecordingHost();
  const trusting = memoryPlatform(hw);
  trusting.kbs = KBS; // the broker's key, no channel
  const [a, b] = [new Enclave(trusting, 'signer-1'), new Enclave(memoryPlatform(hw), 'signer-2')];
  for (const e of [a, b]) {
    await e.boot();
    await e.handle('manifest.install', { signedManifest: manifest }, host.peer);
  }
  const nonce = 'ab'.repeat(32);
  const h = (await b.handle('hello', { nonce }, host.peer)) as R;
  const out = (await a.handle('peers.install', { peers: [{ signerId: 'signer-2', identityKey: h['identityKey']!, nonce, evidence: h['evidence']!, peerKey: h['peerKey']! }] }, host.peer)) as R;
  assert.deepEqual((out['rejected'] as R[]).map((r) => r['code']), ['E_CREDENTIAL_INVALID']);
  // A peer that presents the broker's credential for its key is accepted.
  const c = new Enclave(broker.platform(hw), 'signer-3');
  await c.boot();
  await c.handle('manifest.install', { signedManifest: manifest }, host.peer);
  const hc = (await c.handle('hello', { nonce }, host.peer)) as R;
  assert.ok(hc['credential'], 'a signer with a broker channel answers its credential');
  const ok = (await a.handle('peers.install', { peers: [{ signerId: 'signer-3', identityKey: hc['identityKey']!, nonce, evidence: hc['evidence']!, peerKey: hc['peerKey']!, credential: hc['credential']! }] }, host.peer)) as R;
  assert.deepEqual((ok['accepted'] as R[]).map((r) => r['signerId']), ['signer-3']);
});

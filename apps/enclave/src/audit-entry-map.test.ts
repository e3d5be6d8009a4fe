/**
 * The enclave's audit events as typed entries: every event the enclave writes
 * maps to its own record (never the fallback), fields the event does not
 * carry stay null, unknown events and misshapen data still give a decodable
 * entry, and a statement signed with the protocol's signer decodes with the
 * audit package's custody-leaf decoder (the two encodings cannot drift).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { ed25519 } from '@noble/curves/ed25519.js';
import { canonicalJsonBytes, type Json } from '@custodian/core/canonical-json';
import { decodeAuditEntry, encodeAuditEntry } from '@custodian/audit/entry';
import { decodeCustodyLeaf } from '@custodian/audit/custody-leaf';
import { AUDIT_ENTRY_KIND, AUDIT_GENESIS_HASH, encodeEnclaveSigned, signStatement } from '@custodian/protocol/enclave-signed';
import { EMPTY_AUDIT_MAP_CONTEXT, EVENT_KINDS, mapAuditEvent, UNMAPPED_EVENT, type AuditMapContext } from './audit-entry-map.js';

const H = (c: string): string => c.repeat(64);
const AT = 1_764_000_000_000;
const REQ = H('7');
const VERSIONS = { policySet: H('1'), addressBook: H('2'), priceTable: H('3'), screeningList: H('4'), limits: H('5'), chains: H('6'), rulebook: 'demo-2026-01', rulebookDigest: H('8'), policies: ['treasury.two-approvals'] };
const CTX: AuditMapContext = { platform: 'sim', manifest: { hash: H('a'), previousHash: H('9') }, walletScheme: (id) => (id === 'hot-eth-1' ? 'ecdsa-dkls' : null) };

/** One event of every kind, with the data shapes the enclave writes (see its audit / refuse calls). */
const EVENTS: readonly { kind: string; requestId: string | null; data: Json }[] = [
  { kind: 'request.proposed', requestId: REQ, data: { walletId: 'hot-eth-1', initiator: 'dave', txDigest: `0x${H('d')}`, summaryHash: H('e'), rawTxHash: H('f') } },
  { kind: 'policy.decision', requestId: REQ, data: { decision: 'needs-approval', code: null, reasons: ['needs 2 approval(s) from group treasury'], requiredApprovals: { group: 'treasury', count: 2 }, approvalsByGroup: { treasury: 2 }, versions: VERSIONS } },
  { kind: 'policy.denied', requestId: REQ, data: { decision: 'deny', code: 'E_SANCTIONED_DESTINATION', reasons: ['destination is sanctioned'], requiredApprovals: { group: '', count: 0 }, approvalsByGroup: {}, versions: VERSIONS } },
  { kind: 'approval.accepted', requestId: REQ, data: { operatorId: 'bob', txDigest: `0x${H('d')}`, summaryHash: H('e'), expiresAtMs: AT + 60_000, nonce: 'ab'.repeat(16) } },
  { kind: 'approval.rejected', requestId: REQ, data: { code: 'E_REQUEST_DENIED', reason: 'request was denied by policy', operatorId: 'bob', policyCode: 'E_SANCTIONED_DESTINATION', versions: VERSIONS } },
  { kind: 'approval.invalidated', requestId: REQ, data: { operatorId: 'carol', code: 'E_APPROVAL_EXPIRED', reason: 'approval by carol expired' } },
  { kind: 'sign.approved', requestId: REQ, data: { approvals: [`bob:${H('b')}`, `carol:${H('c')}`], txDigest: `0x${H('d')}`, policy: 'allow', versions: VERSIONS, scheme: 'ecdsa-dkls', signers: ['signer-1', 'signer-2'], combiner: 'signer-1' } },
  { kind: 'sign.refused', requestId: REQ, data: { code: 'E_QUORUM_NOT_MET', reason: '1 valid approval(s) of 2 required from treasury', versions: VERSIONS } },
  { kind: 'signature.released', requestId: REQ, data: { txHash: `0x${H('c')}`, from: '0x5FbDB2315678afecb367f032d93F642f64180aa3', walletId: 'hot-eth-1' } },
  { kind: 'manifest.installed', requestId: null, data: { manifestHash: H('a'), orgId: 'acme', version: 2, signedBy: ['alice', 'bob'], measurements: ['09'.repeat(48)], rulebook: { digest: H('8'), versions: { policySet: H('1') } } } },
  { kind: 'manifest.rejected', requestId: null, data: { code: 'E_MANIFEST_SEQUENCE', reason: 'a new manifest must have the next version', manifestHash: H('b') } },
  { kind: 'attest.accepted', requestId: null, data: { peer: 'signer-2', identityKey: H('4'), measurement: '09'.repeat(48), peerKey: H('5') } },
  { kind: 'attest.rejected', requestId: null, data: { peer: 'signer-3', code: 'E_ATTEST_MEASUREMENT', reason: 'measurement not allowed' } },
  { kind: 'wallet.created', requestId: null, data: { walletId: 'hot-eth-1', scheme: 'ecdsa-dkls', signerId: 'signer-1', publicKey: `02${H('3')}`, address: '0x5FbDB2315678afecb367f032d93F642f64180aa3', orgId: 'acme', manifestHash: H('a'), threshold: 2, parties: ['signer-1', 'signer-2', 'signer-3'], requestedBy: 'alice', sessionId: H('6') } },
  { kind: 'wallet.rejected', requestId: null, data: { code: 'E_WALLET_EXISTS', reason: 'wallet w already exists', operatorId: 'alice' } },
  { kind: 'mpc.aborted', requestId: REQ, data: { code: 'E_MPC_CULPRIT', reason: 'party 2 sent an invalid share', kind: 'sign', walletId: 'hot-eth-1', sessionId: H('6'), culprit: 'signer-2', peer: null } },
  { kind: 'request.rejected', requestId: null, data: { code: 'E_WALLET_UNKNOWN', reason: 'wallet x is not held by signer-1', operatorId: 'dave' } },
  { kind: 'request.replayed', requestId: REQ, data: { txHash: `0x${H('c')}` } },
  { kind: 'input.rejected', requestId: null, data: { op: 'tx.sign', code: 'E_FIELD_INVALID', reason: 'tx.sign.proposal must be a JSON object' } },
  { kind: 'wallet.refreshed', requestId: null, data: { walletId: 'hot-eth-1', sessionId: H('6'), digest: H('5'), parties: ['signer-1', 'signer-2', 'signer-3'] } },
  { kind: 'wallet.refresh_dropped', requestId: null, data: { walletId: 'hot-eth-1', sessionId: H('6') } },
  { kind: 'time.skew_detected', requestId: null, data: { op: 'tx.sign', code: 'E_TIME_SKEW_DETECTED', reason: 'the clock reads an earlier time' } },
  { kind: 'checkpoint.synced', requestId: null, data: { size: 5, previousSize: 2, peers: ['signer-1', 'signer-2'] } },
  { kind: 'checkpoint.rejected', requestId: null, data: { code: 'E_CHECKPOINT_FORK', reason: 'peers signer-1 signed another tree of size 5 than this signer did' } },
  { kind: 'provision.started', requestId: null, data: { shareManifestHash: H('7'), setId: 'backup-key-1', threshold: 2, members: ['m1', 'm2', 'm3'], enclaveKey: H('8') } },
  { kind: 'provision.share_accepted', requestId: null, data: { shareManifestHash: H('7'), memberId: 'm1', accepted: 1, threshold: 2 } },
  { kind: 'provision.completed', requestId: null, data: { shareManifestHash: H('7'), setId: 'backup-key-1', threshold: 2, members: ['m1', 'm2'], secretCommitment: H('9') } },
  { kind: 'provision.refused', requestId: null, data: { code: 'E_FIELD_INVALID', reason: 'the share manifest is malformed', shareManifestHash: H('7') } },
  { kind: 'provision.share_refused', requestId: null, data: { code: 'E_SHARE_COMMITMENT_MISMATCH', reason: 'the share of m3 does not match its commitment', memberId: 'm3' } },
  { kind: 'breakglass.applied', requestId: null, data: { breakglassId: 'bg-1', action: 'freeze-wallet', payloadHash: H('9'), approvals: ['carol'], executedAtMs: AT - 1, scope: 'wallet', walletId: 'hot-eth-1', frozen: true, repeated: false, signerId: 'signer-1' } },
  { kind: 'breakglass.applied', requestId: H('1'), data: { breakglassId: 'bg-2', action: 'override-policy', payloadHash: H('9'), approvals: ['carol', 'dave'], executedAtMs: AT - 1, scope: 'request', requestId: H('1'), txDigest: `0x${H('2')}`, repeated: false, signerId: 'signer-1' } },
  { kind: 'policy.overridden', requestId: H('1'), data: { breakglassId: 'bg-2', txDigest: `0x${H('2')}`, overriddenCode: 'E_POLICY_VALUE', approvals: ['bob', 'carol'] } },
  { kind: 'breakglass.refused', requestId: null, data: { code: 'E_BREAKGLASS_STALE', reason: 'break-glass request bg-1 was executed before bg-2', breakglassId: 'bg-1', action: 'unfreeze' } },
  { kind: 'backup.exported', requestId: null, data: { backupSha256: H('a'), wallets: ['w1', 'w2'], stateVersion: '42', recoveryKeyHash: H('b') } },
  { kind: 'backup.restored', requestId: null, data: { breakglassRequest: 'recover-2', backupSha256: H('a'), measurement: H('c'), wallets: ['w1'] } },
  { kind: 'backup.refused', requestId: null, data: { code: 'E_BACKUP_UNAVAILABLE', reason: 'this signer has no recovery key', step: 'export' } },
  { kind: 'state.migrated_out', requestId: null, data: { toMeasurement: '0a'.repeat(48), ephemeralKeyHash: H('a'), evidenceHash: H('b'), wallets: ['w1'], stateVersion: '12' } },
  { kind: 'state.migrated_in', requestId: null, data: { fromMeasurement: '09'.repeat(48), toMeasurement: '0a'.repeat(48), packageSha256: H('c'), wallets: ['w1'] } },
  { kind: 'state.migration_refused', requestId: null, data: { code: 'E_ATTEST_MEASUREMENT', reason: 'measurement not in the allowlist', step: 'export' } },
];

test('every event kind the enclave writes has its own typed record', () => {
  // The enclave's operations live in several modules (enclave.ts and those it delegates to through EnclaveContext).
  const source = readdirSync(new URL('.', import.meta.url))
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts') && !f.startsWith('audit-entry-map') && !f.startsWith('test-'))
    .map((f) => readFileSync(new URL(`./${f}`, import.meta.url), 'utf8'))
    .join('\n');
  const written = new Set([...source.matchAll(/(?:#|ctx\.)(?:audit|refuse)\(peer, '([a-z._]+)'/g)].map((m) => m[1]!));
  // Kinds chosen by a conditional before the call.
  for (const k of ['policy.decision', 'policy.denied', 'input.rejected', 'time.skew_detected']) {
    assert.ok(source.includes(`'${k}'`), `the enclave no longer writes ${k}`);
    written.add(k);
  }
  assert.ok(written.size >= 15, 'the scan sees the enclave calls');
  for (const k of written) assert.ok(k in EVENT_KINDS, `enclave event ${k} has no typed record in audit-entry-map.ts`);
  for (const k of Object.keys(EVENT_KINDS)) assert.ok(EVENTS.some((e) => e.kind === k), `no sample for ${k}`);
});

test('each event maps to the entry kind of its table row, decodably and canonically', () => {
  for (const e of EVENTS) {
    const entry = mapAuditEvent(e.kind, e.requestId, e.data, AT, CTX);
    assert.equal(entry.kind, EVENT_KINDS[e.kind], `${e.kind} → ${entry.kind}`);
    assert.ok(!(entry.kind === 'event' && entry.name === UNMAPPED_EVENT), `${e.kind} fell back: ${JSON.stringify(entry)}`);
    assert.equal(entry.at, AT);
    assert.deepEqual(decodeAuditEntry(encodeAuditEntry(entry)), entry);
    if ('requestId' in entry && entry.requestId !== null) assert.equal(entry.requestId, e.requestId);
  }
});

test('the records carry the story: versions, approvals, culprit, identity key; missing fields are null, not invented', () => {
  const by = (kind: string): ReturnType<typeof mapAuditEvent> => mapAuditEvent(kind, EVENTS.find((e) => e.kind === kind)!.requestId, EVENTS.find((e) => e.kind === kind)!.data, AT, CTX);
  const decision = by('policy.decision');
  assert.ok(decision.kind === 'policy.decision');
  assert.deepEqual([decision.policyHash, decision.addressBookHash, decision.priceTableHash, decision.screeningListHash], [H('1'), H('2'), H('3'), H('4')]);
  assert.deepEqual(decision.policies, ['treasury.two-approvals']);
  assert.deepEqual(decision.approvalsRequired, { treasury: 2 });
  assert.equal(decision.versions?.['rulebookDigest'], H('8'));
  const denied = by('policy.denied');
  assert.ok(denied.kind === 'policy.decision' && denied.decision === 'deny' && denied.code === 'E_SANCTIONED_DESTINATION');
  const approval = by('approval.accepted');
  assert.ok(approval.kind === 'approval' && approval.digest === H('d') && approval.group === null && approval.approvalHash === null);
  const released = by('signature.released');
  assert.ok(released.kind === 'signature.released');
  assert.equal(released.scheme, 'ecdsa-dkls', 'scheme from the wallet the signer holds');
  assert.equal(released.digest, null);
  assert.equal(released.txId, `0x${H('c')}`);
  const solana = mapAuditEvent('signature.released', REQ, { txHash: '5'.repeat(87), from: 'So1anaAddre55', walletId: 'sol-1' }, AT, CTX);
  assert.ok(solana.kind === 'signature.released' && solana.txId === '5'.repeat(87), 'a Solana signature as the transaction id');
  const aborted = by('mpc.aborted');
  assert.ok(aborted.kind === 'session.aborted' && aborted.culprit === 'signer-2' && aborted.session === 'sign');
  const attested = by('attest.accepted');
  assert.ok(attested.kind === 'attestation' && attested.identityKey === H('4') && attested.platform === 'sim' && attested.evidenceHash === null);
  const manifest = by('manifest.installed');
  assert.ok(manifest.kind === 'manifest.change' && manifest.change === 'update' && manifest.previousManifestHash === H('9') && manifest.measurementsAdded === null);
  const refused = by('sign.refused');
  assert.ok(refused.kind === 'refusal' && refused.event === 'sign.refused' && refused.detail['versions.policySet'] === H('1'));
});

test('first-policy decisions: the first policy hash, no address book, price table or screening list', () => {
  const e = mapAuditEvent('policy.decision', REQ, { decision: 'needs-approval', code: null, reasons: [], requiredApprovals: { group: 'treasury', count: 2 }, approvalsByGroup: { treasury: 2 }, versions: { firstPolicy: H('1') } }, AT, EMPTY_AUDIT_MAP_CONTEXT);
  assert.ok(e.kind === 'policy.decision');
  assert.equal(e.policyHash, H('1'));
  assert.equal(e.addressBookHash, null);
  assert.equal(e.screeningListHash, null);
});

test('an unknown event is kept as a named event; data that does not fit its record falls back to audit.unmapped', () => {
  const future = mapAuditEvent('breakglass.proposed', null, { breakglassId: 'bg-1', nested: { a: 1 } }, AT, CTX);
  assert.ok(future.kind === 'event' && future.name === 'breakglass.proposed' && future.detail['nested.a'] === '1');
  const bad = mapAuditEvent('request.proposed', REQ, { walletId: 'w', initiator: 'dave', txDigest: 'not-a-hash', summaryHash: H('e'), rawTxHash: H('f') }, AT, CTX);
  assert.ok(bad.kind === 'event' && bad.name === UNMAPPED_EVENT && bad.detail['event'] === 'request.proposed' && bad.requestId === REQ);
  const notObject = mapAuditEvent('sign.refused', null, 'text', AT, CTX);
  assert.ok(notObject.kind === 'event' && notObject.name === UNMAPPED_EVENT);
  const oddName = mapAuditEvent('Weird Kind', 'bad request id!', {}, AT, CTX);
  assert.ok(oddName.kind === 'event' && oddName.name === 'enclave.event' && oddName.detail['event'] === 'Weird Kind' && oddName.requestId === undefined);
});

test('a statement signed by the protocol decodes with the audit package (custody leaf) to the same typed entry', () => {
  const secret = ed25519.utils.randomSecretKey();
  const e = EVENTS[0]!;
  const entry = mapAuditEvent(e.kind, e.requestId, e.data, AT, CTX);
  const statement: Json = { signerId: 'signer-1', seq: 0, prevHash: AUDIT_GENESIS_HASH, timeMs: AT, kind: e.kind, requestId: e.requestId, data: e.data, entry: entry as unknown as Json };
  const leaf = canonicalJsonBytes(encodeEnclaveSigned(signStatement(AUDIT_ENTRY_KIND, statement, secret)));
  const decoded = decodeCustodyLeaf(leaf, new Map([['signer-1', ed25519.getPublicKey(secret)]]));
  assert.deepEqual(decoded.entry, entry);
  assert.equal(decoded.event, 'request.proposed');
});

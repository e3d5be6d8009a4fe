/**
 * The custody path against real processes: three sim signer enclaves, the
 * host on SQLite and anvil. Every refusal of issue 2 is tried here: it must be
 * refused with its reason, nothing may be signed, and the refusal must be in
 * the enclave-signed audit log.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:net';
import { isCustodianError, CustodianError } from '@custodian/core/errors';
import type { Json } from '@custodian/core/canonical-json';
import { bytesTo0x, hexToBytes } from '@custodian/core/bytes';
import { decodeUnsignedEip1559, encodeUnsignedEip1559 } from '@custodian/chains/evm/eip1559';
import { parseAddress } from '@custodian/chains/evm/address';
import { RpcPeer } from '@custodian/protocol/frame-rpc';
import { decodeEnclaveSigned, verifyAuditChain, statementHash, decodeAuditEntry, verifyStatement, AUDIT_ENTRY_KIND } from '@custodian/protocol/enclave-signed';
import { approveRequest, buildTransfer, checkRequest, createWallet, newNonce, proposeTx, waitForStatus } from '../../apps/cli/src/operations.js';
import { verifyOrg } from '../../apps/cli/src/verify-org.js';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { REPO_ROOT } from '@custodian/core/vectors';
import { CLI } from '../../scripts/lib/processes.js';
import { verifyAuditLog } from '../../scripts/lib/verify-audit-log.js';

const run = promisify(execFile);
import { DEMO_ORG, DEMO_RECIPIENT, fund, startDeployment, type Deployment } from '../../scripts/lib/deployment.js';
import { auditEntries, refused, signedApproval } from './helpers.js';

type R = Record<string, Json>;
let d: Deployment;
let from = '';

before(async () => {
  d = await startDeployment({ dataDir: mkdtempSync(join(tmpdir(), 'custodian-it-')), maxValueWei: 10n ** 18n });
  const w = (await createWallet(d.client, d.actors['alice']!, { orgId: DEMO_ORG, walletId: 'w1', signerId: 'signer-1', scheme: 'single' })) as R;
  from = String(w['address']);
  await fund(d.anvil.url, from, 10n ** 20n);
});

after(async () => {
  await d?.stop();
});

/** Proposes a fresh transfer at the account's next nonce (each proposal's own nonce makes its request id unique). */
async function propose(opts: { to?: string; valueWei?: bigint; initiator?: string } = {}): Promise<R> {
  const raw = await buildTransfer(d.client, from, opts.to ?? DEMO_RECIPIENT, opts.valueWei ?? 1000n);
  return (await proposeTx(d.client, d.actors[opts.initiator ?? 'dave']!, { orgId: DEMO_ORG, walletId: 'w1', rawTx: raw })) as R;
}

/** Signs an approval payload with arbitrary fields (what a careless or hostile client could send). */
function approvalBody(who: string, r: R, over: Partial<Record<string, Json>> = {}): Json {
  return { approval: signedApproval(d, who, r, over) };
}

async function assertNotSigned(requestId: string): Promise<void> {
  const r = (await d.client.get(`/v1/requests/${requestId}`)) as R;
  assert.equal(r['signedTx'], null);
  assert.ok(!(await auditEntries(d, requestId)).some((e) => e.kind === 'signature.released'));
}

async function assertRefusalAudited(requestId: string, code: string): Promise<void> {
  const entries = await auditEntries(d, requestId);
  assert.ok(entries.some((e) => e.data['code'] === code), `no audit entry with code ${code}: ${JSON.stringify(entries.map((e) => e.kind))}`);
}

test('a transfer approved by two treasury approvers is signed, mined by anvil and fully audited', async () => {
  const r = await propose();
  assert.equal(r['status'], 'pending');
  await approveRequest(d.client, d.actors['bob']!, String(r['requestId']));
  await approveRequest(d.client, d.actors['carol']!, String(r['requestId']));
  const done = await waitForStatus(d.client, String(r['requestId']), ['confirmed', 'failed']);
  assert.equal(done['receiptStatus'], 'success');
  const kinds = (await auditEntries(d, String(r['requestId']))).map((e) => e.kind);
  assert.deepEqual(kinds, ['request.proposed', 'policy.decision', 'approval.accepted', 'approval.accepted', 'sign.approved', 'signature.released']);
});

test('rejects an approval by the initiator', async () => {
  const r = await propose({ initiator: 'frank' });
  await refused(d.client.post(`/v1/requests/${String(r['requestId'])}/approvals`, approvalBody('frank', r)), 'E_APPROVER_IS_INITIATOR');
  await assertNotSigned(String(r['requestId']));
  await assertRefusalAudited(String(r['requestId']), 'E_APPROVER_IS_INITIATOR');
});

test('rejects the same approver twice', async () => {
  const r = await propose();
  await d.client.post(`/v1/requests/${String(r['requestId'])}/approvals`, approvalBody('bob', r));
  await refused(d.client.post(`/v1/requests/${String(r['requestId'])}/approvals`, approvalBody('bob', r)), 'E_APPROVER_DUPLICATE');
  await assertNotSigned(String(r['requestId']));
  await assertRefusalAudited(String(r['requestId']), 'E_APPROVER_DUPLICATE');
});

test('rejects an expired approval', async () => {
  const r = await propose();
  await refused(d.client.post(`/v1/requests/${String(r['requestId'])}/approvals`, approvalBody('bob', r, { expiresAtMs: Date.now() - 1000 })), 'E_APPROVAL_EXPIRED');
  await assertNotSigned(String(r['requestId']));
  await assertRefusalAudited(String(r['requestId']), 'E_APPROVAL_EXPIRED');
});

test('B14 rejects an approval for a different transaction digest', async () => {
  const r = await propose();
  const other = '0x' + 'ab'.repeat(32);
  await refused(d.client.post(`/v1/requests/${String(r['requestId'])}/approvals`, approvalBody('bob', r, { txDigest: other })), 'E_APPROVAL_DIGEST_MISMATCH');
  await assertNotSigned(String(r['requestId']));
  await assertRefusalAudited(String(r['requestId']), 'E_APPROVAL_DIGEST_MISMATCH');
});

test('rejects a replayed approval nonce', async () => {
  const a = await propose();
  const nonce = newNonce();
  await d.client.post(`/v1/requests/${String(a['requestId'])}/approvals`, approvalBody('bob', a, { nonce }));
  await d.client.post(`/v1/requests/${String(a['requestId'])}/approvals`, approvalBody('carol', a));
  await waitForStatus(d.client, String(a['requestId']), ['confirmed', 'failed']);
  const b = await propose();
  await refused(d.client.post(`/v1/requests/${String(b['requestId'])}/approvals`, approvalBody('bob', b, { nonce })), 'E_APPROVAL_REPLAYED');
  await assertNotSigned(String(b['requestId']));
  await assertRefusalAudited(String(b['requestId']), 'E_APPROVAL_REPLAYED');
});

test('an approval that lapses before the quorum does not block the request: renewing it gets it signed', async () => {
  const r = await propose();
  const id = String(r['requestId']);
  await d.client.post(`/v1/requests/${id}/approvals`, approvalBody('bob', r, { expiresAtMs: Date.now() + 1500 }));
  await new Promise((res) => setTimeout(res, 2000));
  const afterCarol = (await d.client.post(`/v1/requests/${id}/approvals`, approvalBody('carol', r))) as R;
  assert.equal(afterCarol['status'], 'pending', 'bob’s lapsed approval no longer counts');
  assert.ok((await auditEntries(d, id)).some((e) => e.kind === 'approval.invalidated' && e.data['code'] === 'E_APPROVAL_EXPIRED'));
  await d.client.post(`/v1/requests/${id}/approvals`, approvalBody('bob', r));
  const done = await waitForStatus(d.client, id, ['confirmed', 'failed']);
  assert.equal(done['receiptStatus'], 'success');
});

test('rejects an approval by a key that is not an approver', async () => {
  const r = await propose();
  await refused(d.client.post(`/v1/requests/${String(r['requestId'])}/approvals`, approvalBody('alice', r)), 'E_ROLE_MISSING');
  await refused(d.client.post(`/v1/requests/${String(r['requestId'])}/approvals`, approvalBody('erin', r)), 'E_APPROVER_GROUP');
  // A signature by a key the manifest does not hold for that operator.
  const forged = approvalBody('bob', r) as R;
  ((forged['approval'] as R)['operatorId'] as unknown) = 'carol';
  await refused(d.client.post(`/v1/requests/${String(r['requestId'])}/approvals`, forged), 'E_SIGNATURE_INVALID');
  await assertNotSigned(String(r['requestId']));
  await assertRefusalAudited(String(r['requestId']), 'E_ROLE_MISSING');
});

test('denies a destination that is not allowed and a value over the limit', async () => {
  const notAllowed = await propose({ to: '0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC' });
  assert.equal(notAllowed['status'], 'denied');
  assert.equal(notAllowed['error'], 'E_DESTINATION_NOT_ALLOWED');
  const over = await propose({ valueWei: 10n ** 18n + 1n });
  assert.equal(over['status'], 'denied');
  assert.equal(over['error'], 'E_AMOUNT_OVER_LIMIT');
  for (const r of [notAllowed, over]) {
    await refused(d.client.post(`/v1/requests/${String(r['requestId'])}/approvals`, approvalBody('bob', r)), 'E_REQUEST_DENIED');
    await assertNotSigned(String(r['requestId']));
    assert.ok((await auditEntries(d, String(r['requestId']))).some((e) => e.kind === 'policy.denied'));
  }
});

test('rejects malformed raw transactions (truncated RLP, wrong type byte, oversized field)', async () => {
  const good = hexToBytes(await buildTransfer(d.client, from, DEMO_RECIPIENT, 1n, 999n));
  const wrongType = Uint8Array.from(good);
  wrongType[0] = 0x01;
  const tx = decodeUnsignedEip1559(good);
  const oversized = encodeUnsignedEip1559({ ...tx, chainId: 2n ** 70n });
  for (const raw of [good.subarray(0, good.length - 4), wrongType, oversized]) {
    await refused(proposeTx(d.client, d.actors['dave']!, { orgId: DEMO_ORG, walletId: 'w1', rawTx: bytesTo0x(raw) }), 'E_TX_MALFORMED');
  }
  const rows = (await d.client.get('/v1/audit')) as R[];
  const rejected = rows.filter((r) => r['kind'] === 'request.rejected' && (((r['entry'] as R)['statement'] as R)['data'] as R)['code'] === 'E_TX_MALFORMED');
  assert.ok(rejected.length >= 3);
});

/** Opens a second connection to signer-1 as a hostile host would, acknowledging audit appends without storing them. */
async function hostileLink(): Promise<RpcPeer> {
  const port = Number(d.signers[0]!.ready['port']);
  const socket = connect({ host: '127.0.0.1', port });
  await new Promise((res) => socket.once('connect', res));
  return new RpcPeer(socket, async (op, body) => {
    if (op !== 'audit.append') throw new CustodianError('E_UNKNOWN_OP', op);
    return { hash: statementHash(decodeEnclaveSigned((body as R)['entry'] as Json, 'entry').statement) };
  });
}

test('a host that changes the raw transaction after approval gets nothing signed', async () => {
  const r = await propose();
  const id = String(r['requestId']);
  const bob = approvalBody('bob', r) as R;
  const carol = approvalBody('carol', r) as R;
  const proposal = r['proposal'] as R;
  const payload = proposal['payload'] as R;
  const tx = decodeUnsignedEip1559(hexToBytes(String(payload['rawTx'])));
  const evil = bytesTo0x(encodeUnsignedEip1559({ ...tx, to: parseAddress('0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC') }));
  const peer = await hostileLink();
  try {
    // 1. Same proposal, raw bytes swapped: the initiator's signature no longer covers it.
    const tampered = { ...proposal, payload: { ...payload, rawTx: evil } };
    await refused(peer.call('tx.sign', { proposal: tampered, approvals: [bob['approval']!, carol['approval']!] }), 'E_SIGNATURE_INVALID');
    // 2. Another genuinely proposed transaction, with this request's approvals: none of them counts.
    const other = await propose();
    const e = await refused(peer.call('tx.sign', { proposal: other['proposal']!, approvals: [bob['approval']!, carol['approval']!] }), 'E_QUORUM_NOT_MET');
    assert.equal(e.detail['have'], 0);
    // 3. Too few approvals.
    await refused(peer.call('tx.sign', { proposal, approvals: [bob['approval']!] }), 'E_QUORUM_NOT_MET');
  } finally {
    peer.close();
  }
  await assertNotSigned(id);
  // The hostile host acknowledged the enclave's refusal entries without storing them:
  // the stored chain now has a gap, and verifying it finds exactly where.
  const org = await verifyOrg(d.client);
  const rows = ((await d.client.get('/v1/audit')) as R[]).filter((x) => x['signerId'] === 'signer-1');
  const bad = verifyAuditChain(rows.map((x) => decodeEnclaveSigned(x['entry'] as Json, 'entry')), org.identityKeys.get('signer-1')!);
  assert.ok(bad > 0, 'dropped audit entries must be detected');
  assert.notEqual(Number(rows[bad]!['seq']), bad, 'the gap is at the first missing sequence number');
});

test('approvers check the enclave-signed summary against the raw transaction themselves', async () => {
  const r = await propose();
  const c = await checkRequest(d.client, String(r['requestId']));
  assert.equal(c.txDigest, r['txDigest']);
  assert.match(c.text, /Send 0\.000000000000001 ETH/);
});

test('a signer restarted under a running host is re-attested and keeps its wallet', async () => {
  await d.restartSigner(0);
  const r = await propose();
  assert.equal(r['status'], 'pending');
  const signers = (await d.client.get('/v1/signers')) as R[];
  const s1 = signers.find((s) => s['signerId'] === 'signer-1')!;
  assert.ok(Number(s1['verifiedAtMs']) >= Date.now() - 30_000, 'the host verified fresh evidence after the reconnect');
});

test('a restart of every process loses nothing: pending requests, approvals, audit log', async () => {
  const r = await propose();
  const id = String(r['requestId']);
  await approveRequest(d.client, d.actors['bob']!, id);
  const before = ((await d.client.get('/v1/audit')) as R[]).length;
  await d.restartAll();
  const pending = (await d.client.get(`/v1/requests/${id}`)) as R;
  assert.equal(pending['status'], 'pending');
  assert.equal((pending['approvals'] as R[]).filter((a) => a['accepted']).length, 1);
  assert.equal(((await d.client.get('/v1/audit')) as R[]).length, before);
  await approveRequest(d.client, d.actors['carol']!, id);
  const done = await waitForStatus(d.client, id, ['confirmed', 'failed']);
  assert.equal(done['receiptStatus'], 'success');
  const org = await verifyOrg(d.client);
  const key = org.identityKeys.get('signer-1')!;
  const chain = ((await d.client.get('/v1/audit')) as R[]).filter((x) => x['signerId'] === 'signer-1').map((x) => decodeEnclaveSigned(x['entry'] as Json, 'entry'));
  const tail = chain.slice(-8);
  for (const [i, e] of tail.entries()) {
    assert.ok(verifyStatement(AUDIT_ENTRY_KIND, e, key));
    if (i > 0) assert.equal(decodeAuditEntry(e.statement).prevHash, statementHash(tail[i - 1]!.statement), 'entries across the restart stay linked');
  }
  assert.equal(decodeAuditEntry(chain.at(-1)!.statement).kind, 'signature.released');
});

test('the transparency log verifies offline with custodian audit verify (tree, checkpoints, cosignatures), and the typed check of every leaf finds the statements a hostile host dropped', async () => {
  const dir = join(d.dataDir, 'host', 'tlog');
  const out = await run(process.execPath, [CLI, 'audit', 'verify', '--log', dir, '--opaque-entries', '--json'], { cwd: REPO_ROOT });
  const res = JSON.parse(out.stdout.trim().split('\n').at(-1)!) as R;
  assert.equal(res['ok'], true);
  const org = await verifyOrg(d.client);
  // The hostile host earlier in this file acknowledged signer-1's refusal entries without storing them:
  // decoding every leaf and checking each signer's statement chain finds that gap offline.
  await assert.rejects(verifyAuditLog(dir, org.identityKeys), (e: unknown) => {
    assert.ok(isCustodianError(e, 'E_LEAF_CHAIN'), `expected E_LEAF_CHAIN, got ${(e as Error).message}`);
    assert.equal(e.detail['signerId'], 'signer-1');
    return true;
  });
  const full = await run(process.execPath, [CLI, 'audit', 'verify', '--log', dir, '--json'], { cwd: REPO_ROOT }).then(() => 0, (e: { code?: number }) => e.code ?? -1);
  assert.equal(full, 1, 'custodian audit verify (typed entries) exits 1 on the dropped statements');
});

test('F13: a signer refuses to sign a forked or rolled-back checkpoint of the audit log', async () => {
  const peer = await hostileLink();
  try {
    const note = readFileSync(join(d.dataDir, 'host', 'tlog', 'checkpoint'), 'utf8');
    const [origin, size, root] = note.split('\n');
    const forked = `${origin}\n${size}\n${Buffer.alloc(32, 7).toString('base64')}\n`;
    await refused(peer.call('checkpoint.sign', { text: forked, oldSize: Number(size), proof: [] }), 'E_CHECKPOINT_FORK');
    const smaller = `${origin}\n${Number(size) - 1}\n${root}\n`;
    await refused(peer.call('checkpoint.sign', { text: smaller, oldSize: Number(size), proof: [] }), 'E_CHECKPOINT_ROLLBACK');
    await refused(peer.call('checkpoint.sign', { text: `${origin}\n${Number(size) + 5}\n${root}\n`, oldSize: 1, proof: [] }), 'E_CHECKPOINT_PROOF_BASE');
  } finally {
    peer.close();
  }
});

test('F01: without a cosigning majority the log cannot advance, and nothing is signed until it can', async () => {
  const r = await propose();
  const id = String(r['requestId']);
  await approveRequest(d.client, d.actors['bob']!, id);
  await d.signers[1]!.stop();
  await d.signers[2]!.stop();
  await refused(d.client.post(`/v1/requests/${id}/approvals`, approvalBody('carol', r)), 'E_AUDIT_UNAVAILABLE');
  await assertNotSigned(id);
  await d.restartSigner(1);
  await d.restartSigner(2);
  await approveRequest(d.client, d.actors['carol']!, id);
  assert.equal((await waitForStatus(d.client, id, ['confirmed', 'failed']))['receiptStatus'], 'success');
});

test('F07: a signer handed an older sealed blob by its host refuses to start', async () => {
  const blob = join(d.dataDir, 'signers', 'signer-2', 'sealed-state.bin');
  const old = readFileSync(blob);
  await createWallet(d.client, d.actors['alice']!, { orgId: DEMO_ORG, walletId: 'w2', signerId: 'signer-2', scheme: 'single' });
  await d.signers[1]!.stop();
  // Read after the stop: the signer also persists when it cosigns checkpoints.
  const current = readFileSync(blob);
  writeFileSync(blob, old);
  await assert.rejects(d.restartSigner(1), /exited/);
  writeFileSync(blob, current);
  await d.restartSigner(1);
  assert.ok(((await d.client.get('/v1/wallets')) as R[]).some((w) => w['walletId'] === 'w2'));
});

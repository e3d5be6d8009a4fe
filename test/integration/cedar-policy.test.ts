/**
 * The signers deciding with the demo Cedar rulebook (issue 5) against real
 * processes: three sim signer enclaves, the host on SQLite and anvil. The
 * manifest pins the rulebook's digest and the host relays its files. A
 * transfer to the address book needs two treasury approvals and is mined (a
 * `single` and a 2-of-3 `ecdsa-dkls` wallet); an unlisted or sanctioned
 * destination is denied with the rule's code and audited; the 24 h wallet
 * limit is enforced with reservations, also across a signer restart; every
 * decision's audit entry records the version hashes it used.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:net';
import { CustodianError } from '@custodian/core/errors';
import type { Json } from '@custodian/core/canonical-json';
import { rulebookFilesDigest } from '@custodian/protocol/manifest';
import { RpcPeer } from '@custodian/protocol/frame-rpc';
import { decodeEnclaveSigned, statementHash } from '@custodian/protocol/enclave-signed';
import { approveRequest, buildTransfer, createWallet, proposeTx, waitForStatus } from '../../apps/cli/src/operations.js';
import { DEMO_ORG, DEMO_RECIPIENT, DEMO_RULEBOOK_DIR, fund, startDeployment, type Deployment } from '../../scripts/lib/deployment.js';
import { auditEntries, refused, signedApproval } from './helpers.js';

type R = Record<string, Json>;
let d: Deployment;
let digest = '';
const wallets: Record<string, string> = {};
const SIGNERS = ['signer-1', 'signer-2', 'signer-3'];
/** 0.9 ETH: under the rulebook's 1 ETH per transaction; six of them exceed its 5 ETH per wallet per 24 h. */
const SPEND = 9n * 10n ** 17n;
/** A sanctioned address from the rulebook's screening list (OFAC, ETH). */
const SANCTIONED = readFileSync(join(DEMO_RULEBOOK_DIR, 'sanctions/sanctioned_addresses_ETH.txt'), 'utf8').split('\n')[0]!.trim();
/** A valid address that is in neither the address book nor the screening list. */
const UNLISTED = '0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC';

before(async () => {
  d = await startDeployment({ dataDir: mkdtempSync(join(tmpdir(), 'custodian-cedar-it-')), rulebook: DEMO_RULEBOOK_DIR });
  digest = rulebookFilesDigest(d.rulebookFiles!);
  const w = (await createWallet(d.client, d.actors['alice']!, { orgId: DEMO_ORG, walletId: 'w1', signerId: 'signer-1', scheme: 'single' })) as R;
  wallets['w1'] = String(w['address']);
  await fund(d.anvil.url, wallets['w1'], 10n ** 20n);
});

after(async () => {
  await d?.stop();
});

async function propose(walletId: string, opts: { to?: string; valueWei?: bigint; nonce?: bigint } = {}): Promise<R> {
  const raw = await buildTransfer(d.client, wallets[walletId]!, opts.to ?? DEMO_RECIPIENT, opts.valueWei ?? SPEND, opts.nonce);
  return (await proposeTx(d.client, d.actors['dave']!, { orgId: DEMO_ORG, walletId, rawTx: raw })) as R;
}

/** Every decision entry (policy.*, sign.*) of the request records the pinned rulebook and its documents' hashes. */
async function assertDecisionsVersioned(requestId: string): Promise<void> {
  const decisions = (await auditEntries(d, requestId)).filter((e) => e.kind.startsWith('policy.') || e.kind === 'sign.approved' || e.kind === 'sign.refused');
  assert.ok(decisions.length > 0);
  for (const e of decisions) {
    const v = e.data['versions'] as R | undefined;
    assert.ok(v, `${e.kind} of ${e.signerId} records no versions`);
    assert.equal(v['rulebookDigest'], digest, `${e.kind} names another rulebook`);
    assert.equal(v['rulebook'], 'demo-anvil-2026-11-25.1');
    for (const k of ['policySet', 'addressBook', 'priceTable', 'screeningList', 'limits', 'chains']) assert.match(String(v[k]), /^[0-9a-f]{64}$/, `${e.kind}.versions.${k}`);
  }
}

/** A direct connection to signer-1, as a host would hold one; the audit entries it is asked to append are collected. */
async function directLink(entries: R[]): Promise<RpcPeer> {
  const socket = connect({ host: '127.0.0.1', port: Number(d.signers[0]!.ready['port']) });
  await new Promise((res) => socket.once('connect', res));
  return new RpcPeer(socket, async (op, body) => {
    if (op !== 'audit.append') throw new CustodianError('E_UNKNOWN_OP', op);
    const statement = decodeEnclaveSigned((body as R)['entry'] as Json, 'entry').statement;
    entries.push(statement as R);
    return { hash: statementHash(statement) };
  });
}

async function approveBoth(requestId: string): Promise<void> {
  await approveRequest(d.client, d.actors['bob']!, requestId);
  await approveRequest(d.client, d.actors['carol']!, requestId);
}

test('a transfer to the address book needs two treasury approvals, is signed and mined; its decisions record the rulebook versions', async () => {
  const r = await propose('w1');
  const id = String(r['requestId']);
  assert.equal(r['status'], 'pending');
  assert.equal(r['approvalsNeeded'], 2);
  await approveRequest(d.client, d.actors['bob']!, id);
  assert.equal(((await d.client.get(`/v1/requests/${id}`)) as R)['signedTx'], null, 'one approval is not enough');
  // An approver outside the required group does not count.
  await refused(approveRequest(d.client, d.actors['erin']!, id), 'E_APPROVER_GROUP');
  await approveRequest(d.client, d.actors['carol']!, id);
  const done = await waitForStatus(d.client, id, ['confirmed', 'failed']);
  assert.equal(done['receiptStatus'], 'success');
  const entries = await auditEntries(d, id);
  assert.deepEqual(entries.filter((e) => e.signerId === 'signer-1').map((e) => e.kind).filter((k) => k !== 'approval.rejected'), ['request.proposed', 'policy.decision', 'approval.accepted', 'approval.accepted', 'sign.approved', 'signature.released']);
  const decision = entries.find((e) => e.kind === 'policy.decision')!.data;
  assert.deepEqual(decision['approvalsByGroup'], { treasury: 2 });
  assert.deepEqual((entries.find((e) => e.kind === 'sign.approved')!.data['versions'] as R)['policies'], ['demo-transfer-up-to-1-eth-to-address-book']);
  await assertDecisionsVersioned(id);
});

test('a destination outside the address book is denied with the rule code and audited', async () => {
  const r = await propose('w1', { to: UNLISTED });
  const id = String(r['requestId']);
  assert.equal(r['status'], 'denied');
  assert.equal(r['error'], 'E_DESTINATION_NOT_ALLOWED');
  const denied = (await auditEntries(d, id)).find((e) => e.kind === 'policy.denied');
  assert.equal(denied?.data['code'], 'E_DESTINATION_NOT_ALLOWED');
  await refused(approveRequest(d.client, d.actors['bob']!, id), 'E_REQUEST_DENIED');
  await assertDecisionsVersioned(id);
});

test('a sanctioned destination is denied E_SANCTIONED_DESTINATION and audited', async () => {
  const r = await propose('w1', { to: SANCTIONED });
  const id = String(r['requestId']);
  assert.equal(r['status'], 'denied');
  assert.equal(r['error'], 'E_SANCTIONED_DESTINATION');
  assert.equal((await auditEntries(d, id)).find((e) => e.kind === 'policy.denied')?.data['code'], 'E_SANCTIONED_DESTINATION');
  await assertDecisionsVersioned(id);
});

test('the 24 h wallet limit: a spend beyond it is refused E_POLICY_VELOCITY_EXCEEDED after the earlier ones were signed', async () => {
  // 0.9 ETH was spent by the first test; three more make 3.6 ETH.
  for (let i = 0; i < 3; i++) {
    const r = await propose('w1');
    await approveBoth(String(r['requestId']));
    assert.equal((await waitForStatus(d.client, String(r['requestId']), ['confirmed', 'failed']))['receiptStatus'], 'success');
  }
  // Two proposals that each fit (3.6 + 0.9 ≤ 5) but not together: once the first is signed, the second is refused.
  const hints = (await d.client.get(`/v1/chain/hints?address=${wallets['w1']!}`)) as R;
  const nonce = BigInt(String(hints['nonce']));
  const a = await propose('w1', { nonce });
  const b = await propose('w1', { nonce: nonce + 1n });
  assert.equal(a['status'], 'pending');
  assert.equal(b['status'], 'pending');
  const bid = String(b['requestId']);
  await approveRequest(d.client, d.actors['bob']!, bid);
  await approveBoth(String(a['requestId']));
  assert.equal((await waitForStatus(d.client, String(a['requestId']), ['confirmed', 'failed']))['receiptStatus'], 'success');
  // The host relays the last approval: the enclave decides again on the ledger and refuses, naming the limit.
  const e = await refused(approveRequest(d.client, d.actors['carol']!, bid), 'E_REQUEST_DENIED');
  assert.equal(e.detail['policyCode'], 'E_POLICY_VELOCITY_EXCEEDED');
  assert.equal((await auditEntries(d, bid)).find((x) => x.kind === 'approval.rejected')?.data['policyCode'], 'E_POLICY_VELOCITY_EXCEEDED');
  // Asked to sign directly with two valid treasury approvals, the signer refuses with the limit's code.
  const entries: R[] = [];
  const link = await directLink(entries);
  try {
    const proposal = ((await d.client.get(`/v1/requests/${bid}`)) as R)['proposal']!;
    const approvals = [signedApproval(d, 'bob', b), signedApproval(d, 'carol', b)];
    await refused(link.call('tx.sign', { proposal, approvals }), 'E_POLICY_VELOCITY_EXCEEDED');
  } finally {
    link.close();
  }
  const refusal = entries.find((x) => x['kind'] === 'sign.refused' && (x['data'] as R)['code'] === 'E_POLICY_VELOCITY_EXCEEDED');
  assert.ok(refusal, 'the velocity refusal is audited');
  assert.equal(((refusal['data'] as R)['versions'] as R)['rulebookDigest'], digest);
  assert.equal(((await d.client.get(`/v1/requests/${bid}`)) as R)['signedTx'], null);
  await assertDecisionsVersioned(bid);
  // A new proposal is denied at once: the ledger holds 4.5 ETH of signed spends.
  const c = await propose('w1');
  assert.equal(c['status'], 'denied');
  assert.equal(c['error'], 'E_POLICY_VELOCITY_EXCEEDED');
  await assertDecisionsVersioned(String(c['requestId']));
});

test('the spending ledger is sealed: a restarted signer still refuses beyond the limit', async () => {
  await d.restartSigner(0);
  const r = await propose('w1');
  assert.equal(r['status'], 'denied');
  assert.equal(r['error'], 'E_POLICY_VELOCITY_EXCEEDED');
});

test('a 2-of-3 ecdsa-dkls wallet decides with the same rulebook: two treasury approvals, each signer reserves and audits the versions, mined', async () => {
  const w = (await createWallet(d.client, d.actors['alice']!, { orgId: DEMO_ORG, walletId: 'tw1', scheme: 'ecdsa-dkls', threshold: 2, signers: SIGNERS })) as R;
  wallets['tw1'] = String(w['address']);
  await fund(d.anvil.url, wallets['tw1'], 10n ** 19n);
  const denied = await propose('tw1', { to: UNLISTED });
  assert.equal(denied['error'], 'E_DESTINATION_NOT_ALLOWED');
  const r = await propose('tw1');
  const id = String(r['requestId']);
  assert.equal(r['approvalsNeeded'], 2);
  await approveBoth(id);
  assert.equal((await waitForStatus(d.client, id, ['confirmed', 'failed']))['receiptStatus'], 'success');
  const approvedBy = (await auditEntries(d, id)).filter((e) => e.kind === 'sign.approved');
  assert.equal(approvedBy.length, 2, 'both signers of the signing set decided');
  for (const e of approvedBy) assert.equal(e.data['policy'], 'allow');
  await assertDecisionsVersioned(id);
});

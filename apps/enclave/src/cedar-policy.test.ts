import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { hexToBytes } from '@custodian/core/bytes';
import { canonicalJson } from '@custodian/core/canonical-json';
import { REPO_ROOT } from '@custodian/core/vectors';
import { decodeUnsignedEip1559, encodeUnsignedEip1559, type Eip1559Tx } from '@custodian/chains/evm/eip1559';
import { readRulebookFiles } from '@custodian/policy/rulebook-dir';
import { CedarPolicy, countApprovalsByGroup, RESERVATION_TTL_MAX_MS, rulebookFilesDigest, type EvmProposalInput } from './cedar-policy.js';

const files = readRulebookFiles(join(REPO_ROOT, 'examples/policies/demo'));
const NOW = Date.parse('2026-11-25T12:00:00Z');
const ETH = 10n ** 18n;
const TTL = 60_000;
const RECIPIENT = '0x70997970C51812dc3A010C7d01b50e0d17dc79C8';
const STRANGER = '0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC';
// First entry of sanctions/sanctioned_addresses_ETH.txt (OFAC SDN, 2024-09-27).
const SANCTIONED = '0x01e2919679362dFBC9ee1644Ba9C6da6D6245BB1';
const PERMIT = 'demo-transfer-up-to-1-eth-to-address-book';

/** Raw unsigned bytes decoded as the enclave would. */
function tx(to: string, value: bigint, over: Partial<Eip1559Tx> = {}): Eip1559Tx {
  const t: Eip1559Tx = { chainId: 31337n, nonce: 0n, maxPriorityFeePerGas: 10n ** 9n, maxFeePerGas: 2n * 10n ** 9n, gasLimit: 21_000n, to: hexToBytes(to), value, data: new Uint8Array(0), accessList: [], ...over };
  return decodeUnsignedEip1559(encodeUnsignedEip1559(t));
}

function proposal(t: Eip1559Tx, over: Partial<EvmProposalInput> = {}): EvmProposalInput {
  return {
    requestId: 'req-1', tx: t, chainName: 'anvil',
    initiator: { id: 'dave', groups: [] },
    wallet: { id: 'hot-eth-1', groups: [], chainIds: [31337n] },
    approvalsByGroup: {}, requestedAtMs: NOW, ...over,
  };
}

const fresh = (): CedarPolicy => CedarPolicy.fromRulebookFiles(files);
const policy = fresh();

test('the demo rulebook loads and names anvil by its chain id', () => {
  assert.equal(policy.version, 'demo-anvil-2026-11-25.1');
  assert.equal(policy.chainNameFor(31337n), 'anvil');
  assert.equal(policy.chainNameFor(1n), null);
  assert.match(policy.versions.policySet, /^[0-9a-f]{64}$/);
});

test('up to 1 ETH to the address-book recipient needs 2 treasury approvals, then is allowed', () => {
  const t = tx(RECIPIENT, 5n * 10n ** 17n);
  const none = policy.decideProposal(proposal(t), NOW);
  assert.equal(none.decision, 'needs-approval');
  assert.equal(none.code, null);
  assert.deepEqual(none.missingApprovals, { treasury: 2 });
  assert.deepEqual(none.policies, [PERMIT]);
  assert.equal(none.notBefore, null);
  assert.equal(none.versions.rulebook, 'demo-anvil-2026-11-25.1');
  assert.deepEqual(policy.decideProposal(proposal(t, { approvalsByGroup: { treasury: 1 } }), NOW).missingApprovals, { treasury: 1 });
  assert.deepEqual(policy.decideProposal(proposal(t, { approvalsByGroup: { risk: 5 } }), NOW).missingApprovals, { treasury: 2 });
  const ok = policy.decideProposal(proposal(t, { approvalsByGroup: { treasury: 2 } }), NOW);
  assert.equal(ok.decision, 'allow');
  assert.deepEqual(ok.missingApprovals, {});
  assert.deepEqual(ok.codes, []);
  assert.equal(policy.decideProposal(proposal(tx(RECIPIENT, ETH), { approvalsByGroup: { treasury: 2 } }), NOW).decision, 'allow');
});

test('countApprovalsByGroup excludes the initiator and counts each approver once per group', () => {
  const counted = countApprovalsByGroup([
    { id: 'bob', groups: ['treasury'] },
    { id: 'bob', groups: ['treasury'] },
    { id: 'frank', groups: ['treasury', 'risk'] },
    { id: 'dave', groups: ['treasury'] },
  ], 'dave');
  assert.deepEqual(counted, { treasury: 2, risk: 1 });
});

test('rejects a transfer to a destination outside the address book, naming the forbid', () => {
  const d = policy.decideProposal(proposal(tx(STRANGER, 10n ** 16n), { approvalsByGroup: { treasury: 2 } }), NOW);
  assert.equal(d.decision, 'deny');
  assert.equal(d.code, 'E_DESTINATION_NOT_ALLOWED');
  assert.deepEqual(d.policies, ['demo-deny-unlisted-destination']);
  assert.deepEqual(d.missingApprovals, {});
});

test('rejects a sanctioned destination and names the list entry', () => {
  const d = policy.decideProposal(proposal(tx(SANCTIONED, 10n ** 16n), { approvalsByGroup: { treasury: 2 } }), NOW);
  assert.equal(d.decision, 'deny');
  assert.equal(d.code, 'E_SANCTIONED_DESTINATION');
  assert.ok(d.reasons.some((r) => r.includes('ofac-sdn-2024-09-27') && r.includes('sanctioned_addresses_ETH.txt')), d.reasons.join('; '));
  assert.ok(d.policies.includes('deny-sanctioned'));
});

test('rejects more than 1 ETH (no permit, and the per-transaction limit in wei)', () => {
  const d = policy.decideProposal(proposal(tx(RECIPIENT, ETH + 1n), { approvalsByGroup: { treasury: 2 } }), NOW);
  assert.equal(d.decision, 'deny');
  assert.ok(d.codes.includes('E_POLICY_LIMIT_EXCEEDED'), d.codes.join());
  assert.ok(d.codes.includes('E_POLICY_NO_PERMIT'), d.codes.join());
  assert.equal(d.limit?.limit, 'demo-tx-max-1-eth');
});

test('B16 rejects a transaction for another chain id', () => {
  const d = policy.decideProposal(proposal(tx(RECIPIENT, 10n ** 16n, { chainId: 1n }), { approvalsByGroup: { treasury: 2 } }), NOW);
  assert.equal(d.decision, 'deny');
  assert.equal(d.code, 'E_CHAIN_ID_MISMATCH');
});

test('rejects a fee above the demo ceiling', () => {
  const d = policy.decideProposal(proposal(tx(RECIPIENT, 10n ** 16n, { maxFeePerGas: 10n ** 12n }), { approvalsByGroup: { treasury: 2 } }), NOW);
  assert.equal(d.decision, 'deny');
  assert.equal(d.code, 'E_FEE_TOO_HIGH');
});

test('rejects a decision once the demo price table is older than its maximum age', () => {
  const stale = Date.parse('2026-11-25T00:00:00Z') + 400 * 86_400_000 + 1;
  const d = policy.decideProposal(proposal(tx(RECIPIENT, 10n ** 16n), { approvalsByGroup: { treasury: 2 }, requestedAtMs: stale }), stale);
  assert.equal(d.decision, 'deny');
  assert.ok(d.codes.includes('E_PRICE_TABLE_STALE'), d.codes.join());
});

test('an unknown chain name is denied, not thrown', () => {
  const d = policy.decideProposal(proposal(tx(RECIPIENT, 10n ** 16n), { chainName: 'eth' }), NOW);
  assert.equal(d.decision, 'deny');
  assert.equal(d.code, 'E_CHAIN_UNSUPPORTED');
});

test('L01 100 concurrent reservations never exceed the 5 ETH per-wallet window', async () => {
  const p = fresh();
  const amount = 3n * 10n ** 17n;
  const results = await Promise.all(Array.from({ length: 100 }, (_, i) => Promise.resolve().then(() =>
    p.reserve(proposal(tx(RECIPIENT, amount, { nonce: BigInt(i) }), { requestId: `r-${i}`, approvalsByGroup: { treasury: 2 } }), NOW, TTL))));
  const allowed = results.filter((d) => d.decision === 'allow');
  assert.equal(allowed.length, 16); // 16 × 0.3 = 4.8 ETH; a 17th would make 5.1
  assert.ok(BigInt(allowed.length) * amount <= 5n * ETH);
  for (const d of results.filter((r) => r.decision !== 'allow')) {
    assert.equal(d.code, 'E_POLICY_VELOCITY_EXCEEDED');
    assert.equal(d.limit?.limit, 'demo-wallet-5-eth-24h');
  }
  // A released reservation frees its room; a committed one keeps it.
  p.release('r-0');
  p.commit('r-1', NOW + 1);
  assert.equal(p.reserve(proposal(tx(RECIPIENT, amount), { requestId: 'r-again', approvalsByGroup: { treasury: 2 } }), NOW + 2, TTL).decision, 'allow');
  assert.equal(p.reserve(proposal(tx(RECIPIENT, amount), { requestId: 'r-more', approvalsByGroup: { treasury: 2 } }), NOW + 3, TTL).decision, 'deny');
});

test('reserve takes nothing for a request that still needs approvals', () => {
  const p = fresh();
  const d = p.reserve(proposal(tx(RECIPIENT, ETH)), NOW, TTL);
  assert.equal(d.decision, 'needs-approval');
  assert.throws(() => p.release('req-1'), { code: 'E_RESERVATION_UNKNOWN' });
});

test('rejects a second reservation for one request, after commit (replay) and after release', () => {
  const p = fresh();
  const req = proposal(tx(RECIPIENT, 10n ** 17n), { approvalsByGroup: { treasury: 2 } });
  assert.equal(p.reserve(req, NOW, TTL).decision, 'allow');
  const again = p.reserve(req, NOW + 1, TTL);
  assert.equal(again.decision, 'deny');
  assert.equal(again.code, 'E_RESERVATION_EXISTS');
  p.commit('req-1', NOW + 2);
  const replay = p.reserve(req, NOW + 3, TTL);
  assert.equal(replay.decision, 'deny');
  assert.equal(replay.code, 'E_RESERVATION_EXISTS'); // a committed spend stays in the ledger for its window
  const other = proposal(tx(RECIPIENT, 10n ** 17n, { nonce: 1n }), { requestId: 'req-2', approvalsByGroup: { treasury: 2 } });
  assert.equal(p.reserve(other, NOW + 4, TTL).decision, 'allow');
  p.release('req-2');
  assert.equal(p.reserve(other, NOW + 5, TTL).code, 'E_RESERVATION_EXPIRED');
});

test('rejects a commit after the reservation expired', () => {
  const p = fresh();
  assert.equal(p.reserve(proposal(tx(RECIPIENT, 10n ** 17n), { approvalsByGroup: { treasury: 2 } }), NOW, TTL).decision, 'allow');
  assert.throws(() => p.commit('req-1', NOW + TTL), { code: 'E_RESERVATION_EXPIRED' });
});

test('rejects a reservation ttl that is not positive or too long', () => {
  const req = proposal(tx(RECIPIENT, 10n ** 17n), { approvalsByGroup: { treasury: 2 } });
  assert.throws(() => policy.reserve(req, NOW, 0), { code: 'E_FIELD_INVALID' });
  assert.throws(() => policy.reserve(req, NOW, RESERVATION_TTL_MAX_MS + 1), { code: 'E_FIELD_INVALID' });
});

test('the ledger survives sealing: JSON round trip keeps spends, reservations and closed ids', () => {
  const a = fresh();
  for (let i = 0; i < 10; i++) {
    assert.equal(a.reserve(proposal(tx(RECIPIENT, 5n * 10n ** 17n, { nonce: BigInt(i) }), { requestId: `s-${i}`, approvalsByGroup: { treasury: 2 } }), NOW, TTL).decision, 'allow');
    if (i < 8) a.commit(`s-${i}`, NOW + 1);
  }
  a.release('s-8');
  const sealed = JSON.parse(canonicalJson(a.ledgerToJson())) as ReturnType<CedarPolicy['ledgerToJson']>;
  const b = fresh();
  b.ledgerFromJson(sealed);
  assert.equal(canonicalJson(b.ledgerToJson()), canonicalJson(a.ledgerToJson()));
  // 8 × 0.5 committed + 0.5 reserved = 4.5 ETH used: 0.5 more fits, 0.6 does not.
  const next = (id: string, wei: bigint): string => b.reserve(proposal(tx(RECIPIENT, wei), { requestId: id, approvalsByGroup: { treasury: 2 } }), NOW + 2, TTL).decision;
  assert.equal(next('t-1', 6n * 10n ** 17n), 'deny');
  // The released request stays closed after the round trip (a replay of it is refused).
  assert.equal(b.reserve(proposal(tx(RECIPIENT, 1n), { requestId: 's-8', approvalsByGroup: { treasury: 2 } }), NOW + 2, TTL).code, 'E_RESERVATION_EXPIRED');
  assert.equal(next('t-2', 5n * 10n ** 17n), 'allow');
  b.commit('s-9', NOW + 4);
});

test('rejects malformed sealed ledger state and keeps the current ledger', () => {
  const p = fresh();
  assert.equal(p.reserve(proposal(tx(RECIPIENT, 10n ** 17n), { approvalsByGroup: { treasury: 2 } }), NOW, TTL).decision, 'allow');
  const before = canonicalJson(p.ledgerToJson());
  assert.throws(() => p.ledgerFromJson({ entries: 'x', closed: [], known: [] }), { code: 'E_STATE_INVALID' });
  assert.throws(() => p.ledgerFromJson([]), { code: 'E_STATE_INVALID' });
  assert.equal(canonicalJson(p.ledgerToJson()), before);
});

test('a pinned rulebook loads only with its digest, and a new rulebook keeps the ledger', () => {
  assert.match(policy.digest, /^[0-9a-f]{64}$/);
  assert.equal(CedarPolicy.fromRulebookFiles(files, policy.digest).digest, policy.digest);
  const changed = new Map(files);
  changed.set('prices.json', new TextEncoder().encode(new TextDecoder().decode(files.get('prices.json')!).replace('"300000"', '"310000"')));
  assert.notEqual(rulebookFilesDigest(changed), policy.digest);
  assert.throws(() => CedarPolicy.fromRulebookFiles(changed, policy.digest), { code: 'E_RULEBOOK_INVALID' });
  const a = fresh();
  assert.equal(a.reserve(proposal(tx(RECIPIENT, ETH), { approvalsByGroup: { treasury: 2 } }), NOW, TTL).decision, 'allow');
  const b = a.withRulebookFiles(changed);
  assert.notEqual(b.versions.priceTable, a.versions.priceTable);
  assert.equal(canonicalJson(b.ledgerToJson()), canonicalJson(a.ledgerToJson()));
});

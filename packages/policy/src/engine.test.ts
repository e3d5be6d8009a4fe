import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeFunctionData, encodePacked, parseAbi, maxUint256, type Hex } from 'viem';
import { hexToBytes } from '@custodian/core/bytes';
import { REPO_ROOT } from '@custodian/core/vectors';
import { decodeUnsignedEip1559, encodeUnsignedEip1559, type Eip1559Tx } from '@custodian/chains/evm/eip1559';
import { loadRulebookDir } from './rulebook-dir.js';
import { decideAction, decideEvmTransaction, reserveForDecision, type EvmTxRequest } from './engine.js';
import type { Rulebook } from './rulebook.js';
import { compilePolicySet } from './policy-set.js';
import { VelocityLedger } from './velocity-ledger.js';
import { join } from 'node:path';

const rulebook: Rulebook = loadRulebookDir(join(REPO_ROOT, 'examples/policies/default'));
const NOW = Date.parse('2026-11-25T12:00:00Z');
const H = 3_600_000;
const ETH = 10n ** 18n;
const COLD = '0x1111111111111111111111111111111111111111';
const STRANGER = '0x3333333333333333333333333333333333333333';
const TORNADO = '0x8589427373D6D84E98730D7795D8f6f8731FDA16';
const USDC = '0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48';
const PERMIT2 = '0x000000000022D473030F116dDEE9F6B43aC78BA3';
const MULTISEND = '0xA238CBeb142c10Ef7Ad8442C6D1f9E89e07e7761';
const SAFE = '0x5afe5afe5afe5afe5afe5afe5afe5afe5afe5afe';
const Z = '0x0000000000000000000000000000000000000000';

const abi = parseAbi([
  'function transfer(address to, uint256 amount)',
  'function approve(address spender, uint256 amount)',
  'function execTransaction(address to, uint256 value, bytes data, uint8 operation, uint256 safeTxGas, uint256 baseGas, uint256 gasPrice, address gasToken, address refundReceiver, bytes signatures)',
  'function multiSend(bytes transactions)',
  'function enableModule(address module)',
  'function swap(uint256 a)',
]);

/** Builds the raw unsigned bytes and decodes them, as the enclave would. */
function tx(to: string | null, value: bigint, data: Hex = '0x', over: Partial<Eip1559Tx> = {}): Eip1559Tx {
  const t: Eip1559Tx = { chainId: 1n, nonce: 0n, maxPriorityFeePerGas: 10n ** 9n, maxFeePerGas: 20n * 10n ** 9n, gasLimit: 100_000n, to: to === null ? null : hexToBytes(to), value, data: hexToBytes(data), accessList: [], ...over };
  return decodeUnsignedEip1559(encodeUnsignedEip1559(t));
}

function req(t: Eip1559Tx, over: Partial<EvmTxRequest> = {}): EvmTxRequest {
  return {
    requestId: 'req-1', chain: 'eth', tx: t,
    initiator: { id: 'alice', groups: ['initiators'] },
    wallet: { id: 'hot-1', groups: ['hot'], chainIds: [1n] },
    intent: null, approvals: {}, requestedAtMs: NOW, ...over,
  };
}

function decide(t: Eip1559Tx, over: Partial<EvmTxRequest> = {}, now = NOW, ledger: VelocityLedger | null = null): ReturnType<typeof decideEvmTransaction>['decision'] {
  return decideEvmTransaction(rulebook, req(t, over), now, ledger).decision;
}

const safeExec = (to: string, data: Hex, operation: number, value = 0n): Hex =>
  encodeFunctionData({ abi, functionName: 'execTransaction', args: [to as Hex, value, data, operation, 0n, 0n, 0n, Z, Z, '0x'] });

test('a small transfer to an address-book destination is allowed by its permit, and names the versions used', () => {
  const d = decide(tx(COLD, ETH)); // 3,000 USD
  assert.equal(d.decision, 'allow');
  assert.deepEqual(d.policies, ['transfer-small-to-address-book']);
  assert.equal(d.notBefore, null);
  assert.equal(d.versions.policySet, rulebook.policySet.hash);
  assert.equal(d.versions.screeningList, rulebook.screening.hash);
  for (const v of Object.values(d.versions)) assert.match(v, /^[0-9a-f]{64}$/);
});

test('when several permits match the strictest demand applies: max approvals per group and the longest delay', () => {
  const d = decide(tx(STRANGER, 40n * ETH)); // 120,000 USD to a first-time destination
  assert.equal(d.decision, 'needs-approval');
  assert.deepEqual([...d.policies].sort(), ['flag-first-time-destination', 'transfer-large']);
  assert.deepEqual(d.missingApprovals, { treasury: 2, risk: 1 });
  assert.equal(d.notBefore, new Date(NOW + 24 * H).toISOString());
  const approved = decide(tx(STRANGER, 40n * ETH), { approvals: { treasury: 2, risk: 1 } });
  assert.equal(approved.decision, 'needs-approval');
  assert.deepEqual(approved.missingApprovals, {});
  assert.equal(decide(tx(STRANGER, 40n * ETH), { approvals: { treasury: 2, risk: 1 } }, NOW + 24 * H).decision, 'allow');
});

test('the fee ceiling flag adds a demand', () => {
  const d = decide(tx(COLD, ETH, '0x', { maxFeePerGas: 10n ** 12n, gasLimit: 100_000n })); // 0.1 ETH fee = 300 USD
  assert.equal(d.decision, 'needs-approval');
  assert.ok(d.policies.includes('flag-fee-above-ceiling'));
  assert.equal(d.missingApprovals['treasury'], 2);
});

test('default deny: no permit for this principal or action', () => {
  const d = decide(tx(COLD, ETH), { initiator: { id: 'mallory', groups: [] } });
  assert.equal(d.decision, 'deny');
  assert.deepEqual(d.codes, ['E_POLICY_NO_PERMIT']);
  const msg = decideAction(rulebook, { action: 'sign-message', principal: { id: 'alice', groups: ['initiators'] }, resource: { id: 'hot-1', groups: ['hot'] }, resourceType: 'Wallet', context: { chain: 'eth', kind: 'eip712' }, approvals: {}, requestedAtMs: NOW }, NOW);
  assert.equal(msg.decision, 'deny');
});

test('sanctioned destination is denied with E_SANCTIONED_DESTINATION naming the list entry, forbid wins', () => {
  const d = decide(tx(TORNADO, 1n));
  assert.equal(d.decision, 'deny');
  assert.ok(d.codes.includes('E_SANCTIONED_DESTINATION'));
  assert.ok(d.policies.includes('deny-sanctioned'));
  assert.ok(d.reasons.some((r) => /sanctioned_addresses_ETH\.txt line \d+/.test(r)));
});

test('an ERC-20 transfer through a Safe to a sanctioned recipient is denied', () => {
  const inner = encodeFunctionData({ abi, functionName: 'transfer', args: [TORNADO, 10n ** 6n] });
  const d = decide(tx(SAFE, 0n, safeExec(USDC, inner, 0)));
  assert.equal(d.decision, 'deny');
  assert.ok(d.codes.includes('E_SANCTIONED_DESTINATION'));
});

test('an ERC-20 transfer is priced from the token and its recipient is the destination', () => {
  const data = encodeFunctionData({ abi, functionName: 'transfer', args: [COLD, 5_000n * 10n ** 6n] }); // 5,000 USDC
  const r = decideEvmTransaction(rulebook, req(tx(USDC, 0n, data)), NOW, null);
  assert.equal(r.decision.decision, 'allow');
  const ctx = r.facts!.context as { asset: string; amount: { valueMinor: number }; destination: { address: string; listed: boolean } };
  assert.equal(ctx.asset, USDC.toLowerCase());
  assert.equal(ctx.amount.valueMinor, 500_000);
  assert.equal(ctx.destination.address, COLD);
});

test('B15 Safe delegatecall to a contract not on the allow-list is denied with E_PRIVILEGED_OPERATION', () => {
  const inner = encodeFunctionData({ abi, functionName: 'enableModule', args: [STRANGER] });
  const d = decide(tx(SAFE, 0n, safeExec(STRANGER, inner, 1)), { initiator: { id: 'root', groups: ['admins'] } });
  assert.equal(d.decision, 'deny');
  assert.ok(d.codes.includes('E_PRIVILEGED_OPERATION'));
});

test('B15 delegatecall to allow-listed MultiSend needs the admin quorum and the time-lock', () => {
  const t1 = encodeFunctionData({ abi, functionName: 'transfer', args: [COLD, 1n] });
  const packed = encodePacked(['uint8', 'address', 'uint256', 'uint256', 'bytes'], [0, USDC, 0n, BigInt((t1.length - 2) / 2), t1]);
  const ms = encodeFunctionData({ abi, functionName: 'multiSend', args: [packed] });
  const d = decide(tx(SAFE, 0n, safeExec(MULTISEND, ms, 1)), { initiator: { id: 'root', groups: ['admins'] } });
  assert.equal(d.decision, 'needs-approval');
  assert.deepEqual(d.missingApprovals, { admin: 2, risk: 1 });
  assert.equal(d.notBefore, new Date(NOW + 48 * H).toISOString());
  assert.equal(decide(tx(SAFE, 0n, safeExec(MULTISEND, ms, 1))).decision, 'deny');
});

test('B15 a privileged operation permitted without approvals or delay is still denied (engine floor)', () => {
  const lax = compilePolicySet([{ name: 'lax.cedar', text: '@id("anything") permit (principal, action, resource);' }]);
  const data = { ...rulebook, policySet: lax };
  const up = encodeFunctionData({ abi, functionName: 'enableModule', args: [STRANGER] });
  const d = decideEvmTransaction(data, req(tx(SAFE, 0n, up)), NOW, null).decision;
  assert.equal(d.decision, 'deny');
  assert.deepEqual(d.codes, ['E_PRIVILEGED_OPERATION']);
});

test('B17 unlimited approval to an unknown spender: E_UNLIMITED_APPROVAL; limited: E_SPENDER_NOT_ALLOWLISTED', () => {
  const unlimited = decide(tx(USDC, 0n, encodeFunctionData({ abi, functionName: 'approve', args: [STRANGER, maxUint256] })));
  assert.equal(unlimited.decision, 'deny');
  assert.ok(unlimited.codes.includes('E_UNLIMITED_APPROVAL'));
  const limited = decide(tx(USDC, 0n, encodeFunctionData({ abi, functionName: 'approve', args: [STRANGER, 5n] })));
  assert.equal(limited.decision, 'deny');
  assert.ok(limited.codes.includes('E_SPENDER_NOT_ALLOWLISTED'));
  const permit2 = decide(tx(USDC, 0n, encodeFunctionData({ abi, functionName: 'approve', args: [PERMIT2, maxUint256] })));
  assert.equal(permit2.decision, 'needs-approval');
  assert.deepEqual(permit2.policies, ['approve-allow-listed-spender']);
});

test('B18 a declared destination or amount that differs from the calldata is E_INTENT_MISMATCH', () => {
  const data = encodeFunctionData({ abi, functionName: 'transfer', args: [STRANGER, 100n] });
  const d = decide(tx(USDC, 0n, data), { intent: { destination: COLD } });
  assert.equal(d.decision, 'deny');
  assert.deepEqual(d.codes, ['E_INTENT_MISMATCH']);
  assert.deepEqual(decide(tx(USDC, 0n, data), { intent: { amountBaseUnits: 99n } }).codes, ['E_INTENT_MISMATCH']);
  assert.deepEqual(decide(tx(USDC, 0n, data), { intent: { asset: 'native' } }).codes, ['E_INTENT_MISMATCH']);
  assert.notEqual(decide(tx(USDC, 0n, data), { intent: { destination: STRANGER, amountBaseUnits: 100n, asset: USDC } }).decision, 'deny');
});

test('B16 a chain id other than the wallet\'s is E_CHAIN_ID_MISMATCH', () => {
  const d = decide(tx(COLD, ETH, '0x', { chainId: 5n }));
  assert.equal(d.decision, 'deny');
  assert.ok(d.codes.includes('E_CHAIN_ID_MISMATCH'));
  assert.ok(decide(tx(COLD, ETH), { wallet: { id: 'w', groups: [], chainIds: [31337n] } }).codes.includes('E_CHAIN_ID_MISMATCH'));
});

test('unknown calldata to a contract that is not allow-listed is denied, never "safe"', () => {
  const d = decide(tx(STRANGER, 0n, encodeFunctionData({ abi, functionName: 'swap', args: [1n] })));
  assert.equal(d.decision, 'deny');
  assert.ok(d.codes.includes('E_UNKNOWN_CALLDATA'));
  const bad = decide(tx(USDC, 0n, '0xa9059cbb00'));
  assert.equal(bad.decision, 'deny');
  assert.ok(bad.codes.includes('E_CALLDATA_INVALID'));
});

test('a stale price table or screening list denies', () => {
  const late = NOW + 400 * 24 * H;
  assert.ok(decide(tx(COLD, ETH), {}, late).codes.includes('E_PRICE_TABLE_STALE'));
  const staleList = { ...rulebook, screening: { ...rulebook.screening, maxAgeMs: 1000 } };
  assert.ok(decideEvmTransaction(staleList, req(tx(COLD, ETH)), NOW, null).decision.codes.includes('E_SCREENING_LIST_STALE'));
});

test('an evaluation error in any policy denies', () => {
  const risky = compilePolicySet([{ name: 'r.cedar', text: '@id("ok") permit (principal, action, resource);\n@id("boom") forbid (principal, action == Custodian::Action::"transfer", resource) when { context.amount.valueMinor * 9223372036854775807 > 0 };' }]);
  const d = decideEvmTransaction({ ...rulebook, policySet: risky }, req(tx(COLD, ETH)), NOW, null).decision;
  assert.equal(d.decision, 'deny');
  assert.ok(d.codes.includes('E_POLICY_EVALUATION'));
  assert.ok(d.reasons.some((r) => r.includes('boom')));
});

test('velocity: the wallet limit of 1,000,000 USD per 24 h denies the spend that would cross it', () => {
  const ledger = new VelocityLedger(rulebook.limits);
  let i = 0;
  for (; i < 4; i++) {
    const r = decideEvmTransaction(rulebook, req(tx(`0x${String(i + 4).repeat(40)}`, 80n * ETH), { requestId: `q${i}`, approvals: { treasury: 2, risk: 1 } }), NOW + 24 * H, ledger);
    assert.equal(r.decision.decision, 'allow', r.decision.reasons.join('; '));
    assert.equal(reserveForDecision(ledger, r.decision, r.spend!, NOW + 24 * H, 60_000).decision, 'allow');
    ledger.commit(`q${i}`, NOW + 24 * H + 1);
  }
  const r = decideEvmTransaction(rulebook, req(tx(`0x${'9'.repeat(40)}`, 80n * ETH), { requestId: 'q9', approvals: { treasury: 2, risk: 1 } }), NOW + 24 * H, ledger);
  assert.equal(r.decision.decision, 'deny');
  assert.deepEqual(r.decision.codes, ['E_POLICY_VELOCITY_EXCEEDED']);
  assert.equal(r.decision.limit?.limit, 'wallet-1m-usd-24h');
  assert.equal(r.decision.limit?.windowMs, 24 * H);
  // a committed destination is no longer first-time
  const again = decideEvmTransaction(rulebook, req(tx(`0x${'4'.repeat(40)}`, ETH)), NOW, ledger);
  assert.equal((again.facts!.context as { destination: { firstTime: boolean } }).destination.firstTime, false);
});

test('governance: a policy change needs 2 admins and 24 h; others may not ask', () => {
  const base = { action: 'policy-change' as const, resource: { id: 'org', groups: [] }, resourceType: 'WalletGroup' as const, context: { document: 'policy-set', version: 'v2' }, approvals: {}, requestedAtMs: NOW };
  const d = decideAction(rulebook, { ...base, principal: { id: 'root', groups: ['admins'] } }, NOW);
  assert.equal(d.decision, 'needs-approval');
  assert.deepEqual(d.missingApprovals, { admin: 2 });
  assert.equal(d.notBefore, new Date(NOW + 24 * H).toISOString());
  assert.equal(decideAction(rulebook, { ...base, principal: { id: 'alice', groups: ['initiators'] } }, NOW).decision, 'deny');
});

test('an unconfigured chain name is denied', () => {
  assert.deepEqual(decide(tx(COLD, ETH), { chain: 'doge' }).codes, ['E_CHAIN_UNSUPPORTED']);
});

test('amounts that add up past 256 bits are refused (E_AMOUNT_OVERFLOW)', () => {
  const t1 = encodeFunctionData({ abi, functionName: 'transfer', args: [COLD, maxUint256] });
  const one = encodePacked(['uint8', 'address', 'uint256', 'uint256', 'bytes'], [0, USDC, 0n, BigInt((t1.length - 2) / 2), t1]);
  const ms = encodeFunctionData({ abi, functionName: 'multiSend', args: [`0x${one.slice(2).repeat(2)}`] });
  const d = decide(tx(SAFE, 0n, safeExec(MULTISEND, ms, 1)), { initiator: { id: 'root', groups: ['admins'] } });
  assert.equal(d.decision, 'deny');
  assert.ok(d.codes.includes('E_AMOUNT_OVERFLOW'));
});

test('L10 a request decided before a screening-list update is blocked when re-checked at signing', async () => {
  const { buildScreeningList } = await import('./sanctions/screening-list.js');
  const t = tx(COLD, ETH);
  const before = decide(t);
  assert.equal(before.decision, 'allow');
  const updated = { ...rulebook, screening: buildScreeningList({ version: 'new', asOfMs: NOW, maxAgeMs: 86_400_000 }, [{ address: COLD, asset: 'ETH', reference: 'update 1' }]) };
  const { recheckAtSigning } = await import('./engine.js');
  const r = recheckAtSigning(updated, req(t), before, NOW, null);
  assert.equal(r.versionsChanged, true);
  assert.equal(r.decision.decision, 'deny');
  assert.ok(r.decision.codes.includes('E_SANCTIONED_DESTINATION'));
  assert.equal(r.decision.versions.screeningList, updated.screening.hash);
});

test('L01 100 concurrent approved requests through the engine never reserve more than the wallet limit', async () => {
  const ledger = new VelocityLedger(rulebook.limits);
  const at = NOW + 24 * H;
  const outcomes = await Promise.all(
    Array.from({ length: 100 }, async (_, i) => {
      const t = tx(`0x${(0xa000 + i).toString(16).padStart(40, '0')}`, 10n * ETH); // 30,000 USD each
      const r = decideEvmTransaction(rulebook, req(t, { requestId: `c${i}`, approvals: { treasury: 2, risk: 1 } }), at, ledger);
      for (let k = 0; k < i % 4; k++) await Promise.resolve(); // interleave decision and reservation
      const d = reserveForDecision(ledger, r.decision, r.spend!, at, 60_000);
      if (d.decision === 'allow') ledger.commit(`c${i}`, at + 1);
      return d;
    }),
  );
  const allowed = outcomes.filter((d) => d.decision === 'allow').length;
  assert.equal(allowed, 33); // floor(1,000,000 / 30,000)
  assert.ok(outcomes.filter((d) => d.decision === 'deny').every((d) => d.codes.includes('E_POLICY_VELOCITY_EXCEEDED') && d.limit !== null && d.limit.windowMs === 24 * H));
  assert.ok(ledger.usage('wallet', 'hot-1', 24 * H, at + 2).valueMinor <= 100_000_000n);
});

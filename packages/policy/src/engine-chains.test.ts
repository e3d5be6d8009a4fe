import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { hexToBytes, utf8 } from '@custodian/core/bytes';
import { REPO_ROOT } from '@custodian/core/vectors';
import { decodeUnsignedEip1559, encodeUnsignedEip1559 } from '@custodian/chains/evm/eip1559';
import { compileTestMessageBytes, systemTransfer, testAddress } from '@custodian/chains/sol/test-messages';
import { decideBitcoinSpend, decideChainSpend, decideEvmTransaction, reserveForDecision, type BitcoinSpendRequest, type ChainSpendRequest } from './engine.js';
import { decodeLimitSet } from './limits.js';
import { loadRulebookDir } from './rulebook-dir.js';
import { VelocityLedger } from './velocity-ledger.js';
import { BTC, BTC_COLD_REGTEST, btcWallet, NOW, p2wpkhOf, scriptOf, SOL, solWallet, walletPsbt, walletScript } from './test-wallets.js';

const rulebook = loadRulebookDir(join(REPO_ROOT, 'examples/policies/default'));
const demo = loadRulebookDir(join(REPO_ROOT, 'examples/policies/demo'));
const H = 3_600_000;
const COLD_EVM = '0x1111111111111111111111111111111111111111';
const alice = { id: 'alice', groups: ['initiators'] };

function btcPay(to: Uint8Array, amount: bigint): Uint8Array {
  return walletPsbt([{ script: to, amount }, { script: walletScript, amount: 10n * BTC - amount - 1_000n }]).bytes;
}

function btcReq(psbt: Uint8Array, over: Partial<BitcoinSpendRequest> = {}): BitcoinSpendRequest {
  return { requestId: 'b-1', chain: 'bitcoin-regtest', psbt, initiator: alice, wallet: btcWallet, intent: null, approvals: {}, requestedAtMs: NOW, ...over };
}

test('velocity in the reference currency spans chains: an EVM spend and a Bitcoin spend share one ledger', () => {
  // 10,000 USD per initiator per 24 h, whatever the chain.
  const limits = decodeLimitSet(utf8(JSON.stringify({ version: 't', perTransaction: [], velocity: [{ id: 'initiator-10k-usd-24h', scope: 'initiator', windowSeconds: 86400, maxValueMinor: '1000000' }] })));
  const data = { ...rulebook, limits };
  const ledger = new VelocityLedger(limits);
  const tx = decodeUnsignedEip1559(encodeUnsignedEip1559({ chainId: 1n, nonce: 0n, maxPriorityFeePerGas: 10n ** 9n, maxFeePerGas: 20n * 10n ** 9n, gasLimit: 21_000n, to: hexToBytes(COLD_EVM), value: 2n * 10n ** 18n, data: new Uint8Array(0), accessList: [] }));
  const evm = decideEvmTransaction(data, { requestId: 'e-1', chain: 'eth', tx, initiator: alice, wallet: { id: 'eth-1', groups: [], chainIds: [1n] }, intent: null, approvals: {}, requestedAtMs: NOW }, NOW, ledger);
  assert.equal(reserveForDecision(ledger, evm.decision, evm.spend!, NOW, 60_000).decision, 'allow'); // 6,000 USD
  ledger.commit('e-1', NOW + 1);
  const b = decideBitcoinSpend(data, btcReq(btcPay(scriptOf(BTC_COLD_REGTEST), BTC / 10n)), NOW + 2, ledger); // 6,000 USD more
  assert.equal(b.decision.decision, 'deny');
  assert.deepEqual(b.decision.codes, ['E_POLICY_VELOCITY_EXCEEDED']);
  assert.deepEqual({ limit: b.decision.limit!.limit, used: b.decision.limit!.used, requested: b.decision.limit!.requested }, { limit: 'initiator-10k-usd-24h', used: '600000', requested: '600000' });
  // 0.05 BTC (3,000 USD) still fits; after 24 h the EVM spend has left the window.
  assert.equal(decideBitcoinSpend(data, btcReq(btcPay(scriptOf(BTC_COLD_REGTEST), BTC / 20n)), NOW + 2, ledger).decision.decision, 'allow');
  assert.equal(decideBitcoinSpend(data, btcReq(btcPay(scriptOf(BTC_COLD_REGTEST), BTC / 10n)), NOW + 24 * H + 2, ledger).decision.decision, 'allow');
});

test('destination-scoped limits count each destination of a batch by its own portion', () => {
  const limits = decodeLimitSet(utf8(JSON.stringify({ version: 't', perTransaction: [], velocity: [{ id: 'dest-5k-usd-24h', scope: 'destination', windowSeconds: 86400, maxValueMinor: '500000' }] })));
  const data = { ...rulebook, limits };
  const ledger = new VelocityLedger(limits);
  const other = p2wpkhOf('payee-2');
  // 0.06 BTC to cold + 0.06 BTC to another payee: 3,600 USD each, 7,200 in all; each portion fits 5,000.
  const batch = walletPsbt([{ script: scriptOf(BTC_COLD_REGTEST), amount: 6_000_000n }, { script: other, amount: 6_000_000n }, { script: walletScript, amount: 10n * BTC - 12_001_000n }]).bytes;
  const first = decideChainSpend(data, ledger, { family: 'bitcoin', ...btcReq(batch, { approvals: { treasury: 1, risk: 1 } }) }, NOW, 60_000);
  assert.equal(first.decision.decision, 'allow', first.decision.reasons.join('; '));
  assert.equal(first.reserved, true);
  ledger.commit('b-1', NOW + 1);
  assert.equal(ledger.usage('destination', `bitcoin-regtest:${BTC_COLD_REGTEST}`, 24 * H, NOW + 2).valueMinor, 360_000n);
  // Another 0.03 BTC (1,800 USD) to cold would make 5,400 USD there.
  const again = decideBitcoinSpend(data, btcReq(btcPay(scriptOf(BTC_COLD_REGTEST), 3_000_000n), { requestId: 'b-2' }), NOW + 2, ledger).decision;
  assert.deepEqual(again.codes, ['E_POLICY_VELOCITY_EXCEEDED']);
  assert.equal(again.limit!.used, '360000');
  // Both destinations are known (not first-time) once committed, and the ledger seals and restores the portions.
  const restored = VelocityLedger.fromJSON(limits, JSON.parse(JSON.stringify(ledger.toJSON())));
  assert.equal(restored.usage('destination', `bitcoin-regtest:${BTC_COLD_REGTEST}`, 24 * H, NOW + 2).valueMinor, 360_000n);
  assert.equal(restored.hasSent('btc-1', `bitcoin-regtest:${BTC_COLD_REGTEST}`), true);
  const known = decideBitcoinSpend(data, btcReq(btcPay(other, 1_000n), { requestId: 'b-3' }), NOW + 2, restored).facts!.context as { destination: { firstTime: boolean } };
  assert.equal(known.destination.firstTime, false);
});

test('decideChainSpend: decides and reserves in one step, never throws on bad input, refuses a second reservation', () => {
  const ledger = new VelocityLedger(rulebook.limits);
  const sol: ChainSpendRequest = {
    family: 'solana', requestId: 's-9', chain: 'sol', initiator: alice, wallet: solWallet, intent: null, approvals: {}, requestedAtMs: NOW,
    messageBytes: compileTestMessageBytes({ payer: solWallet.address, instructions: [systemTransfer(solWallet.address, '7q6eGvnn5yjyruqWd4gxDsQxG973SqtEutDNUeK4UsD7', SOL)], blockhash: testAddress('bh') }),
  };
  const first = decideChainSpend(rulebook, ledger, sol, NOW, 60_000);
  assert.equal(first.decision.decision, 'allow');
  assert.equal(first.reserved, true);
  assert.equal(ledger.usage('wallet', 'sol-1', 24 * H, NOW).valueMinor, 15_000n);
  const twice = decideChainSpend(rulebook, ledger, sol, NOW, 60_000);
  assert.deepEqual([twice.decision.decision, twice.reserved, twice.decision.codes], ['deny', false, ['E_RESERVATION_EXISTS']]);
  const decideOnly = decideChainSpend(rulebook, ledger, { ...sol, requestId: 's-10' }, NOW, null);
  assert.equal(decideOnly.reserved, false);
  const bad = decideChainSpend(rulebook, ledger, { family: 'bitcoin', ...btcReq(Uint8Array.of(0x70, 0x73, 0x62, 0x74, 0xff)) }, NOW, 60_000);
  assert.deepEqual([bad.decision.decision, bad.reserved, bad.spend], ['deny', false, null]);
  assert.deepEqual(bad.decision.codes, ['E_PSBT_MALFORMED']);
});

test('demo rulebook: small SOL and BTC transfers to its address book need 2 treasury approvals; above the cap, unlisted or costly they are denied', () => {
  const DEMO_SOL = '7kuURLWBBmS6Y2cLZshoZmho7FMuggW2JdC3DSW9Z1ru';
  const wallets = { sol: { ...solWallet, chains: ['solana-devnet'] }, btc: { ...btcWallet, chains: ['bitcoin-regtest'] } };
  const solMsg = (to: string, lamports: bigint): Uint8Array => compileTestMessageBytes({ payer: solWallet.address, instructions: [systemTransfer(solWallet.address, to, lamports)], blockhash: testAddress('bh') });
  const solDecide = (m: Uint8Array, approvals: Record<string, number> = {}): ReturnType<typeof decideChainSpend>['decision'] =>
    decideChainSpend(demo, new VelocityLedger(demo.limits), { family: 'solana', requestId: 'd-s', chain: 'solana-devnet', messageBytes: m, initiator: { id: 'alice', groups: [] }, wallet: wallets.sol, intent: null, approvals, requestedAtMs: NOW }, NOW, null).decision;
  const btcDecide = (p: Uint8Array, approvals: Record<string, number> = {}): ReturnType<typeof decideChainSpend>['decision'] =>
    decideChainSpend(demo, new VelocityLedger(demo.limits), { family: 'bitcoin', ...btcReq(p, { initiator: { id: 'alice', groups: [] }, wallet: wallets.btc, approvals }) }, NOW, null).decision;

  const s = solDecide(solMsg(DEMO_SOL, SOL / 2n));
  assert.equal(s.decision, 'needs-approval');
  assert.deepEqual(s.policies, ['demo-transfer-up-to-1-sol-to-address-book']);
  assert.deepEqual(s.missingApprovals, { treasury: 2 });
  assert.equal(solDecide(solMsg(DEMO_SOL, SOL / 2n), { treasury: 2 }).decision, 'allow');
  assert.equal(solDecide(solMsg(DEMO_SOL, 2n * SOL), { treasury: 2 }).decision, 'deny'); // no permit above 1 SOL
  assert.deepEqual(solDecide(solMsg(testAddress('unlisted'), 1n)).codes, ['E_DESTINATION_NOT_ALLOWED']);

  const b = btcDecide(btcPay(scriptOf(BTC_COLD_REGTEST), 500_000n));
  assert.equal(b.decision, 'needs-approval');
  assert.deepEqual(b.policies, ['demo-transfer-up-to-0.01-btc-to-address-book']);
  assert.equal(btcDecide(btcPay(scriptOf(BTC_COLD_REGTEST), 500_000n), { treasury: 2 }).decision, 'allow');
  assert.equal(btcDecide(btcPay(scriptOf(BTC_COLD_REGTEST), 2_000_000n), { treasury: 2 }).decision, 'deny');
  assert.deepEqual(btcDecide(btcPay(p2wpkhOf('unlisted'), 1_000n)).codes, ['E_DESTINATION_NOT_ALLOWED']);
  // A 0.0001 BTC (6 USD) fee is above the demo's 5 USD ceiling.
  const costly = walletPsbt([{ script: scriptOf(BTC_COLD_REGTEST), amount: 500_000n }, { script: walletScript, amount: 10n * BTC - 500_000n - 10_000n }]).bytes;
  assert.deepEqual(btcDecide(costly, { treasury: 2 }).codes, ['E_FEE_TOO_HIGH']);
});

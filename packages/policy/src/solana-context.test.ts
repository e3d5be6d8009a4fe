import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import fc from 'fast-check';
import { utf8 } from '@custodian/core/bytes';
import { REPO_ROOT } from '@custodian/core/vectors';
import { solanaAddressBytes } from '@custodian/chains/sol/base58';
import { associatedTokenAddress } from '@custodian/chains/sol/instructions';
import { TOKEN_PROGRAM_ID } from '@custodian/chains/sol/program-ids';
import { advanceNonce, compileTestMessageBytes, computeUnitPrice, createAta, systemTransfer, testAddress, tokenTransfer, tokenTransferChecked, type TestInstruction } from '@custodian/chains/sol/test-messages';
import { decideEvmTransaction, decideSolanaTransaction, recheckSolanaAtSigning, type SolanaTxRequest } from './engine.js';
import { loadRulebookDir } from './rulebook-dir.js';
import { parsePlainList } from './sanctions/plain-list.js';
import { buildScreeningList } from './sanctions/screening-list.js';
import { SPL_TOKEN_ACCOUNT_RENT_LAMPORTS } from './solana-context.js';
import { NOW, SOL, SOL_COLD, solWallet, USDC_MINT } from './test-wallets.js';

const rulebook = loadRulebookDir(join(REPO_ROOT, 'examples/policies/default'));
const W = solWallet.address;
const STRANGER = testAddress('stranger');
const blockhash = testAddress('blockhash');
const SOURCE = associatedTokenAddress(W, TOKEN_PROGRAM_ID, USDC_MINT);
const COLD_ATA = associatedTokenAddress(SOL_COLD, TOKEN_PROGRAM_ID, USDC_MINT);
const USDC = 1_000_000n;

/** Compiles and serialises a message paid by `payer` (the wallet unless said otherwise). */
function msg(instructions: TestInstruction[], o: { version?: 'legacy' | 0; payer?: string } = {}): Uint8Array {
  return compileTestMessageBytes({ payer: o.payer ?? W, instructions, blockhash, version: o.version ?? 'legacy' });
}

function req(messageBytes: Uint8Array, over: Partial<SolanaTxRequest> = {}): SolanaTxRequest {
  return { requestId: 's-1', chain: 'sol', messageBytes, initiator: { id: 'alice', groups: ['initiators'] }, wallet: solWallet, intent: null, approvals: {}, requestedAtMs: NOW, ...over };
}

const decide = (m: Uint8Array, over: Partial<SolanaTxRequest> = {}): ReturnType<typeof decideSolanaTransaction> => decideSolanaTransaction(rulebook, req(m, over), NOW, null);

interface Ctx {
  family: string;
  asset: string;
  assetSymbol: string;
  amount: { baseUnits: string; valueMinor: number; priced: boolean };
  destination: { address: string; listed: boolean; name: string; firstTime: boolean };
  fee: { baseUnits: string; valueMinor: number; priced: boolean };
  call: { kind: string; method: string; movements: number; target: { address: string } };
  solana: { version: string; durableNonce: boolean; createsTokenAccount: boolean; instructions: number };
}
const ctx = (r: ReturnType<typeof decideSolanaTransaction>): Ctx => r.facts!.context as unknown as Ctx;

test('10 SOL to the address-book cold storage (legacy and v0): allowed, priced, fee = base + priority', () => {
  for (const version of ['legacy', 0] as const) {
    const r = decide(msg([computeUnitPrice(1_000n), systemTransfer(W, SOL_COLD, 10n * SOL)], { version }));
    assert.equal(r.decision.decision, 'allow', r.decision.reasons.join('; '));
    assert.deepEqual(r.decision.policies, ['transfer-small-to-address-book']);
    const c = ctx(r);
    assert.equal(c.family, 'solana');
    assert.equal(c.asset, 'native');
    assert.equal(c.assetSymbol, 'SOL');
    assert.deepEqual(c.amount, { baseUnits: '10000000000', valueMinor: 150_000, priced: true }); // 10 SOL at 150 USD
    assert.equal(c.destination.address, SOL_COLD);
    assert.equal(c.destination.listed, true);
    assert.equal(c.fee.baseUnits, String(5000n + 1400n)); // 5,000 base + ceil(1,000 µlamports × 1.4M CU / 10^6)
    assert.equal(c.call.method, 'system-transfer');
    assert.equal(c.solana.version, version === 0 ? 'v0' : 'legacy');
    assert.deepEqual(r.spend, { asset: 'sol:native', destination: `sol:${SOL_COLD}`, valueMinor: 150_000n, baseUnits: 10n * SOL, requestId: 's-1', wallet: 'sol-1', initiator: 'alice' });
  }
});

test('100 SOL to a first-time destination needs 1 treasury and 1 risk approval', () => {
  const d = decide(msg([systemTransfer(W, STRANGER, 100n * SOL)])).decision; // 15,000 USD
  assert.equal(d.decision, 'needs-approval');
  assert.deepEqual([...d.policies].sort(), ['flag-first-time-destination', 'transfer-up-to-100k']);
  assert.deepEqual(d.missingApprovals, { treasury: 1, risk: 1 });
});

test('USDC TransferChecked with the recipient\'s token account created in the same message: the owner is the destination, the mint the asset, the rent part of the fee', () => {
  const r = decide(msg([createAta(W, COLD_ATA, SOL_COLD, USDC_MINT), tokenTransferChecked(SOURCE, USDC_MINT, COLD_ATA, W, 5_000n * USDC, 6)]));
  assert.equal(r.decision.decision, 'allow', r.decision.reasons.join('; '));
  const c = ctx(r);
  assert.equal(c.asset, USDC_MINT);
  assert.equal(c.assetSymbol, 'USDC');
  assert.equal(c.amount.valueMinor, 500_000);
  assert.equal(c.destination.address, SOL_COLD);
  assert.equal(c.destination.listed, true);
  assert.equal(c.call.target.address, USDC_MINT);
  assert.equal(c.call.method, 'ata-create+token-transfer-checked');
  assert.equal(c.solana.createsTokenAccount, true);
  assert.equal(c.fee.baseUnits, String(5000n + SPL_TOKEN_ACCOUNT_RENT_LAMPORTS));
  assert.equal(r.spend!.asset, `sol:${USDC_MINT}`);
});

test('a token transfer to an existing token account: the owner is known only when the declared destination derives it', () => {
  const m = msg([tokenTransferChecked(SOURCE, USDC_MINT, COLD_ATA, W, 10n * USDC, 6)]);
  assert.equal(ctx(decide(m)).destination.address, COLD_ATA); // unknown owner: the token account itself
  assert.equal(decide(m).decision.missingApprovals['treasury'], 1); // not in the address book
  const declared = decide(m, { intent: { destination: SOL_COLD } });
  assert.equal(ctx(declared).destination.address, SOL_COLD);
  assert.equal(declared.decision.decision, 'allow');
  // A declaration that does not derive the paid account is a B18 mismatch.
  assert.deepEqual(decide(m, { intent: { destination: STRANGER } }).decision.codes, ['E_INTENT_MISMATCH']);
});

test('a plain token Transfer names no mint: E_SOLANA_ASSET_UNKNOWN unless the declared asset derives the source account', () => {
  const m = msg([tokenTransfer(SOURCE, COLD_ATA, W, 10n * USDC)]);
  const d = decide(m).decision;
  assert.equal(d.decision, 'deny');
  assert.ok(d.codes.includes('E_SOLANA_ASSET_UNKNOWN'));
  const ok = decide(m, { intent: { asset: USDC_MINT, destination: SOL_COLD } });
  assert.equal(ok.decision.decision, 'allow', ok.decision.reasons.join('; '));
  assert.equal(ctx(ok).asset, USDC_MINT);
});

test('TransferChecked decimals that differ from the price table are E_PRICE_DECIMALS_MISMATCH', () => {
  const d = decide(msg([tokenTransferChecked(SOURCE, USDC_MINT, COLD_ATA, W, 10n * USDC, 9)])).decision;
  assert.ok(d.codes.includes('E_PRICE_DECIMALS_MISMATCH'));
});

test('two assets in one message are E_SOLANA_MIXED_ASSETS; two destinations of one asset are portions of one spend', () => {
  const mixed = decide(msg([systemTransfer(W, SOL_COLD, SOL), tokenTransferChecked(SOURCE, USDC_MINT, COLD_ATA, W, USDC, 6)])).decision;
  assert.equal(mixed.decision, 'deny');
  assert.ok(mixed.codes.includes('E_SOLANA_MIXED_ASSETS'));
  const two = decide(msg([systemTransfer(W, SOL_COLD, SOL), systemTransfer(W, STRANGER, 2n * SOL), systemTransfer(W, SOL_COLD, SOL)]));
  assert.equal(ctx(two).destination.address, 'multiple');
  assert.equal(ctx(two).call.movements, 2);
  assert.deepEqual(two.spend!.destinations!.map((p) => [p.destination, p.baseUnits, p.valueMinor]), [[`sol:${SOL_COLD}`, 2n * SOL, 30_000n], [`sol:${STRANGER}`, 2n * SOL, 30_000n]]);
  // A transfer to the wallet itself moves nothing.
  assert.equal(ctx(decide(msg([systemTransfer(W, W, SOL), systemTransfer(W, SOL_COLD, SOL)]))).amount.baseUnits, String(SOL));
});

test('B19 refusals are denies with the decoder\'s code: unknown program, fee payer not the wallet, extra signer, malformed message', () => {
  const unknown = decide(msg([{ ...systemTransfer(W, SOL_COLD, 1n), programId: testAddress('look-alike-system') }])).decision;
  assert.deepEqual(unknown.codes, ['E_SOLANA_ACCOUNT_MISMATCH']);
  assert.match(unknown.reasons[0]!, /does not sign for/);
  const payer = decide(msg([systemTransfer(W, SOL_COLD, 1n)], { payer: STRANGER })).decision;
  assert.deepEqual(payer.codes, ['E_SOLANA_ACCOUNT_MISMATCH']);
  assert.match(payer.reasons[0]!, /fee payer/);
  assert.deepEqual(decide(msg([systemTransfer(STRANGER, SOL_COLD, 1n)])).decision.codes, ['E_SOLANA_ACCOUNT_MISMATCH']);
  const bad = decide(utf8('not a message')).decision;
  assert.equal(bad.decision, 'deny');
  assert.deepEqual(bad.codes, ['E_SOLANA_MESSAGE_MALFORMED']);
  assert.deepEqual(decide(msg([systemTransfer(W, SOL_COLD, 1n)]), { wallet: { ...solWallet, address: 'not-base58-0OIl' } }).decision.codes, ['E_ADDRESS_INVALID']);
});

test('a durable nonce is accepted only when intended, and then flagged for a risk approval', () => {
  const nonce = testAddress('nonce');
  const m = msg([advanceNonce(nonce, W), systemTransfer(W, SOL_COLD, SOL)]);
  assert.deepEqual(decide(m).decision.codes, ['E_SOLANA_ACCOUNT_MISMATCH']);
  const r = decide(m, { expect: { durableNonceAccount: solanaAddressBytes(nonce) } });
  assert.equal(ctx(r).solana.durableNonce, true);
  assert.equal(r.decision.decision, 'needs-approval');
  assert.deepEqual(r.decision.missingApprovals, { risk: 1 });
  assert.ok(r.decision.policies.includes('flag-solana-durable-nonce'));
  // An intended blockhash that the message does not carry.
  assert.deepEqual(decide(msg([systemTransfer(W, SOL_COLD, 1n)]), { expect: { recentBlockhash: solanaAddressBytes(testAddress('other-hash')) } }).decision.codes, ['E_SOLANA_ACCOUNT_MISMATCH']);
});

test('a Solana address on the screening list is denied naming the entry (base58 compared exactly)', () => {
  // The OFAC excerpt in ../shared/vectors/sanctions/ lists no Solana (SOL) address: this list is synthetic,
  // built the way an operator adds a plain per-asset list (format "plain", asset SOL).
  const listed = parsePlainList(utf8(`${STRANGER}\n`), 'SOL', 'sanctioned_addresses_SOL.txt');
  const data = { ...rulebook, screening: buildScreeningList({ version: 'with-sol', asOfMs: NOW, maxAgeMs: 86_400_000 }, listed) };
  const d = decideSolanaTransaction(data, req(msg([systemTransfer(W, STRANGER, 1n)])), NOW, null).decision;
  assert.equal(d.decision, 'deny');
  assert.ok(d.codes.includes('E_SANCTIONED_DESTINATION'));
  assert.ok(d.policies.includes('deny-sanctioned'));
  assert.ok(d.reasons.some((r) => r.includes(STRANGER) && r.includes('sanctioned_addresses_SOL.txt line 1')), d.reasons.join('; '));
  // The owner of a paid token account is screened too.
  const ata = associatedTokenAddress(STRANGER, TOKEN_PROGRAM_ID, USDC_MINT);
  const viaToken = decideSolanaTransaction(data, req(msg([createAta(W, ata, STRANGER, USDC_MINT), tokenTransferChecked(SOURCE, USDC_MINT, ata, W, USDC, 6)])), NOW, null).decision;
  assert.ok(viaToken.codes.includes('E_SANCTIONED_DESTINATION'));
  // Case matters in base58: a one-letter case change is another address, not a hit.
  const other = STRANGER.replace(/[a-z]/, (c) => c.toUpperCase());
  assert.notEqual(other, STRANGER);
  const near = buildScreeningList({ version: 'near', asOfMs: NOW, maxAgeMs: 86_400_000 }, parsePlainList(utf8(`${other}\n`), 'SOL', 'near.txt'));
  assert.ok(!decideSolanaTransaction({ ...rulebook, screening: near }, req(msg([systemTransfer(W, STRANGER, 1n)])), NOW, null).decision.codes.includes('E_SANCTIONED_DESTINATION'));
  // Re-checked at signing after the list update (L10).
  const before = decide(msg([systemTransfer(W, STRANGER, 1n)])).decision;
  const again = recheckSolanaAtSigning(data, req(msg([systemTransfer(W, STRANGER, 1n)])), before, NOW, null);
  assert.equal(again.versionsChanged, true);
  assert.equal(again.decision.decision, 'deny');
});

test('chains: a wallet not configured for the cluster, an EVM or Bitcoin chain, an unknown chain', () => {
  const m = msg([systemTransfer(W, SOL_COLD, SOL)]);
  const d = decide(m, { wallet: { ...solWallet, chains: ['solana-devnet'] } }).decision;
  assert.ok(d.codes.includes('E_CHAIN_ID_MISMATCH'));
  assert.ok(d.policies.includes('deny-unconfigured-chain'));
  assert.deepEqual(decide(m, { chain: 'eth' }).decision.codes, ['E_CHAIN_FAMILY_MISMATCH']);
  assert.deepEqual(decide(m, { chain: 'btc' }).decision.codes, ['E_CHAIN_FAMILY_MISMATCH']);
  assert.deepEqual(decide(m, { chain: 'near' }).decision.codes, ['E_CHAIN_UNSUPPORTED']);
  // …and an EVM transaction named with a Solana chain.
  const evm = decideEvmTransaction(rulebook, { requestId: 'e', chain: 'sol', tx: { chainId: 1n, nonce: 0n, maxPriorityFeePerGas: 1n, maxFeePerGas: 1n, gasLimit: 21_000n, to: new Uint8Array(20), value: 1n, data: new Uint8Array(0), accessList: [] }, initiator: { id: 'alice', groups: ['initiators'] }, wallet: { id: 'w', groups: [], chainIds: [1n] }, intent: null, approvals: {}, requestedAtMs: NOW }, NOW, null);
  assert.deepEqual(evm.decision.codes, ['E_CHAIN_FAMILY_MISMATCH']);
});

test('a message that only creates a token account is not a transfer and has no permit', () => {
  const d = decide(msg([createAta(W, COLD_ATA, SOL_COLD, USDC_MINT)])).decision;
  assert.equal(d.decision, 'deny');
  assert.deepEqual(d.codes, ['E_POLICY_NO_PERMIT']);
});

test('property: mutated messages only ever produce a decision, never an untyped throw', () => {
  const good = msg([computeUnitPrice(5n), createAta(W, COLD_ATA, SOL_COLD, USDC_MINT), tokenTransferChecked(SOURCE, USDC_MINT, COLD_ATA, W, USDC, 6)]);
  fc.assert(
    fc.property(fc.integer({ min: 0, max: good.length - 1 }), fc.integer({ min: 0, max: 255 }), (pos, b) => {
      const m = Uint8Array.from(good);
      m[pos] = b;
      const d = decide(m).decision;
      assert.ok(['allow', 'deny', 'needs-approval'].includes(d.decision));
      if (d.decision === 'deny') assert.ok(d.codes.length > 0);
    }),
    { numRuns: 300 },
  );
});

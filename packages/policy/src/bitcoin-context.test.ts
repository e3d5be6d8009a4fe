import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import * as btc from '@scure/btc-signer';
import { secp256k1, schnorr } from '@noble/curves/secp256k1.js';
import fc from 'fast-check';
import { hexToBytes } from '@custodian/core/bytes';
import { readVector, REPO_ROOT } from '@custodian/core/vectors';
import { decodePsbt } from '@custodian/chains/btc/psbt';
import { classifyOutput, signedVsize } from './bitcoin-context.js';
import { decideBitcoinSpend, recheckBitcoinAtSigning, type BitcoinSpendRequest } from './engine.js';
import { loadRulebookDir } from './rulebook-dir.js';
import { buildScreeningList } from './sanctions/screening-list.js';
import { BTC, BTC_COLD_REGTEST, btcWallet, NOW, p2wpkhOf, REGTEST, scriptOf, scureSignedVsize, secretFor, walletPsbt, walletScript } from './test-wallets.js';

const rulebook = loadRulebookDir(join(REPO_ROOT, 'examples/policies/default'));
const STRANGER = p2wpkhOf('stranger');
const FEE = 1_000n;

function req(psbt: Uint8Array, over: Partial<BitcoinSpendRequest> = {}): BitcoinSpendRequest {
  return { requestId: 'b-1', chain: 'bitcoin-regtest', psbt, initiator: { id: 'alice', groups: ['initiators'] }, wallet: btcWallet, intent: null, approvals: {}, requestedAtMs: NOW, ...over };
}

/** Pays `pays` from one 10 BTC coin, the rest minus FEE back to the wallet as change. */
function pay(pays: readonly { script: Uint8Array; amount: bigint }[], input = 10n * BTC): ReturnType<typeof walletPsbt> {
  const change = input - pays.reduce((n, p) => n + p.amount, 0n) - FEE;
  return walletPsbt([...pays, { script: walletScript, amount: change }], [input]);
}

interface Ctx {
  asset: string;
  amount: { baseUnits: string; valueMinor: number; priced: boolean };
  destination: { address: string; listed: boolean; firstTime: boolean; sanctioned: boolean; name: string };
  fee: { baseUnits: string; valueMinor: number };
  family: string;
  chainIdConfigured: boolean;
  call: { movements: number; known: boolean };
  bitcoin: { inputs: number; outputs: number; changeOutputs: number; changeSat: string; vsize: number; feeRateSatPerVb: number };
}

test('0.1 BTC to the address-book cold storage with change back: allowed; change is neither amount nor destination', () => {
  const { bytes, tx } = pay([{ script: scriptOf(BTC_COLD_REGTEST), amount: BTC / 10n }]);
  const r = decideBitcoinSpend(rulebook, req(bytes), NOW, null);
  assert.equal(r.decision.decision, 'allow', r.decision.reasons.join('; '));
  assert.deepEqual(r.decision.policies, ['transfer-small-to-address-book']);
  const c = r.facts!.context as unknown as Ctx;
  assert.equal(c.family, 'bitcoin');
  assert.equal(c.asset, 'native');
  assert.deepEqual(c.amount, { baseUnits: '10000000', valueMinor: 600_000, priced: true }); // 0.1 BTC at 60,000 USD
  assert.equal(c.destination.address, BTC_COLD_REGTEST);
  assert.equal(c.destination.listed, true);
  assert.equal(c.fee.baseUnits, '1000');
  assert.equal(c.bitcoin.changeOutputs, 1);
  assert.equal(c.bitcoin.changeSat, String(10n * BTC - BTC / 10n - FEE));
  assert.equal(c.call.movements, 1);
  // The signed size, measured independently by @scure/btc-signer after signing with the wallet key.
  assert.equal(c.bitcoin.vsize, scureSignedVsize(tx));
  assert.equal(c.bitcoin.feeRateSatPerVb, Math.ceil(1000 / c.bitcoin.vsize));
  assert.deepEqual(r.spend, { asset: 'bitcoin-regtest:native', destination: `bitcoin-regtest:${BTC_COLD_REGTEST}`, valueMinor: 600_000n, baseUnits: BTC / 10n, requestId: 'b-1', wallet: 'btc-1', initiator: 'alice' });
});

test('a large change output does not make a small payment large (change excluded from every rule)', () => {
  const { bytes } = pay([{ script: scriptOf(BTC_COLD_REGTEST), amount: 1_000_000n }], 50n * BTC); // 0.01 BTC paid, ~50 BTC change
  const r = decideBitcoinSpend(rulebook, req(bytes), NOW, null);
  assert.equal(r.decision.decision, 'allow');
  assert.equal((r.facts!.context as unknown as Ctx).amount.valueMinor, 60_000);
  // Only change (a consolidation): nothing is spent and there is no destination.
  const only = decideBitcoinSpend(rulebook, req(walletPsbt([{ script: walletScript, amount: 10n * BTC - FEE }]).bytes), NOW, null);
  const c = only.facts!.context as unknown as Ctx;
  assert.equal(c.amount.baseUnits, '0');
  assert.equal(c.destination.address, '');
  assert.equal(only.spend!.baseUnits, 0n);
});

test('over 25,000 USD to a first-time destination needs 2 treasury and 1 risk approval (strictest demand), then is allowed', () => {
  const { bytes } = pay([{ script: STRANGER, amount: BTC / 2n }]); // 30,000 USD
  const d = decideBitcoinSpend(rulebook, req(bytes), NOW, null).decision;
  assert.equal(d.decision, 'needs-approval');
  assert.deepEqual([...d.policies].sort(), ['bitcoin-transfer-over-25k-usd', 'flag-first-time-destination', 'transfer-up-to-100k']);
  assert.deepEqual(d.missingApprovals, { treasury: 2, risk: 1 });
  assert.equal(decideBitcoinSpend(rulebook, req(bytes, { approvals: { treasury: 2, risk: 1 } }), NOW, null).decision.decision, 'allow');
});

test('a fee rate above 300 sat/vB is flagged for a risk approval', () => {
  const { bytes } = walletPsbt([{ script: scriptOf(BTC_COLD_REGTEST), amount: 1_000_000n }, { script: walletScript, amount: 10n * BTC - 1_000_000n - 60_000n }]);
  const r = decideBitcoinSpend(rulebook, req(bytes), NOW, null);
  assert.ok((r.facts!.context as unknown as Ctx).bitcoin.feeRateSatPerVb > 300);
  assert.equal(r.decision.decision, 'needs-approval');
  assert.ok(r.decision.policies.includes('flag-bitcoin-fee-rate-above-300'));
  assert.equal(r.decision.missingApprovals['risk'], 1);
});

function xbtLines(): string[] {
  return new TextDecoder().decode(readVector('sanctions', '0xB10C-lists', 'sanctioned_addresses_XBT.txt')).split('\n');
}

test('sanctioned bitcoin addresses from the OFAC XBT list (bech32, base58 P2PKH and P2SH) are denied naming the list entry', () => {
  const lines = xbtLines();
  const picks = [lines.findIndex((l) => /^bc1q[a-z0-9]{38}$/.test(l)), lines.indexOf('17a5bpKvEp1j1Trs4qTbcNZrby53JbaS9C'), lines.findIndex((l) => l.startsWith('3'))];
  for (const i of picks) {
    assert.ok(i >= 0);
    const address = lines[i]!;
    const { bytes } = pay([{ script: scriptOf(address, btc.NETWORK), amount: 10_000n }]);
    const d = decideBitcoinSpend(rulebook, req(bytes, { chain: 'btc' }), NOW, null).decision;
    assert.equal(d.decision, 'deny', address);
    assert.ok(d.codes.includes('E_SANCTIONED_DESTINATION'));
    assert.ok(d.policies.includes('deny-sanctioned'));
    assert.ok(d.reasons.some((r) => r.includes(`sanctioned_addresses_XBT.txt line ${i + 1}`) && r.includes(address.toLowerCase().startsWith('bc1') ? address.toLowerCase() : address)), d.reasons.join('; '));
  }
  // 17a5bp… is also an sdn.csv row: both entries are named.
  const { bytes } = pay([{ script: scriptOf('17a5bpKvEp1j1Trs4qTbcNZrby53JbaS9C', btc.NETWORK), amount: 10_000n }]);
  assert.ok(decideBitcoinSpend(rulebook, req(bytes, { chain: 'btc' }), NOW, null).decision.reasons.some((r) => r.includes('sdn-csv-excerpt.csv ent_num 31811')));
  // One sanctioned output among clean ones still denies the whole spend.
  const mixed = pay([{ script: scriptOf('bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4', btc.NETWORK), amount: 10_000n }, { script: scriptOf(lines[picks[0]!]!, btc.NETWORK), amount: 10_000n }]);
  assert.ok(decideBitcoinSpend(rulebook, req(mixed.bytes, { chain: 'btc' }), NOW, null).decision.codes.includes('E_SANCTIONED_DESTINATION'));
});

test('outputs to scripts without an address are refused with E_BTC_OUTPUT_SCRIPT_UNKNOWN (OP_RETURN, OP_TRUE, witness v2, v1 of 20 bytes)', () => {
  const scripts = [hexToBytes('6a0b68656c6c6f20776f726c64'), Uint8Array.of(0x51), Uint8Array.from([0x52, 0x20, ...new Uint8Array(32).fill(7)]), Uint8Array.from([0x51, 0x14, ...new Uint8Array(20).fill(7)])];
  // A bare public key (P2PK) has no address either; @scure/btc-signer refuses to build one, so it is checked directly.
  assert.deepEqual(classifyOutput(Uint8Array.from([0x21, ...secp256k1.getPublicKey(secretFor('bare'), true), 0xac]), 'regtest'), { kind: 'unknown', address: null });
  for (const script of scripts) {
    const { bytes } = pay([{ script, amount: 5_000n }]);
    const r = decideBitcoinSpend(rulebook, req(bytes), NOW, null);
    assert.equal(r.decision.decision, 'deny');
    assert.ok(r.decision.codes.includes('E_BTC_OUTPUT_SCRIPT_UNKNOWN'), r.decision.codes.join());
    assert.equal((r.facts!.context as unknown as Ctx).call.known, false);
  }
});

test('bad PSBTs are denied with the decoder\'s typed code: garbage, an input of another key, no witness UTXO', () => {
  const garbage = decideBitcoinSpend(rulebook, req(Uint8Array.of(1, 2, 3)), NOW, null);
  assert.deepEqual(garbage.decision.codes, ['E_PSBT_MALFORMED']);
  assert.equal(garbage.spend, null);
  const otherKey = btc.p2tr(schnorr.getPublicKey(secretFor('other wallet')), undefined, REGTEST).script;
  const foreign = new btc.Transaction();
  foreign.addInput({ txid: new Uint8Array(32).fill(9), index: 0, witnessUtxo: { script: otherKey, amount: BTC } });
  foreign.addOutput({ script: STRANGER, amount: BTC - FEE });
  assert.deepEqual(decideBitcoinSpend(rulebook, req(foreign.toPSBT(0)), NOW, null).decision.codes, ['E_BTC_KEY_MISMATCH']);
  const bare = new btc.Transaction();
  bare.addInput({ txid: new Uint8Array(32).fill(9), index: 0 });
  bare.addOutput({ script: STRANGER, amount: 1000n });
  assert.deepEqual(decideBitcoinSpend(rulebook, req(bare.toPSBT(0)), NOW, null).decision.codes, ['E_BTC_UTXO_MISSING']);
  assert.deepEqual(decideBitcoinSpend(rulebook, req(pay([]).bytes, { wallet: { ...btcWallet, outputKey: new Uint8Array(31) } }), NOW, null).decision.codes, ['E_BTC_KEY']);
});

test('a wallet not configured for the chain, another chain family, or an unknown chain is denied', () => {
  const { bytes } = pay([{ script: scriptOf(BTC_COLD_REGTEST), amount: 10_000n }]);
  const d = decideBitcoinSpend(rulebook, req(bytes, { wallet: { ...btcWallet, chains: ['btc'] } }), NOW, null).decision;
  assert.ok(d.codes.includes('E_CHAIN_ID_MISMATCH'));
  assert.ok(d.policies.includes('deny-unconfigured-chain'));
  assert.deepEqual(decideBitcoinSpend(rulebook, req(bytes, { chain: 'eth' }), NOW, null).decision.codes, ['E_CHAIN_FAMILY_MISMATCH']);
  assert.deepEqual(decideBitcoinSpend(rulebook, req(bytes, { chain: 'sol' }), NOW, null).decision.codes, ['E_CHAIN_FAMILY_MISMATCH']);
  assert.deepEqual(decideBitcoinSpend(rulebook, req(bytes, { chain: 'doge' }), NOW, null).decision.codes, ['E_CHAIN_UNSUPPORTED']);
});

test('B18 a declared destination, amount or asset that differs from the PSBT is E_INTENT_MISMATCH', () => {
  const { bytes } = pay([{ script: scriptOf(BTC_COLD_REGTEST), amount: 10_000n }]);
  assert.notEqual(decideBitcoinSpend(rulebook, req(bytes, { intent: { destination: BTC_COLD_REGTEST.toUpperCase(), amountBaseUnits: 10_000n, asset: 'BTC' } }), NOW, null).decision.decision, 'deny');
  assert.deepEqual(decideBitcoinSpend(rulebook, req(bytes, { intent: { amountBaseUnits: 10_001n } }), NOW, null).decision.codes, ['E_INTENT_MISMATCH']);
  const other = btc.Address(REGTEST).encode(btc.OutScript.decode(STRANGER));
  assert.deepEqual(decideBitcoinSpend(rulebook, req(bytes, { intent: { destination: other } }), NOW, null).decision.codes, ['E_INTENT_MISMATCH']);
  assert.deepEqual(decideBitcoinSpend(rulebook, req(bytes, { intent: { destination: 'bcrt1qW508d6qejxtdg4y5r3zarvary0c5xw7kygt080' } }), NOW, null).decision.codes, ['E_ADDRESS_INVALID']);
});

test('a batch payout: each destination is a portion of the spend; the destination party stands for all of them', () => {
  const { bytes } = pay([{ script: scriptOf(BTC_COLD_REGTEST), amount: 30_000n }, { script: STRANGER, amount: 20_000n }, { script: scriptOf(BTC_COLD_REGTEST), amount: 5_000n }]);
  const r = decideBitcoinSpend(rulebook, req(bytes), NOW, null);
  const c = r.facts!.context as unknown as Ctx;
  assert.equal(c.destination.address, 'multiple');
  assert.equal(c.destination.listed, false);
  assert.equal(c.call.movements, 2);
  assert.equal(c.amount.baseUnits, '55000');
  assert.deepEqual(r.spend!.destinations!.map((p) => [p.destination, p.baseUnits]), [[`bitcoin-regtest:${BTC_COLD_REGTEST}`, 35_000n], [`bitcoin-regtest:${btc.Address(REGTEST).encode(btc.OutScript.decode(STRANGER))}`, 20_000n]]);
});

test('L10 a spend decided before a screening-list update is blocked when re-checked at signing', () => {
  const { bytes } = pay([{ script: scriptOf(BTC_COLD_REGTEST), amount: 10_000n }]);
  const before = decideBitcoinSpend(rulebook, req(bytes), NOW, null).decision;
  assert.equal(before.decision, 'allow');
  const updated = { ...rulebook, screening: buildScreeningList({ version: 'new', asOfMs: NOW, maxAgeMs: 86_400_000 }, [{ address: BTC_COLD_REGTEST.toUpperCase(), asset: 'XBT', reference: 'update 7' }]) };
  const r = recheckBitcoinAtSigning(updated, req(bytes), before, NOW, null);
  assert.equal(r.versionsChanged, true);
  assert.equal(r.decision.decision, 'deny');
  assert.ok(r.decision.reasons.some((x) => x.includes('update 7')));
});

test('output classification agrees with @scure/btc-signer on every address type, mainnet and regtest', () => {
  const pub = secp256k1.getPublicKey(secretFor('kinds'), true);
  const xonly = schnorr.getPublicKey(secretFor('kinds'));
  for (const net of [btc.NETWORK, REGTEST]) {
    const name = net === REGTEST ? 'regtest' : 'mainnet';
    const cases: [string, Uint8Array][] = [
      ['p2pkh', btc.p2pkh(pub, net).script],
      ['p2sh', btc.p2sh(btc.p2wpkh(pub, net), net).script],
      ['p2wpkh', btc.p2wpkh(pub, net).script],
      ['p2wsh', btc.p2wsh(btc.p2pk(pub, net), net).script],
      ['p2tr', btc.p2tr(xonly, undefined, net).script],
    ];
    for (const [kind, script] of cases) {
      assert.deepEqual(classifyOutput(script, name), { kind, address: btc.Address(net).encode(btc.OutScript.decode(script)) }, `${name} ${kind}`);
    }
  }
});

test('vsize of a 2-input SIGHASH_ALL / DEFAULT spend matches the BIP 141 weight of its signed form', () => {
  const tx = new btc.Transaction();
  for (const [i, sighashType] of [btc.SigHash.DEFAULT, btc.SigHash.ALL].entries()) tx.addInput({ txid: new Uint8Array(32).fill(i + 1), index: 0, witnessUtxo: { script: walletScript, amount: BTC }, sighashType });
  tx.addOutput({ script: STRANGER, amount: BTC });
  const psbt = decodePsbt(tx.toPSBT(0));
  // base: 4 + 1 + 2×41 + 1 + 31 + 4 = 123 bytes; witness: 2 + (2 + 64) + (2 + 65) = 135 → weight 627 → vsize 157.
  assert.equal(signedVsize(psbt), 157);
});

test('property: mutated PSBTs only ever produce a decision, never an untyped throw', () => {
  const { bytes } = pay([{ script: scriptOf(BTC_COLD_REGTEST), amount: 10_000n }]);
  fc.assert(
    fc.property(fc.integer({ min: 0, max: bytes.length - 1 }), fc.integer({ min: 0, max: 255 }), (pos, b) => {
      const m = Uint8Array.from(bytes);
      m[pos] = b;
      const d = decideBitcoinSpend(rulebook, req(m), NOW, null).decision;
      assert.ok(['allow', 'deny', 'needs-approval'].includes(d.decision));
      if (d.decision === 'deny') assert.ok(d.codes.length > 0);
    }),
    { numRuns: 300 },
  );
});

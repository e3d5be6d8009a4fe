import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '@custodian/core/vectors';
import * as btc from '@scure/btc-signer';
import { bytesTo0x, bytesToHex, concatBytes, hexToBytes } from '@custodian/core/bytes';
import { encodeUnsignedEip1559 } from '@custodian/chains/evm/eip1559';
import { encodeShortVec } from '@custodian/chains/sol/short-vec';
import { advanceNonce, compileTestMessageBytes, computeUnitPrice, systemTransfer, testAddress, type TestInstruction } from '@custodian/chains/sol/test-messages';
import { BTC, BTC_COLD_REGTEST, p2wpkhOf, scriptOf, SOL, SOL_COLD, walletInternalKey, walletOutputKey, walletPsbt, walletScript } from '@custodian/policy/test-wallets';
import { policyCommand } from './policy.js';

const RULEBOOK = join(REPO_ROOT, 'examples/policies/default');
const tmp = mkdtempSync(join(tmpdir(), 'policy-cli-'));

function rawTx(to: string, value: bigint, chainId = 1n): string {
  return bytesTo0x(encodeUnsignedEip1559({ chainId, nonce: 0n, maxPriorityFeePerGas: 10n ** 9n, maxFeePerGas: 20n * 10n ** 9n, gasLimit: 100_000n, to: hexToBytes(to), value, data: new Uint8Array(0), accessList: [] }));
}

/** Runs the command with stdout and stderr captured. */
async function run(args: string[]): Promise<{ code: number; last: Record<string, unknown> | null; stdout: string }> {
  const out: string[] = [];
  const write = process.stdout.write.bind(process.stdout);
  const writeErr = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((s: string) => (out.push(String(s)), true)) as typeof process.stdout.write;
  process.stderr.write = (() => true) as typeof process.stderr.write;
  try {
    const code = await policyCommand(args);
    const lines = out.join('').trim().split('\n');
    return { code, last: lines.length > 0 && lines[lines.length - 1]!.startsWith('{') ? (JSON.parse(lines[lines.length - 1]!) as Record<string, unknown>) : null, stdout: out.join('') };
  } finally {
    process.stdout.write = write;
    process.stderr.write = writeErr;
  }
}

const context = join(tmp, 'context.json');
writeFileSync(context, JSON.stringify({ now: '2026-11-25T12:00:00Z', initiator: { id: 'alice', groups: ['initiators'] }, wallet: { id: 'hot-1', groups: ['hot'], chainIds: [1] } }));

test('simulate: an allowed transfer exits 0 with the contract JSON as the last line', async () => {
  const r = await run(['simulate', '--policy', RULEBOOK, '--chain', 'eth', '--tx', rawTx('0x1111111111111111111111111111111111111111', 10n ** 18n), '--context', context, '--json']);
  assert.equal(r.code, 0);
  assert.equal(r.last!['decision'], 'allow');
  assert.deepEqual(r.last!['policies'], ['transfer-small-to-address-book']);
  assert.deepEqual(r.last!['missingApprovals'], {});
  assert.equal(r.last!['notBefore'], null);
  assert.ok(Array.isArray(r.last!['reasons']));
});

test('simulate: a sanctioned destination read from a tx file exits 1 with E_SANCTIONED_DESTINATION', async () => {
  const file = join(tmp, 'tx.hex');
  writeFileSync(file, rawTx('0x8589427373D6D84E98730D7795D8f6f8731FDA16', 1n) + '\n');
  const r = await run(['simulate', '--policy', RULEBOOK, '--chain', 'eth', '--tx', file, '--context', context, '--json']);
  assert.equal(r.code, 1);
  assert.equal(r.last!['decision'], 'deny');
  assert.ok((r.last!['codes'] as string[]).includes('E_SANCTIONED_DESTINATION'));
});

test('simulate: B18 a declared intent that differs from the bytes is denied', async () => {
  const ctx = join(tmp, 'intent.json');
  writeFileSync(ctx, JSON.stringify({ now: '2026-11-25T12:00:00Z', intent: { destination: '0x2222222222222222222222222222222222222222' } }));
  const r = await run(['simulate', '--policy', RULEBOOK, '--chain', 'eth', '--tx', rawTx('0x1111111111111111111111111111111111111111', 1n), '--context', ctx, '--json']);
  assert.equal(r.code, 1);
  assert.deepEqual(r.last!['codes'], ['E_INTENT_MISMATCH']);
});

test('simulate: rejects a malformed transaction (exit 1), bad usage (exit 2) and a missing rulebook (exit 3)', async () => {
  const bad = await run(['simulate', '--policy', RULEBOOK, '--chain', 'eth', '--tx', '0x02c0', '--json']);
  assert.equal(bad.code, 1);
  assert.equal((bad.last!['error'] as { code: string }).code, 'E_TX_MALFORMED');
  assert.equal((await run(['simulate', '--chain', 'eth', '--json'])).code, 2);
  assert.equal((await run(['simulate', '--policy', join(tmp, 'nope'), '--chain', 'eth', '--tx', '0x02', '--json'])).code, 3);
});

test('validate and diff report on rulebooks', async () => {
  const v = await run(['validate', RULEBOOK, '--json']);
  assert.equal(v.code, 0);
  assert.ok((v.last!['policies'] as string[]).includes('deny-sanctioned'));
  const d = await run(['diff', RULEBOOK, RULEBOOK, '--json']);
  assert.deepEqual(d.last!['documentsChanged'], []);
  const badPolicy = join(tmp, 'bad.cedar');
  writeFileSync(badPolicy, '@id("x") permit (principal, action, resource) when { context.nope };');
  const b = await run(['validate', badPolicy, '--json']);
  assert.equal(b.code, 1);
  assert.equal((b.last!['error'] as { code: string }).code, 'E_POLICY_INVALID');
});

test('simulate: an EIP-712 unlimited permit file is decided as a spend and denied (B17)', async () => {
  const file = join(tmp, 'permit.json');
  const now = Math.floor(Date.parse('2026-11-25T12:00:00Z') / 1000);
  writeFileSync(file, JSON.stringify({
    types: { EIP712Domain: [{ name: 'name', type: 'string' }, { name: 'chainId', type: 'uint256' }, { name: 'verifyingContract', type: 'address' }], Permit: [{ name: 'owner', type: 'address' }, { name: 'spender', type: 'address' }, { name: 'value', type: 'uint256' }, { name: 'nonce', type: 'uint256' }, { name: 'deadline', type: 'uint256' }] },
    primaryType: 'Permit',
    domain: { name: 'USD Coin', chainId: 1, verifyingContract: '0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48' },
    message: { owner: '0x4444444444444444444444444444444444444444', spender: '0x3333333333333333333333333333333333333333', value: ((1n << 256n) - 1n).toString(), nonce: 0, deadline: now + 60 },
  }));
  const r = await run(['simulate', '--policy', RULEBOOK, '--chain', 'eth', '--tx', file, '--context', context, '--json']);
  assert.equal(r.code, 1);
  assert.ok((r.last!['codes'] as string[]).includes('E_UNLIMITED_APPROVAL'));
});

// --- Solana and Bitcoin chains (FROST wallets): the bytes are read per the rulebook chain's family.

/** The error code of a `{ ok: false, error }` answer. */
const errorCode = (r: { last: Record<string, unknown> | null }): string => (r.last!['error'] as { code: string }).code;
const b64 = (b: Uint8Array): string => Buffer.from(b).toString('base64');

/** The JSON fields every decision carries, whatever the chain (CONTRACTS.md "Policy", plus codes and versions). */
function assertDecisionShape(d: Record<string, unknown>): void {
  assert.deepEqual(Object.keys(d).sort(), ['codes', 'decision', 'limit', 'missingApprovals', 'notBefore', 'policies', 'reasons', 'versions']);
  assert.deepEqual(Object.keys(d['versions'] as object).sort(), ['addressBook', 'chains', 'limits', 'policySet', 'priceTable', 'screeningList']);
  for (const v of Object.values(d['versions'] as Record<string, string>)) assert.match(v, /^[0-9a-f]{64}$/);
}

const SOL_WALLET = testAddress('custodian-sol-wallet');
const SOL_STRANGER = testAddress('stranger');
const blockhash = testAddress('blockhash');
const solContext = join(tmp, 'sol-context.json');
writeFileSync(solContext, JSON.stringify({ now: '2026-11-25T12:00:00Z', initiator: { id: 'alice', groups: ['initiators'] }, wallet: { id: 'sol-1', groups: ['hot'] } }));

function solMessage(instructions: TestInstruction[], o: { version?: 'legacy' | 0; payer?: string } = {}): Uint8Array {
  return compileTestMessageBytes({ payer: o.payer ?? SOL_WALLET, instructions, blockhash, version: o.version ?? 'legacy' });
}

/** The message as wallets and RPCs pass it: a serialised transaction with a zero-filled signature. */
function unsignedSolanaTx(message: Uint8Array): Uint8Array {
  return concatBytes(encodeShortVec(1), new Uint8Array(64), message);
}

const simSol = (chain: string, tx: string[], extra: string[] = []): Promise<{ code: number; last: Record<string, unknown> | null; stdout: string }> =>
  run(['simulate', '--policy', RULEBOOK, '--chain', chain, ...tx, '--wallet-address', SOL_WALLET, '--context', solContext, ...extra, '--json']);

test('simulate sol: 10 SOL to the address-book cold storage is allowed, from a message in hex or a serialised v0 transaction in base64', async () => {
  const legacy = await simSol('sol', ['--tx', bytesTo0x(solMessage([computeUnitPrice(1_000n), systemTransfer(SOL_WALLET, SOL_COLD, 10n * SOL)]))]);
  assert.equal(legacy.code, 0);
  assertDecisionShape(legacy.last!);
  assert.equal(legacy.last!['decision'], 'allow', JSON.stringify(legacy.last));
  assert.deepEqual(legacy.last!['policies'], ['transfer-small-to-address-book']);
  assert.deepEqual(legacy.last!['missingApprovals'], {});
  assert.equal(legacy.last!['notBefore'], null);
  assert.deepEqual(legacy.last!['codes'], []);
  const v0 = await simSol('solana-devnet', ['--tx-base64', b64(unsignedSolanaTx(solMessage([systemTransfer(SOL_WALLET, SOL_COLD, 10n * SOL)], { version: 0 })))]);
  assert.equal(v0.code, 0);
  assert.equal(v0.last!['decision'], 'allow', JSON.stringify(v0.last));
  assert.deepEqual(v0.last!['policies'], ['transfer-small-to-address-book']);
  // The same documents were used for both: one rulebook, one set of versions.
  assert.deepEqual(v0.last!['versions'], legacy.last!['versions']);
});

test('simulate sol: 100 SOL to a first-time destination needs treasury and risk approvals; the approvals in the context complete it', async () => {
  const tx = ['--tx', bytesTo0x(solMessage([systemTransfer(SOL_WALLET, SOL_STRANGER, 100n * SOL)]))];
  const r = await simSol('sol', tx);
  assert.equal(r.code, 0);
  assert.equal(r.last!['decision'], 'needs-approval');
  assert.deepEqual([...(r.last!['policies'] as string[])].sort(), ['flag-first-time-destination', 'transfer-up-to-100k']);
  assert.deepEqual(r.last!['missingApprovals'], { treasury: 1, risk: 1 });
  const approved = join(tmp, 'sol-approved.json');
  writeFileSync(approved, JSON.stringify({ now: '2026-11-25T12:00:00Z', initiator: { id: 'alice', groups: ['initiators'] }, wallet: { id: 'sol-1', groups: ['hot'], chains: ['sol'] }, approvals: { treasury: 1, risk: 1 } }));
  const done = await run(['simulate', '--policy', RULEBOOK, '--chain', 'sol', ...tx, '--wallet-address', SOL_WALLET, '--context', approved, '--json']);
  assert.equal(done.last!['decision'], 'allow');
  // A wallet the context configures for another cluster only is refused on this one.
  const other = join(tmp, 'sol-devnet-only.json');
  writeFileSync(other, JSON.stringify({ now: '2026-11-25T12:00:00Z', wallet: { id: 'sol-1', chains: ['solana-devnet'] } }));
  const unconfigured = await run(['simulate', '--policy', RULEBOOK, '--chain', 'sol', ...tx, '--wallet-address', SOL_WALLET, '--context', other, '--json']);
  assert.equal(unconfigured.code, 1);
  assert.ok((unconfigured.last!['codes'] as string[]).includes('E_CHAIN_ID_MISMATCH'));
  assert.ok((unconfigured.last!['policies'] as string[]).includes('deny-unconfigured-chain'));
});

test('simulate sol: B19 a durable nonce is denied unless --durable-nonce-account names it, then flagged for risk; a blockhash other than --recent-blockhash is denied', async () => {
  const nonce = testAddress('nonce');
  const tx = ['--tx', bytesTo0x(solMessage([advanceNonce(nonce, SOL_WALLET), systemTransfer(SOL_WALLET, SOL_COLD, SOL)]))];
  const unintended = await simSol('sol', tx);
  assert.equal(unintended.code, 1);
  assertDecisionShape(unintended.last!);
  assert.equal(unintended.last!['decision'], 'deny');
  assert.deepEqual(unintended.last!['codes'], ['E_SOLANA_ACCOUNT_MISMATCH']);
  const intended = await simSol('sol', tx, ['--durable-nonce-account', nonce]);
  assert.equal(intended.code, 0);
  assert.equal(intended.last!['decision'], 'needs-approval');
  assert.ok((intended.last!['policies'] as string[]).includes('flag-solana-durable-nonce'));
  assert.deepEqual(intended.last!['missingApprovals'], { risk: 1 });
  const plain = ['--tx', bytesTo0x(solMessage([systemTransfer(SOL_WALLET, SOL_COLD, SOL)]))];
  assert.equal((await simSol('sol', plain, ['--recent-blockhash', blockhash])).last!['decision'], 'allow');
  const stale = await simSol('sol', plain, ['--recent-blockhash', testAddress('other-hash')]);
  assert.equal(stale.code, 1);
  assert.deepEqual(stale.last!['codes'], ['E_SOLANA_ACCOUNT_MISMATCH']);
});

test('simulate sol: a message paid by another account is denied for this wallet; a screened Solana address is denied naming its list line', async () => {
  const theirs = await simSol('sol', ['--tx', bytesTo0x(solMessage([systemTransfer(SOL_STRANGER, SOL_COLD, SOL)], { payer: SOL_STRANGER }))]);
  assert.equal(theirs.code, 1);
  assert.deepEqual(theirs.last!['codes'], ['E_SOLANA_ACCOUNT_MISMATCH']);
  // The OFAC excerpt lists no Solana address: a rulebook copy gets a plain SOL list, as an operator would add one.
  const dir = join(tmp, 'rulebook-with-sol-list');
  cpSync(RULEBOOK, dir, { recursive: true });
  writeFileSync(join(dir, 'sanctions/sanctioned_addresses_SOL.txt'), `${SOL_STRANGER}\n`);
  const manifest = JSON.parse(readFileSync(join(dir, 'rulebook.json'), 'utf8')) as { screening: { sources: unknown[] } };
  manifest.screening.sources.push({ file: 'sanctions/sanctioned_addresses_SOL.txt', format: 'plain', asset: 'SOL' });
  writeFileSync(join(dir, 'rulebook.json'), JSON.stringify(manifest, null, 2));
  const r = await run(['simulate', '--policy', dir, '--chain', 'sol', '--tx', bytesTo0x(solMessage([systemTransfer(SOL_WALLET, SOL_STRANGER, 1n)])), '--wallet-address', SOL_WALLET, '--context', solContext, '--json']);
  assert.equal(r.code, 1);
  assert.equal(r.last!['decision'], 'deny');
  assert.ok((r.last!['codes'] as string[]).includes('E_SANCTIONED_DESTINATION'));
  assert.ok((r.last!['policies'] as string[]).includes('deny-sanctioned'));
  assert.ok((r.last!['reasons'] as string[]).some((x) => x.includes(SOL_STRANGER) && x.includes('sanctioned_addresses_SOL.txt line 1')), JSON.stringify(r.last));
});

const btcContext = join(tmp, 'btc-context.json');
writeFileSync(btcContext, JSON.stringify({ now: '2026-11-25T12:00:00Z', initiator: { id: 'alice', groups: ['initiators'] }, wallet: { id: 'btc-1', groups: ['hot'] } }));
const FEE = 1_000n;

/** A PSBT (built by @scure/btc-signer) paying `pays` from one 10 BTC wallet coin, the rest minus FEE back as change. */
function pay(pays: readonly { script: Uint8Array; amount: bigint }[]): Uint8Array {
  const change = 10n * BTC - pays.reduce((n, p) => n + p.amount, 0n) - FEE;
  return walletPsbt([...pays, { script: walletScript, amount: change }]).bytes;
}

const simBtc = (chain: string, tx: string[], key: string[] = ['--wallet-output-key', bytesToHex(walletOutputKey)]): Promise<{ code: number; last: Record<string, unknown> | null; stdout: string }> =>
  run(['simulate', '--policy', RULEBOOK, '--chain', chain, ...tx, ...key, '--context', btcContext, '--json']);

test('simulate bitcoin-regtest: 0.1 BTC to the cold storage with change back is allowed, from base64, a base64 file, a raw PSBT file and hex, by output or internal key', async () => {
  const psbt = pay([{ script: scriptOf(BTC_COLD_REGTEST), amount: BTC / 10n }]);
  const b64File = join(tmp, 'spend.psbt.txt');
  writeFileSync(b64File, b64(psbt) + '\n'); // what `bitcoin-cli walletcreatefundedpsbt` prints
  const rawFile = join(tmp, 'spend.psbt');
  writeFileSync(rawFile, psbt);
  const answers = [
    await simBtc('bitcoin-regtest', ['--tx-base64', b64(psbt)]),
    await simBtc('bitcoin-regtest', ['--tx', b64File]),
    await simBtc('bitcoin-regtest', ['--tx', rawFile]),
    await simBtc('bitcoin-regtest', ['--tx', bytesToHex(psbt)], ['--wallet-internal-key', bytesToHex(walletInternalKey)]),
  ];
  for (const r of answers) {
    assert.equal(r.code, 0);
    assertDecisionShape(r.last!);
    assert.equal(r.last!['decision'], 'allow', JSON.stringify(r.last));
    assert.deepEqual(r.last!['policies'], ['transfer-small-to-address-book']);
    assert.deepEqual(r.last!, answers[0]!.last);
  }
  // For people: the chain, what was read and the wallet's own address are named.
  const human = await run(['simulate', '--policy', RULEBOOK, '--chain', 'bitcoin-regtest', '--tx-base64', b64(psbt), '--wallet-internal-key', bytesToHex(walletInternalKey), '--context', btcContext]);
  assert.equal(human.code, 0);
  assert.match(human.stdout, /^chain: bitcoin-regtest \(bitcoin, regtest\)$/m);
  assert.ok(human.stdout.includes(`wallet: output key ${bytesToHex(walletOutputKey)} (${btc.p2tr(walletInternalKey, undefined, { bech32: 'bcrt', pubKeyHash: 0x6f, scriptHash: 0xc4, wif: 0xef }).address!})`), human.stdout);
  assert.match(human.stdout, /^decision: allow$/m);
});

test('simulate bitcoin: over 25,000 USD to a first-time destination needs 2 treasury and 1 risk approval; an OFAC XBT address on btc is denied', async () => {
  const r = await simBtc('bitcoin-regtest', ['--tx-base64', b64(pay([{ script: p2wpkhOf('stranger'), amount: BTC / 2n }]))]);
  assert.equal(r.code, 0);
  assert.equal(r.last!['decision'], 'needs-approval');
  assert.deepEqual([...(r.last!['policies'] as string[])].sort(), ['bitcoin-transfer-over-25k-usd', 'flag-first-time-destination', 'transfer-up-to-100k']);
  assert.deepEqual(r.last!['missingApprovals'], { treasury: 2, risk: 1 });
  // 17a5bp… is on both the XBT list and an sdn.csv row (mainnet P2PKH; `btc` is the mainnet chain).
  const sanctioned = await simBtc('btc', ['--tx-base64', b64(pay([{ script: scriptOf('17a5bpKvEp1j1Trs4qTbcNZrby53JbaS9C', btc.NETWORK), amount: 10_000n }]))]);
  assert.equal(sanctioned.code, 1);
  assert.equal(sanctioned.last!['decision'], 'deny');
  assert.ok((sanctioned.last!['codes'] as string[]).includes('E_SANCTIONED_DESTINATION'));
  assert.ok((sanctioned.last!['reasons'] as string[]).some((x) => x.includes('sdn-csv-excerpt.csv ent_num 31811')), JSON.stringify(sanctioned.last));
});

test('simulate bitcoin: a PSBT spending another key\'s coins is denied for this wallet (E_BTC_KEY_MISMATCH), as the enclave would', async () => {
  const psbt = pay([{ script: scriptOf(BTC_COLD_REGTEST), amount: 10_000n }]);
  const otherKey = bytesToHex(btc.p2tr(btc.utils.pubSchnorr(new Uint8Array(32).fill(7)), undefined, btc.NETWORK).tweakedPubkey);
  const r = await simBtc('bitcoin-regtest', ['--tx-base64', b64(psbt)], ['--wallet-output-key', otherKey]);
  assert.equal(r.code, 1);
  assertDecisionShape(r.last!);
  assert.deepEqual(r.last!['codes'], ['E_BTC_KEY_MISMATCH']);
  // The internal key passed as if it were the output key: the tweak matters.
  assert.deepEqual((await simBtc('bitcoin-regtest', ['--tx-base64', b64(psbt)], ['--wallet-output-key', bytesToHex(walletInternalKey)])).last!['codes'], ['E_BTC_KEY_MISMATCH']);
});

test('simulate sol/btc: bad input gets typed errors (exit 1) and bad usage exit 2, before anything is decided', async () => {
  const psbt = b64(pay([{ script: scriptOf(BTC_COLD_REGTEST), amount: 10_000n }]));
  const message = bytesTo0x(solMessage([systemTransfer(SOL_WALLET, SOL_COLD, SOL)]));
  const key = ['--wallet-output-key', bytesToHex(walletOutputKey)];
  const cases: [string[], string][] = [
    [['--chain', 'bitcoin-regtest', '--tx-base64', 'cHNidP8=!', ...key], 'E_BASE64_INVALID'],
    [['--chain', 'bitcoin-regtest', '--tx-base64', 'cHNidP9=', ...key], 'E_BASE64_INVALID'], // not canonical: the last digit's unused bits are set
    [['--chain', 'bitcoin-regtest', '--tx-base64', b64(new TextEncoder().encode('psbt\xff but not one')), ...key], 'E_PSBT_MALFORMED'],
    [['--chain', 'bitcoin-regtest', '--tx', message, ...key], 'E_PSBT_MALFORMED'],
    [['--chain', 'bitcoin-regtest', '--tx-base64', psbt, '--wallet-output-key', 'ab'.repeat(31)], 'E_BTC_KEY'],
    [['--chain', 'bitcoin-regtest', '--tx-base64', psbt, '--wallet-output-key', '00'.repeat(32)], 'E_BTC_KEY'], // x = 0 is not on secp256k1
    [['--chain', 'bitcoin-regtest', '--tx-base64', psbt, '--wallet-output-key', 'zz'.repeat(32)], 'E_HEX_INVALID'],
    [['--chain', 'sol', '--tx', bytesTo0x(Uint8Array.of(1, 0, 0, 5)), '--wallet-address', SOL_WALLET], 'E_SOLANA_MESSAGE_MALFORMED'],
    [['--chain', 'sol', '--tx', '0x' + '01'.repeat(1233), '--wallet-address', SOL_WALLET], 'E_SOLANA_MESSAGE_MALFORMED'], // over one packet
    [['--chain', 'sol', '--tx-base64', b64(new Uint8Array(1300)), '--wallet-address', SOL_WALLET], 'E_SOLANA_MESSAGE_MALFORMED'],
    [['--chain', 'sol', '--tx', message, '--wallet-address', 'not-base58-0OIl'], 'E_ADDRESS_INVALID'],
    [['--chain', 'sol', '--tx', message, '--wallet-address', SOL_WALLET, '--durable-nonce-account', 'abc'], 'E_ADDRESS_INVALID'],
    [['--chain', 'dogecoin', '--tx', message, '--wallet-address', SOL_WALLET], 'E_CHAIN_UNSUPPORTED'],
    [['--chain', 'doge', '--tx', rawTx('0x1111111111111111111111111111111111111111', 1n)], 'E_CHAIN_UNSUPPORTED'],
  ];
  for (const [args, code] of cases) {
    const r = await run(['simulate', '--policy', RULEBOOK, ...args, '--json']);
    assert.equal(r.code, 1, args.join(' '));
    assert.equal(r.last!['ok'], false, args.join(' '));
    assert.equal(errorCode(r), code, args.join(' '));
  }
  // Bytes that are both a message and a transaction carrying another message are refused, not guessed.
  const ambiguous = new Uint8Array(134);
  ambiguous.set([1, 0, 0, 2], 0); // as a message: 1 signer, 2 keys (bytes 4-67), blockhash 68-99, 1 instruction at 100…
  ambiguous.set([1, 0, 0, 1], 65); // as a transaction: 1 signature (1-64), then a message of 1 signer and 1 key (69-100)…
  ambiguous.set([1, 1, 0, 30], 100); // …the outer instruction (program 1, no accounts, 30 data bytes) covers the inner blockhash
  ambiguous[133] = 0; // and the inner message's instruction count
  const both = await run(['simulate', '--policy', RULEBOOK, '--chain', 'sol', '--tx', bytesTo0x(ambiguous), '--wallet-address', SOL_WALLET, '--json']);
  assert.equal(errorCode(both), 'E_SOLANA_MESSAGE_MALFORMED');
  assert.match((both.last!['error'] as { message: string }).message, /both as a message and as a transaction/);
  // EVM wallet configuration on a Solana chain is refused rather than ignored.
  const evmWallet = join(tmp, 'evm-wallet.json');
  writeFileSync(evmWallet, JSON.stringify({ wallet: { id: 'w', chainIds: [1] } }));
  assert.equal(errorCode(await run(['simulate', '--policy', RULEBOOK, '--chain', 'sol', '--tx', message, '--wallet-address', SOL_WALLET, '--context', evmWallet, '--json'])), 'E_FIELD_INVALID');
  const usage: string[][] = [
    ['--chain', 'sol', '--tx', message], // no wallet
    ['--chain', 'bitcoin-regtest', '--tx-base64', psbt], // no wallet key
    ['--chain', 'bitcoin-regtest', '--tx-base64', psbt, ...key, '--wallet-internal-key', bytesToHex(walletInternalKey)], // two keys
    ['--chain', 'sol', '--tx', message, '--wallet-address', SOL_WALLET, ...key], // a Bitcoin option on a Solana chain
    ['--chain', 'eth', '--tx', rawTx('0x1111111111111111111111111111111111111111', 1n), '--wallet-address', SOL_WALLET], // …or on an EVM one
    ['--chain', 'sol', '--tx', message, '--tx-base64', 'AA==', '--wallet-address', SOL_WALLET], // two transactions
  ];
  for (const args of usage) assert.equal((await run(['simulate', '--policy', RULEBOOK, ...args, '--json'])).code, 2, args.join(' '));
});

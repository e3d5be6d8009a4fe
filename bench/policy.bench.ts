/**
 * Policy decision latency (issue 5 §8): p50/p99 of a full decision — decode
 * the raw bytes, derive the context, screen every address against the
 * sanctions list, look up the address book, evaluate the pre-parsed Cedar
 * set, assemble the decision — with 10, 100 and 1,000 policies, for each
 * chain family the engine decides:
 *
 * - `eth`: an unsigned EIP-1559 transfer (`decideEvmTransaction`);
 * - `sol`: a Solana legacy message, compute-unit price + system transfer
 *   (`decideSolanaTransaction`);
 * - `bitcoin-regtest`: a taproot key-path PSBT built by @scure/btc-signer,
 *   one wallet coin paying a P2WPKH destination with change back
 *   (`decideBitcoinSpend`).
 *
 * The address book holds 100,000 EVM entries plus 50,000 Solana and 50,000
 * Bitcoin ones (200,000; every destination is found in it), the screening
 * list is the default rulebook's full OFAC set. Baselines, in the same run
 * on the same policies and each family's own context: bare Cedar
 * `isAuthorized` (policies passed as text, as the wasm API's plain entry
 * point does, with and without schema validation) and pre-parsed
 * `statefulIsAuthorized`.
 *
 *   node --import tsx bench/policy.bench.ts [--quick] [--json]
 */
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import * as cedar from '@cedar-policy/cedar-wasm/nodejs';
import { REPO_ROOT } from '@custodian/core/vectors';
import { hexToBytes } from '@custodian/core/bytes';
import { toChecksumAddress } from '@custodian/chains/evm/address';
import { decodeUnsignedEip1559, encodeUnsignedEip1559 } from '@custodian/chains/evm/eip1559';
import { decodePsbt } from '@custodian/chains/btc/psbt';
import { encodeSegwitAddress } from '@custodian/chains/btc/segwit-address';
import { base58Encode } from '@custodian/chains/sol/base58';
import { decodeSolanaMessage } from '@custodian/chains/sol/message';
import { compileTestMessageBytes, computeUnitPrice, systemTransfer, testAddress } from '@custodian/chains/sol/test-messages';
import { loadRulebookDir } from '@custodian/policy/rulebook-dir';
import { decideBitcoinSpend, decideEvmTransaction, decideSolanaTransaction, type PolicyData } from '@custodian/policy/engine';
import { buildAddressBook, type AddressBookEntry } from '@custodian/policy/address-book';
import { compilePolicySet, ensureSchemaParsed } from '@custodian/policy/policy-set';
import { requestEntities, type EntityRef } from '@custodian/policy/cedar-evaluate';
import type { PolicyFacts } from '@custodian/policy/context-facts';
import type { Decision } from '@custodian/policy/decision';
import type { BitcoinChainConfig, ChainFamily, SolanaChainConfig } from '@custodian/policy/chain-config';
import { CUSTODIAN_SCHEMA } from '@custodian/policy/schema';
import { VelocityLedger } from '@custodian/policy/velocity-ledger';
import { deriveEvmContext } from '@custodian/policy/evm-context';
import { deriveSolanaContext } from '@custodian/policy/solana-context';
import { deriveBitcoinContext } from '@custodian/policy/bitcoin-context';
import { BTC, btcWallet, SOL, solWallet, walletPsbt, walletScript } from '@custodian/policy/test-wallets';

const quick = process.argv.includes('--quick');
const asJson = process.argv.includes('--json');
const RULEBOOK = join(REPO_ROOT, 'examples/policies/default');
const NOW = Date.parse('2026-11-25T12:00:00Z');

function quantiles(samples: number[]): { p50: number; p99: number; mean: number } {
  const s = [...samples].sort((a, b) => a - b);
  const at = (q: number): number => s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
  return { p50: at(0.5), p99: at(0.99), mean: s.reduce((a, b) => a + b, 0) / s.length };
}

function time(n: number, fn: () => void): { p50: number; p99: number; mean: number } {
  for (let i = 0; i < Math.min(50, n); i++) fn();
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    fn();
    out.push((performance.now() - t) * 1000);
  }
  return quantiles(out);
}

/** The default rulebook's policies plus synthetic ones up to `n` (a third forbids, the rest permits with demands). */
function policyTexts(n: number, base: readonly string[]): string {
  const out = [...base];
  for (let i = out.length; i < n; i++) {
    out.push(i % 3 === 0
      ? `@id("syn-f${i}") forbid (principal, action == Custodian::Action::"transfer", resource) when { context.destination.labels.contains("blocked-${i}") && context.amount.valueMinor > ${i} };`
      : `@id("syn-p${i}") @approvals("treasury:${1 + (i % 3)}") permit (principal in Custodian::Group::"initiators", action == Custodian::Action::"transfer", resource) when { context.amount.priced && context.amount.valueMinor > ${i * 1000} && context.destination.labels.contains("tier-${i % 50}") };`);
  }
  return out.slice(0, n).join('\n');
}

const f = (q: { p50: number; p99: number }): string => `${q.p50.toFixed(0).padStart(6)} / ${q.p99.toFixed(0).padStart(6)}`;

type Quantiles = ReturnType<typeof quantiles>;

/** One chain family's request: how to decide it against a rulebook, and who asks for which wallet. */
interface Case {
  readonly chain: string;
  readonly what: string;
  readonly wallet: EntityRef;
  readonly decide: (data: PolicyData, ledger: VelocityLedger) => { decision: Decision; facts: PolicyFacts | null };
  /** Decoding the bytes alone. */
  readonly decode: () => void;
  /** Context derivation (decoding included for Solana and Bitcoin: the derivers take the bytes). */
  readonly derive: (data: PolicyData) => void;
}

interface Row {
  chain: string;
  policies: number;
  decision: string;
  fullDecisionUs: Quantiles;
  statefulIsAuthorizedUs: Quantiles;
  bareIsAuthorizedUs: Quantiles;
  bareIsAuthorizedWithSchemaUs: Quantiles;
}

const INITIATOR = { id: 'alice', groups: ['initiators'] };

function main(): void {
  let t = performance.now();
  const rulebook = loadRulebookDir(RULEBOOK);
  const loadMs = performance.now() - t;
  const familyOf = (c: string): ChainFamily | undefined => rulebook.chains.get(c)?.family;
  // 100,000 EVM entries (synthetic addresses) as before, plus 50,000 Solana and 50,000 Bitcoin regtest ones.
  const entries: AddressBookEntry[] = [];
  for (let i = 0; i < 100_000; i++) {
    const a = new Uint8Array(20);
    new DataView(a.buffer).setUint32(16, i + 1);
    a[0] = 0xab;
    entries.push({ chain: 'eth', address: toChecksumAddress(a), name: `entry ${i}`, labels: [`tier-${i % 50}`] });
  }
  for (let i = 0; i < 50_000; i++) {
    const k = new Uint8Array(32);
    new DataView(k.buffer).setUint32(28, i + 1);
    k[0] = 0xcd;
    entries.push({ chain: 'sol', address: base58Encode(k), name: `sol entry ${i}`, labels: [`tier-${i % 50}`] });
    entries.push({ chain: 'bitcoin-regtest', address: encodeSegwitAddress('regtest', 0, k.subarray(12)), name: `btc entry ${i}`, labels: [`tier-${i % 50}`] });
  }
  t = performance.now();
  const book = buildAddressBook('bench', entries, familyOf);
  const bookMs = performance.now() - t;

  // The same 6,000 USD on every chain, so the policies see like amounts. EVM: 2 ETH to entry 77,777.
  const evmDest = entries[77_777]!.address;
  const raw = encodeUnsignedEip1559({ chainId: 1n, nonce: 5n, maxPriorityFeePerGas: 10n ** 9n, maxFeePerGas: 2n * 10n ** 10n, gasLimit: 21_000n, to: hexToBytes(evmDest), value: 2n * 10n ** 18n, data: new Uint8Array(0), accessList: [] });
  const evmWallet = { id: 'hot-1', groups: ['hot'], chainIds: [1n] };
  const ethChain = rulebook.chains.get('eth')!;
  // Solana: 40 SOL (6,000 USD) to Solana entry 27,777 with a compute-unit price.
  const solDest = entries[100_000 + 2 * 27_777]!;
  const message = compileTestMessageBytes({ payer: solWallet.address, instructions: [computeUnitPrice(1_000n), systemTransfer(solWallet.address, solDest.address, 40n * SOL)], blockhash: testAddress('bench-blockhash'), version: 'legacy' });
  const solChain = rulebook.chains.get('sol') as SolanaChainConfig;
  // Bitcoin: 0.1 BTC (6,000 USD) to Bitcoin entry 27,777's P2WPKH (its 20-byte program), change back to the wallet's P2TR.
  const btcProgram = new Uint8Array(32);
  new DataView(btcProgram.buffer).setUint32(28, 27_777 + 1);
  btcProgram[0] = 0xcd;
  const psbt = walletPsbt([{ script: Uint8Array.of(0x00, 0x14, ...btcProgram.subarray(12)), amount: BTC / 10n }, { script: walletScript, amount: 10n * BTC - BTC / 10n - 2_000n }]).bytes;
  const btcChain = rulebook.chains.get('bitcoin-regtest') as BitcoinChainConfig;
  const common = { requestId: 'bench', initiator: INITIATOR, intent: null, approvals: {}, requestedAtMs: NOW };

  const cases: Case[] = [
    {
      chain: 'eth',
      what: 'EIP-1559 transfer of 2 ETH to a book entry',
      wallet: evmWallet,
      decide: (data, ledger) => decideEvmTransaction(data, { ...common, chain: 'eth', wallet: evmWallet, tx: decodeUnsignedEip1559(raw) }, NOW, ledger),
      decode: () => void decodeUnsignedEip1559(raw),
      derive: (data) => void deriveEvmContext({ tx: decodeUnsignedEip1559(raw), chain: ethChain, wallet: evmWallet, initiator: 'alice', intent: null, data, ledger: null, nowMs: NOW }),
    },
    {
      chain: 'sol',
      what: `Solana message (${message.length} B): compute price + transfer of 40 SOL to a book entry`,
      wallet: solWallet,
      decide: (data, ledger) => decideSolanaTransaction(data, { ...common, chain: 'sol', wallet: solWallet, messageBytes: message }, NOW, ledger),
      decode: () => void decodeSolanaMessage(message),
      derive: (data) => void deriveSolanaContext({ messageBytes: message, chain: solChain, wallet: solWallet, initiator: 'alice', intent: null, expect: {}, data, ledger: null, nowMs: NOW }),
    },
    {
      chain: 'bitcoin-regtest',
      what: `taproot PSBT (${psbt.length} B): 1 input, 0.1 BTC to a P2WPKH book entry + change`,
      wallet: btcWallet,
      decide: (data, ledger) => decideBitcoinSpend(data, { ...common, chain: 'bitcoin-regtest', wallet: btcWallet, psbt }, NOW, ledger),
      decode: () => void decodePsbt(psbt),
      derive: (data) => void deriveBitcoinContext({ psbt, chain: btcChain, wallet: btcWallet, initiator: 'alice', intent: null, data, ledger: null, nowMs: NOW }),
    },
  ];

  const base = rulebook.policySet.policies.size;
  const baseTexts = [...rulebook.policySet.policies.values()].map((p) => p.text);
  const bookData: PolicyData = { ...rulebook, addressBook: book };
  // Decoding and context derivation (screening, address book) alone: independent of the policy count.
  const perChain: Record<string, { what: string; decodeUs: Quantiles; deriveContextUs: Quantiles }> = {};
  for (const c of cases) {
    const check = c.decide(bookData, new VelocityLedger(rulebook.limits));
    if (check.facts === null) throw new Error(`bench ${c.chain} request was refused: ${check.decision.reasons.join('; ')}`);
    if ((check.facts.context['destination'] as { listed: boolean }).listed !== true) throw new Error(`bench ${c.chain} destination is not found in the address book`);
    perChain[c.chain] = { what: c.what, decodeUs: time(quick ? 500 : 5000, c.decode), deriveContextUs: time(quick ? 500 : 5000, () => c.derive(bookData)) };
  }
  const rows: Row[] = [];
  const schemaName = ensureSchemaParsed();
  for (const n of [10, 100, 1000]) {
    const text = policyTexts(n, n >= base ? baseTexts : baseTexts.filter((p) => p.includes('forbid')).slice(0, n));
    const set = compilePolicySet([{ name: `bench-${n}.cedar`, text }]);
    const data: PolicyData = { ...bookData, policySet: set };
    for (const c of cases) {
      const ledger = new VelocityLedger(rulebook.limits);
      const first = c.decide(data, ledger);
      const iters = quick ? 200 : n === 1000 ? 1000 : 3000;
      const full = time(iters, () => {
        c.decide(data, ledger);
      });
      const context = first.facts!.context;
      const entitiesJson = requestEntities({ action: first.facts!.action, principal: INITIATOR, resource: c.wallet, resourceType: 'Wallet', context });
      const principal = { type: 'Custodian::Operator', id: INITIATOR.id };
      const action = { type: 'Custodian::Action', id: first.facts!.action };
      const resource = { type: 'Custodian::Wallet', id: c.wallet.id };
      const stateful = time(iters, () => {
        cedar.statefulIsAuthorized({ principal, action, resource, context, entities: entitiesJson, preparsedSchemaName: schemaName, validateRequest: true, preparsedPolicySetId: set.cedarSetId });
      });
      const bareIters = quick ? 50 : n === 1000 ? 100 : n === 100 ? 500 : 2000;
      const bare = time(bareIters, () => {
        cedar.isAuthorized({ principal, action, resource, context, entities: entitiesJson, policies: { staticPolicies: text } });
      });
      const bareSchema = time(Math.max(20, Math.floor(bareIters / 4)), () => {
        cedar.isAuthorized({ principal, action, resource, context, entities: entitiesJson, policies: { staticPolicies: text }, schema: CUSTODIAN_SCHEMA, validateRequest: true });
      });
      rows.push({ chain: c.chain, policies: n, decision: first.decision.decision, fullDecisionUs: full, statefulIsAuthorizedUs: stateful, bareIsAuthorizedUs: bare, bareIsAuthorizedWithSchemaUs: bareSchema });
    }
  }
  const eth = perChain['eth']!;
  const result = { node: process.version, cedar: cedar.getCedarVersion(), addressBookEntries: book.size, screenedAddresses: rulebook.screening.size, rulebookLoadMs: loadMs, addressBookBuildMs: bookMs, decodeUs: eth.decodeUs, deriveContextUs: eth.deriveContextUs, perChain, rows };
  if (asJson) {
    process.stdout.write(JSON.stringify(result) + '\n');
    return;
  }
  process.stdout.write(`node ${result.node}, cedar ${result.cedar}; address book ${book.size} entries (built in ${bookMs.toFixed(0)} ms), ${rulebook.screening.size} screened addresses; default rulebook loads in ${loadMs.toFixed(0)} ms\n`);
  for (const [chain, p] of Object.entries(perChain)) {
    process.stdout.write(`${chain.padEnd(15)} ${p.what}\n${''.padEnd(15)} decode p50/p99 µs: ${f(p.decodeUs)}; derive context (${chain === 'eth' ? '' : 'decode + '}screening + address book) p50/p99 µs: ${f(p.deriveContextUs)}\n`);
  }
  process.stdout.write('chain           | policies | full decision p50/p99 µs | pre-parsed statefulIsAuthorized | bare isAuthorized | bare isAuthorized + schema validation | decision\n');
  for (const r of rows) {
    process.stdout.write(`${r.chain.padEnd(15)} | ${String(r.policies).padStart(8)} | ${f(r.fullDecisionUs)} | ${f(r.statefulIsAuthorizedUs)} | ${f(r.bareIsAuthorizedUs)} | ${f(r.bareIsAuthorizedWithSchemaUs)} | ${r.decision}\n`);
  }
}

main();

/**
 * Policy decision latency (issue 5 §8): p50/p99 of a full decision — decode
 * the raw EIP-1559 bytes, derive the context, screen every address against
 * the sanctions list, look up a 100,000-entry address book, evaluate the
 * pre-parsed Cedar set, assemble the decision — with 10, 100 and 1,000
 * policies, against bare Cedar `isAuthorized` (policies passed as text, as
 * the wasm API's plain entry point does) and pre-parsed
 * `statefulIsAuthorized` on the same policies and context in the same run.
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
import { loadRulebookDir } from '@custodian/policy/rulebook-dir';
import { decideEvmTransaction } from '@custodian/policy/engine';
import { buildAddressBook, type AddressBookEntry } from '@custodian/policy/address-book';
import { compilePolicySet, ensureSchemaParsed } from '@custodian/policy/policy-set';
import { requestEntities } from '@custodian/policy/cedar-evaluate';
import { CUSTODIAN_SCHEMA } from '@custodian/policy/schema';
import { VelocityLedger } from '@custodian/policy/velocity-ledger';
import { deriveEvmContext } from '@custodian/policy/evm-context';

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

function main(): void {
  let t = performance.now();
  const rulebook = loadRulebookDir(RULEBOOK);
  const loadMs = performance.now() - t;
  // A 100,000-entry address book (synthetic addresses), plus the shipped entries.
  const entries: AddressBookEntry[] = [];
  for (let i = 0; i < 100_000; i++) {
    const a = new Uint8Array(20);
    new DataView(a.buffer).setUint32(16, i + 1);
    a[0] = 0xab;
    entries.push({ chain: 'eth', address: toChecksumAddress(a), name: `entry ${i}`, labels: [`tier-${i % 50}`] });
  }
  t = performance.now();
  const book = buildAddressBook('bench', entries);
  const bookMs = performance.now() - t;
  const dest = entries[77_777]!.address;
  const raw = encodeUnsignedEip1559({ chainId: 1n, nonce: 5n, maxPriorityFeePerGas: 10n ** 9n, maxFeePerGas: 2n * 10n ** 10n, gasLimit: 21_000n, to: hexToBytes(dest), value: 2n * 10n ** 18n, data: new Uint8Array(0), accessList: [] });
  const base = rulebook.policySet.policies.size;
  const baseTexts = [...rulebook.policySet.policies.values()].map((p) => p.text);
  const rows: Record<string, unknown>[] = [];
  // Context derivation alone (decoded tx, 100k address book lookups, screening): independent of the policy count.
  const decoded = decodeUnsignedEip1559(raw);
  const chain = rulebook.chains.get('eth')!;
  const derive = time(quick ? 500 : 5000, () => {
    deriveEvmContext({ tx: decoded, chain, wallet: { id: 'hot-1', groups: ['hot'], chainIds: [1n] }, initiator: 'alice', intent: null, data: { ...rulebook, addressBook: book }, ledger: null, nowMs: NOW });
  });
  const decode = time(quick ? 500 : 5000, () => {
    decodeUnsignedEip1559(raw);
  });
  for (const n of [10, 100, 1000]) {
    const text = policyTexts(n, n >= base ? baseTexts : baseTexts.filter((p) => p.includes('forbid')).slice(0, n));
    const set = compilePolicySet([{ name: `bench-${n}.cedar`, text }]);
    const data = { ...rulebook, addressBook: book, policySet: set };
    const ledger = new VelocityLedger(rulebook.limits);
    const request = { requestId: 'bench', chain: 'eth', initiator: { id: 'alice', groups: ['initiators'] }, wallet: { id: 'hot-1', groups: ['hot'], chainIds: [1n] }, intent: null, approvals: {}, requestedAtMs: NOW };
    const first = decideEvmTransaction(data, { ...request, tx: decodeUnsignedEip1559(raw) }, NOW, ledger);
    const iters = quick ? 200 : n === 1000 ? 1000 : 3000;
    const full = time(iters, () => {
      decideEvmTransaction(data, { ...request, tx: decodeUnsignedEip1559(raw) }, NOW, ledger);
    });
    const context = first.facts!.context;
    const cedarReq = { action: first.facts!.action, principal: request.initiator, resource: request.wallet, resourceType: 'Wallet' as const, context };
    const entitiesJson = requestEntities(cedarReq);
    const principal = { type: 'Custodian::Operator', id: 'alice' };
    const action = { type: 'Custodian::Action', id: first.facts!.action };
    const resource = { type: 'Custodian::Wallet', id: 'hot-1' };
    const schemaName = ensureSchemaParsed();
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
    rows.push({ policies: n, decision: first.decision.decision, fullDecisionUs: full, statefulIsAuthorizedUs: stateful, bareIsAuthorizedUs: bare, bareIsAuthorizedWithSchemaUs: bareSchema });
  }
  const result = { node: process.version, cedar: cedar.getCedarVersion(), addressBookEntries: book.size, screenedAddresses: rulebook.screening.size, rulebookLoadMs: loadMs, addressBookBuildMs: bookMs, decodeUs: decode, deriveContextUs: derive, rows };
  if (asJson) {
    process.stdout.write(JSON.stringify(result) + '\n');
    return;
  }
  process.stdout.write(`node ${result.node}, cedar ${result.cedar}; address book ${book.size} entries (built in ${bookMs.toFixed(0)} ms), ${rulebook.screening.size} screened addresses; default rulebook loads in ${loadMs.toFixed(0)} ms\n`);
  process.stdout.write(`decode raw tx p50/p99 µs: ${f(decode)}; derive context (screening + address book) p50/p99 µs: ${f(derive)}\n`);
  process.stdout.write('policies | full decision p50/p99 µs | pre-parsed statefulIsAuthorized | bare isAuthorized | bare isAuthorized + schema validation\n');
  for (const r of rows as { policies: number; fullDecisionUs: { p50: number; p99: number }; statefulIsAuthorizedUs: { p50: number; p99: number }; bareIsAuthorizedUs: { p50: number; p99: number }; bareIsAuthorizedWithSchemaUs: { p50: number; p99: number } }[]) {
    process.stdout.write(`${String(r.policies).padStart(8)} | ${f(r.fullDecisionUs)} | ${f(r.statefulIsAuthorizedUs)} | ${f(r.bareIsAuthorizedUs)} | ${f(r.bareIsAuthorizedWithSchemaUs)}\n`);
  }
}

main();

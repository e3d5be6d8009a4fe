/**
 * The policy engine: one decision per request, assembled in a fixed order —
 * integrity findings (decoded bytes vs chain, screening, B15-B18), Cedar
 * (forbid wins, default deny, an evaluation error denies), the strictest
 * demand of the matching permits (approvals per group, delay), the
 * privileged-operation floor (B15), then limits and velocity (L01). Every
 * decision names the hashes of the documents it used (issue 5 §6).
 */
import type { CedarValueJson } from '@cedar-policy/cedar-wasm/nodejs';
import { isCustodianError } from '@custodian/core/errors';
import type { Eip1559Tx } from '@custodian/chains/evm/eip1559';
import type { AddressBook } from './address-book.js';
import type { ChainConfig } from './chain-config.js';
import { documentHash } from './document-hash.js';
import { evaluateCedar, type CedarVerdict, type EntityRef } from './cedar-evaluate.js';
import type { Decision, DecisionVersions, GuardFinding } from './decision.js';
import { deriveEvmContext, type DeclaredIntent, type EvmFacts } from './evm-context.js';
import type { PolicyFacts, WalletRef } from './context-facts.js';
import type { TypedData } from './typed-data.js';
import { deriveTypedDataContext } from './typed-data-context.js';
import type { LimitSet } from './limits.js';
import type { CompiledPolicySet } from './policy-set.js';
import type { PriceTable } from './price-table.js';
import type { PolicyAction } from './schema.js';
import type { ScreeningList } from './sanctions/screening-list.js';
import { describeBreach, type Spend, type VelocityLedger } from './velocity-ledger.js';

/** Every governed document a decision reads. */
export interface PolicyData {
  readonly policySet: CompiledPolicySet;
  readonly addressBook: AddressBook;
  readonly priceTable: PriceTable;
  readonly screening: ScreeningList;
  readonly limits: LimitSet;
  readonly chains: ReadonlyMap<string, ChainConfig>;
}

/** Approvals already verified by the enclave, and when the request was made. */
export interface ApprovalState {
  /** Valid, distinct approvals counted per group (never the initiator's). */
  readonly approvals: Readonly<Record<string, number>>;
  readonly requestedAtMs: number;
}

/** An EVM transaction to decide. */
export interface EvmTxRequest extends ApprovalState {
  readonly requestId: string;
  readonly chain: string;
  readonly tx: Eip1559Tx;
  readonly initiator: EntityRef;
  readonly wallet: WalletRef;
  readonly intent: DeclaredIntent | null;
}

/** A non-transaction request (wallet-create, policy-change, break-glass, sign-message). */
export interface ActionRequest extends ApprovalState {
  readonly action: PolicyAction;
  readonly principal: EntityRef;
  readonly resource: EntityRef;
  readonly resourceType: 'Wallet' | 'WalletGroup';
  readonly context: Record<string, CedarValueJson>;
}

/** The hashes of the documents in `data`. */
export function versionsOf(data: PolicyData): DecisionVersions {
  return {
    policySet: data.policySet.hash,
    addressBook: data.addressBook.hash,
    priceTable: data.priceTable.hash,
    screeningList: data.screening.hash,
    limits: data.limits.hash,
    chains: chainsHash(data.chains),
  };
}

const chainHashes = new WeakMap<ReadonlyMap<string, ChainConfig>, string>();

function chainsHash(chains: ReadonlyMap<string, ChainConfig>): string {
  let h = chainHashes.get(chains);
  if (h === undefined) {
    h = documentHash([...chains.values()].map((c) => [c.name, c.family, c.chainId.toString(), c.nativeSymbol, c.nativeDecimals]));
    chainHashes.set(chains, h);
  }
  return h;
}

/** Decides an EVM transaction; `ledger` (when given) supplies first-time and velocity facts but is not changed. */
export function decideEvmTransaction(data: PolicyData, req: EvmTxRequest, nowMs: number, ledger: VelocityLedger | null): { decision: Decision; facts: EvmFacts | null; spend: Spend | null } {
  const chain = data.chains.get(req.chain);
  if (chain === undefined) return { decision: unsupportedChain(data, req.chain), facts: null, spend: null };
  const facts = deriveEvmContext({ tx: req.tx, chain, wallet: req.wallet, initiator: req.initiator.id, intent: req.intent, data, ledger, nowMs });
  return { ...decideFacts(data, facts, req, nowMs, ledger), facts };
}

/** An EIP-712 signature request to decide (a permit is a spend, B17). */
export interface TypedDataRequest extends ApprovalState {
  readonly requestId: string;
  readonly chain: string;
  readonly typedData: TypedData;
  readonly initiator: EntityRef;
  readonly wallet: WalletRef;
}

/** Decides an EIP-712 signature request: permits as `approve-token`, anything else as `sign-message`. */
export function decideTypedData(data: PolicyData, req: TypedDataRequest, nowMs: number, ledger: VelocityLedger | null): { decision: Decision; facts: PolicyFacts | null; spend: Spend | null } {
  const chain = data.chains.get(req.chain);
  if (chain === undefined) return { decision: unsupportedChain(data, req.chain), facts: null, spend: null };
  const facts = deriveTypedDataContext({ typedData: req.typedData, chain, wallet: req.wallet, initiator: req.initiator.id, data, ledger, nowMs });
  return { ...decideFacts(data, facts, req, nowMs, ledger), facts };
}

function unsupportedChain(data: PolicyData, chain: string): Decision {
  return denied(data, [{ code: 'E_CHAIN_UNSUPPORTED', reason: `chain ${chain.slice(0, 32)} is not configured in this rulebook` }]);
}

/** Runs Cedar, the limits check and the assembly on derived facts. */
function decideFacts(data: PolicyData, facts: PolicyFacts, req: ApprovalState & { readonly requestId: string; readonly initiator: EntityRef; readonly wallet: WalletRef }, nowMs: number, ledger: VelocityLedger | null): { decision: Decision; spend: Spend } {
  const verdict = evaluateCedar(data.policySet, { action: facts.action, principal: req.initiator, resource: req.wallet, resourceType: 'Wallet', context: facts.context });
  const spend: Spend = { ...facts.spend, requestId: req.requestId, wallet: req.wallet.id, initiator: req.initiator.id };
  const findings = [...facts.findings];
  const breach = ledger?.check(spend, nowMs) ?? null;
  if (breach) findings.push({ code: breach.code, reason: describeBreach(breach), limit: breach });
  return { decision: assembleDecision(data, verdict, findings, req, nowMs, facts.privileged), spend };
}

/**
 * Re-decides a request at signing time against the documents in force then
 * (THREATS.md L10): a request approved under an older screening list or
 * policy set is blocked if the current ones deny it. Returns the fresh
 * decision and whether any document version changed since `prior`.
 */
export function recheckAtSigning(data: PolicyData, req: EvmTxRequest, prior: Decision, nowMs: number, ledger: VelocityLedger | null): { decision: Decision; versionsChanged: boolean } {
  const { decision } = decideEvmTransaction(data, req, nowMs, ledger);
  const now = versionsOf(data) as unknown as Record<string, string>;
  const before = prior.versions as unknown as Record<string, string>;
  return { decision, versionsChanged: Object.keys(now).some((k) => now[k] !== before[k]) };
}

/** Decides a non-transaction action (governance, wallet creation, break-glass, messages). */
export function decideAction(data: PolicyData, req: ActionRequest, nowMs: number): Decision {
  const verdict = evaluateCedar(data.policySet, req);
  return assembleDecision(data, verdict, [], req, nowMs, req.action === 'policy-change' || req.action === 'break-glass');
}

/**
 * Turns an `allow` into a reservation, atomically (L01): when the ledger
 * refuses, the decision becomes a deny carrying the limit. Other outcomes
 * pass through unchanged.
 */
export function reserveForDecision(ledger: VelocityLedger, decision: Decision, spend: Spend, nowMs: number, ttlMs: number): Decision {
  if (decision.decision !== 'allow') return decision;
  try {
    const breach = ledger.tryReserve(spend, nowMs, ttlMs);
    if (breach === null) return decision;
    return { ...decision, decision: 'deny', missingApprovals: {}, notBefore: null, reasons: [describeBreach(breach)], codes: [breach.code], limit: breach };
  } catch (e) {
    if (!isCustodianError(e)) throw e;
    return { ...decision, decision: 'deny', missingApprovals: {}, notBefore: null, reasons: [e.message], codes: [e.code] };
  }
}

function denied(data: PolicyData, findings: readonly GuardFinding[]): Decision {
  return { decision: 'deny', policies: [], missingApprovals: {}, notBefore: null, reasons: findings.map((f) => f.reason), codes: unique(findings.map((f) => f.code)), limit: null, versions: versionsOf(data) };
}

function unique(xs: readonly string[]): string[] {
  return [...new Set(xs)];
}

/** Combines findings, the Cedar verdict and the approval state into one decision. */
export function assembleDecision(data: PolicyData, verdict: CedarVerdict, findings: readonly GuardFinding[], state: ApprovalState, nowMs: number, privileged: boolean): Decision {
  const versions = versionsOf(data);
  const deny = [...findings];
  if (verdict.errors.length > 0) deny.push(...verdict.errors.map((e) => ({ code: 'E_POLICY_EVALUATION', reason: `policy evaluation failed, so the request is denied: ${e}` })));
  for (const f of verdict.forbids) deny.push({ code: f.code ?? 'E_POLICY_FORBIDDEN', reason: f.reason ?? `forbidden by policy ${f.id}` });
  if (verdict.permits.length === 0 && verdict.forbids.length === 0) deny.push({ code: 'E_POLICY_NO_PERMIT', reason: 'no policy permits this request (default deny)' });
  const required: Record<string, number> = {};
  let delayMs = 0;
  for (const p of verdict.permits) {
    for (const [g, n] of Object.entries(p.approvals)) required[g] = Math.max(required[g] ?? 0, n);
    delayMs = Math.max(delayMs, p.delayMs);
  }
  if (privileged && verdict.permits.length > 0 && (Object.keys(required).length === 0 || delayMs === 0)) {
    deny.push({ code: 'E_PRIVILEGED_OPERATION', reason: 'a privileged operation (delegatecall, upgrade, owner or module change) needs a policy demanding both approvals and a delay' });
  }
  if (deny.length > 0) {
    const policies = verdict.forbids.length > 0 ? verdict.forbids.map((p) => p.id) : [];
    return { decision: 'deny', policies, missingApprovals: {}, notBefore: null, reasons: deny.map((f) => f.reason), codes: unique(deny.map((f) => f.code)), limit: deny.find((f) => f.limit !== undefined)?.limit ?? null, versions };
  }
  const missing: Record<string, number> = {};
  for (const [g, n] of Object.entries(required)) {
    const have = state.approvals[g] ?? 0;
    if (have < n) missing[g] = n - have;
  }
  const notBeforeMs = delayMs > 0 ? state.requestedAtMs + delayMs : null;
  const waiting = notBeforeMs !== null && nowMs < notBeforeMs;
  const ids = verdict.permits.map((p) => p.id);
  const reasons = [`permitted by ${ids.join(', ')}`];
  for (const [g, n] of Object.entries(missing)) reasons.push(`needs ${n} more approval${n === 1 ? '' : 's'} from ${g}`);
  if (waiting) reasons.push(`time-lock until ${new Date(notBeforeMs).toISOString()}`);
  const outcome = Object.keys(missing).length > 0 || waiting ? 'needs-approval' : 'allow';
  return { decision: outcome, policies: ids, missingApprovals: missing, notBefore: notBeforeMs === null ? null : new Date(notBeforeMs).toISOString(), reasons, codes: [], limit: null, versions };
}

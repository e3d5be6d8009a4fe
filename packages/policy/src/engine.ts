/**
 * The policy engine: one decision per request, assembled in a fixed order —
 * integrity findings (decoded bytes vs chain, screening, B15-B19), Cedar
 * (forbid wins, default deny, an evaluation error denies), the strictest
 * demand of the matching permits (approvals per group, delay), the
 * privileged-operation floor (B15), then limits and velocity (L01). Every
 * decision names the hashes of the documents it used (issue 5 §6).
 *
 * Per chain family: `decideEvmTransaction` (EIP-1559), `decideTypedData`
 * (EIP-712), `decideSolanaTransaction` (a Solana message, legacy or v0) and
 * `decideBitcoinSpend` (a taproot key-path PSBT). All four share one
 * spending ledger, so limits and velocity in the reference currency apply
 * across chains.
 *
 * For a signer with no Cedar knowledge (the FROST wallets: Solana Ed25519,
 * Bitcoin taproot), one call does everything:
 *
 *     const { decision, spend, reserved } = decideChainSpend(rulebook, ledger,
 *       { family: 'bitcoin', requestId, chain: 'bitcoin-regtest', psbt,
 *         wallet: { id, groups, outputKey, chains: ['bitcoin-regtest'] },
 *         initiator: { id, groups }, approvals, requestedAtMs, intent: null },
 *       nowMs, reserveTtlMs);   // or family: 'solana' with messageBytes
 *
 * It never throws for bad input (a PSBT or message it cannot accept is a
 * deny carrying the decoder's code); with `reserveTtlMs` an allow is also
 * reserved in the ledger in the same synchronous step (`reserved: true`),
 * to be closed by `ledger.commit(requestId, nowMs)` once signed or
 * `ledger.release(requestId)` when it will not be.
 */
import type { CedarValueJson } from '@cedar-policy/cedar-wasm/nodejs';
import { isCustodianError } from '@custodian/core/errors';
import type { Eip1559Tx } from '@custodian/chains/evm/eip1559';
import type { AddressBook } from './address-book.js';
import { chainNetwork, type ChainConfig, type ChainFamily } from './chain-config.js';
import { deriveBitcoinContext, type BitcoinFacts, type BitcoinWalletRef } from './bitcoin-context.js';
import { deriveSolanaContext, type SolanaExpectation, type SolanaFacts, type SolanaWalletRef } from './solana-context.js';
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
    // EVM rows keep their original shape, so an EVM-only configuration keeps its hash.
    h = documentHash([...chains.values()].map((c) => [c.name, c.family, c.chainId.toString(), c.nativeSymbol, c.nativeDecimals, ...(c.family === 'evm' ? [] : [chainNetwork(c)])]));
    chainHashes.set(chains, h);
  }
  return h;
}

/** Decides an EVM transaction; `ledger` (when given) supplies first-time and velocity facts but is not changed. */
export function decideEvmTransaction(data: PolicyData, req: EvmTxRequest, nowMs: number, ledger: VelocityLedger | null): { decision: Decision; facts: EvmFacts | null; spend: Spend | null } {
  const chain = data.chains.get(req.chain);
  if (chain === undefined) return { decision: unsupportedChain(data, req.chain), facts: null, spend: null };
  if (chain.family !== 'evm') return { decision: wrongFamily(data, chain, 'evm'), facts: null, spend: null };
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
  if (chain.family !== 'evm') return { decision: wrongFamily(data, chain, 'evm'), facts: null, spend: null };
  const facts = deriveTypedDataContext({ typedData: req.typedData, chain, wallet: req.wallet, initiator: req.initiator.id, data, ledger, nowMs });
  return { ...decideFacts(data, facts, req, nowMs, ledger), facts };
}

function unsupportedChain(data: PolicyData, chain: string): Decision {
  return denied(data, [{ code: 'E_CHAIN_UNSUPPORTED', reason: `chain ${chain.slice(0, 32)} is not configured in this rulebook` }]);
}

function wrongFamily(data: PolicyData, chain: ChainConfig, family: ChainFamily): Decision {
  return denied(data, [{ code: 'E_CHAIN_FAMILY_MISMATCH', reason: `chain ${chain.name} is a ${chain.family} chain; this request is for a ${family} chain` }]);
}

/** A decoder's refusal of bytes it cannot accept, as a deny with its code. */
function refused(data: PolicyData, e: unknown): Decision {
  if (!isCustodianError(e)) throw e;
  return denied(data, [{ code: e.code, reason: e.message }]);
}

/** A Solana message (legacy or v0) to decide. */
export interface SolanaTxRequest extends ApprovalState {
  readonly requestId: string;
  /** A rulebook chain of family `solana`. */
  readonly chain: string;
  /** The serialised message: exactly the bytes the wallet signs. */
  readonly messageBytes: Uint8Array;
  readonly initiator: EntityRef;
  readonly wallet: SolanaWalletRef;
  readonly intent: DeclaredIntent | null;
  /** The intended blockhash / durable-nonce account, when the signer has them (B19). */
  readonly expect?: SolanaExpectation;
}

/** A Bitcoin taproot key-path spend (PSBT) to decide. */
export interface BitcoinSpendRequest extends ApprovalState {
  readonly requestId: string;
  /** A rulebook chain of family `bitcoin`. */
  readonly chain: string;
  /** The PSBT (BIP 174 v0) whose inputs all spend the wallet's P2TR output key. */
  readonly psbt: Uint8Array;
  readonly initiator: EntityRef;
  readonly wallet: BitcoinWalletRef;
  readonly intent: DeclaredIntent | null;
}

/** Decides a Solana message; `ledger` (when given) supplies first-time and velocity facts but is not changed. */
export function decideSolanaTransaction(data: PolicyData, req: SolanaTxRequest, nowMs: number, ledger: VelocityLedger | null): { decision: Decision; facts: SolanaFacts | null; spend: Spend | null } {
  return decideDecoded(data, req, 'solana', nowMs, ledger, (chain) =>
    deriveSolanaContext({ messageBytes: req.messageBytes, chain, wallet: req.wallet, initiator: req.initiator.id, intent: req.intent, expect: req.expect ?? {}, data, ledger, nowMs }),
  );
}

/** Decides a Bitcoin taproot spend; `ledger` (when given) supplies first-time and velocity facts but is not changed. */
export function decideBitcoinSpend(data: PolicyData, req: BitcoinSpendRequest, nowMs: number, ledger: VelocityLedger | null): { decision: Decision; facts: BitcoinFacts | null; spend: Spend | null } {
  return decideDecoded(data, req, 'bitcoin', nowMs, ledger, (chain) =>
    deriveBitcoinContext({ psbt: req.psbt, chain, wallet: req.wallet, initiator: req.initiator.id, intent: req.intent, data, ledger, nowMs }),
  );
}

/** Resolves `req.chain` as a chain of `family`, derives the facts from the request's bytes (a decoder's typed error is a deny) and decides them. */
function decideDecoded<K extends ChainFamily, F extends PolicyFacts>(
  data: PolicyData,
  req: ApprovalState & { readonly requestId: string; readonly chain: string; readonly initiator: EntityRef; readonly wallet: EntityRef },
  family: K,
  nowMs: number,
  ledger: VelocityLedger | null,
  derive: (chain: Extract<ChainConfig, { readonly family: K }>) => F,
): { decision: Decision; facts: F | null; spend: Spend | null } {
  const chain = data.chains.get(req.chain);
  if (chain === undefined) return { decision: unsupportedChain(data, req.chain), facts: null, spend: null };
  if (chain.family !== family) return { decision: wrongFamily(data, chain, family), facts: null, spend: null };
  let facts: F;
  try {
    facts = derive(chain as Extract<ChainConfig, { readonly family: K }>);
  } catch (e) {
    return { decision: refused(data, e), facts: null, spend: null };
  }
  return { ...decideFacts(data, facts, req, nowMs, ledger), facts };
}

/** A Solana or Bitcoin spend of a FROST wallet, tagged by family (see the module comment). */
export type ChainSpendRequest = ({ readonly family: 'solana' } & SolanaTxRequest) | ({ readonly family: 'bitcoin' } & BitcoinSpendRequest);

/** What `decideChainSpend` answers. */
export interface ChainSpendOutcome {
  readonly decision: Decision;
  /** The spend as the ledger records it (null when the bytes were refused). */
  readonly spend: Spend | null;
  /** True when an allow was reserved in the ledger (commit or release it). */
  readonly reserved: boolean;
}

/**
 * Decides a Solana or Bitcoin spend and, when `reserveTtlMs` is given and
 * the answer is allow, reserves it in `ledger` in the same synchronous step
 * (L01). Never throws for bad input or a refused reservation: both are a
 * deny with their code (E_RESERVATION_EXISTS / E_RESERVATION_EXPIRED for a
 * request already reserved or closed).
 */
export function decideChainSpend(data: PolicyData, ledger: VelocityLedger, req: ChainSpendRequest, nowMs: number, reserveTtlMs: number | null): ChainSpendOutcome {
  const { decision, spend } = req.family === 'solana' ? decideSolanaTransaction(data, req, nowMs, ledger) : decideBitcoinSpend(data, req, nowMs, ledger);
  if (reserveTtlMs === null || spend === null || decision.decision !== 'allow') return { decision, spend, reserved: false };
  const reserved = reserveForDecision(ledger, decision, spend, nowMs, reserveTtlMs);
  return { decision: reserved, spend, reserved: reserved.decision === 'allow' };
}

/** Runs Cedar, the limits check and the assembly on derived facts. */
function decideFacts(data: PolicyData, facts: PolicyFacts, req: ApprovalState & { readonly requestId: string; readonly initiator: EntityRef; readonly wallet: EntityRef }, nowMs: number, ledger: VelocityLedger | null): { decision: Decision; spend: Spend } {
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
  return { decision: decideEvmTransaction(data, req, nowMs, ledger).decision, versionsChanged: versionsChanged(data, prior) };
}

/** `recheckAtSigning` for a Solana message. */
export function recheckSolanaAtSigning(data: PolicyData, req: SolanaTxRequest, prior: Decision, nowMs: number, ledger: VelocityLedger | null): { decision: Decision; versionsChanged: boolean } {
  return { decision: decideSolanaTransaction(data, req, nowMs, ledger).decision, versionsChanged: versionsChanged(data, prior) };
}

/** `recheckAtSigning` for a Bitcoin taproot spend. */
export function recheckBitcoinAtSigning(data: PolicyData, req: BitcoinSpendRequest, prior: Decision, nowMs: number, ledger: VelocityLedger | null): { decision: Decision; versionsChanged: boolean } {
  return { decision: decideBitcoinSpend(data, req, nowMs, ledger).decision, versionsChanged: versionsChanged(data, prior) };
}

function versionsChanged(data: PolicyData, prior: Decision): boolean {
  const now = versionsOf(data) as unknown as Record<string, string>;
  const before = prior.versions as unknown as Record<string, string>;
  return Object.keys(now).some((k) => now[k] !== before[k]);
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
  // Stated whether or not the lock has ended: the reasons go into the summary approvers sign, which must
  // not change with the clock (an approval given during the lock still holds once it ends).
  if (notBeforeMs !== null) reasons.push(`time-locked: signable from ${new Date(notBeforeMs).toISOString()}`);
  const outcome = Object.keys(missing).length > 0 || waiting ? 'needs-approval' : 'allow';
  return { decision: outcome, policies: ids, missingApprovals: missing, notBefore: notBeforeMs === null ? null : new Date(notBeforeMs).toISOString(), reasons, codes: [], limit: null, versions };
}

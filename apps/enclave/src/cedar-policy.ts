/**
 * The enclave's Cedar policy (issue 5), as the signer calls it: one rulebook
 * (policies, address book, price table, limits, screening list) decoded from
 * the sealed bundle's bytes, one spending ledger, and the decision shape the
 * enclave audits and returns. Successor of `first-policy.ts`.
 *
 * Everything here is synchronous: a decision and its reservation happen in
 * one turn of the event loop, so concurrent requests cannot both pass a
 * limit (THREATS.md L01). Time is passed in, never read.
 */
import { CustodianError, isCustodianError } from '@custodian/core/errors';
import type { Json } from '@custodian/core/canonical-json';
import type { Eip1559Tx } from '@custodian/chains/evm/eip1559';
import type { Decision, DecisionVersions } from '@custodian/policy/decision';
import { decideBitcoinSpend, decideEvmTransaction, decideSolanaTransaction, reserveForDecision, versionsOf, type EvmTxRequest } from '@custodian/policy/engine';
import type { DeclaredIntent } from '@custodian/policy/evm-context';
import { decodeRulebook, type Rulebook } from '@custodian/policy/rulebook';
import { decideRulebookChange } from '@custodian/policy/governance';
import { rulebookFilesDigest as manifestRulebookDigest } from '@custodian/protocol/manifest';
import { VelocityLedger, type LimitBreach } from '@custodian/policy/velocity-ledger';

/** Longest a reservation may be held between `reserve` and `commit` (the enclave signs right after reserving). */
export const RESERVATION_TTL_MAX_MS = 60 * 60 * 1000;
/** Most approver entries `countApprovalsByGroup` accepts. */
export const APPROVERS_MAX = 256;

/** An operator or wallet as Cedar sees it: its id and the groups it belongs to. */
export interface CedarParty {
  readonly id: string;
  readonly groups: readonly string[];
}

/** The wallet a proposal spends from; `chainIds` are the chains it is configured for (B16). */
export interface CedarWallet extends CedarParty {
  readonly chainIds: readonly bigint[];
}

/** A transaction proposal, decoded by the enclave itself from the raw bytes: an EVM transaction or a Solana/Bitcoin spend. */
export type ProposalInput = EvmProposalInput | ChainProposalInput;

/**
 * A Solana message or a Bitcoin taproot PSBT of a FROST wallet: the exact
 * bytes the enclave decoded (the engine derives its context from them with
 * the same decoders) and the wallet key they must spend from.
 */
export type ChainSpendInput =
  | { readonly family: 'solana'; readonly messageBytes: Uint8Array; readonly address: string }
  | { readonly family: 'bitcoin'; readonly psbt: Uint8Array; readonly outputKey: Uint8Array };

/** A Solana or Bitcoin proposal. */
export interface ChainProposalInput {
  readonly requestId: string;
  readonly spend: ChainSpendInput;
  /** The rulebook's chain of the spend's family (see `chainNameFor`). */
  readonly chainName: string;
  readonly initiator: CedarParty;
  readonly wallet: CedarParty;
  readonly approvalsByGroup: Readonly<Record<string, number>>;
  readonly requestedAtMs: number;
}

/** An EVM transaction proposal. */
export interface EvmProposalInput {
  /** Stable id of the request (the enclave uses the proposal payload hash); keys the reservation. */
  readonly requestId: string;
  readonly tx: Eip1559Tx;
  /** The rulebook's chain name (see `chainNameFor`). */
  readonly chainName: string;
  readonly initiator: CedarParty;
  readonly wallet: CedarWallet;
  /** Verified, distinct approvals per group, never the initiator's (the enclave enforces both). */
  readonly approvalsByGroup: Readonly<Record<string, number>>;
  /**
   * When the enclave first saw the request, by its own clock (time-locks run
   * from here); never the payload's `createdAtMs`, which an initiator could
   * backdate past a `@delay`.
   */
  readonly requestedAtMs: number;
  /** What the initiator declared in the signed request, compared with the bytes (B18); null or absent when nothing was declared. */
  readonly intent?: DeclaredIntent | null;
}

/** Hashes of every document a decision used, and the rulebook's version label. */
export interface CedarDecisionVersions extends DecisionVersions {
  readonly rulebook: string;
}

/** A decision as the enclave audits and returns it. */
export interface CedarDecision {
  readonly decision: 'allow' | 'deny' | 'needs-approval';
  /** The first machine-readable reason on deny (`E_SANCTIONED_DESTINATION` ...), null otherwise. */
  readonly code: string | null;
  /** Every machine-readable reason on deny; empty otherwise. */
  readonly codes: readonly string[];
  readonly reasons: readonly string[];
  /** Approvals still needed per group (absent groups need none). */
  readonly missingApprovals: Readonly<Record<string, number>>;
  /** Earliest signing time (ms since the epoch) set by a `@delay`, or null. */
  readonly notBefore: number | null;
  /** `@id`s of the deciding policies. */
  readonly policies: readonly string[];
  /** The limit a spend would break (audit detail for L01), or null. */
  readonly limit: LimitBreach | null;
  readonly versions: CedarDecisionVersions;
}

/** Maps the engine's decision onto the enclave's shape. */
export function toCedarDecision(d: Decision, rulebookVersion: string): CedarDecision {
  return {
    decision: d.decision,
    code: d.decision === 'deny' ? (d.codes[0] ?? 'E_POLICY_DENIED') : null,
    codes: [...d.codes],
    reasons: [...d.reasons],
    missingApprovals: { ...d.missingApprovals },
    notBefore: d.notBefore === null ? null : Date.parse(d.notBefore),
    policies: [...d.policies],
    limit: d.limit,
    versions: { ...d.versions, rulebook: rulebookVersion },
  };
}

/**
 * Counts approvals per group: each approver once (first entry wins), never the
 * initiator, and an approver in several groups counts for each of them. The
 * approvers must already be verified (signature, digest, expiry, nonce).
 */
export function countApprovalsByGroup(approvers: readonly CedarParty[], initiatorId: string): Record<string, number> {
  if (approvers.length > APPROVERS_MAX) throw new CustodianError('E_FIELD_INVALID', `more than ${APPROVERS_MAX} approvers`);
  const seen = new Set<string>();
  const out: Record<string, number> = {};
  for (const a of approvers) {
    if (a.id === initiatorId || seen.has(a.id)) continue;
    seen.add(a.id);
    for (const g of new Set(a.groups)) out[g] = (out[g] ?? 0) + 1;
  }
  return out;
}

/**
 * Hex SHA-256 identifying a rulebook bundle: over the canonical JSON of its
 * `[name, sha256(bytes)]` pairs sorted by name. A manifest can pin it so the
 * host cannot hand the enclave another rulebook.
 */
export function rulebookFilesDigest(files: ReadonlyMap<string, Uint8Array>): string {
  return manifestRulebookDigest(files);
}

/** A rulebook and its spending ledger, as one enclave holds them. */
export class CedarPolicy {
  readonly #rulebook: Rulebook;
  #ledger: VelocityLedger;
  /** `rulebookFilesDigest` of the files this policy was loaded from. */
  readonly digest: string;

  private constructor(rulebook: Rulebook, ledger: VelocityLedger, digest: string) {
    this.#rulebook = rulebook;
    this.#ledger = ledger;
    this.digest = digest;
  }

  /**
   * Decodes and validates a rulebook (file name → bytes, `rulebook.json` among
   * them) with an empty ledger; throws the engine's typed errors, or
   * E_RULEBOOK_INVALID when `expectedDigest` is given and differs.
   */
  static fromRulebookFiles(files: ReadonlyMap<string, Uint8Array>, expectedDigest?: string): CedarPolicy {
    const digest = rulebookFilesDigest(files);
    if (expectedDigest !== undefined && expectedDigest !== digest) {
      throw new CustodianError('E_RULEBOOK_INVALID', 'the rulebook is not the one pinned', { expected: expectedDigest, actual: digest });
    }
    const rulebook = decodeRulebook(files);
    return new CedarPolicy(rulebook, new VelocityLedger(rulebook.limits), digest);
  }

  /**
   * A policy under a new rulebook that keeps this one's spending ledger (a
   * governed change must not reset velocity). Decide the change first
   * (`decideRulebookChange` in @custodian/policy/governance); this only loads.
   */
  withRulebookFiles(files: ReadonlyMap<string, Uint8Array>, expectedDigest?: string): CedarPolicy {
    const next = CedarPolicy.fromRulebookFiles(files, expectedDigest);
    next.ledgerFromJson(this.ledgerToJson());
    return next;
  }

  /** The rulebook's version label. */
  get version(): string {
    return this.#rulebook.version;
  }

  /** Hashes of the documents in force (what a decision made now would record). */
  get versions(): CedarDecisionVersions {
    return { ...versionsOf(this.#rulebook), rulebook: this.#rulebook.version };
  }

  /** The rulebook's name for `chainId`, or null when the rulebook does not configure it. */
  #evmChainName(chainId: bigint): string | null {
    for (const c of this.#rulebook.chains.values()) if (c.family === 'evm' && c.chainId === chainId) return c.name;
    return null;
  }

  /**
   * The rulebook's chain for a Solana or Bitcoin wallet: the one chain of that
   * family (for Bitcoin, on `network`); null when there is none, or when
   * several Solana clusters leave the wallet's cluster ambiguous.
   */
  chainNameFor(family: 'solana' | 'bitcoin', network: string): string | null;
  chainNameFor(chainId: bigint): string | null;
  chainNameFor(x: bigint | 'solana' | 'bitcoin', network?: string): string | null {
    if (typeof x === 'bigint') return this.#evmChainName(x);
    const family = x;
    const found = [...this.#rulebook.chains.values()].filter((c) => c.family === family && (c.family !== 'bitcoin' || c.network === network));
    return found.length === 1 ? found[0]!.name : null;
  }

  /**
   * Decides a change of the rulebook to `files` under the rulebook in force
   * (issue 5 §6: the change is itself a `policy-change` request, e.g. 2
   * admins and 24 h); the proposed files are validated completely first
   * (their typed error is thrown). `principal` proposes; `approvers` are the
   * other operators who signed for it (the caller counts them per group).
   */
  decideRulebookChange(files: ReadonlyMap<string, Uint8Array>, req: { principal: CedarParty; approvalsByGroup: Readonly<Record<string, number>>; orgId: string; requestedAtMs: number }, nowMs: number): { decision: CedarDecision; changed: readonly string[] } {
    const change = decideRulebookChange(this.#rulebook, files, { principal: { id: req.principal.id, groups: [...req.principal.groups] }, organisation: { id: req.orgId, groups: [] }, approvals: req.approvalsByGroup, requestedAtMs: req.requestedAtMs }, nowMs);
    return { decision: toCedarDecision(change.decision, this.#rulebook.version), changed: change.changed };
  }

  /** Decides a proposal; reads the ledger (first-time destinations, velocity) but changes nothing. */
  decideProposal(p: ProposalInput, nowMs: number): CedarDecision {
    return this.#decide(p, nowMs).decision;
  }

  /**
   * Decides again with the documents and ledger in force at `nowMs` and, if
   * the answer is allow, reserves the spend in the same step (L01, L10). An
   * allow means the spend is reserved until `commit` or `release`; anything
   * else reserves nothing. A request already reserved, committed, released or
   * expired is denied (E_RESERVATION_EXISTS / E_RESERVATION_EXPIRED).
   */
  reserve(p: ProposalInput, nowMs: number, ttlMs: number): CedarDecision {
    if (!Number.isSafeInteger(ttlMs) || ttlMs <= 0 || ttlMs > RESERVATION_TTL_MAX_MS) {
      throw new CustodianError('E_FIELD_INVALID', `reservation ttl must be 1..${RESERVATION_TTL_MAX_MS} ms`, { ttlMs });
    }
    const { decision, engine, spend } = this.#decide(p, nowMs);
    if (decision.decision !== 'allow' || engine === null || spend === null) return decision;
    return toCedarDecision(reserveForDecision(this.#ledger, engine, spend, nowMs, ttlMs), this.#rulebook.version);
  }

  /** Marks the reservation of `requestId` as spent (its transaction was signed); throws E_RESERVATION_EXPIRED / E_RESERVATION_UNKNOWN. */
  commit(requestId: string, nowMs: number): void {
    this.#ledger.commit(requestId, nowMs);
  }

  /** Frees the reservation of `requestId` (it will not be signed); throws E_RESERVATION_UNKNOWN. */
  release(requestId: string): void {
    this.#ledger.release(requestId);
  }

  /** The ledger to seal with the enclave state (canonical-JSON-ready; amounts as decimal strings). */
  ledgerToJson(): Json {
    return this.#ledger.toJSON();
  }

  /** Replaces the ledger with sealed state; throws E_STATE_INVALID when malformed (the current ledger is then kept). */
  ledgerFromJson(json: Json): void {
    this.#ledger = VelocityLedger.fromJSON(this.#rulebook.limits, json);
  }

  #decide(p: ProposalInput, nowMs: number): { decision: CedarDecision; engine: Decision | null; spend: ReturnType<typeof decideEvmTransaction>['spend'] } {
    if ('spend' in p) return this.#decideChainSpend(p, nowMs);
    const req: EvmTxRequest = {
      requestId: p.requestId, chain: p.chainName, tx: p.tx, initiator: p.initiator, wallet: p.wallet,
      intent: p.intent ?? null, approvals: p.approvalsByGroup, requestedAtMs: p.requestedAtMs,
    };
    try {
      const { decision, spend } = decideEvmTransaction(this.#rulebook, req, nowMs, this.#ledger);
      return { decision: toCedarDecision(decision, this.#rulebook.version), engine: decision, spend };
    } catch (e) {
      // Fail closed: input the engine refuses (malformed address, overflow) is a deny with its code.
      if (!isCustodianError(e)) throw e;
      return { decision: this.#denied(e.code, e.message), engine: null, spend: null };
    }
  }

  #decideChainSpend(p: ChainProposalInput, nowMs: number): { decision: CedarDecision; engine: Decision | null; spend: ReturnType<typeof decideEvmTransaction>['spend'] } {
    const common = { requestId: p.requestId, chain: p.chainName, initiator: p.initiator, intent: null, approvals: p.approvalsByGroup, requestedAtMs: p.requestedAtMs };
    const wallet = { id: p.wallet.id, groups: p.wallet.groups, chains: [p.chainName] };
    try {
      const { decision, spend } =
        p.spend.family === 'solana'
          ? decideSolanaTransaction(this.#rulebook, { ...common, messageBytes: p.spend.messageBytes, wallet: { ...wallet, address: p.spend.address } }, nowMs, this.#ledger)
          : decideBitcoinSpend(this.#rulebook, { ...common, psbt: p.spend.psbt, wallet: { ...wallet, outputKey: p.spend.outputKey } }, nowMs, this.#ledger);
      return { decision: toCedarDecision(decision, this.#rulebook.version), engine: decision, spend };
    } catch (e) {
      if (!isCustodianError(e)) throw e;
      return { decision: this.#denied(e.code, e.message), engine: null, spend: null };
    }
  }

  #denied(code: string, reason: string): CedarDecision {
    return { decision: 'deny', code, codes: [code], reasons: [reason], missingApprovals: {}, notBefore: null, policies: [], limit: null, versions: this.versions };
  }
}

/** What the policy engine answers, and why (issue 5 §1, CONTRACTS.md "Policy"). */
import type { LimitBreach } from './velocity-ledger.js';

/** The three outcomes. */
export type DecisionOutcome = 'allow' | 'deny' | 'needs-approval';

/** Hashes of every governed document a decision used (issue 5 §6, THREATS.md L10). */
export interface DecisionVersions {
  readonly policySet: string;
  readonly addressBook: string;
  readonly priceTable: string;
  readonly screeningList: string;
  readonly limits: string;
  /** Hash of the chain configuration (names, chain ids, native coins). */
  readonly chains: string;
}

/** A decision with its reasons. */
export interface Decision {
  readonly decision: DecisionOutcome;
  /** `@id`s of the deciding policies: the matching forbids on deny, else the matching permits. */
  readonly policies: readonly string[];
  /** Approvals still needed per group (absent groups need none). */
  readonly missingApprovals: Readonly<Record<string, number>>;
  /** Earliest time (ISO-8601 UTC) the request may be signed, or null. */
  readonly notBefore: string | null;
  /** Why, in words an operator understands. */
  readonly reasons: readonly string[];
  /** Machine-readable reasons (`E_SANCTIONED_DESTINATION` ...); empty on allow. */
  readonly codes: readonly string[];
  /** The limit and window a spend would break (audit detail for THREATS.md L01), or null. */
  readonly limit: LimitBreach | null;
  readonly versions: DecisionVersions;
}

/** A refusal found outside Cedar (integrity checks, screening, limits). */
export interface GuardFinding {
  readonly code: string;
  readonly reason: string;
  readonly limit?: LimitBreach;
}

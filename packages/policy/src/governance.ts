/**
 * Governed change of the rulebook (issue 5 §6): a proposed rulebook is
 * validated completely first — a policy that fails schema validation is
 * refused here, at change time, never at signing time — and the change is
 * then itself a `policy-change` request decided by the policy in force
 * (e.g. 2 admins and 24 h). The decision names the documents that change.
 */
import type { EntityRef } from './cedar-evaluate.js';
import type { Decision } from './decision.js';
import { decideAction, versionsOf } from './engine.js';
import { decodeRulebook, type Rulebook } from './rulebook.js';

/** A proposed change, decided. */
export interface RulebookChange {
  readonly decision: Decision;
  /** The validated proposed rulebook (apply it only when the decision allows). */
  readonly proposed: Rulebook;
  /** Names of the documents whose hash changes (`policySet`, `addressBook`, ...). */
  readonly changed: readonly string[];
}

/** Validates `proposedFiles` and decides the change under `current`; throws the proposed rulebook's typed error when invalid. */
export function decideRulebookChange(
  current: Rulebook,
  proposedFiles: ReadonlyMap<string, Uint8Array>,
  req: { readonly principal: EntityRef; readonly organisation: EntityRef; readonly approvals: Readonly<Record<string, number>>; readonly requestedAtMs: number },
  nowMs: number,
): RulebookChange {
  const proposed = decodeRulebook(proposedFiles);
  const before = versionsOf(current) as unknown as Record<string, string>;
  const after = versionsOf(proposed) as unknown as Record<string, string>;
  const changed = Object.keys(after).filter((k) => before[k] !== after[k]);
  const decision = decideAction(
    current,
    { action: 'policy-change', principal: req.principal, resource: req.organisation, resourceType: 'WalletGroup', context: { document: changed.join(',') || 'none', version: proposed.version }, approvals: req.approvals, requestedAtMs: req.requestedAtMs },
    nowMs,
  );
  return { decision, proposed, changed };
}

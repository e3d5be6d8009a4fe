/**
 * Break-glass policy overrides as a signer keeps and uses them (issue 7 item
 * 6). An executed `override-policy` request names one signing request and
 * its transaction digest (`{ requestId, txDigest }`); applied through
 * `breakglass.apply`, it is sealed here and lets exactly that request past a
 * policy DENY — nothing else:
 *
 * - not other bytes: the request id is the hash of the signed proposal
 *   payload (raw transaction included) and the digest must match too;
 * - not past a freeze: `checkNotFrozen` runs before the policy decides;
 * - not past approvals: the override lifts the policy's deny, not the
 *   four-eyes rule. The request then needs the manifest's approval rule
 *   (`policy.approvals`: that many distinct members of that group, initiator
 *   excluded, at least one), with every approval check (signature, digest,
 *   summary, expiry, replay) as for any request;
 * - single use: the first signing that counts its approvals under the
 *   override marks it used; a later signing of the request is refused
 *   (E_BREAKGLASS_ALREADY_USED) unless this signer is retrying the same
 *   unfinished threshold session; bounded in time (POLICY_OVERRIDE_TTL_MS
 *   after it was applied, by the enclave's clock) and in number.
 *
 * An overridden spend is not reserved in the Cedar velocity ledger (there is
 * no allowed decision to reserve it under). Every use is audited:
 * `policy.decision` says `overridden by break-glass <id>`, and signing audits
 * `policy.overridden`.
 */
import { CustodianError } from '@custodian/core/errors';
import type { Json } from '@custodian/core/canonical-json';
import { Fields } from '@custodian/core/fields';
import type { BreakglassExecution, OverridePolicyPayload } from '@custodian/protocol/breakglass-execution';
import type { Manifest } from '@custodian/protocol/manifest';
import type { EnclaveDecision } from './enclave-decision.js';

/** Most overrides sealed state keeps (used ones are forgotten first, raising `floorMs`). */
export const POLICY_OVERRIDES_MAX = 256;
/** How long an applied, unused override holds (enclave time): a week, well past any approval's validity. */
export const POLICY_OVERRIDE_TTL_MS = 7 * 24 * 60 * 60 * 1000;

const HEX64_RE = /^[0-9a-f]{64}$/;
const ID_RE = /^[a-z0-9][a-z0-9._-]{0,63}$/;

/** One applied override. */
export interface PolicyOverrideRecord {
  readonly executionId: string;
  readonly requestId: string;
  readonly txDigest: string;
  readonly executedAtMs: number;
  readonly appliedAtMs: number;
  /** When a signing first counted its approvals under it (null: unused). */
  readonly usedAtMs: number | null;
}

/**
 * The overrides by request id, and a floor: executions at or before it are
 * refused (E_BREAKGLASS_STALE), so a forgotten override cannot be applied
 * again by replaying its statement.
 */
export interface PolicyOverrides {
  floorMs: number;
  readonly records: Map<string, PolicyOverrideRecord>;
}

/** No overrides. */
export function emptyPolicyOverrides(): PolicyOverrides {
  return { floorMs: 0, records: new Map() };
}

/**
 * Records an override (audited by the caller first): false when this very
 * execution is already recorded (idempotent). E_BREAKGLASS_STALE at or below
 * the floor, E_BREAKGLASS_OVERRIDE_EXISTS when another execution already
 * covers the request, E_BREAKGLASS_OVERRIDES_FULL without room. `dryRun`
 * checks without changing anything.
 */
export function recordOverride(o: PolicyOverrides, e: BreakglassExecution, p: OverridePolicyPayload, nowMs: number, dryRun: boolean): boolean {
  const known = o.records.get(p.requestId);
  if (known?.executionId === e.id) return false;
  if (known) throw new CustodianError('E_BREAKGLASS_OVERRIDE_EXISTS', `request ${p.requestId.slice(0, 16)}… is already covered by break-glass request ${known.executionId}`, { breakglassId: e.id, existing: known.executionId });
  if (e.executedAtMs <= o.floorMs) throw new CustodianError('E_BREAKGLASS_STALE', `break-glass request ${e.id} was executed before overrides this signer has forgotten: refusing to apply it again`, { breakglassId: e.id, floorMs: o.floorMs });
  const evict = o.records.size >= POLICY_OVERRIDES_MAX ? oldestSpent(o, nowMs) : null;
  if (o.records.size >= POLICY_OVERRIDES_MAX && evict === null) throw new CustodianError('E_BREAKGLASS_OVERRIDES_FULL', `this signer already keeps ${POLICY_OVERRIDES_MAX} unused policy overrides`, { max: POLICY_OVERRIDES_MAX });
  if (dryRun) return true;
  if (evict !== null) {
    o.floorMs = Math.max(o.floorMs, o.records.get(evict)!.executedAtMs);
    o.records.delete(evict);
  }
  o.records.set(p.requestId, { executionId: e.id, requestId: p.requestId, txDigest: p.txDigest, executedAtMs: e.executedAtMs, appliedAtMs: nowMs, usedAtMs: null });
  return true;
}

/** The override that covers `requestId` with exactly `txDigest` now, or null (an unused one expires; a used one still names its request). */
export function overrideFor(o: PolicyOverrides, requestId: string, txDigest: string, nowMs: number): PolicyOverrideRecord | null {
  const r = o.records.get(requestId);
  if (!r || r.txDigest !== txDigest) return null;
  if (r.usedAtMs === null && nowMs >= r.appliedAtMs + POLICY_OVERRIDE_TTL_MS) return null;
  return r;
}

/**
 * A policy DENY turned into the explicit overridden decision: approvals by
 * the manifest's rule (at least one), the denial kept in the reasons and the
 * versions. Any other decision is returned as it is.
 */
export function overriddenDecision(d: EnclaveDecision, r: PolicyOverrideRecord | null, m: Manifest): EnclaveDecision {
  if (d.decision !== 'deny' || r === null) return d;
  const { group } = m.policy.approvals;
  const count = Math.max(1, m.policy.approvals.count);
  return {
    decision: 'needs-approval',
    code: null,
    reasons: [`overridden by break-glass ${r.executionId}: denied ${d.code ?? 'E_POLICY_DENIED'} (${d.reasons.join('; ')}); needs ${count} approval(s) from group ${group}, initiator excluded`],
    requiredApprovals: { group, count },
    approvalsByGroup: { [group]: count },
    versions: { ...(d.versions !== null && typeof d.versions === 'object' && !Array.isArray(d.versions) ? d.versions : {}), breakglassOverride: r.executionId, overriddenCode: d.code ?? 'E_POLICY_DENIED' },
    overriddenBy: r.executionId,
  };
}

/**
 * Marks the override of `requestId` used at `nowMs`; E_BREAKGLASS_ALREADY_USED
 * when it was used before, unless `retry` (the same unfinished threshold signing).
 */
export function useOverride(o: PolicyOverrides, requestId: string, nowMs: number, retry: boolean): PolicyOverrideRecord {
  const r = o.records.get(requestId);
  if (!r) throw new CustodianError('E_BREAKGLASS_OVERRIDE_UNKNOWN', `no policy override covers request ${requestId.slice(0, 16)}…`, {});
  if (r.usedAtMs !== null) {
    if (retry) return r;
    throw new CustodianError('E_BREAKGLASS_ALREADY_USED', `the policy override of break-glass request ${r.executionId} was already used at ${new Date(r.usedAtMs).toISOString()}`, { breakglassId: r.executionId });
  }
  const used = { ...r, usedAtMs: nowMs };
  o.records.set(requestId, used);
  return used;
}

/** The used or expired override applied longest ago (null: every one kept may still be used). */
function oldestSpent(o: PolicyOverrides, nowMs: number): string | null {
  let oldest: PolicyOverrideRecord | null = null;
  for (const r of o.records.values()) {
    const spent = r.usedAtMs !== null || nowMs >= r.appliedAtMs + POLICY_OVERRIDE_TTL_MS;
    if (spent && (oldest === null || r.appliedAtMs < oldest.appliedAtMs)) oldest = r;
  }
  return oldest?.requestId ?? null;
}

/** The overrides as sealed state carries them (absent when there are none and no floor). */
export function encodePolicyOverrides(o: PolicyOverrides): Json {
  const records = [...o.records.values()]
    .sort((a, b) => (a.requestId < b.requestId ? -1 : a.requestId > b.requestId ? 1 : 0))
    .map((r) => ({ executionId: r.executionId, requestId: r.requestId, txDigest: r.txDigest, executedAtMs: r.executedAtMs, appliedAtMs: r.appliedAtMs, usedAtMs: r.usedAtMs }));
  return { floorMs: o.floorMs, records };
}

/** Decodes sealed overrides (absent in state sealed before overrides existed: none). */
export function decodePolicyOverrides(v: Json | undefined): PolicyOverrides {
  const out = emptyPolicyOverrides();
  if (v === undefined) return out;
  const f = new Fields(v, 'policyOverrides');
  out.floorMs = f.int('floorMs');
  for (const x of f.arr('records', POLICY_OVERRIDES_MAX)) {
    const g = new Fields(x, 'policyOverride');
    const used = g.raw('usedAtMs');
    const r: PolicyOverrideRecord = {
      executionId: g.str('executionId', 64, ID_RE), requestId: g.str('requestId', 64, HEX64_RE), txDigest: g.str('txDigest', 66, /^0x[0-9a-f]{64}$/),
      executedAtMs: g.int('executedAtMs'), appliedAtMs: g.int('appliedAtMs'), usedAtMs: used === null ? null : g.int('usedAtMs'),
    };
    g.done();
    if (out.records.has(r.requestId)) throw new CustodianError('E_SEALED_STATE_INVALID', 'policy overrides name a request twice');
    out.records.set(r.requestId, r);
  }
  f.done();
  return out;
}

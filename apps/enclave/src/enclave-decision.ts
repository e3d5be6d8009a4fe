/**
 * The decision shape the enclave works with, whichever policy made it: the
 * first policy (manifest without a rulebook) or the Cedar rulebook. Summaries
 * keep the first policy's `requiredApprovals` (the host reads its count);
 * approvals are checked against `approvalsByGroup`, and every audited
 * decision records `versions`.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex } from '@custodian/core/bytes';
import { canonicalJsonBytes, type Json } from '@custodian/core/canonical-json';
import type { Manifest } from '@custodian/protocol/manifest';
import type { PolicyDecision } from './first-policy.js';
import type { CedarDecision } from './cedar-policy.js';

/** A policy outcome as the enclave audits, summarises and enforces it. */
export interface EnclaveDecision extends PolicyDecision {
  /** Approvals still needed per group (initiator excluded); empty when none are. */
  readonly approvalsByGroup: Readonly<Record<string, number>>;
  /** Hashes of the policy documents the decision used (audited with it). */
  readonly versions: Json;
  /** The break-glass `override-policy` request that lifted a deny (policy-override.ts); absent otherwise. */
  readonly overriddenBy?: string;
}

/** The first policy's decision; its version is the hash of the manifest policy it came from. */
export function fromFirstPolicy(d: PolicyDecision, m: Manifest): EnclaveDecision {
  const policy: Json = { maxValueWei: m.policy.maxValueWei.toString(), allowlist: [...m.policy.allowlist], approvals: { ...m.policy.approvals } };
  const approvalsByGroup = d.requiredApprovals.count > 0 ? { [d.requiredApprovals.group]: d.requiredApprovals.count } : {};
  return { ...d, approvalsByGroup, versions: { firstPolicy: bytesToHex(sha256(canonicalJsonBytes(policy))) } };
}

/**
 * A Cedar decision: `requiredApprovals` sums the missing approvals and names
 * their groups joined by `+` (for summaries and the host's count).
 */
export function fromCedar(d: CedarDecision, rulebookDigest: string): EnclaveDecision {
  const groups = Object.keys(d.missingApprovals).filter((g) => (d.missingApprovals[g] ?? 0) > 0).sort();
  const approvalsByGroup: Record<string, number> = {};
  for (const g of groups) approvalsByGroup[g] = d.missingApprovals[g]!;
  const count = groups.reduce((n, g) => n + approvalsByGroup[g]!, 0);
  const reasons = d.reasons.length > 0 ? [...d.reasons] : d.decision === 'needs-approval' ? [`needs ${groups.map((g) => `${approvalsByGroup[g]} approval(s) from group ${g}`).join(' and ')}, initiator excluded`] : [];
  return {
    decision: d.decision,
    code: d.code,
    reasons,
    requiredApprovals: { group: groups.join('+'), count },
    approvalsByGroup,
    versions: { ...d.versions, rulebookDigest, policies: [...d.policies] },
  };
}

/**
 * Approvals: each one checked against a verified proposal (group, request,
 * digest, summary, initiator, distinctness, expiry, nonce), `approval.check`,
 * the count for one signing with the Cedar spend reservation it takes, the
 * reservation's commit or release, and the consumed nonces (with the bounds
 * that keep the sealed state small).
 */
import { CustodianError, isCustodianError } from '@custodian/core/errors';
import type { Json } from '@custodian/core/canonical-json';
import { Fields } from '@custodian/core/fields';
import { bytesTo0x } from '@custodian/core/bytes';
import { APPROVAL_TTL_MAX_MS, CLOCK_SKEW_MAX_MS } from '@custodian/core/limits';
import type { Manifest } from '@custodian/protocol/manifest';
import { authenticateRequest, decodeSignedRequest, payloadHash, type SignedRequest } from '@custodian/protocol/operator-request';
import { decodeApproval, type ApprovalPayload } from '@custodian/protocol/payloads';
import type { RpcPeer } from '@custodian/protocol/frame-rpc';
import type { EnclaveContext } from './enclave-context.js';
import { APPROVALS_PER_REQUEST_MAX, MPC_SESSION_TTL_MS, REQUEST_SEEN_TTL_MS } from './enclave-limits.js';
import { checkProposal, type CheckedProposal } from './proposal.js';
import { countApprovalsByGroup, type CedarDecision, type ProposalInput } from './cedar-policy.js';
import { useOverride } from './policy-override.js';

/** The approvals of a signing request that still hold, as counted by this signer. */
export interface ApprovalTally {
  readonly counted: readonly ApprovalPayload[];
  readonly ids: readonly string[];
  /** The Cedar decision that reserved the spend (null under the first policy). */
  readonly reserved: CedarDecision | null;
  /** Each counted approval as `operatorId:sha256(payload)`. */
  readonly refs: readonly string[];
}

/**
 * Checks one approval against a verified proposal. `others` are approvals
 * already counted (distinctness). Throws a typed error naming the reason.
 */
function checkApproval(ctx: EnclaveContext, p: CheckedProposal, m: Manifest, req: SignedRequest, others: readonly ApprovalPayload[], otherIds: readonly string[], allowConsumed = false): ApprovalPayload {
  const op = m.operators.find((o) => o.id === req.operatorId);
  if (!op) throw new CustodianError('E_OPERATOR_UNKNOWN', `operator ${req.operatorId} is not in the manifest`);
  const a = decodeApproval(req.payload);
  authenticateRequest(req, m, 'approver');
  const groups = ctx.cedar() ? Object.keys(p.decision.approvalsByGroup) : [p.decision.requiredApprovals.group];
  if (!op.groups.some((g) => groups.includes(g))) throw new CustodianError('E_APPROVER_GROUP', `${op.id} is not a member of group ${groups.join(' or ') || '(no approvals are required)'}`, { operatorId: op.id, group: groups.join('+') });
  if (a.orgId !== m.orgId || a.requestId !== p.requestId) throw new CustodianError('E_APPROVAL_REQUEST_MISMATCH', 'approval names another request', { requestId: a.requestId });
  if (a.txDigest !== bytesTo0x(p.digest)) {
    throw new CustodianError('E_APPROVAL_DIGEST_MISMATCH', 'approval was given for a different transaction digest', { approved: a.txDigest, actual: bytesTo0x(p.digest) });
  }
  if (!p.summaryHashes.includes(a.summaryHash)) throw new CustodianError('E_APPROVAL_SUMMARY_MISMATCH', 'approval was given for a different summary', { approved: a.summaryHash, actual: p.summaryHash });
  if (op.id === p.initiator.id) throw new CustodianError('E_APPROVER_IS_INITIATOR', `${op.id} initiated this request and cannot approve it`, { operatorId: op.id });
  if (otherIds.includes(op.id)) throw new CustodianError('E_APPROVER_DUPLICATE', `${op.id} has already approved this request`, { operatorId: op.id });
  const now = ctx.nowMs();
  if (a.expiresAtMs <= now) throw new CustodianError('E_APPROVAL_EXPIRED', `approval by ${op.id} expired at ${new Date(a.expiresAtMs).toISOString()}`, { expiresAtMs: a.expiresAtMs });
  if (a.expiresAtMs > now + APPROVAL_TTL_MAX_MS) throw new CustodianError('E_APPROVAL_TTL_TOO_LONG', 'approval claims a validity longer than allowed');
  const nonceKey = `${op.id}:${a.nonce}`;
  if ((ctx.state().consumedNonces.has(nonceKey) && !allowConsumed) || others.some((o) => o.nonce === a.nonce)) {
    throw new CustodianError('E_APPROVAL_REPLAYED', `approval nonce of ${op.id} was already used`, { operatorId: op.id });
  }
  return a;
}

/** The group an approver's approval counts for: the first of its groups the decision asks approvals from. */
function approverGroup(ctx: EnclaveContext, p: CheckedProposal, m: Manifest, operatorId: string): string | null {
  const groups = ctx.cedar() ? Object.keys(p.decision.approvalsByGroup) : [p.decision.requiredApprovals.group];
  return m.operators.find((o) => o.id === operatorId)?.groups.find((g) => groups.includes(g)) ?? null;
}

/** The approvals of `list` that still hold, in order, each counted once per operator. */
function validApprovals(ctx: EnclaveContext, p: CheckedProposal, m: Manifest, list: readonly SignedRequest[]): { operatorId: string; payload: ApprovalPayload }[] {
  const out: { operatorId: string; payload: ApprovalPayload }[] = [];
  for (const r of list) {
    try {
      const payload = checkApproval(ctx, p, m, r, out.map((x) => x.payload), out.map((x) => x.operatorId));
      out.push({ operatorId: r.operatorId, payload });
    } catch (e) {
      if (!isCustodianError(e)) throw e;
    }
  }
  return out;
}

/** `approval.check`: one approval checked against the proposal (re-verified) and the prior approvals that still hold; audited. */
export async function checkApprovalOp(ctx: EnclaveContext, body: Json, peer: RpcPeer): Promise<Json> {
  const m = ctx.manifest();
  const f = new Fields(body, 'approval.check');
  const proposal = decodeSignedRequest(f.raw('proposal'), 'proposal');
  const approval = decodeSignedRequest(f.raw('approval'), 'approval');
  const prior = f.arr('prior', APPROVALS_PER_REQUEST_MAX).map((x) => decodeSignedRequest(x, 'prior'));
  f.done();
  const p = checkProposal(ctx, proposal, m);
  if (ctx.state().signed.has(p.requestId)) {
    return ctx.refuse(peer, 'approval.rejected', p.requestId, new CustodianError('E_REQUEST_ALREADY_SIGNED', 'request is already signed; the approval is superfluous'), { operatorId: approval.operatorId });
  }
  if (p.decision.decision === 'deny') {
    const denied = new CustodianError('E_REQUEST_DENIED', `request was denied by policy: ${p.decision.reasons.join('; ')}`, { policyCode: p.decision.code });
    return ctx.refuse(peer, 'approval.rejected', p.requestId, denied, { operatorId: approval.operatorId, policyCode: p.decision.code, versions: p.decision.versions });
  }
  // Only approvals that still hold count as "already given" (an expired one may be renewed).
  const still = validApprovals(ctx, p, m, prior);
  let a: ApprovalPayload;
  try {
    a = checkApproval(ctx, p, m, approval, still.map((x) => x.payload), still.map((x) => x.operatorId));
  } catch (e) {
    return ctx.refuse(peer, 'approval.rejected', p.requestId, e, { operatorId: approval.operatorId });
  }
  await ctx.audit(peer, 'approval.accepted', p.requestId, { operatorId: approval.operatorId, group: approverGroup(ctx, p, m, approval.operatorId), approvalHash: payloadHash(approval.payload), txDigest: a.txDigest, summaryHash: a.summaryHash, expiresAtMs: a.expiresAtMs, nonce: a.nonce });
  await ctx.persist();
  return { accepted: true, operatorId: approval.operatorId, approvalsNeeded: p.decision.requiredApprovals.count };
}

/**
 * The policy decision and the approvals, checked for one signing — by the
 * `single` signer and by every signer of a threshold session alike. An
 * approval that no longer holds (expired, revoked, replayed) is skipped and
 * audited, not fatal: one stale approval must not block a request that has
 * enough valid ones. Refuses (audited) E_QUORUM_NOT_MET or a denial.
 * `allowConsumed`: this signer already approved this very request in a
 * threshold session that did not finish, so its own consumption of these
 * nonces is no replay (every approval names the request it is for).
 */
export async function countApprovals(ctx: EnclaveContext, peer: RpcPeer, p: CheckedProposal, m: Manifest, approvals: readonly SignedRequest[], allowConsumed: boolean, reservationTtlMs: number): Promise<ApprovalTally> {
  const counted: ApprovalPayload[] = [];
  const ids: string[] = [];
  let reserved: CedarDecision | null;
  try {
    if (p.decision.decision === 'deny') throw new CustodianError(p.decision.code ?? 'E_POLICY_DENIED', p.decision.reasons.join('; '));
    for (const r of approvals) {
      try {
        counted.push(checkApproval(ctx, p, m, r, counted, ids, allowConsumed));
        ids.push(r.operatorId);
      } catch (e) {
        if (!isCustodianError(e)) throw e;
        await ctx.audit(peer, 'approval.invalidated', p.requestId, { operatorId: r.operatorId, code: e.code, reason: e.message });
      }
    }
    const need = p.decision.requiredApprovals.count;
    reserved = null;
    if (p.decision.overriddenBy !== undefined) {
      // The explicit break-glass branch: a lifted deny still needs its approvals, and the override is single use.
      if (counted.length < need) throw new CustodianError('E_QUORUM_NOT_MET', `${counted.length} valid approval(s) of ${need} required from ${p.decision.requiredApprovals.group} (policy overridden by break-glass ${p.decision.overriddenBy})`, { have: counted.length, need });
      const used = useOverride(ctx.state().policyOverrides, p.requestId, ctx.nowMs(), allowConsumed);
      await ctx.audit(peer, 'policy.overridden', p.requestId, { breakglassId: used.executionId, txDigest: used.txDigest, overriddenCode: String((p.decision.versions as Record<string, Json>)['overriddenCode'] ?? ''), approvals: [...ids] });
    } else if (ctx.cedar() && p.cedarInput) {
      reserved = reserve(ctx, p.cedarInput, ids, m, allowConsumed, reservationTtlMs);
    } else if (counted.length < need) {
      throw new CustodianError('E_QUORUM_NOT_MET', `${counted.length} valid approval(s) of ${need} required from ${p.decision.requiredApprovals.group}`, { have: counted.length, need });
    }
  } catch (e) {
    // The refusal records the policy versions it was decided under.
    const versions = isCustodianError(e) && e.detail['versions'] !== undefined ? (e.detail['versions'] as Json) : p.decision.versions;
    return ctx.refuse(peer, 'sign.refused', p.requestId, e, { versions });
  }
  const refs = approvals.filter((r) => ids.includes(r.operatorId)).map((r) => `${r.operatorId}:${payloadHash(r.payload)}`);
  return { counted, ids, refs, reserved };
}

/**
 * Decides again with the verified approvals per group and, on allow,
 * reserves the spend in the same step; throws the refusal's code otherwise
 * (E_QUORUM_NOT_MET while approvals are missing). A threshold signer that
 * already approved this request in an unfinished session keeps the
 * reservation it holds (the retry is the same spend).
 */
function reserve(ctx: EnclaveContext, input: ProposalInput, approverIds: readonly string[], m: Manifest, retry: boolean, ttlMs: number): CedarDecision {
  const cedar = ctx.cedar()!;
  const approvers = approverIds.map((id) => ({ id, groups: [...(m.operators.find((o) => o.id === id)?.groups ?? [])] }));
  const full: ProposalInput = { ...input, approvalsByGroup: countApprovalsByGroup(approvers, input.initiator.id) };
  let d: CedarDecision;
  try {
    d = cedar.reserve(full, ctx.nowMs(), ttlMs);
  } catch (e) {
    if (!(retry && isCustodianError(e, 'E_RESERVATION_EXISTS'))) throw e;
    d = cedar.decideProposal(full, ctx.nowMs());
    if (d.decision === 'allow') return d;
  }
  // The engine answers a reservation this request already holds as a deny with that code:
  // for a retry of an unfinished threshold signing it is the same spend, decided again.
  if (retry && d.decision === 'deny' && d.code === 'E_RESERVATION_EXISTS') {
    d = cedar.decideProposal(full, ctx.nowMs());
    if (d.decision === 'allow') return d;
  }
  if (d.decision === 'allow') return d;
  const versions = { ...d.versions, rulebookDigest: cedar.digest };
  if (d.decision === 'needs-approval') {
    // Not yet: approvals missing, or a time-lock (`@delay`) still running; the request stays pending.
    const missing = Object.entries(d.missingApprovals).filter(([, n]) => n > 0).map(([g, n]) => `${n} more from ${g}`);
    const lock = d.notBefore !== null && d.notBefore > ctx.nowMs() ? `time-locked until ${new Date(d.notBefore).toISOString()}` : '';
    const why = [missing.length > 0 ? `approvals missing: ${missing.join(', ')}` : '', lock].filter(Boolean).join('; ');
    throw new CustodianError('E_QUORUM_NOT_MET', why || 'not yet allowed', { missing: { ...d.missingApprovals }, notBefore: d.notBefore, versions });
  }
  throw new CustodianError(d.code ?? 'E_POLICY_DENIED', d.reasons.join('; ') || 'denied by policy', { versions, ...(d.limit ? { limit: { ...d.limit } } : {}) });
}

/** Frees a Cedar reservation that will not be signed (nothing to free is no error). */
export function releaseReservation(ctx: EnclaveContext, requestId: string): void {
  try {
    ctx.cedar()?.release(requestId);
  } catch (e) {
    if (!isCustodianError(e, 'E_RESERVATION_UNKNOWN')) throw e;
  }
}

/** Marks the counted approvals' nonces consumed (the caller persists). */
export function consume(ctx: EnclaveContext, t: ApprovalTally): void {
  const s = ctx.state();
  t.counted.forEach((a, i) => s.consumedNonces.set(`${t.ids[i]}:${a.nonce}`, a.expiresAtMs));
  prune(ctx);
}

/**
 * Bounds the sealed state: consumed nonces are forgotten once their approval
 * has expired, and signed records once no approval for them can still be
 * valid (a replay after that cannot gather approvals, so it is refused, not
 * signed again). Unaudited records are never dropped.
 */
function prune(ctx: EnclaveContext): void {
  const now = ctx.nowMs();
  const s = ctx.state();
  for (const [k, exp] of s.consumedNonces) if (exp < now - CLOCK_SKEW_MAX_MS) s.consumedNonces.delete(k);
  for (const [k, r] of s.signed) if (r.audited && r.atMs < now - APPROVAL_TTL_MAX_MS - CLOCK_SKEW_MAX_MS) s.signed.delete(k);
  for (const [k, at] of s.mpcApproved) if (at < now - APPROVAL_TTL_MAX_MS - CLOCK_SKEW_MAX_MS) s.mpcApproved.delete(k);
  for (const [k, at] of s.usedPresigs) if (at < now - MPC_SESSION_TTL_MS - CLOCK_SKEW_MAX_MS) s.usedPresigs.delete(k);
  // FROST nonces (SealedNonceStore): an unused or consumed key past the session time reads as unknown, which signs nothing.
  for (const [k, r] of s.frostNonces) if (r.atMs < now - MPC_SESSION_TTL_MS - CLOCK_SKEW_MAX_MS) s.frostNonces.delete(k);
  for (const [k, at] of s.frostConsumed) if (at < now - MPC_SESSION_TTL_MS - CLOCK_SKEW_MAX_MS) s.frostConsumed.delete(k);
  for (const [k, at] of s.requestSeen) if (at < now - REQUEST_SEEN_TTL_MS) s.requestSeen.delete(k);
  for (const k of s.summarySeen.keys()) if (!s.requestSeen.has(k)) s.summarySeen.delete(k);
}

/**
 * Commits a threshold signing's Cedar reservation when this signer's online
 * message is about to leave; a reservation this signer already committed in
 * an earlier session for the same request is no error.
 */
export function commitThreshold(ctx: EnclaveContext, requestId: string): void {
  const cedar = ctx.cedar();
  if (!cedar) return;
  // A request signed under a break-glass policy override reserved nothing (policy-override.ts).
  if ((ctx.state().policyOverrides.records.get(requestId)?.usedAtMs ?? null) !== null) return;
  try {
    cedar.commit(requestId, ctx.nowMs());
  } catch (e) {
    if (isCustodianError(e, 'E_RESERVATION_UNKNOWN') && e.detail['state'] === 'committed') return;
    throw e;
  }
}

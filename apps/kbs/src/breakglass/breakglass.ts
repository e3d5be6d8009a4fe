/**
 * Break-glass as a pure state machine (DESIGN.md flow 5, THREATS.md B33):
 * emergency actions need a quorum higher than daily operations, then wait a
 * time-lock during which any guardian can veto; freezing is immediate and
 * needs one guardian. `applyBreakglassEvent` takes the state, an event and
 * the trusted time in the event, and returns the next state and the audit
 * entry, or throws a typed refusal. No I/O, no clock reads.
 *
 *   request ──approvals ≥ k──▶ time-locked ──unlocksAt──▶ execute ▶ executed
 *      │                          │
 *      └────── veto (guardian) / cancel (requester or k) ──▶ vetoed / cancelled
 */
import { CustodianError } from '@custodian/core/errors';
import { canonicalJsonBytes, type Json } from '@custodian/core/canonical-json';
import { BREAKGLASS_ACTIONS, decodeFreezePayload, decodeManifestSuccessorPayload, decodeOverridePolicyPayload, decodeRecoverSignerPayload, payloadHashOf, type BreakglassAction } from '@custodian/protocol/breakglass-execution';
import { assertQuorum, countQuorum, type MemberSignature, type Quorum, type QuorumMember } from '../quorum.js';
import type { KbsAuditKind } from '../audit-sink.js';

/** Domain of every break-glass statement. */
export const BREAKGLASS_DOMAIN = 'custodian/breakglass/v1';
/** Default time-lock. */
export const BREAKGLASS_TIMELOCK_MS_DEFAULT = 48 * 60 * 60 * 1000;
/** Shortest time-lock a configuration may set. */
export const BREAKGLASS_TIMELOCK_MS_MIN = 60 * 1000;
/** Longest time-lock a configuration may set. */
export const BREAKGLASS_TIMELOCK_MS_MAX = 30 * 24 * 60 * 60 * 1000;

// One list of actions and one payload hash for the book and the signers that verify its execution statements.
export { BREAKGLASS_ACTIONS, payloadHashOf, type BreakglassAction };

/** Largest payload (canonical JSON) a request carries: kept in the book and signed over for as long as the request is. */
export const BREAKGLASS_PAYLOAD_BYTES_MAX = 64 * 1024;

/** Actions that take effect at once on one guardian's word. */
export const IMMEDIATE_ACTIONS: ReadonlySet<BreakglassAction> = new Set(['freeze-wallet', 'freeze-organisation']);

/** Who may do what, and how long the lock is. */
export interface BreakglassConfig {
  /** Approvers; `threshold` is the break-glass quorum. */
  readonly approvers: Quorum;
  /** The daily-operations quorum; the break-glass one must be higher. */
  readonly dailyThreshold: number;
  readonly guardians: readonly QuorumMember[];
  readonly timelockMs: number;
}

/** A request as signed by its requester. */
export interface BreakglassRequest {
  readonly id: string;
  readonly action: BreakglassAction;
  readonly payloadHash: string;
  readonly requestedBy: string;
  readonly requestedAtMs: number;
}

/** Where a request stands. */
export type BreakglassStatus = 'pending' | 'time-locked' | 'executed' | 'vetoed' | 'cancelled';

/** A request's state. */
export interface BreakglassState {
  readonly request: BreakglassRequest;
  readonly status: BreakglassStatus;
  readonly approvals: readonly string[];
  readonly threshold: number;
  readonly unlocksAtMs: number | null;
  readonly vetoedBy: string | null;
  readonly vetoReason: string | null;
  readonly cancelledBy: readonly string[];
  readonly executedAtMs: number | null;
  readonly lastEventAtMs: number;
  /**
   * The approved payload, once handed in: with the request for a freeze,
   * with the execution otherwise. The broker signs execution statements over
   * it, so it is kept (and persisted) for as long as the request is.
   */
  readonly payload: Json | null;
  /** When a single-use action (recover-signer) was used; null while unused. */
  readonly consumedAtMs: number | null;
  /**
   * The broker's observed time (breakglass-book.ts) when the time-lock
   * started: the lock ends once that much time has passed on the broker's
   * own monotonic clock, not when the wall clock says so (a host that moves
   * its clock and restarts the broker does not open it). Null while not locked.
   */
  readonly lockedAtObservedMs: number | null;
}

/** The events; `atMs` is trusted time (BoundedClock), never the host's word. */
export type BreakglassEvent =
  | { readonly type: 'request'; readonly atMs: number; readonly request: BreakglassRequest; readonly signature: MemberSignature; readonly payload?: Json }
  | { readonly type: 'approve'; readonly atMs: number; readonly requestId: string; readonly payloadHash: string; readonly approval: MemberSignature }
  | { readonly type: 'veto'; readonly atMs: number; readonly requestId: string; readonly payloadHash: string; readonly reason: string; readonly guardian: MemberSignature }
  | { readonly type: 'cancel'; readonly atMs: number; readonly requestId: string; readonly signatures: readonly MemberSignature[] }
  | { readonly type: 'execute'; readonly atMs: number; readonly requestId: string; readonly payload: Json };

/** The result of an accepted event. */
export interface BreakglassTransition {
  readonly state: BreakglassState;
  readonly audit: { readonly kind: KbsAuditKind; readonly body: { readonly [k: string]: Json } };
}

/** The statement a requester signs. */
export function requestStatement(r: BreakglassRequest): Json {
  return { kind: 'request', id: r.id, action: r.action, payloadHash: r.payloadHash, requestedBy: r.requestedBy, requestedAtMs: r.requestedAtMs };
}

/** The statement an approver signs. */
export function approvalStatement(id: string, action: BreakglassAction, payloadHash: string): Json {
  return { kind: 'approve', id, action, payloadHash };
}

/** The statement a guardian signs to veto. */
export function vetoStatement(id: string, payloadHash: string, reason: string): Json {
  return { kind: 'veto', id, payloadHash, reason };
}

/** The statement signed to cancel. */
export function cancelStatement(id: string): Json {
  return { kind: 'cancel', id };
}

function refuse(code: string, message: string, detail: Record<string, unknown> = {}): never {
  throw new CustodianError(code, message, detail);
}

/** Checks a configuration: break-glass quorum above the daily one, guardians present, time-lock in bounds. */
export function validateBreakglassConfig(c: BreakglassConfig): BreakglassConfig {
  if (c.approvers.threshold <= c.dailyThreshold) refuse('E_BREAKGLASS_CONFIG', `the break-glass quorum (${c.approvers.threshold}) must be higher than the daily quorum (${c.dailyThreshold})`);
  if (c.approvers.threshold > c.approvers.members.length) refuse('E_BREAKGLASS_CONFIG', 'the break-glass quorum exceeds the number of approvers');
  if (c.guardians.length === 0) refuse('E_BREAKGLASS_CONFIG', 'at least one guardian is needed');
  if (!Number.isInteger(c.timelockMs) || c.timelockMs < BREAKGLASS_TIMELOCK_MS_MIN || c.timelockMs > BREAKGLASS_TIMELOCK_MS_MAX) {
    refuse('E_BREAKGLASS_CONFIG', `the time-lock must be ${BREAKGLASS_TIMELOCK_MS_MIN}..${BREAKGLASS_TIMELOCK_MS_MAX} ms`);
  }
  return c;
}

/** Applies one event; `state` is undefined only for a `request`. */
export function applyBreakglassEvent(config: BreakglassConfig, state: BreakglassState | undefined, event: BreakglassEvent, observedMs: number): BreakglassTransition {
  if (state && event.atMs < state.lastEventAtMs) {
    refuse('E_CLOCK_BACKWARDS', 'the event is dated before the previous one; the clock moved backwards', { atMs: event.atMs, lastEventAtMs: state.lastEventAtMs });
  }
  switch (event.type) {
    case 'request':
      if (state) refuse('E_BREAKGLASS_DUPLICATE', `request ${event.request.id} already exists`);
      return onRequest(config, event, observedMs);
    case 'approve':
      return onApprove(config, mustExist(state, event.requestId), event, observedMs);
    case 'veto':
      return onVeto(config, mustExist(state, event.requestId), event);
    case 'cancel':
      return onCancel(config, mustExist(state, event.requestId), event);
    case 'execute':
      return onExecute(config, mustExist(state, event.requestId), event, observedMs);
  }
}

function mustExist(state: BreakglassState | undefined, id: string): BreakglassState {
  if (!state || state.request.id !== id) refuse('E_BREAKGLASS_UNKNOWN', `no break-glass request ${id.slice(0, 64)}`);
  return state;
}

function onRequest(config: BreakglassConfig, e: Extract<BreakglassEvent, { type: 'request' }>, observedMs: number): BreakglassTransition {
  const r = e.request;
  if (!(BREAKGLASS_ACTIONS as readonly string[]).includes(r.action)) refuse('E_BREAKGLASS_ACTION_INVALID', `unknown break-glass action ${String(r.action)}`);
  if (!/^[0-9a-f]{64}$/.test(r.payloadHash)) refuse('E_BREAKGLASS_REQUEST_INVALID', 'payloadHash must be a SHA-256 hex digest');
  if (e.signature.memberId !== r.requestedBy) refuse('E_BREAKGLASS_REQUEST_INVALID', 'the request must be signed by its requester');
  const immediate = IMMEDIATE_ACTIONS.has(r.action);
  // A freeze executes now, so the broker must hold the payload it will attest; other requests may bring it early.
  if (immediate && e.payload === undefined) refuse('E_BREAKGLASS_PAYLOAD_MISSING', `a ${r.action} request carries its payload (it takes effect at once)`);
  if (e.payload !== undefined) checkPayload(r, e.payload);
  const signers = immediate ? config.guardians : config.approvers.members;
  const { signers: valid } = countQuorum({ threshold: 1, members: signers }, BREAKGLASS_DOMAIN, requestStatement(r), [e.signature]);
  if (valid.length !== 1) refuse('E_BREAKGLASS_SIGNATURE_INVALID', immediate ? 'a freeze must be signed by a guardian' : 'the request is not signed by an approver');
  const base: BreakglassState = {
    request: r,
    status: immediate ? 'executed' : 'pending',
    approvals: immediate ? [] : [r.requestedBy],
    threshold: immediate ? 1 : config.approvers.threshold,
    unlocksAtMs: null,
    vetoedBy: null,
    vetoReason: null,
    cancelledBy: [],
    executedAtMs: immediate ? e.atMs : null,
    lastEventAtMs: e.atMs,
    payload: e.payload ?? null,
    consumedAtMs: null,
    lockedAtObservedMs: null,
  };
  const state = immediate ? base : maybeLock(config, base, e.atMs, observedMs);
  return { state, audit: { kind: immediate ? 'breakglass.executed' : 'breakglass.requested', body: summary(state) } };
}

function maybeLock(config: BreakglassConfig, s: BreakglassState, atMs: number, observedMs: number): BreakglassState {
  if (s.status !== 'pending' || s.approvals.length < s.threshold) return s;
  return { ...s, status: 'time-locked', unlocksAtMs: atMs + config.timelockMs, lockedAtObservedMs: observedMs };
}

function assertOpen(s: BreakglassState): void {
  if (s.status === 'cancelled') refuse('E_BREAKGLASS_CANCELLED', `break-glass request ${s.request.id} was cancelled`);
  if (s.status === 'vetoed') refuse('E_BREAKGLASS_VETOED', `break-glass request ${s.request.id} was vetoed by ${s.vetoedBy ?? 'a guardian'}`);
  if (s.status === 'executed') refuse('E_BREAKGLASS_ALREADY_EXECUTED', `break-glass request ${s.request.id} was already executed`);
}

function onApprove(config: BreakglassConfig, s: BreakglassState, e: Extract<BreakglassEvent, { type: 'approve' }>, observedMs: number): BreakglassTransition {
  assertOpen(s);
  if (e.payloadHash !== s.request.payloadHash) refuse('E_BREAKGLASS_PAYLOAD_CHANGED', 'the approval is for a different payload than the request', { requested: s.request.payloadHash, approved: e.payloadHash });
  const { signers } = countQuorum({ threshold: 1, members: config.approvers.members }, BREAKGLASS_DOMAIN, approvalStatement(s.request.id, s.request.action, e.payloadHash), [e.approval]);
  if (signers.length !== 1) refuse('E_BREAKGLASS_SIGNATURE_INVALID', `the approval by ${e.approval.memberId.slice(0, 64)} does not verify`);
  if (s.approvals.includes(e.approval.memberId)) refuse('E_BREAKGLASS_DUPLICATE_APPROVAL', `${e.approval.memberId} already approved; an approval counts once`);
  const next = maybeLock(config, { ...s, approvals: [...s.approvals, e.approval.memberId], lastEventAtMs: e.atMs }, e.atMs, observedMs);
  return { state: next, audit: { kind: 'breakglass.approved', body: { ...summary(next), approver: e.approval.memberId } } };
}

function onVeto(config: BreakglassConfig, s: BreakglassState, e: Extract<BreakglassEvent, { type: 'veto' }>): BreakglassTransition {
  if (s.status === 'vetoed') refuse('E_BREAKGLASS_ALREADY_VETOED', `break-glass request ${s.request.id} is already vetoed`);
  assertOpen(s);
  if (e.payloadHash !== s.request.payloadHash) refuse('E_BREAKGLASS_PAYLOAD_CHANGED', 'the veto names a different payload than the request');
  const { signers } = countQuorum({ threshold: 1, members: config.guardians }, BREAKGLASS_DOMAIN, vetoStatement(s.request.id, e.payloadHash, e.reason), [e.guardian]);
  if (signers.length !== 1) refuse('E_BREAKGLASS_SIGNATURE_INVALID', 'the veto is not signed by a guardian');
  const next: BreakglassState = { ...s, status: 'vetoed', vetoedBy: e.guardian.memberId, vetoReason: e.reason, lastEventAtMs: e.atMs };
  return { state: next, audit: { kind: 'breakglass.vetoed', body: summary(next) } };
}

function onCancel(config: BreakglassConfig, s: BreakglassState, e: Extract<BreakglassEvent, { type: 'cancel' }>): BreakglassTransition {
  assertOpen(s);
  const stmt = cancelStatement(s.request.id);
  const byRequester = countQuorum({ threshold: 1, members: config.approvers.members.filter((m) => m.id === s.request.requestedBy) }, BREAKGLASS_DOMAIN, stmt, e.signatures).signers;
  const cancelledBy = byRequester.length === 1 ? byRequester : assertQuorum(config.approvers, BREAKGLASS_DOMAIN, stmt, e.signatures, 'the cancellation');
  const next: BreakglassState = { ...s, status: 'cancelled', cancelledBy: [...cancelledBy], lastEventAtMs: e.atMs };
  return { state: next, audit: { kind: 'breakglass.cancelled', body: summary(next) } };
}

function onExecute(config: BreakglassConfig, s: BreakglassState, e: Extract<BreakglassEvent, { type: 'execute' }>, observedMs: number): BreakglassTransition {
  assertOpen(s);
  checkPayload(s.request, e.payload);
  if (s.status !== 'time-locked' || s.unlocksAtMs === null) {
    refuse('E_QUORUM_NOT_MET', `break-glass request ${s.request.id} has ${s.approvals.length} of ${s.threshold} approvals`, { approvals: s.approvals.length, required: s.threshold });
  }
  if (e.atMs < s.unlocksAtMs) refuse('E_TIMELOCK_NOT_ELAPSED', `the time-lock of ${s.request.id} ends at ${new Date(s.unlocksAtMs).toISOString()}`, { unlocksAtMs: s.unlocksAtMs, atMs: e.atMs });
  // F08: the lock must also have run on the broker's own clock — a host clock moved forward across a restart does not end it.
  const elapsed = s.lockedAtObservedMs === null ? 0 : observedMs - s.lockedAtObservedMs;
  if (elapsed < config.timelockMs) {
    refuse('E_TIMELOCK_NOT_ELAPSED', `the time-lock of ${s.request.id} has run ${Math.max(0, Math.floor(elapsed / 1000))} s of ${config.timelockMs / 1000} s on the key broker's own clock`, { observedElapsedMs: Math.max(0, elapsed), timelockMs: config.timelockMs });
  }
  const next: BreakglassState = { ...s, status: 'executed', executedAtMs: e.atMs, lastEventAtMs: e.atMs, payload: e.payload };
  return { state: next, audit: { kind: 'breakglass.executed', body: summary(next) } };
}

/**
 * The payload must hash to the approved `payloadHash` (E_BREAKGLASS_PAYLOAD_CHANGED),
 * be bounded, and be well formed for its action: the broker does not attest a
 * payload no signer could apply.
 */
function checkPayload(r: BreakglassRequest, payload: Json): void {
  const hash = payloadHashOf(payload);
  if (hash !== r.payloadHash) refuse('E_BREAKGLASS_PAYLOAD_CHANGED', 'the payload is not the one that was approved', { approved: r.payloadHash, given: hash });
  if (canonicalJsonBytes(payload).length > BREAKGLASS_PAYLOAD_BYTES_MAX) refuse('E_BREAKGLASS_PAYLOAD_TOO_LARGE', `a break-glass payload has at most ${BREAKGLASS_PAYLOAD_BYTES_MAX} bytes`);
  if (r.action === 'freeze-wallet' || r.action === 'freeze-organisation' || r.action === 'unfreeze') decodeFreezePayload(r.action, payload);
  else if (r.action === 'recover-signer') decodeRecoverSignerPayload(payload);
  else if (r.action === 'change-root-quorum' || r.action === 'upgrade-measurement') decodeManifestSuccessorPayload(r.action, payload);
  else if (r.action === 'override-policy') decodeOverridePolicyPayload(payload);
}

/**
 * Checks that an executed request of `action` may be used now (a recovery
 * under a `recover-signer` request): E_BREAKGLASS_UNKNOWN, _CANCELLED,
 * _VETOED, _NOT_EXECUTED, _ACTION_MISMATCH or _ALREADY_USED otherwise.
 */
export function assertUsable(s: BreakglassState | undefined, id: string, action: BreakglassAction): BreakglassState {
  const state = mustExist(s, id);
  if (state.status === 'cancelled') refuse('E_BREAKGLASS_CANCELLED', `break-glass request ${id} was cancelled`);
  if (state.status === 'vetoed') refuse('E_BREAKGLASS_VETOED', `break-glass request ${id} was vetoed by ${state.vetoedBy ?? 'a guardian'}`);
  if (state.status !== 'executed') refuse('E_BREAKGLASS_NOT_EXECUTED', `break-glass request ${id} is ${state.status}, not executed`, { status: state.status, unlocksAtMs: state.unlocksAtMs });
  if (state.request.action !== action) refuse('E_BREAKGLASS_ACTION_MISMATCH', `break-glass request ${id} is a ${state.request.action}, not a ${action}`, { action: state.request.action });
  if (state.consumedAtMs !== null) refuse('E_BREAKGLASS_ALREADY_USED', `break-glass request ${id} was already used at ${new Date(state.consumedAtMs).toISOString()}; a new request is needed`, { consumedAtMs: state.consumedAtMs });
  return state;
}

/** The state as JSON (for `custodian breakglass list` and audit bodies). */
export function summary(s: BreakglassState): { readonly [k: string]: Json } {
  return {
    id: s.request.id,
    action: s.request.action,
    payloadHash: s.request.payloadHash,
    requestedBy: s.request.requestedBy,
    requestedAtMs: s.request.requestedAtMs,
    status: s.status,
    approvals: [...s.approvals],
    threshold: s.threshold,
    unlocksAtMs: s.unlocksAtMs,
    vetoedBy: s.vetoedBy,
    vetoReason: s.vetoReason,
    cancelledBy: [...s.cancelledBy],
    executedAtMs: s.executedAtMs,
    lastEventAtMs: s.lastEventAtMs,
    payload: s.payload,
    consumedAtMs: s.consumedAtMs,
    lockedAtObservedMs: s.lockedAtObservedMs,
  };
}

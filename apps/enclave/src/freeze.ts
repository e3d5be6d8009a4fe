/**
 * Break-glass freezes as a signer keeps and enforces them (issue 7 item 6).
 * The key broker's executed `freeze-wallet`, `freeze-organisation` and
 * `unfreeze` statements (breakglass-ops.ts) set a scope — one wallet, or the
 * whole organisation — frozen or not; the last statement applied to each
 * scope is kept in sealed state, so a freeze survives a restart.
 *
 * Ordering: a statement applies to a scope only if the broker executed it
 * later (`executedAtMs`, the broker's trusted time) than the last one applied
 * there, so the host cannot replay an old unfreeze after a newer freeze
 * (E_BREAKGLASS_STALE); the same statement again is an idempotent no-op.
 *
 * Enforcement: `checkNotFrozen` is the one check every admission point calls
 * (proposals, single-key signing, threshold session open/start/step, wallet
 * creation and share refresh); a frozen scope refuses with E_WALLET_FROZEN or
 * E_ORGANISATION_FROZEN, which the caller audits through its refusal path.
 */
import { CustodianError } from '@custodian/core/errors';
import type { Json } from '@custodian/core/canonical-json';
import { Fields } from '@custodian/core/fields';
import type { BreakglassExecution, FreezePayload } from '@custodian/protocol/breakglass-execution';
import type { EnclaveContext } from './enclave-context.js';

/**
 * Most scopes whose last break-glass statement sealed state keeps. Beyond
 * it, the oldest record of an unfrozen scope is forgotten (a replayed older
 * freeze could then freeze that scope again: fail closed); when every record
 * is a freeze, a new scope is refused (E_BREAKGLASS_FREEZES_FULL).
 */
export const FREEZE_SCOPES_MAX = 1024;

/** Wallet and organisation ids as break-glass payloads carry them. */
const SCOPE_KEY_RE = /^(wallet|organisation):[a-z0-9][a-z0-9._-]{0,63}$/;
const EXECUTION_ID_RE = /^[a-z0-9][a-z0-9._-]{0,63}$/;

/** The last break-glass statement applied to one scope. */
export interface FreezeRecord {
  readonly executionId: string;
  readonly executedAtMs: number;
  readonly frozen: boolean;
}

/** The key of a scope in `EnclaveState.freezes`: `wallet:<walletId>` or `organisation:<orgId>`. */
export function freezeScopeKey(p: FreezePayload): string {
  return p.scope === 'wallet' ? `wallet:${p.walletId}` : `organisation:${p.orgId}`;
}

/**
 * Throws E_ORGANISATION_FROZEN while the installed organisation is frozen, or
 * E_WALLET_FROZEN while `walletId` is (null: the organisation only, e.g. a
 * wallet not created yet).
 */
export function checkNotFrozen(ctx: EnclaveContext, walletId: string | null): void {
  const freezes = ctx.state().freezes;
  if (freezes.size === 0) return;
  const orgId = ctx.manifest().orgId;
  const org = freezes.get(`organisation:${orgId}`);
  if (org?.frozen) {
    throw new CustodianError('E_ORGANISATION_FROZEN', `organisation ${orgId} is frozen by break-glass request ${org.executionId}: nothing is signed until it is unfrozen`, { orgId, breakglassId: org.executionId });
  }
  const wallet = walletId === null ? undefined : freezes.get(`wallet:${walletId}`);
  if (wallet?.frozen) {
    throw new CustodianError('E_WALLET_FROZEN', `wallet ${walletId} is frozen by break-glass request ${wallet.executionId}: it signs nothing until it is unfrozen`, { walletId, breakglassId: wallet.executionId });
  }
}

/**
 * Whether `execution` is new on `scope`: false when it is the statement last
 * applied there (idempotent); E_BREAKGLASS_STALE when one executed at the
 * same time or later was applied; E_BREAKGLASS_FREEZES_FULL when a new scope
 * finds no room. Changes nothing (the caller audits before it records).
 */
export function isNewFreeze(freezes: ReadonlyMap<string, FreezeRecord>, scope: string, execution: BreakglassExecution): boolean {
  const last = freezes.get(scope);
  if (last?.executionId === execution.id) return false;
  if (last && execution.executedAtMs <= last.executedAtMs) {
    throw new CustodianError('E_BREAKGLASS_STALE', `break-glass request ${execution.id} was executed before ${last.executionId}, the last one applied to ${scope}: refusing to apply an older statement`, { breakglassId: execution.id, scope, lastId: last.executionId, lastExecutedAtMs: last.executedAtMs });
  }
  if (!last && freezes.size >= FREEZE_SCOPES_MAX && oldestUnfrozen(freezes) === null) {
    throw new CustodianError('E_BREAKGLASS_FREEZES_FULL', `this signer already keeps ${FREEZE_SCOPES_MAX} frozen scopes`, { max: FREEZE_SCOPES_MAX });
  }
  return true;
}

/** Records `execution` as the last statement on `scope` (checked by `isNewFreeze` first), making room if needed. */
export function recordFreeze(freezes: Map<string, FreezeRecord>, scope: string, execution: BreakglassExecution, frozen: boolean): void {
  if (!freezes.has(scope) && freezes.size >= FREEZE_SCOPES_MAX) {
    const oldest = oldestUnfrozen(freezes);
    if (oldest === null) throw new CustodianError('E_BREAKGLASS_FREEZES_FULL', `this signer already keeps ${FREEZE_SCOPES_MAX} frozen scopes`, { max: FREEZE_SCOPES_MAX });
    freezes.delete(oldest);
  }
  freezes.set(scope, { executionId: execution.id, executedAtMs: execution.executedAtMs, frozen });
}

/** The unfrozen scope applied longest ago (null: every scope kept is frozen). */
function oldestUnfrozen(freezes: ReadonlyMap<string, FreezeRecord>): string | null {
  let oldest: [string, number] | null = null;
  for (const [k, r] of freezes) if (!r.frozen && (oldest === null || r.executedAtMs < oldest[1])) oldest = [k, r.executedAtMs];
  return oldest === null ? null : oldest[0];
}

/** The freezes as sealed state carries them (sorted by scope). */
export function encodeFreezes(freezes: ReadonlyMap<string, FreezeRecord>): Json {
  return [...freezes]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([scope, r]) => ({ scope, executionId: r.executionId, executedAtMs: r.executedAtMs, frozen: r.frozen }));
}

/** Decodes sealed freezes (absent in state sealed before break-glass existed: none). */
export function decodeFreezes(v: Json | undefined): Map<string, FreezeRecord> {
  const out = new Map<string, FreezeRecord>();
  if (v === undefined) return out;
  if (!Array.isArray(v) || v.length > FREEZE_SCOPES_MAX) throw new CustodianError('E_SEALED_STATE_INVALID', 'freezes must be a bounded list');
  for (const x of v) {
    const g = new Fields(x, 'freeze');
    const scope = g.str('scope', 80, SCOPE_KEY_RE);
    const r: FreezeRecord = { executionId: g.str('executionId', 64, EXECUTION_ID_RE), executedAtMs: g.int('executedAtMs'), frozen: g.bool('frozen') };
    g.done();
    if (out.has(scope)) throw new CustodianError('E_SEALED_STATE_INVALID', `freezes name ${scope} twice`);
    out.set(scope, r);
  }
  return out;
}

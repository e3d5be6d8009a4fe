/**
 * `breakglass.apply { execution }`: a break-glass action the key broker
 * executed, applied by this signer (issue 7 item 6). The host relays the
 * broker's signed execution statement; the signer believes it only as a
 * pipeline of checks in order:
 *
 *   decode        shape and bounds (decodeSignedBreakglassExecution)
 *   broker        the broker key this enclave was launched with
 *                 (E_BREAKGLASS_NOT_CONFIGURED without one)
 *   signature     the statement verifies under that key, and the payload
 *                 hashes to the approved `payloadHash` (B33:
 *                 E_BREAKGLASS_EXECUTION_INVALID / E_BREAKGLASS_PAYLOAD_CHANGED)
 *   action        freeze-wallet, freeze-organisation, unfreeze and
 *                 override-policy are applied here; recover-signer by the
 *                 restore path (backup-ops.ts), change-root-quorum and
 *                 upgrade-measurement by manifest.install (manifest-ops.ts);
 *                 others E_BREAKGLASS_ACTION_UNSUPPORTED
 *   payload       its scope decoded for the action; an organisation must be
 *                 the installed one (E_ORG_MISMATCH)
 *   ordering      later than the last statement applied to the scope
 *                 (E_BREAKGLASS_STALE), or that same one (idempotent)
 *
 * then audited (`breakglass.applied`), recorded and sealed before it answers;
 * every refusal is audited as `breakglass.refused`. What a freeze stops is
 * enforced by freeze.ts `checkNotFrozen`; what an override lets through, by
 * policy-override.ts (one request and digest past a policy deny, single use).
 */
import { CustodianError } from '@custodian/core/errors';
import type { Json } from '@custodian/core/canonical-json';
import { Fields } from '@custodian/core/fields';
import {
  decodeFreezePayload, decodeOverridePolicyPayload, decodeSignedBreakglassExecution, verifySignedBreakglassExecution,
  type BreakglassExecution, type FreezePayload, type SignedBreakglassExecution,
} from '@custodian/protocol/breakglass-execution';
import type { RpcPeer } from '@custodian/protocol/frame-rpc';
import type { EnclaveContext } from './enclave-context.js';
import { freezeScopeKey, isNewFreeze, recordFreeze } from './freeze.js';
import { recordOverride } from './policy-override.js';

/** A verified freeze or unfreeze: what it sets, and where. */
interface FreezeChange {
  readonly execution: BreakglassExecution;
  readonly target: FreezePayload;
  readonly scope: string;
  readonly frozen: boolean;
  /** False when this statement is the one already applied to the scope. */
  readonly isNew: boolean;
}

/** `breakglass.apply`: verifies a broker-signed execution and applies a freeze or unfreeze (see the module comment). */
export async function applyBreakglass(ctx: EnclaveContext, body: Json, peer: RpcPeer): Promise<Json> {
  let signed: SignedBreakglassExecution | null = null;
  let change: FreezeChange;
  try {
    const f = new Fields(body, 'breakglass.apply');
    signed = decodeSignedBreakglassExecution(f.raw('execution'));
    f.done();
    if (signed.execution.action === 'override-policy') return await applyOverride(ctx, signed, peer);
    change = verifyFreezeChange(ctx, signed);
  } catch (e) {
    return ctx.refuse(peer, 'breakglass.refused', null, e, signed ? { breakglassId: signed.execution.id, action: signed.execution.action } : {});
  }
  const { execution, target, scope, frozen, isNew } = change;
  const where: Record<string, Json> = target.scope === 'wallet' ? { scope: 'wallet', walletId: target.walletId } : { scope: 'organisation', orgId: target.orgId };
  // Audited before it takes effect (an unfreeze lets signing resume: never unrecorded).
  await ctx.audit(peer, 'breakglass.applied', null, {
    breakglassId: execution.id, action: execution.action, payloadHash: execution.payloadHash, approvals: [...execution.approvals],
    executedAtMs: execution.executedAtMs, ...where, frozen, repeated: !isNew, signerId: ctx.signerId,
  });
  if (isNew) recordFreeze(ctx.state().freezes, scope, execution, frozen);
  await ctx.persist();
  return { breakglassId: execution.id, action: execution.action, ...where, frozen, applied: isNew };
}

/**
 * `override-policy`: verified as any statement (broker, signature, payload
 * hash), its `{ requestId, txDigest }` decoded and recorded (policy-override.ts:
 * idempotent, E_BREAKGLASS_STALE / _OVERRIDE_EXISTS / _OVERRIDES_FULL),
 * audited before it is sealed. Refusals are thrown to the caller, which audits them.
 */
async function applyOverride(ctx: EnclaveContext, signed: SignedBreakglassExecution, peer: RpcPeer): Promise<Json> {
  const execution = verifySignedBreakglassExecution(breakglassBrokerKey(ctx), signed);
  const target = decodeOverridePolicyPayload(signed.payload);
  const overrides = ctx.state().policyOverrides;
  const now = ctx.nowMs();
  const isNew = recordOverride(overrides, execution, target, now, true);
  await ctx.audit(peer, 'breakglass.applied', target.requestId, {
    breakglassId: execution.id, action: execution.action, payloadHash: execution.payloadHash, approvals: [...execution.approvals],
    executedAtMs: execution.executedAtMs, scope: 'request', requestId: target.requestId, txDigest: target.txDigest, repeated: !isNew, signerId: ctx.signerId,
  });
  if (isNew) recordOverride(overrides, execution, target, now, false);
  await ctx.persist();
  return { breakglassId: execution.id, action: execution.action, scope: 'request', requestId: target.requestId, txDigest: target.txDigest, applied: isNew };
}

/** The `kbs-signing` key break-glass executions must verify under: the broker this signer was launched with (E_BREAKGLASS_NOT_CONFIGURED without one). */
export function breakglassBrokerKey(ctx: EnclaveContext): Uint8Array {
  const broker = ctx.keyBroker();
  if (!broker) throw new CustodianError('E_BREAKGLASS_NOT_CONFIGURED', 'this signer was launched without a key broker: it cannot verify break-glass executions', {});
  return broker.publicKey;
}

/** The checks of the pipeline after decoding: broker, signature and payload hash, action, payload, ordering. */
function verifyFreezeChange(ctx: EnclaveContext, signed: SignedBreakglassExecution): FreezeChange {
  const execution = verifySignedBreakglassExecution(breakglassBrokerKey(ctx), signed);
  const { action } = execution;
  if (action !== 'freeze-wallet' && action !== 'freeze-organisation' && action !== 'unfreeze') {
    throw new CustodianError('E_BREAKGLASS_ACTION_UNSUPPORTED', `break-glass action ${action} is not applied by breakglass.apply${action === 'recover-signer' ? ' (a signer is recovered by restoring its backup)' : ' (it authorises a manifest successor: manifest.install)'}`, { breakglassId: execution.id, action });
  }
  const target = decodeFreezePayload(action, signed.payload);
  if (target.scope === 'organisation' && target.orgId !== ctx.manifest().orgId) {
    throw new CustodianError('E_ORG_MISMATCH', `break-glass request ${execution.id} names organisation ${target.orgId}, not this signer's ${ctx.manifest().orgId}`, { breakglassId: execution.id });
  }
  const scope = freezeScopeKey(target);
  return { execution, target, scope, frozen: action !== 'unfreeze', isNew: isNewFreeze(ctx.state().freezes, scope, execution) };
}

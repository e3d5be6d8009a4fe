/**
 * Typed errors of the threshold-ECDSA (DKLs23) layer. Every refusal names the
 * culprit party when one is known (`detail.culprit`, a decimal party id), so
 * the orchestrator can exclude it and the audit log can name it.
 */
import { CustodianError } from '@custodian/core/errors';

/** The closed set of codes this layer throws. */
export type EcdsaErrorCode =
  | 'E_MPC_SHAPE'
  | 'E_MPC_PHASE'
  | 'E_SESSION_MISMATCH'
  | 'E_SESSION_REUSED'
  | 'E_PARTY_ID_INVALID'
  | 'E_PARTY_UNKNOWN'
  | 'E_THRESHOLD_INVALID'
  | 'E_DKG_POK_INVALID'
  | 'E_DKG_SHARE_INVALID'
  | 'E_DKG_PUBLIC_KEY_MISMATCH'
  | 'E_BROADCAST_EQUIVOCATION'
  | 'E_BROADCAST_SIGNATURE_INVALID'
  | 'E_MPC_OT_CHECK_FAILED'
  | 'E_MPC_PROOF_INVALID'
  | 'E_MPC_COMMITMENT_INVALID'
  | 'E_PRESIGNATURE_REUSED'
  | 'E_KEY_FROZEN'
  | 'E_PEER_EXCLUDED'
  | 'E_SIGNATURE_INVALID_TERMINAL';

/** Throws a CustodianError with an ECDSA-layer code. */
export function fail(code: EcdsaErrorCode, message: string, detail: Record<string, unknown> = {}): never {
  throw new CustodianError(code, message, detail);
}

/** Throws a CustodianError that blames `culprit` (a party id). */
export function blame(code: EcdsaErrorCode, culprit: bigint, message: string, detail: Record<string, unknown> = {}): never {
  throw new CustodianError(code, `party ${culprit}: ${message}`, { ...detail, culprit: culprit.toString() });
}

/** The error `e` with `culprit` added when it is a CustodianError that names neither a culprit nor suspects (a peer's malformed message). */
export function withCulprit(e: unknown, culprit: bigint): unknown {
  if (e instanceof CustodianError && e.detail['culprit'] === undefined && e.detail['suspects'] === undefined) {
    return new CustodianError(e.code, `party ${culprit}: ${e.message}`, { ...e.detail, culprit: culprit.toString() });
  }
  return e;
}

/**
 * The audit package's closed set of error codes. Every refusal is a
 * CustodianError carrying one of these codes and structured detail (index,
 * expected, actual) so the CLI and the host can say exactly what failed.
 */
import { CustodianError } from '@custodian/core/errors';

/** Machine-readable reasons the audit package refuses something. */
export type AuditErrorCode =
  | 'E_PROOF_INVALID'
  | 'E_NOTE_MALFORMED'
  | 'E_NOTE_UNVERIFIED'
  | 'E_NOTE_SIGNATURE_INVALID'
  | 'E_KEY_INVALID'
  | 'E_CHECKPOINT_MALFORMED'
  | 'E_CHECKPOINT_ORIGIN'
  | 'E_CHECKPOINT_UNWITNESSED'
  | 'E_CHECKPOINT_ROLLBACK'
  | 'E_CHECKPOINT_FORK'
  | 'E_CHECKPOINT_INCONSISTENT'
  | 'E_ENTRY_INVALID'
  | 'E_ENTRY_TOO_LARGE'
  | 'E_WITNESS_CONFLICT'
  | 'E_AUDIT_CORRUPT'
  | 'E_AUDIT_UNAVAILABLE'
  | 'E_AUDIT_RANGE'
  | 'E_LEAF_MALFORMED'
  | 'E_LEAF_SIGNER_UNKNOWN'
  | 'E_LEAF_SIGNATURE'
  | 'E_LEAF_UNTYPED'
  | 'E_LEAF_MISMATCH'
  | 'E_LEAF_CHAIN'
  | 'E_SIGNER_KEY_MISMATCH'
  | 'E_SIGNERS_MALFORMED';

/** A CustodianError whose code is one of the audit package's codes. */
export type AuditError = CustodianError<AuditErrorCode>;

/** Builds an audit error; use with `throw`. */
export function auditError(code: AuditErrorCode, message: string, detail: Record<string, unknown> = {}): AuditError {
  return new CustodianError(code, message, detail);
}

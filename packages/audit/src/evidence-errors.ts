/**
 * The evidence bundle's error codes. A bundle is refused with one of these
 * or, where a log check already names the failure, with the audit package's
 * own code (E_PROOF_INVALID, E_CHECKPOINT_UNWITNESSED, E_NOTE_*, ...), so
 * the same forgery gets the same code in `audit verify` and `evidence verify`.
 */
import { CustodianError } from '@custodian/core/errors';

/** Machine-readable reasons an evidence bundle is refused or cannot be built. */
export type EvidenceErrorCode =
  | 'E_EVIDENCE_TOO_LARGE'
  | 'E_EVIDENCE_MALFORMED'
  | 'E_EVIDENCE_MANIFEST_MISMATCH'
  | 'E_EVIDENCE_SUBJECT'
  | 'E_EVIDENCE_ATTACHMENT'
  | 'E_EVIDENCE_CONTROLS'
  | 'E_EVIDENCE_UNLINKED'
  | 'E_EVIDENCE_EMPTY';

/** A CustodianError carrying an evidence code. */
export type EvidenceError = CustodianError<EvidenceErrorCode>;

/** Builds an evidence error; use with `throw`. */
export function evidenceError(code: EvidenceErrorCode, message: string, detail: Record<string, unknown> = {}): EvidenceError {
  return new CustodianError(code, message, detail);
}

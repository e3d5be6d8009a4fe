/**
 * The attestation package's one error class. Every refusal names its reason
 * with a code from a closed set; `detail.step` names the pipeline step that
 * refused (decode, bounds, chain, signature, claims, appraisal).
 */
import { CustodianError } from '@custodian/core/errors';

/** Why evidence, a certificate or collateral was refused. */
export type AttestationErrorCode =
  | 'E_ATTEST_FORMAT'
  | 'E_ATTEST_TOO_LARGE'
  | 'E_ATTEST_CHAIN_UNTRUSTED'
  | 'E_ATTEST_CERT_EXPIRED'
  | 'E_ATTEST_SIGNATURE'
  | 'E_ATTEST_REVOKED'
  | 'E_CRL_EXPIRED'
  | 'E_COLLATERAL_INVALID'
  | 'E_COLLATERAL_EXPIRED'
  | 'E_COLLATERAL_MISSING'
  | 'E_ATTEST_DEBUG'
  | 'E_ATTEST_TCB'
  | 'E_ATTEST_PLATFORM_DENIED'
  | 'E_ATTEST_MEASUREMENT'
  | 'E_ATTEST_NONCE'
  | 'E_ATTEST_BINDING'
  | 'E_ATTEST_SIMULATED'
  | 'E_ATTEST_POLICY'
  | 'E_DER_INVALID';

/** A typed attestation failure; only this (or a core CBOR/JSON error inside it) escapes a verifier. */
export class AttestationError extends CustodianError<AttestationErrorCode> {
  override readonly name: string = 'AttestationError';
}

/** Names of the verification pipeline steps, in spec order (STYLE.md). */
export type VerifyStep = 'decode' | 'bounds' | 'chain' | 'signature' | 'claims' | 'appraisal';

/** Throws an AttestationError for `step` with its code, words and detail. */
export function attestFail(code: AttestationErrorCode, step: VerifyStep, message: string, detail: Record<string, unknown> = {}): never {
  throw new AttestationError(code, message, { step, ...detail });
}

/** True when `e` is an AttestationError (optionally with one of `codes`). */
export function isAttestationError(e: unknown, ...codes: AttestationErrorCode[]): e is AttestationError {
  return e instanceof AttestationError && (codes.length === 0 || codes.includes(e.code));
}

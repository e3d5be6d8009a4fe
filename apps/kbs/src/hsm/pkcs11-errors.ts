/**
 * Maps PKCS#11 return values (CKR_*) to Custodian error codes in one place.
 * `transient` errors are worth a bounded retry on a fresh session; the rest
 * are final. Nothing here ever falls back to a software key (THREATS.md F10).
 */
import pkcs11js from 'pkcs11js';
import { CustodianError } from '@custodian/core/errors';
import type { RootErrorCode } from './root-of-trust.js';

/** How the wrapper treats a PKCS#11 failure. */
export type Pkcs11FailureKind = 'transient' | 'ambiguous' | 'policy' | 'login' | 'missing' | 'input' | 'other';

const TRANSIENT = new Set<number>([
  pkcs11js.CKR_DEVICE_ERROR,
  pkcs11js.CKR_DEVICE_REMOVED,
  pkcs11js.CKR_DEVICE_MEMORY,
  pkcs11js.CKR_TOKEN_NOT_PRESENT,
  pkcs11js.CKR_TOKEN_NOT_RECOGNIZED,
  pkcs11js.CKR_SESSION_CLOSED,
  pkcs11js.CKR_SESSION_HANDLE_INVALID,
  pkcs11js.CKR_SESSION_COUNT,
  pkcs11js.CKR_USER_NOT_LOGGED_IN,
  pkcs11js.CKR_CRYPTOKI_NOT_INITIALIZED,
  pkcs11js.CKR_SLOT_ID_INVALID,
  // A handle that vanished: the token was swapped or its objects removed.
  pkcs11js.CKR_OBJECT_HANDLE_INVALID,
  pkcs11js.CKR_KEY_HANDLE_INVALID,
  pkcs11js.CKR_WRAPPING_KEY_HANDLE_INVALID,
  pkcs11js.CKR_UNWRAPPING_KEY_HANDLE_INVALID,
]);

// Modules use these both for a dead device and for bad input (SoftHSM 2.6
// returns CKR_GENERAL_ERROR for a wrapped key that fails its integrity check),
// so the wrapper probes the device to tell the two apart.
const AMBIGUOUS = new Set<number>([pkcs11js.CKR_GENERAL_ERROR, pkcs11js.CKR_FUNCTION_FAILED]);

const POLICY = new Set<number>([
  pkcs11js.CKR_TEMPLATE_INCONSISTENT,
  pkcs11js.CKR_TEMPLATE_INCOMPLETE,
  pkcs11js.CKR_ATTRIBUTE_READ_ONLY,
  pkcs11js.CKR_ATTRIBUTE_SENSITIVE,
  pkcs11js.CKR_ATTRIBUTE_VALUE_INVALID,
  pkcs11js.CKR_KEY_FUNCTION_NOT_PERMITTED,
  pkcs11js.CKR_KEY_NOT_WRAPPABLE,
  pkcs11js.CKR_KEY_UNEXTRACTABLE,
  pkcs11js.CKR_MECHANISM_INVALID,
  pkcs11js.CKR_KEY_TYPE_INCONSISTENT,
]);

const LOGIN = new Set<number>([pkcs11js.CKR_PIN_INCORRECT, pkcs11js.CKR_PIN_LOCKED, pkcs11js.CKR_PIN_EXPIRED, pkcs11js.CKR_PIN_INVALID, pkcs11js.CKR_PIN_LEN_RANGE]);

const INPUT = new Set<number>([
  pkcs11js.CKR_WRAPPED_KEY_INVALID,
  pkcs11js.CKR_WRAPPED_KEY_LEN_RANGE,
  pkcs11js.CKR_ENCRYPTED_DATA_INVALID,
  pkcs11js.CKR_ENCRYPTED_DATA_LEN_RANGE,
  pkcs11js.CKR_MECHANISM_PARAM_INVALID,
]);

/** The CKR_* value carried by a pkcs11js error, or undefined for other throwables. */
export function ckrOf(e: unknown): number | undefined {
  if (e instanceof pkcs11js.Pkcs11Error && typeof e.code === 'number') return e.code;
  // pkcs11js raises some module failures as plain Errors named by their CKR (`CKR_ATTRIBUTE_READ_ONLY:16`).
  const name = e instanceof Error ? /^(CKR_[A-Z0-9_]+)/.exec(e.message)?.[1] : undefined;
  const value = name === undefined ? undefined : (pkcs11js as unknown as Record<string, unknown>)[name];
  return typeof value === 'number' ? value : undefined;
}

/** The CKR_* name of a pkcs11js error (its message starts with it), for detail fields. */
export function ckrNameOf(e: unknown): string {
  if (e instanceof Error) return e.message.split(/[:\s]/)[0] ?? 'unknown';
  return 'unknown';
}

/** Classifies a thrown value from the module. */
export function classifyPkcs11Failure(e: unknown): Pkcs11FailureKind {
  const ckr = ckrOf(e);
  if (ckr === undefined) return 'other';
  if (TRANSIENT.has(ckr)) return 'transient';
  if (AMBIGUOUS.has(ckr)) return 'ambiguous';
  if (POLICY.has(ckr)) return 'policy';
  if (LOGIN.has(ckr)) return 'login';
  if (INPUT.has(ckr)) return 'input';
  return 'other';
}

/** Converts a final (non-retried) module failure into a typed error. */
export function pkcs11ErrorToCustodian(e: unknown, operation: string): CustodianError<RootErrorCode> {
  if (e instanceof CustodianError) return e as CustodianError<RootErrorCode>;
  const kind = classifyPkcs11Failure(e);
  const detail = { operation, ckr: ckrNameOf(e) };
  switch (kind) {
    case 'policy':
      return new CustodianError('E_HSM_POLICY', `the HSM refused ${operation} by its key policy (${detail.ckr})`, detail);
    case 'login':
      return new CustodianError('E_HSM_LOGIN_FAILED', `the HSM refused the login for ${operation}: wrong or locked PIN (${detail.ckr})`, detail);
    case 'input':
      return operation === 'unwrapKey'
        ? new CustodianError('E_HSM_UNWRAP_FAILED', `the wrapped key does not authenticate under the KBS wrapping key (${detail.ckr})`, detail)
        : new CustodianError('E_HSM_OPERATION_FAILED', `the HSM rejected the input to ${operation} (${detail.ckr})`, detail);
    case 'missing':
    case 'transient':
    case 'ambiguous':
      return new CustodianError('E_HSM_UNAVAILABLE', `the HSM is unavailable for ${operation} (${detail.ckr})`, detail);
    case 'other':
      return new CustodianError('E_HSM_OPERATION_FAILED', `the HSM failed ${operation} (${detail.ckr})`, detail);
  }
}

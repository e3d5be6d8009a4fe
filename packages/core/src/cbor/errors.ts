/** The closed set of error codes the CBOR codec raises, all as CustodianError. */
import { CustodianError } from '../errors.js';

/** Why a CBOR document was refused. */
export type CborErrorCode =
  | 'E_CBOR_TOO_LARGE'
  | 'E_CBOR_LENGTH'
  | 'E_CBOR_DEPTH_EXCEEDED'
  | 'E_CBOR_DUPLICATE_KEY'
  | 'E_CBOR_NONCANONICAL'
  | 'E_CBOR_TRAILING'
  | 'E_CBOR_INVALID';

/** Every CBOR error code, for tests and exhaustive checks. */
export const CBOR_ERROR_CODES: readonly CborErrorCode[] = [
  'E_CBOR_TOO_LARGE',
  'E_CBOR_LENGTH',
  'E_CBOR_DEPTH_EXCEEDED',
  'E_CBOR_DUPLICATE_KEY',
  'E_CBOR_NONCANONICAL',
  'E_CBOR_TRAILING',
  'E_CBOR_INVALID',
];

/** Throws a CBOR error with its code, words and structured detail. */
export function cborFail(code: CborErrorCode, message: string, detail: Record<string, unknown> = {}): never {
  throw new CustodianError(code, message, detail);
}

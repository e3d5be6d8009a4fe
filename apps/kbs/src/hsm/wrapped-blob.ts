/**
 * The byte formats around root operations: the wrapped-key blob (which names
 * the wrapping key it was made under, so a blob from another key is refused
 * before it reaches the HSM), P-256 points and signatures.
 *
 * Wrapped blob: `WRAPPED_BLOB_VERSION` (1 byte) ‖ wrapping key id (16 bytes,
 * the key's CKA_ID) ‖ RFC 5649 ciphertext.
 */
import { CustodianError } from '@custodian/core/errors';
import { bytesToHex, concatBytes, equalBytes } from '@custodian/core/bytes';
import { P256_POINT_BYTES, P256_SIGNATURE_BYTES, WRAPPED_BYTES_MAX, WRAP_INPUT_BYTES_MAX, WRAP_INPUT_BYTES_MIN } from './root-of-trust.js';

/** Version byte of the wrapped-key blob. */
export const WRAPPED_BLOB_VERSION = 1;
/** Length of a root key's identifier (its CKA_ID). */
export const KEY_ID_BYTES = 16;
/** RFC 5649 output: a multiple of 8, at least 16 bytes. */
const RFC5649_MIN_BYTES = 16;

/** Frames an RFC 5649 ciphertext with the version and the wrapping key's id. */
export function encodeWrappedBlob(keyId: Uint8Array, ciphertext: Uint8Array): Uint8Array {
  return concatBytes(Uint8Array.of(WRAPPED_BLOB_VERSION), keyId, ciphertext);
}

/**
 * Checks a wrapped blob's frame and that it names `trustedKeyId`; returns the
 * ciphertext. A blob made under any other key is E_HSM_POLICY (B35: unwrap
 * only with the trusted wrapping key).
 */
export function decodeWrappedBlob(blob: Uint8Array, trustedKeyId: Uint8Array): Uint8Array {
  if (!(blob instanceof Uint8Array) || blob.length > 1 + KEY_ID_BYTES + WRAPPED_BYTES_MAX || blob.length < 1 + KEY_ID_BYTES + RFC5649_MIN_BYTES) {
    throw new CustodianError('E_HSM_UNWRAP_FAILED', 'the wrapped key has an impossible length', { length: blob instanceof Uint8Array ? blob.length : -1 });
  }
  if (blob[0] !== WRAPPED_BLOB_VERSION) throw new CustodianError('E_HSM_UNWRAP_FAILED', `unknown wrapped-key version ${String(blob[0])}`, {});
  const keyId = blob.subarray(1, 1 + KEY_ID_BYTES);
  if (!equalBytes(keyId, trustedKeyId)) {
    throw new CustodianError('E_HSM_POLICY', 'the key was wrapped under a key this root does not trust', { wrappedUnder: bytesToHex(keyId), trusted: bytesToHex(trustedKeyId) });
  }
  const body = blob.subarray(1 + KEY_ID_BYTES);
  if (body.length % 8 !== 0) throw new CustodianError('E_HSM_UNWRAP_FAILED', 'the wrapped key is not a whole number of 8-byte blocks (RFC 5649)', {});
  return body;
}

/** Bounds the key material given to `wrapKey`. */
export function checkWrapInput(bytes: Uint8Array): void {
  if (!(bytes instanceof Uint8Array) || bytes.length < WRAP_INPUT_BYTES_MIN || bytes.length > WRAP_INPUT_BYTES_MAX) {
    throw new CustodianError('E_HSM_OPERATION_FAILED', `key material to wrap must be ${WRAP_INPUT_BYTES_MIN}..${WRAP_INPUT_BYTES_MAX} bytes`, {});
  }
}

/**
 * Accepts an uncompressed P-256 point, raw (65 bytes) or as the DER OCTET
 * STRING that CKA_EC_POINT holds (PKCS#11 v2.40 §2.3.3); returns the raw form.
 */
export function parseP256Point(bytes: Uint8Array): Uint8Array {
  let p = bytes;
  if (p.length === P256_POINT_BYTES + 2 && p[0] === 0x04 && p[1] === P256_POINT_BYTES) p = p.subarray(2);
  if (p.length !== P256_POINT_BYTES || p[0] !== 0x04) {
    throw new CustodianError('E_HSM_OPERATION_FAILED', 'expected an uncompressed P-256 point (65 bytes starting 0x04)', { length: bytes.length });
  }
  return new Uint8Array(p);
}

/** PKCS#11 CKM_ECDSA returns r‖s already (P1363); this checks the length. */
export function ecdsaSignatureToP1363Checked(sig: Uint8Array): Uint8Array {
  if (sig.length !== P256_SIGNATURE_BYTES) throw new CustodianError('E_HSM_OPERATION_FAILED', `the HSM returned a ${sig.length}-byte signature, expected ${P256_SIGNATURE_BYTES}`, {});
  return sig;
}

/**
 * What an enclave's attestation report data binds: its identity public key
 * and a verifier-chosen nonce, H(domain ‖ len ‖ key ‖ len ‖ nonce) with
 * SHA-512 (64 bytes, the report-data size of SEV-SNP and TDX). Length
 * prefixes keep the encoding injective.
 */
import { sha512 } from '@noble/hashes/sha2.js';
import { concatBytes, utf8 } from '@custodian/core/bytes';

/** Domain tag of identity bindings. */
export const IDENTITY_BINDING_DOMAIN = utf8('custodian/enclave-identity/v1');

function lp(b: Uint8Array): Uint8Array {
  const n = new Uint8Array(4);
  new DataView(n.buffer).setUint32(0, b.length);
  return concatBytes(n, b);
}

/** The 64-byte report data binding `identityKey` and `nonce`. */
export function identityReportData(identityKey: Uint8Array, nonce: Uint8Array): Uint8Array {
  return sha512(concatBytes(lp(IDENTITY_BINDING_DOMAIN), lp(identityKey), lp(nonce)));
}

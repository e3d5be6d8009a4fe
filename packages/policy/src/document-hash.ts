/** Version hashes of the governed documents a decision used (issue 5 §6). */
import { sha256 } from '@noble/hashes/sha2.js';
import { canonicalJsonBytes } from '@custodian/core/canonical-json';

/** Hex SHA-256 of the canonical JSON encoding of `value`. */
export function documentHash(value: unknown): string {
  return Buffer.from(sha256(canonicalJsonBytes(value))).toString('hex');
}

/** Hex SHA-256 of raw bytes. */
export function bytesHash(bytes: Uint8Array): string {
  return Buffer.from(sha256(bytes)).toString('hex');
}

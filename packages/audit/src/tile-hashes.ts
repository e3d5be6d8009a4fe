/**
 * Helpers shared by the tile writer, reader and verifier: hash tiles as byte
 * strings of concatenated 32-byte hashes, and the perfect-subtree root of a
 * run of 2^k hashes.
 */
import { auditError } from './errors.js';
import { hashChildren } from './hash.js';
import { HASH_BYTES, TILE_WIDTH } from './limits.js';

/** Concatenates hashes into tile bytes. */
export function encodeHashTile(hashes: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(hashes.length * HASH_BYTES);
  hashes.forEach((h, i) => out.set(h, i * HASH_BYTES));
  return out;
}

/** Splits tile bytes into exactly `width` hashes; E_AUDIT_CORRUPT when the size is wrong (a truncated tile). */
export function decodeHashTile(bytes: Uint8Array, width: number, path: string): Uint8Array[] {
  if (width < 1 || width > TILE_WIDTH || bytes.length !== width * HASH_BYTES) {
    throw auditError('E_AUDIT_CORRUPT', `${path} holds ${bytes.length} bytes; ${width * HASH_BYTES} expected`, { path, size: bytes.length, expected: width * HASH_BYTES });
  }
  return Array.from({ length: width }, (_, i) => bytes.subarray(i * HASH_BYTES, (i + 1) * HASH_BYTES));
}

/** RFC 6962 root of a perfect subtree given its 2^k bottom hashes, in order. */
export function perfectRoot(hashes: readonly Uint8Array[]): Uint8Array {
  let row = [...hashes];
  while (row.length > 1) {
    const next: Uint8Array[] = [];
    for (let i = 0; i < row.length; i += 2) next.push(hashChildren(row[i]!, row[i + 1]!));
    row = next;
  }
  const root = row[0];
  if (root === undefined) throw auditError('E_AUDIT_RANGE', 'perfect root of no hashes');
  return root;
}

/**
 * C2SP tlog-tiles entry bundles: each entry as a big-endian uint16 length
 * followed by its bytes, at most 256 entries per bundle.
 */
import { auditError } from './errors.js';
import { ENTRY_BYTES_MAX, TILE_WIDTH } from './limits.js';

/** Encodes up to 256 entries as one bundle. */
export function encodeEntryBundle(entries: readonly Uint8Array[]): Uint8Array {
  if (entries.length === 0 || entries.length > TILE_WIDTH) throw auditError('E_AUDIT_RANGE', 'an entry bundle holds 1 to 256 entries');
  const out = new Uint8Array(entries.reduce((n, e) => n + 2 + e.length, 0));
  let off = 0;
  for (const e of entries) {
    if (e.length > ENTRY_BYTES_MAX) throw auditError('E_ENTRY_TOO_LARGE', `entry of ${e.length} bytes exceeds ${ENTRY_BYTES_MAX}`);
    out[off] = e.length >>> 8;
    out[off + 1] = e.length & 0xff;
    out.set(e, off + 2);
    off += 2 + e.length;
  }
  return out;
}

/**
 * Decodes a bundle that must hold exactly `count` entries and nothing more;
 * a truncated or padded bundle is E_AUDIT_CORRUPT naming the bad entry.
 */
export function decodeEntryBundle(bytes: Uint8Array, count: number, firstIndex: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  let off = 0;
  while (out.length < count) {
    const index = firstIndex + out.length;
    if (off + 2 > bytes.length) throw auditError('E_AUDIT_CORRUPT', `entry bundle is truncated before entry ${index}`, { index });
    const len = (bytes[off]! << 8) | bytes[off + 1]!;
    if (off + 2 + len > bytes.length) throw auditError('E_AUDIT_CORRUPT', `entry bundle is truncated inside entry ${index}`, { index });
    out.push(bytes.subarray(off + 2, off + 2 + len));
    off += 2 + len;
  }
  if (off !== bytes.length) throw auditError('E_AUDIT_CORRUPT', `entry bundle holds data after entry ${firstIndex + count - 1}`, { index: firstIndex + count });
  return out;
}

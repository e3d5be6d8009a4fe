/**
 * Injective transcript encoding (B27, TSSHOCK α-shuffle): every hashed tuple
 * is encoded as a domain label followed by parts, each prefixed with its
 * 4-byte big-endian length, so two different tuples never encode equally.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { shake256 } from '@noble/hashes/sha3.js';
import { utf8 } from '@custodian/core/bytes';
import { assert } from '@custodian/core/errors';

/** Largest part the encoder accepts (4-byte length prefix). */
const PART_BYTES_MAX = 0xffff_ffff;

/** Encodes `parts` as `len(p0) ‖ p0 ‖ len(p1) ‖ p1 ‖ …` (4-byte big-endian lengths). */
export function encodeParts(parts: readonly Uint8Array[]): Uint8Array {
  let size = 0;
  for (const p of parts) size += 4 + p.length;
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  let off = 0;
  for (const p of parts) {
    assert(p.length <= PART_BYTES_MAX, 'transcript part too long');
    view.setUint32(off, p.length);
    out.set(p, off + 4);
    off += 4 + p.length;
  }
  return out;
}

/** Decodes what `encodeParts` produced; undefined when `bytes` is not such an encoding. */
export function decodeParts(bytes: Uint8Array): Uint8Array[] | undefined {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const parts: Uint8Array[] = [];
  let off = 0;
  while (off < bytes.length) {
    if (off + 4 > bytes.length) return undefined;
    const len = view.getUint32(off);
    if (off + 4 + len > bytes.length) return undefined;
    parts.push(bytes.slice(off + 4, off + 4 + len));
    off += 4 + len;
  }
  return parts;
}

/** SHA-256 of the injective encoding of (domain, ...parts). */
export function hashTranscript(domain: string, ...parts: Uint8Array[]): Uint8Array {
  return sha256(encodeParts([utf8(domain), ...parts]));
}

/** SHAKE256 output of `bytes` length over the injective encoding of (domain, ...parts). */
export function expandTranscript(bytes: number, domain: string, ...parts: Uint8Array[]): Uint8Array {
  return shake256(encodeParts([utf8(domain), ...parts]), { dkLen: bytes });
}

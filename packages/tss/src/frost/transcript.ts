/**
 * Injective (length-prefixed) hashing of protocol messages for echo
 * broadcast (THREATS.md B27/F05): two different messages never hash the same
 * input bytes.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, concatBytes, utf8 } from '@custodian/core/bytes';

/** Domain-separation prefix of every transcript hash. */
export const TRANSCRIPT_DOMAIN = 'custodian/frost/transcript/v1';

/** SHA-256 over the length-prefixed fields, hex; fields are strings, numbers or bytes. */
export function transcriptDigest(label: string, fields: readonly (string | number | Uint8Array | readonly Uint8Array[])[]): string {
  const parts: Uint8Array[] = [frame(utf8(TRANSCRIPT_DOMAIN)), frame(utf8(label))];
  for (const f of fields) {
    if (typeof f === 'string') parts.push(Uint8Array.of(1), frame(utf8(f)));
    else if (typeof f === 'number') parts.push(Uint8Array.of(2), frame(utf8(String(f))));
    else if (f instanceof Uint8Array) parts.push(Uint8Array.of(3), frame(f));
    else {
      parts.push(Uint8Array.of(4), u32(f.length));
      for (const b of f) parts.push(frame(b));
    }
  }
  return bytesToHex(sha256(concatBytes(...parts)));
}

function frame(b: Uint8Array): Uint8Array {
  return concatBytes(u32(b.length), b);
}

function u32(n: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, n);
  return out;
}

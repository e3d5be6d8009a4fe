/**
 * Injective transcript encoding (B27, TSSHOCK α-shuffle): every hashed tuple
 * is encoded as a domain label followed by parts, each prefixed with its
 * 4-byte big-endian length, so two different tuples never encode equally.
 *
 * The hashes (SHA-256, SHAKE128, SHAKE256) are Node's native ones (OpenSSL
 * through node:crypto): the same functions as @noble/hashes, byte for byte
 * (transcript.test.ts checks it), 10–80× faster on the OT layer's inputs
 * (docs/decisions/ecdsa-ot.md, "Implementation choices for speed"). Parts are
 * fed one by one, never concatenated.
 */
import { createHash, type Hash } from 'node:crypto';
import { utf8 } from '@custodian/core/bytes';
import { assert } from '@custodian/core/errors';
import { writeScalar } from './group.js';

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

const labels = new Map<string, Uint8Array>();

/** The UTF-8 bytes of a domain label (labels are a small fixed set of constants). */
function label(domain: string): Uint8Array {
  let b = labels.get(domain);
  if (b === undefined) {
    b = utf8(domain);
    if (labels.size < 256) labels.set(domain, b);
  }
  return b;
}

/** Feeds `len(p) ‖ p` for every part into `h` (the streamed form of encodeParts). */
function feed(h: Hash, parts: readonly Uint8Array[]): Hash {
  const len = new Uint8Array(4);
  const view = new DataView(len.buffer);
  for (const p of parts) {
    assert(p.length <= PART_BYTES_MAX, 'transcript part too long');
    view.setUint32(0, p.length);
    h.update(len);
    h.update(p);
  }
  return h;
}

/** A plain Uint8Array copy of a digest (never a view into Node's buffer pool). */
function out(h: Hash): Uint8Array {
  return new Uint8Array(h.digest());
}

/** SHA-256 of the injective encoding of (domain, ...parts). */
export function hashTranscript(domain: string, ...parts: Uint8Array[]): Uint8Array {
  return out(feed(feed(createHash('sha256'), [label(domain)]), parts));
}

/** SHAKE256 output of `bytes` length over the injective encoding of (domain, ...parts). */
export function expandTranscript(bytes: number, domain: string, ...parts: Uint8Array[]): Uint8Array {
  return out(feed(feed(createHash('shake256', { outputLength: bytes }), [label(domain)]), parts));
}

/**
 * hashTranscript(domain, ...parts, ...scalars as 32-byte big-endian parts),
 * with the scalars' encoding written into one buffer (the same bytes, one
 * update instead of two per scalar).
 */
export function hashTranscriptScalars(domain: string, parts: readonly Uint8Array[], scalars: readonly bigint[]): Uint8Array {
  const encoded = new Uint8Array(scalars.length * 36);
  const view = new DataView(encoded.buffer);
  for (let i = 0; i < scalars.length; i++) {
    view.setUint32(36 * i, 32);
    writeScalar(encoded, 36 * i + 4, scalars[i]!);
  }
  return out(feed(createHash('sha256'), [label(domain), ...parts]).update(encoded));
}

/**
 * A SHAKE128 state over the encoding of a fixed prefix of parts; `expand`
 * appends the remaining parts to a copy of it, so a prefix shared by many
 * hashes (a row hash's label and context) is absorbed once.
 */
export class Shake128Prefix {
  readonly #state: Hash;
  readonly #bytes: number;

  constructor(bytes: number, prefix: readonly Uint8Array[]) {
    this.#bytes = bytes;
    this.#state = feed(createHash('shake128', { outputLength: bytes }), prefix);
  }

  /** SHAKE128(encodeParts([...prefix, ...parts])) of the constructor's length. */
  expand(...parts: Uint8Array[]): Uint8Array {
    return out(feed(this.#state.copy({ outputLength: this.#bytes }), parts));
  }

  /**
   * The same for two parts, a u32 index and `part`, encoded into one buffer
   * (one update). The result is only read by the caller (it may be a Buffer).
   */
  expandIndexed(index: number, part: Uint8Array): Uint8Array {
    const encoded = new Uint8Array(12 + part.length);
    const view = new DataView(encoded.buffer);
    view.setUint32(0, 4);
    view.setUint32(4, index);
    view.setUint32(8, part.length);
    encoded.set(part, 12);
    return this.#state.copy({ outputLength: this.#bytes }).update(encoded).digest();
  }
}

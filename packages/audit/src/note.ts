/**
 * C2SP signed-note (c2sp.org/signed-note): a UTF-8 text ending in a newline,
 * a blank line, then signature lines `— <name> base64(keyID[4] || sig)`.
 * This module decodes and encodes the structure and opens a note against a
 * set of known verifiers; the key types live in ed25519-note-key.ts.
 */
import { auditError } from './errors.js';
import { decodeBase64Strict, encodeBase64 } from './base64.js';
import { NOTE_BYTES_MAX, NOTE_NAME_CHARS_MAX, NOTE_SIGNATURES_MAX } from './limits.js';

/** signed-note: each signature line starts with U+2014 EM DASH and a space. */
export const NOTE_SIGNATURE_PREFIX = '\u2014 ';

/** One signature line of a note, not yet verified. */
export interface NoteSignature {
  /** The key name (a schema-less URL by convention). */
  readonly name: string;
  /** The 32-bit key ID, big-endian, from the first 4 signature bytes. */
  readonly keyId: number;
  /** The signature bytes after the key ID. */
  readonly signature: Uint8Array;
}

/** A structurally valid signed note whose signatures are not yet checked. */
export interface SignedNoteUnverified {
  /** The note text, ending in a newline (what signers sign). */
  readonly text: string;
  /** Signature lines in their order. */
  readonly signatures: readonly NoteSignature[];
}

/** What a verifier reports for a good signature. */
export interface VerifiedSignature {
  readonly name: string;
  readonly keyId: number;
  /** cosignature/v1 timestamp (seconds since the epoch), or null for plain note signatures. */
  readonly timestamp: number | null;
}

/** A public key that can check note signatures of one (name, key ID). */
export interface NoteVerifier {
  readonly name: string;
  readonly keyId: number;
  /** True when `signature` (without key ID) is valid over the note `text`. */
  verify(text: Uint8Array, signature: Uint8Array): VerifiedSignature | null;
}

/** A key that produces note signatures (an enclave's attested key, a witness key). */
export interface NoteSigner {
  readonly name: string;
  readonly keyId: number;
  /** The signature bytes (without key ID) over the note text. */
  sign(text: Uint8Array): Promise<Uint8Array>;
}

/** signed-note: a key name is non-empty, has no Unicode white space and no "+". */
export function isValidKeyName(name: string): boolean {
  return name.length > 0 && name.length <= NOTE_NAME_CHARS_MAX && !/[\s+]/u.test(name) && !hasControl(name);
}

// eslint-disable-next-line no-control-regex -- signed-note: no ASCII control characters except newline
const CONTROL_RE = /[\u0000-\u0009\u000b-\u001f\u007f]/;
function hasControl(s: string): boolean {
  return CONTROL_RE.test(s);
}

/** The one decoder of note bytes: structure only (size, UTF-8, text, signature lines). */
export function decodeNoteUnverified(bytes: Uint8Array): SignedNoteUnverified {
  if (bytes.length > NOTE_BYTES_MAX) throw auditError('E_NOTE_MALFORMED', `note of ${bytes.length} bytes exceeds ${NOTE_BYTES_MAX}`, { size: bytes.length });
  let msg: string;
  try {
    msg = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw auditError('E_NOTE_MALFORMED', 'note is not valid UTF-8');
  }
  if (hasControl(msg)) throw auditError('E_NOTE_MALFORMED', 'note contains control characters');
  const split = msg.lastIndexOf('\n\n');
  if (split < 0) throw auditError('E_NOTE_MALFORMED', 'note has no signature block');
  const text = msg.slice(0, split + 1);
  const block = msg.slice(split + 2);
  if (block.length === 0 || !block.endsWith('\n')) throw auditError('E_NOTE_MALFORMED', 'note signature block is empty or unterminated');
  const lines = block.slice(0, -1).split('\n');
  if (lines.length > NOTE_SIGNATURES_MAX) throw auditError('E_NOTE_MALFORMED', `note has more than ${NOTE_SIGNATURES_MAX} signatures`);
  return Object.freeze({ text, signatures: Object.freeze(lines.map(decodeSignatureLine)) });
}

function decodeSignatureLine(line: string, i: number): NoteSignature {
  if (!line.startsWith(NOTE_SIGNATURE_PREFIX)) throw auditError('E_NOTE_MALFORMED', `note signature line ${i} does not start with "— "`, { line: i });
  const rest = line.slice(NOTE_SIGNATURE_PREFIX.length);
  const sp = rest.indexOf(' ');
  const name = sp < 0 ? '' : rest.slice(0, sp);
  if (!isValidKeyName(name)) throw auditError('E_NOTE_MALFORMED', `note signature line ${i} has an invalid key name`, { line: i });
  const sig = decodeBase64Strict(rest.slice(sp + 1), 'E_NOTE_MALFORMED', `note signature ${i}`);
  if (sig.length < 5) throw auditError('E_NOTE_MALFORMED', `note signature line ${i} is too short`, { line: i });
  const keyId = new DataView(sig.buffer, sig.byteOffset, 4).getUint32(0, false);
  return Object.freeze({ name, keyId, signature: sig.slice(4) });
}

/** Encodes a note: its text (checked) and signature lines. */
export function encodeNote(text: string, signatures: readonly NoteSignature[]): Uint8Array {
  checkNoteText(text);
  if (signatures.length === 0 || signatures.length > NOTE_SIGNATURES_MAX) throw auditError('E_NOTE_MALFORMED', 'a note needs between 1 and 100 signatures');
  return new TextEncoder().encode(text + '\n' + signatures.map(formatSignatureLine).join(''));
}

/** One `— name base64(keyID || sig)\n` line. */
export function formatSignatureLine(s: NoteSignature): string {
  if (!isValidKeyName(s.name)) throw auditError('E_NOTE_MALFORMED', 'invalid key name');
  const buf = new Uint8Array(4 + s.signature.length);
  new DataView(buf.buffer).setUint32(0, s.keyId >>> 0, false);
  buf.set(s.signature, 4);
  return `${NOTE_SIGNATURE_PREFIX}${s.name} ${encodeBase64(buf)}\n`;
}

/** signed-note text rules: non-empty, ends in a newline, no blank last line, no control characters. */
export function checkNoteText(text: string): void {
  if (text.length === 0 || !text.endsWith('\n') || text.endsWith('\n\n') || text.startsWith('\n') || hasControl(text)) {
    throw auditError('E_NOTE_MALFORMED', 'note text must be non-empty lines ending in a newline');
  }
}

/** Signs `text` with each signer and returns the encoded note. */
export async function signNote(text: string, signers: readonly NoteSigner[]): Promise<Uint8Array> {
  checkNoteText(text);
  const msg = new TextEncoder().encode(text);
  const sigs: NoteSignature[] = [];
  for (const s of signers) sigs.push({ name: s.name, keyId: s.keyId, signature: await s.sign(msg) });
  return encodeNote(text, sigs);
}

/** Appends signature lines (e.g. cosignatures) to an encoded note, dropping exact duplicates. */
export function addNoteSignatures(note: Uint8Array, extra: readonly NoteSignature[]): Uint8Array {
  const n = decodeNoteUnverified(note);
  const all = [...n.signatures];
  for (const s of extra) if (!all.some((x) => x.name === s.name && x.keyId === s.keyId)) all.push(s);
  return encodeNote(n.text, all);
}

/** A note with the signatures that known verifiers accepted. */
export interface OpenedNote {
  readonly text: string;
  readonly verified: readonly VerifiedSignature[];
  /** Signature lines from keys the caller does not know (ignored, as the spec says). */
  readonly unknown: readonly NoteSignature[];
}

/**
 * Opens a note the way golang.org/x/mod/sumdb/note does: a signature from a
 * known (name, key ID) that does not verify is an error (never skipped);
 * repeated signatures by one key count once; unknown keys are ignored; at
 * least one known signature must verify (else E_NOTE_UNVERIFIED).
 */
export function openNote(bytes: Uint8Array, verifiers: readonly NoteVerifier[]): OpenedNote {
  const note = decodeNoteUnverified(bytes);
  const msg = new TextEncoder().encode(note.text);
  const verified: VerifiedSignature[] = [];
  const unknown: NoteSignature[] = [];
  const seen = new Set<string>();
  for (const s of note.signatures) {
    const v = verifiers.find((x) => x.name === s.name && x.keyId === s.keyId);
    if (v === undefined) {
      unknown.push(s);
      continue;
    }
    const key = `${s.name}+${s.keyId}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const ok = v.verify(msg, s.signature);
    if (ok === null) throw auditError('E_NOTE_SIGNATURE_INVALID', `signature by ${s.name} does not verify`, { name: s.name, keyId: s.keyId });
    verified.push(ok);
  }
  if (verified.length === 0) throw auditError('E_NOTE_UNVERIFIED', 'note carries no signature from a known key', { names: note.signatures.map((s) => s.name) });
  return Object.freeze({ text: note.text, verified: Object.freeze(verified), unknown: Object.freeze(unknown) });
}

/**
 * C2SP tlog-checkpoint (c2sp.org/tlog-checkpoint): the note text
 * `<origin>\n<size>\n<base64 root>\n[extension lines]` that a log signs.
 */
import { auditError } from './errors.js';
import { decodeBase64Strict, encodeBase64 } from './base64.js';
import { CHECKPOINT_EXTENSIONS_MAX, HASH_BYTES, NOTE_NAME_CHARS_MAX, TREE_SIZE_MAX } from './limits.js';

/** A checkpoint body: one view of the log. */
export interface Checkpoint {
  /** Unique log identity (a schema-less URL by convention). */
  readonly origin: string;
  /** Number of entries in the tree. */
  readonly size: number;
  /** RFC 6962 root of the tree of `size` entries. */
  readonly rootHash: Uint8Array;
  /** Optional extension lines (opaque; cosigners make no statement about them). */
  readonly extensions: readonly string[];
}

const SIZE_RE = /^(0|[1-9][0-9]{0,15})$/;

/** Encodes the checkpoint note text. */
export function encodeCheckpoint(cp: Checkpoint): string {
  if (!validLine(cp.origin) || cp.origin.length > NOTE_NAME_CHARS_MAX) throw auditError('E_CHECKPOINT_MALFORMED', 'checkpoint origin must be one non-empty line');
  if (!Number.isSafeInteger(cp.size) || cp.size < 0 || cp.size > TREE_SIZE_MAX) throw auditError('E_CHECKPOINT_MALFORMED', 'checkpoint size out of range');
  if (cp.rootHash.length !== HASH_BYTES) throw auditError('E_CHECKPOINT_MALFORMED', 'checkpoint root must be 32 bytes');
  if (cp.extensions.length > CHECKPOINT_EXTENSIONS_MAX || !cp.extensions.every(validLine)) throw auditError('E_CHECKPOINT_MALFORMED', 'checkpoint extension lines must be non-empty lines');
  return [cp.origin, String(cp.size), encodeBase64(cp.rootHash), ...cp.extensions].join('\n') + '\n';
}

/** The one decoder of checkpoint note text (already taken out of a signed note). */
export function decodeCheckpoint(text: string): Checkpoint {
  if (!text.endsWith('\n')) throw auditError('E_CHECKPOINT_MALFORMED', 'checkpoint must end in a newline');
  const lines = text.slice(0, -1).split('\n');
  if (lines.length < 3 || lines.length > 3 + CHECKPOINT_EXTENSIONS_MAX) throw auditError('E_CHECKPOINT_MALFORMED', 'checkpoint must have 3 lines plus at most 16 extension lines');
  const [origin, sizeLine, rootLine, ...extensions] = lines as [string, string, string, ...string[]];
  if (!validLine(origin) || origin.length > NOTE_NAME_CHARS_MAX) throw auditError('E_CHECKPOINT_MALFORMED', 'checkpoint origin line is empty or too long');
  if (!SIZE_RE.test(sizeLine) || Number(sizeLine) > TREE_SIZE_MAX) throw auditError('E_CHECKPOINT_MALFORMED', 'checkpoint size must be a decimal without leading zeros', { size: sizeLine.slice(0, 24) });
  const rootHash = decodeBase64Strict(rootLine, 'E_CHECKPOINT_MALFORMED', 'checkpoint root hash');
  if (rootHash.length !== HASH_BYTES) throw auditError('E_CHECKPOINT_MALFORMED', 'checkpoint root hash must be 32 bytes');
  if (!extensions.every(validLine)) throw auditError('E_CHECKPOINT_MALFORMED', 'checkpoint extension lines must be non-empty');
  return Object.freeze({ origin, size: Number(sizeLine), rootHash, extensions: Object.freeze(extensions) });
}

function validLine(s: string): boolean {
  return s.length > 0 && !s.includes('\n');
}

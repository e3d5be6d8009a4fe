/**
 * When a checkpoint counts: signed by a known log key, for the expected
 * origin, and cosigned (C2SP tlog-cosignature) by at least k of the m
 * configured witnesses — the signer enclaves and independent witnesses. A
 * checkpoint with fewer cosignatures is refused with E_CHECKPOINT_UNWITNESSED
 * (THREATS.md F13, B34), because one log signature alone cannot rule out a
 * split view.
 */
import { canonicalJsonBytes, parseJson } from '@custodian/core/canonical-json';
import { Fields } from '@custodian/core/fields';
import { isCustodianError } from '@custodian/core/errors';
import { auditError } from './errors.js';
import { decodeCheckpoint, type Checkpoint } from './checkpoint.js';
import { decodeVerifierKey, noteVerifierFromKey, NOTE_KEY_TYPE_COSIGNATURE_V1, NOTE_KEY_TYPE_ED25519 } from './ed25519-note-key.js';
import { openNote, type NoteVerifier, type VerifiedSignature } from './note.js';
import { NOTE_NAME_CHARS_MAX, POLICY_KEYS_MAX } from './limits.js';

/**
 * File name of a policy document kept beside a log directory. It is a
 * convenience, not a trust anchor: whoever controls the directory controls
 * it, so auditors should pass the keys themselves (the CLI says which it used).
 */
export const LOG_POLICY_FILE_NAME = 'custodian-log-policy.json';

/** Who must sign and cosign a checkpoint for it to count. */
export interface CheckpointPolicy {
  /** The log's origin line. */
  readonly origin: string;
  /** Keys allowed to sign checkpoints as the log (one valid signature needed). */
  readonly logKeys: readonly NoteVerifier[];
  /** Cosigners (enclaves, witnesses); each counts at most once. */
  readonly witnesses: readonly NoteVerifier[];
  /** k: how many distinct witnesses must cosign. */
  readonly witnessQuorum: number;
}

/** A checkpoint that passed its policy. */
export interface VerifiedCheckpoint {
  readonly checkpoint: Checkpoint;
  /** The note bytes as received (evidence). */
  readonly note: Uint8Array;
  readonly logSignatures: readonly VerifiedSignature[];
  readonly cosignatures: readonly VerifiedSignature[];
}

/** Builds a policy from vkey strings (log keys type 0x01, witness keys type 0x04). */
export function checkpointPolicyFromKeys(origin: string, logKeys: readonly string[], witnessKeys: readonly string[], witnessQuorum: number): CheckpointPolicy {
  const logs = logKeys.map(decodeVerifierKey);
  const wits = witnessKeys.map(decodeVerifierKey);
  if (logs.some((k) => k.type !== NOTE_KEY_TYPE_ED25519)) throw auditError('E_KEY_INVALID', 'log keys must be Ed25519 note keys (type 0x01)');
  if (wits.some((k) => k.type !== NOTE_KEY_TYPE_COSIGNATURE_V1)) throw auditError('E_KEY_INVALID', 'witness keys must be cosignature/v1 keys (type 0x04)');
  const policy = { origin, logKeys: logs.map((k) => noteVerifierFromKey(k)), witnesses: wits.map((k) => noteVerifierFromKey(k)), witnessQuorum };
  checkPolicy(policy);
  return Object.freeze(policy);
}

function checkPolicy(p: CheckpointPolicy): void {
  if (p.origin.length === 0 || p.origin.length > NOTE_NAME_CHARS_MAX || p.origin.includes('\n')) throw auditError('E_KEY_INVALID', 'policy origin must be one non-empty line');
  if (p.logKeys.length === 0 || p.logKeys.length > POLICY_KEYS_MAX || p.witnesses.length > POLICY_KEYS_MAX) throw auditError('E_KEY_INVALID', 'policy needs 1 to 64 log keys and at most 64 witnesses');
  if (!Number.isSafeInteger(p.witnessQuorum) || p.witnessQuorum < 0 || p.witnessQuorum > p.witnesses.length) throw auditError('E_KEY_INVALID', 'witness quorum must be between 0 and the number of witnesses');
  const names = [...p.logKeys, ...p.witnesses].map((v) => v.name);
  if (new Set(names).size !== names.length) throw auditError('E_KEY_INVALID', 'every log key and witness must have a distinct name');
}

/**
 * Verifies a checkpoint note against `policy`, in order: note structure →
 * every known signature valid → a log signature present → checkpoint body →
 * origin → k-of-m distinct cosignatures.
 */
export function verifyCheckpointNote(note: Uint8Array, policy: CheckpointPolicy): VerifiedCheckpoint {
  checkPolicy(policy);
  let opened;
  try {
    opened = openNote(note, [...policy.logKeys, ...policy.witnesses]);
  } catch (e) {
    if (isCustodianError(e, 'E_NOTE_UNVERIFIED')) throw auditError('E_NOTE_UNVERIFIED', 'checkpoint is not signed by a known log key', e.detail);
    throw e;
  }
  const isLog = (s: VerifiedSignature): boolean => policy.logKeys.some((k) => k.name === s.name && k.keyId === s.keyId);
  const logSignatures = opened.verified.filter(isLog);
  if (logSignatures.length === 0) throw auditError('E_NOTE_UNVERIFIED', 'checkpoint is not signed by a known log key (only cosigned)');
  const checkpoint = decodeCheckpoint(opened.text);
  if (checkpoint.origin !== policy.origin) throw auditError('E_CHECKPOINT_ORIGIN', `checkpoint is for origin "${checkpoint.origin.slice(0, 80)}", expected "${policy.origin}"`);
  const cosignatures = opened.verified.filter((s) => !isLog(s));
  const distinct = new Set(cosignatures.map((s) => s.name)).size;
  if (distinct < policy.witnessQuorum) {
    throw auditError('E_CHECKPOINT_UNWITNESSED', `checkpoint of size ${checkpoint.size} has ${distinct} valid cosignatures; ${policy.witnessQuorum} are required`, {
      size: checkpoint.size,
      cosigned: distinct,
      required: policy.witnessQuorum,
      cosigners: cosignatures.map((s) => s.name),
    });
  }
  return Object.freeze({ checkpoint, note, logSignatures: Object.freeze(logSignatures), cosignatures: Object.freeze(cosignatures) });
}

/** The stored form of a policy: canonical JSON with vkey strings. */
export interface CheckpointPolicyDocument {
  readonly origin: string;
  readonly logKeys: readonly string[];
  readonly witnessKeys: readonly string[];
  readonly witnessQuorum: number;
}

/** Encodes a policy document as canonical JSON. */
export function encodeCheckpointPolicyDocument(doc: CheckpointPolicyDocument): Uint8Array {
  checkpointPolicyFromKeys(doc.origin, doc.logKeys, doc.witnessKeys, doc.witnessQuorum);
  return canonicalJsonBytes(doc);
}

/** Decodes a policy document (untrusted bytes) into a policy and its document. */
export function decodeCheckpointPolicyDocument(bytes: Uint8Array): { readonly doc: CheckpointPolicyDocument; readonly policy: CheckpointPolicy } {
  let doc: CheckpointPolicyDocument;
  try {
    const f = new Fields(parseJson(bytes, 256 * 1024), 'policy');
    const keys = (k: string): string[] =>
      f.arr(k, POLICY_KEYS_MAX).map((x) => {
        if (typeof x !== 'string' || x.length > 512) throw auditError('E_KEY_INVALID', `policy.${k} must hold vkey strings`);
        return x;
      });
    doc = { origin: f.str('origin', NOTE_NAME_CHARS_MAX), logKeys: keys('logKeys'), witnessKeys: keys('witnessKeys'), witnessQuorum: f.int('witnessQuorum', 0, POLICY_KEYS_MAX) };
    f.done();
  } catch (e) {
    if (isCustodianError(e, 'E_KEY_INVALID')) throw e;
    throw auditError('E_KEY_INVALID', `checkpoint policy document is invalid: ${e instanceof Error ? e.message : String(e)}`);
  }
  return { doc, policy: checkpointPolicyFromKeys(doc.origin, doc.logKeys, doc.witnessKeys, doc.witnessQuorum) };
}

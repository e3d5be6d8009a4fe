/**
 * The evidence bundle: one canonical JSON document (format
 * "custodian-evidence/v1") that lets an auditor check the story of one
 * request, or of a time range, offline and without trusting Custodian. It
 * holds the audit entries, each with an RFC 9162 inclusion proof to a
 * checkpoint; the checkpoint notes with their log signature and
 * cosignatures; consistency proofs from an earlier view when one was given;
 * documents whose hashes the entries name (rulebook, attestation evidence);
 * the control objectives each record evidences; and a manifest of SHA-256
 * hashes over every item. See docs/evidence.md for the layout.
 *
 * `decodeEvidenceBundle` is the one decoder of bundle bytes: size first,
 * strict JSON, every field through `Fields` (unknown fields refused), every
 * list bounded, entries through `decodeAuditEntry`, notes and checkpoints
 * parsed (not verified), and finally re-encoding must give back the input
 * bytes, so a bundle has one spelling. Verification (manifest, signatures,
 * proofs) is `verifyEvidenceBundle` in evidence-verify.ts.
 */
import { canonicalJsonBytes, parseJson, type Json } from '@custodian/core/canonical-json';
import { bytesToHex, equalBytes } from '@custodian/core/bytes';
import { Fields } from '@custodian/core/fields';
import { isCustodianError } from '@custodian/core/errors';
import { evidenceError } from './evidence-errors.js';
import { AUDIT_ENTRY_KINDS, decodeAuditEntry, ENTRY_ID_CHARS_MAX, type AuditEntry, type HashHex, type TimeMs } from './entry.js';
import { decodeCheckpointPolicyDocument, type CheckpointPolicyDocument } from './checkpoint-policy.js';
import { decodeNoteUnverified } from './note.js';
import { decodeCheckpoint } from './checkpoint.js';
import { sha256 } from './hash.js';
import { decodeBase64Strict } from './base64.js';
import { ENTRY_BYTES_MAX, NOTE_BYTES_MAX, PROOF_HASHES_MAX, TREE_SIZE_MAX } from './limits.js';
import { CUSTODY_SIGNERS_MAX } from './custody-leaf.js';
import type { ControlObjective, ControlReference, EvidenceItemKind } from './evidence-controls.js';

/** The `format` value of this version of the bundle. */
export const EVIDENCE_FORMAT = 'custodian-evidence/v1';
/** Largest bundle file accepted (checked before parsing). */
export const EVIDENCE_BUNDLE_BYTES_MAX = 64 * 1024 * 1024;
/** Most entries in one bundle; a larger story or range must be split. */
export const EVIDENCE_ENTRIES_MAX = 4096;
/** Most checkpoints in one bundle. */
export const EVIDENCE_CHECKPOINTS_MAX = 16;
/** Most consistency proofs in one bundle. */
export const EVIDENCE_CONSISTENCY_MAX = 16;
/** Most control objectives in a bundle's catalogue. */
export const EVIDENCE_OBJECTIVES_MAX = 64;
/** Most framework references per objective. */
export const EVIDENCE_REFERENCES_MAX = 32;
/** Most objective ids attached to one item. */
export const EVIDENCE_ITEM_OBJECTIVES_MAX = 16;
/** Most attached documents (policy files, attestation evidence) in one bundle. */
export const EVIDENCE_ATTACHMENTS_MAX = 64;
/** Largest attached document. */
export const EVIDENCE_ATTACHMENT_BYTES_MAX = 8 * 1024 * 1024;
/** Longest attachment name. */
export const EVIDENCE_ATTACHMENT_NAME_CHARS_MAX = 128;
/** Most manifest items: the five single fields plus every array item. */
export const EVIDENCE_MANIFEST_ITEMS_MAX = 5 + EVIDENCE_CHECKPOINTS_MAX + EVIDENCE_ENTRIES_MAX + EVIDENCE_CONSISTENCY_MAX + EVIDENCE_ATTACHMENTS_MAX;
/** Longest plain-language objective text. */
export const EVIDENCE_TEXT_CHARS_MAX = 512;

/** What a bundle is about. */
export type EvidenceSubject =
  | { readonly kind: 'request'; readonly requestId: string }
  | { readonly kind: 'range'; readonly fromMs: TimeMs; readonly toMs: TimeMs };

/** A checkpoint note exactly as the log published it (UTF-8 text with signature lines). */
export interface EvidenceCheckpoint {
  readonly note: string;
}

/** Why an entry is in the bundle: it belongs to the subject, or it was in force when the story happened. */
export type EvidenceEntryRole = 'story' | 'context';

/** One audit entry with its inclusion proof. */
export interface EvidenceEntry {
  readonly index: number;
  readonly role: EvidenceEntryRole;
  readonly entry: AuditEntry;
  /** RFC 6962 leaf hash of the entry's canonical bytes (for cross-reference with tile/0). */
  readonly leafHash: HashHex;
  /** Position in `checkpoints` of the checkpoint the proof leads to. */
  readonly checkpoint: number;
  /** RFC 9162 inclusion proof, hex hashes, deepest sibling first. */
  readonly proof: readonly HashHex[];
  /** Control objective ids this entry evidences. */
  readonly objectives: readonly string[];
  /**
   * Custody log: the leaf exactly as logged — the enclave-signed statement
   * carrying `entry` (custody-leaf.ts). The leaf hash and the proof are then
   * over its canonical bytes, and the verifier checks the enclave signature.
   */
  readonly leaf?: Json;
}

/** A signer whose leaves a custody-log bundle carries, with its identity key (hex). */
export interface EvidenceSigner {
  readonly signerId: string;
  readonly identityKey: HashHex;
}

/** A consistency proof from an earlier view (size, root) to one of the bundle's checkpoints. */
export interface EvidenceConsistency {
  readonly fromSize: number;
  readonly fromRoot: HashHex;
  readonly toCheckpoint: number;
  readonly proof: readonly HashHex[];
}

/**
 * A document whose SHA-256 an entry names (a rulebook, an address book, a
 * screening list, attestation evidence): carried so the auditor can read
 * what was hashed. The verifier refuses one that no entry's hash names.
 */
export interface EvidenceAttachment {
  readonly name: string;
  readonly sha256: HashHex;
  /** The document's bytes, standard padded base64. */
  readonly base64: string;
}

/** The control-objective catalogue carried in the bundle. */
export interface EvidenceControls {
  readonly version: string;
  readonly objectives: readonly ControlObjective[];
  readonly byKind: Readonly<Record<EvidenceItemKind, readonly string[]>>;
}

/** SHA-256 of the canonical JSON of every item, by item name (`entries/3`, `log`, ...). */
export interface EvidenceManifest {
  readonly algorithm: 'sha-256';
  readonly items: Readonly<Record<string, HashHex>>;
}

/** An evidence bundle (decoded, not yet verified). */
export interface EvidenceBundle {
  readonly format: typeof EVIDENCE_FORMAT;
  readonly exportedAtMs: TimeMs;
  readonly subject: EvidenceSubject;
  /**
   * The log's origin and the checkpoint policy the exporter used (the verifier may pass its own);
   * for a custody log, the signers' identity keys the exporter verified the leaves under.
   */
  readonly log: { readonly origin: string; readonly policy: CheckpointPolicyDocument; readonly signers?: readonly EvidenceSigner[] };
  readonly checkpoints: readonly EvidenceCheckpoint[];
  readonly entries: readonly EvidenceEntry[];
  readonly consistency: readonly EvidenceConsistency[];
  readonly attachments: readonly EvidenceAttachment[];
  readonly controls: EvidenceControls;
  readonly manifest: EvidenceManifest;
}

/** A bundle before its manifest is computed. */
export type EvidenceBundleContent = Omit<EvidenceBundle, 'manifest'>;

const ITEM_KINDS: readonly EvidenceItemKind[] = [...AUDIT_ENTRY_KINDS, 'checkpoint'];
const HASH_HEX_RE = /^[0-9a-f]{64}$/;
const ID_RE = /^[A-Za-z0-9][A-Za-z0-9._:@/+-]*$/;
const SIGNER_ID_RE = /^[a-z0-9][a-z0-9._-]{0,63}$/;
const ATTACHMENT_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const OBJECTIVE_ID_RE = /^[a-z][a-z0-9-]{0,63}$/;
const ITEM_NAME_RE = /^(format|exportedAtMs|subject|log|controls|(checkpoints|entries|consistency|attachments)\/(0|[1-9][0-9]{0,5}))$/;

/** The manifest items of `content`: every top-level field, arrays item by item. */
export function computeManifestItems(content: EvidenceBundleContent): Record<string, HashHex> {
  const items: Record<string, HashHex> = {};
  for (const [key, value] of Object.entries(content) as [string, unknown][]) {
    if (Array.isArray(value)) value.forEach((v, i) => (items[`${key}/${i}`] = hashJson(v)));
    else items[key] = hashJson(value);
  }
  return items;
}

/** Adds the manifest to `content`, giving a complete bundle. */
export function sealEvidenceBundle(content: EvidenceBundleContent): EvidenceBundle {
  return { ...content, manifest: { algorithm: 'sha-256', items: computeManifestItems(content) } };
}

/** The bundle's digest: SHA-256 of its canonical manifest (what an auditor records or compares out of band). */
export function evidenceBundleDigest(bundle: EvidenceBundle): HashHex {
  return hashJson(bundle.manifest);
}

/** The canonical bytes of a bundle (the file written to disk). */
export function encodeEvidenceBundle(bundle: EvidenceBundle): Uint8Array {
  const bytes = canonicalJsonBytes(bundle);
  if (bytes.length > EVIDENCE_BUNDLE_BYTES_MAX) throw evidenceError('E_EVIDENCE_TOO_LARGE', `bundle of ${bytes.length} bytes exceeds ${EVIDENCE_BUNDLE_BYTES_MAX}; narrow the range`, { size: bytes.length });
  return bytes;
}

/** The one decoder of untrusted bundle bytes: a typed bundle or E_EVIDENCE_TOO_LARGE / E_EVIDENCE_MALFORMED. */
export function decodeEvidenceBundle(bytes: Uint8Array): EvidenceBundle {
  if (bytes.length > EVIDENCE_BUNDLE_BYTES_MAX) throw evidenceError('E_EVIDENCE_TOO_LARGE', `bundle of ${bytes.length} bytes exceeds ${EVIDENCE_BUNDLE_BYTES_MAX}`, { size: bytes.length });
  let bundle: EvidenceBundle;
  try {
    bundle = readBundle(new Fields(parseJson(bytes, EVIDENCE_BUNDLE_BYTES_MAX), 'bundle'));
  } catch (e) {
    if (isCustodianError(e, 'E_EVIDENCE_MALFORMED')) throw e;
    if (isCustodianError(e)) throw evidenceError('E_EVIDENCE_MALFORMED', `evidence bundle is malformed: ${e.message}`, { cause: e.code, ...e.detail });
    throw e;
  }
  if (!equalBytes(canonicalJsonBytes(bundle), bytes)) throw evidenceError('E_EVIDENCE_MALFORMED', 'evidence bundle is not in canonical JSON form');
  return bundle;
}

function readBundle(f: Fields): EvidenceBundle {
  if (f.str('format', 64) !== EVIDENCE_FORMAT) throw evidenceError('E_EVIDENCE_MALFORMED', `bundle format must be ${EVIDENCE_FORMAT}`);
  const exportedAtMs = f.int('exportedAtMs');
  const subject = readSubject(f.obj('subject'));
  const log = readLog(f.obj('log'));
  const checkpoints = f.arr('checkpoints', EVIDENCE_CHECKPOINTS_MAX).map((v, i) => readCheckpoint(new Fields(v, `bundle.checkpoints[${i}]`)));
  if (checkpoints.length === 0) throw evidenceError('E_EVIDENCE_MALFORMED', 'bundle has no checkpoint');
  const entries = f.arr('entries', EVIDENCE_ENTRIES_MAX).map((v, i) => readEntry(new Fields(v, `bundle.entries[${i}]`), checkpoints.length));
  const consistency = f.arr('consistency', EVIDENCE_CONSISTENCY_MAX).map((v, i) => readConsistency(new Fields(v, `bundle.consistency[${i}]`), checkpoints.length));
  const attachments = f.arr('attachments', EVIDENCE_ATTACHMENTS_MAX).map((v, i) => readAttachment(new Fields(v, `bundle.attachments[${i}]`)));
  const controls = readControls(f.obj('controls'));
  const manifest = readManifest(f.obj('manifest'));
  f.done();
  return deepFreeze({ format: EVIDENCE_FORMAT, exportedAtMs, subject, log, checkpoints, entries, consistency, attachments, controls, manifest });
}

function readSubject(f: Fields): EvidenceSubject {
  const kind = f.str('kind', 16);
  let s: EvidenceSubject;
  if (kind === 'request') s = { kind, requestId: f.str('requestId', ENTRY_ID_CHARS_MAX, ID_RE) };
  else if (kind === 'range') {
    s = { kind, fromMs: f.int('fromMs'), toMs: f.int('toMs') };
    if (s.fromMs >= s.toMs) throw evidenceError('E_EVIDENCE_MALFORMED', 'bundle.subject range is empty');
  } else throw evidenceError('E_EVIDENCE_MALFORMED', 'bundle.subject.kind must be request or range');
  f.done();
  return s;
}

function readLog(f: Fields): EvidenceBundle['log'] {
  const origin = f.str('origin', 256);
  const { doc } = decodeCheckpointPolicyDocument(canonicalJsonBytes(f.raw('policy')));
  const signers = f.optRaw('signers') === undefined ? undefined : f.arr('signers', CUSTODY_SIGNERS_MAX).map((v, i) => {
    const g = new Fields(v, `bundle.log.signers[${i}]`);
    const s = { signerId: g.str('signerId', 64, SIGNER_ID_RE), identityKey: g.str('identityKey', 64, HASH_HEX_RE) };
    g.done();
    return s;
  });
  f.done();
  if (doc.origin !== origin) throw evidenceError('E_EVIDENCE_MALFORMED', 'bundle.log.policy is for another origin');
  return { origin, policy: doc, ...(signers === undefined ? {} : { signers }) };
}

function readCheckpoint(f: Fields): EvidenceCheckpoint {
  const note = f.str('note', NOTE_BYTES_MAX);
  decodeCheckpoint(decodeNoteUnverified(new TextEncoder().encode(note)).text); // structure only; signatures are the verifier's
  f.done();
  return { note };
}

function readEntry(f: Fields, checkpoints: number): EvidenceEntry {
  const index = f.int('index', 0, TREE_SIZE_MAX - 1);
  const role = f.str('role', 16);
  if (role !== 'story' && role !== 'context') throw evidenceError('E_EVIDENCE_MALFORMED', `${f.where}.role must be story or context`);
  const entry = decodeAuditEntry(canonicalJsonBytes(f.raw('entry')));
  const e: EvidenceEntry = {
    index, role, entry, leafHash: f.str('leafHash', 64, HASH_HEX_RE), checkpoint: f.int('checkpoint', 0, checkpoints - 1),
    proof: hashList(f, 'proof'), objectives: idList(f, 'objectives', EVIDENCE_ITEM_OBJECTIVES_MAX),
    ...(f.optRaw('leaf') === undefined ? {} : { leaf: boundedLeaf(f.raw('leaf'), f.where) }),
  };
  f.done();
  return e;
}

// The leaf's signature and content are the verifier's; here only its size is bounded.
function boundedLeaf(leaf: Json, where: string): Json {
  if (leaf === null || typeof leaf !== 'object' || Array.isArray(leaf) || canonicalJsonBytes(leaf).length > ENTRY_BYTES_MAX) {
    throw evidenceError('E_EVIDENCE_MALFORMED', `${where}.leaf must be a signed statement of at most ${ENTRY_BYTES_MAX} bytes`);
  }
  return leaf;
}

function readConsistency(f: Fields, checkpoints: number): EvidenceConsistency {
  const c = { fromSize: f.int('fromSize', 1, TREE_SIZE_MAX), fromRoot: f.str('fromRoot', 64, HASH_HEX_RE), toCheckpoint: f.int('toCheckpoint', 0, checkpoints - 1), proof: hashList(f, 'proof') };
  f.done();
  return c;
}

function readAttachment(f: Fields): EvidenceAttachment {
  const a = {
    name: f.str('name', EVIDENCE_ATTACHMENT_NAME_CHARS_MAX, ATTACHMENT_NAME_RE), sha256: f.str('sha256', 64, HASH_HEX_RE),
    base64: f.str('base64', Math.ceil(EVIDENCE_ATTACHMENT_BYTES_MAX / 3) * 4),
  };
  decodeBase64Strict(a.base64, 'E_ENTRY_INVALID', `${f.where}.base64`);
  f.done();
  return a;
}

/** Where an attachment's hash is named: entry index and field. */
export interface AttachmentReference {
  readonly index: number;
  readonly field: string;
}

/** Every entry field among `entries` whose name ends in `Hash` and whose value is `sha256`. */
export function attachmentReferences(entries: readonly { readonly index: number; readonly entry: AuditEntry }[], sha256Hex: HashHex): AttachmentReference[] {
  const out: AttachmentReference[] = [];
  for (const { index, entry } of entries) {
    for (const [field, value] of Object.entries(entry)) if (field.endsWith('Hash') && value === sha256Hex) out.push({ index, field });
  }
  return out;
}

/** The bytes of an attachment (its base64 was checked by the decoder). */
export function attachmentBytes(a: EvidenceAttachment): Uint8Array {
  return decodeBase64Strict(a.base64, 'E_ENTRY_INVALID', 'attachment');
}

function readControls(f: Fields): EvidenceControls {
  const version = f.str('version', 64);
  const objectives = f.arr('objectives', EVIDENCE_OBJECTIVES_MAX).map((v, i): ControlObjective => {
    const o = new Fields(v, `bundle.controls.objectives[${i}]`);
    const obj = {
      id: o.str('id', 64, OBJECTIVE_ID_RE), objective: o.str('objective', EVIDENCE_TEXT_CHARS_MAX),
      references: o.arr('references', EVIDENCE_REFERENCES_MAX).map((r, j) => readReference(new Fields(r, `${o.where}.references[${j}]`))),
    };
    o.done();
    return obj;
  });
  const k = f.obj('byKind');
  const byKind = {} as Record<EvidenceItemKind, readonly string[]>;
  for (const kind of ITEM_KINDS) byKind[kind] = idList(k, kind, EVIDENCE_ITEM_OBJECTIVES_MAX);
  k.done();
  f.done();
  return { version, objectives, byKind };
}

function readReference(f: Fields): ControlReference {
  const framework = f.str('framework', 16);
  if (framework !== 'SOC2' && framework !== 'ISO27001:2022' && framework !== 'MiCA' && framework !== 'DORA') throw evidenceError('E_EVIDENCE_MALFORMED', `${f.where}.framework is unknown`);
  const r = { framework, ref: f.str('ref', 32), title: f.str('title', EVIDENCE_TEXT_CHARS_MAX) } as const;
  f.done();
  return r;
}

function readManifest(f: Fields): EvidenceManifest {
  if (f.str('algorithm', 16) !== 'sha-256') throw evidenceError('E_EVIDENCE_MALFORMED', 'bundle.manifest.algorithm must be sha-256');
  const raw = f.raw('items');
  const i = f.obj('items');
  const names = raw !== null && typeof raw === 'object' && !Array.isArray(raw) ? Object.keys(raw) : [];
  if (names.length > EVIDENCE_MANIFEST_ITEMS_MAX) throw evidenceError('E_EVIDENCE_MALFORMED', `bundle.manifest lists more than ${EVIDENCE_MANIFEST_ITEMS_MAX} items`);
  const items: Record<string, HashHex> = {};
  for (const name of names) {
    if (!ITEM_NAME_RE.test(name)) throw evidenceError('E_EVIDENCE_MALFORMED', 'bundle.manifest names an unknown item', { item: name.slice(0, 64) });
    items[name] = i.str(name, 64, HASH_HEX_RE);
  }
  i.done();
  f.done();
  return { algorithm: 'sha-256', items };
}

function hashList(f: Fields, k: string): readonly HashHex[] {
  return f.arr(k, PROOF_HASHES_MAX).map((h, i) => {
    if (typeof h !== 'string' || !HASH_HEX_RE.test(h)) throw evidenceError('E_EVIDENCE_MALFORMED', `${f.where}.${k}[${i}] must be a 32-byte hex hash`);
    return h;
  });
}

function idList(f: Fields, k: string, max: number): readonly string[] {
  return f.arr(k, max).map((x, i) => {
    if (typeof x !== 'string' || !OBJECTIVE_ID_RE.test(x)) throw evidenceError('E_EVIDENCE_MALFORMED', `${f.where}.${k}[${i}] must be an objective id`);
    return x;
  });
}

function hashJson(value: unknown): HashHex {
  return bytesToHex(sha256(canonicalJsonBytes(value)));
}

function deepFreeze<T>(v: T): T {
  if (v !== null && typeof v === 'object' && !Object.isFrozen(v)) {
    for (const x of Object.values(v as Record<string, Json>)) deepFreeze(x);
    Object.freeze(v);
  }
  return v;
}

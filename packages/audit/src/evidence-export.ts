/**
 * Building an evidence bundle from a tlog-tiles log. Steps: the log's
 * checkpoint must count under the policy (an unwitnessed head is never
 * exported) → one streaming pass over the entries (on a custody log each
 * leaf verified: enclave signature, typed entry, every signer's chain) selects the subject's
 * story (every entry carrying the request id, or every entry whose time is
 * in the range) and, for a request, the context in force at its last entry
 * (the latest attestation of each subject and the latest manifest change) →
 * an inclusion proof per entry, each checked against the checkpoint root
 * before it is written (never export a proof that does not verify) → a
 * consistency proof from the auditor's trusted checkpoint when given → the
 * attached documents, each named by a selected entry's hash → the control
 * mapping and the manifest.
 */
import { bytesToHex } from '@custodian/core/bytes';
import { isCustodianError } from '@custodian/core/errors';
import { auditError } from './errors.js';
import { evidenceError } from './evidence-errors.js';
import {
  attachmentReferences, sealEvidenceBundle, EVIDENCE_ENTRIES_MAX, EVIDENCE_FORMAT,
  type EvidenceAttachment, type EvidenceBundle, type EvidenceConsistency, type EvidenceEntry, type EvidenceEntryRole, type EvidenceSigner, type EvidenceSubject,
} from './evidence-bundle.js';
import { CONTROL_OBJECTIVES, CONTROLS_VERSION, OBJECTIVES_BY_KIND } from './evidence-controls.js';
import { checkpointPolicyFromKeys, verifyCheckpointNote, type CheckpointPolicyDocument } from './checkpoint-policy.js';
import { decodeAuditEntry, type AttestationEntry, type AuditEntry } from './entry.js';
import { iterateLogEntries } from './log-entries.js';
import { proveConsistencyFromTiles, proveInclusionFromTiles } from './tile-proofs.js';
import { verifyInclusion } from './inclusion-proof.js';
import { verifyConsistency } from './consistency-proof.js';
import { hashLeaf, sha256 } from './hash.js';
import { encodeBase64 } from './base64.js';
import type { TileStorage } from './tile-storage.js';
import type { Json } from '@custodian/core/canonical-json';
import { CustodyLogReader } from './custody-log-reader.js';
import type { SignerKeys } from './custody-leaf.js';

/** Most distinct attestation subjects tracked as context while scanning. */
export const EVIDENCE_CONTEXT_SUBJECTS_MAX = 1024;

/** What to export and under which keys. */
export interface ExportEvidenceOptions {
  /** The checkpoint policy (vkeys and quorum) the log's checkpoint must satisfy; embedded in the bundle. */
  readonly policy: CheckpointPolicyDocument;
  readonly subject: EvidenceSubject;
  /** A checkpoint the auditor holds: the bundle then carries a consistency proof from it. */
  readonly trustedCheckpoint?: Uint8Array;
  /** Documents to carry (rulebook, address book, attestation evidence); each must be named by a selected entry's hash. */
  readonly attachments?: readonly { readonly name: string; readonly bytes: Uint8Array }[];
  /** Export time (passed in, never read from the clock here). */
  readonly nowMs: number;
  /**
   * A custody log: its leaves are enclave-signed statements carrying typed
   * entries, verified (signature, typed entry, every signer's chain) under
   * these identity keys while scanning; the bundle then carries each leaf.
   */
  readonly signerKeys?: SignerKeys;
}

interface Selected {
  readonly index: number;
  readonly role: EvidenceEntryRole;
  readonly entry: AuditEntry;
  readonly bytes: Uint8Array;
  readonly leaf?: Json;
}

/** Builds the bundle for `o.subject` from the log in `storage`; E_EVIDENCE_EMPTY when nothing matches. */
export async function exportEvidenceBundle(storage: TileStorage, o: ExportEvidenceOptions): Promise<EvidenceBundle> {
  const doc = o.policy;
  const policy = checkpointPolicyFromKeys(doc.origin, doc.logKeys, doc.witnessKeys, doc.witnessQuorum);
  const note = await storage.read('checkpoint');
  if (note === null) throw auditError('E_AUDIT_CORRUPT', 'the log has no checkpoint');
  const head = verifyCheckpointNote(note, policy).checkpoint;
  const reader = o.signerKeys === undefined ? null : new CustodyLogReader(o.signerKeys);
  const selected = await selectEntries(storage, head.size, o.subject, reader);
  if (selected.length === 0) throw evidenceError('E_EVIDENCE_EMPTY', `the log (size ${head.size}) holds no entry for ${describeSubject(o.subject)}`);
  const entries: EvidenceEntry[] = [];
  for (const s of selected) {
    const leaf = hashLeaf(s.bytes);
    const proof = await proveInclusionFromTiles(storage, s.index, head.size);
    verifyInclusion(leaf, s.index, head.size, proof, head.rootHash);
    entries.push({
      index: s.index, role: s.role, entry: s.entry, leafHash: bytesToHex(leaf), checkpoint: 0, proof: proof.map(bytesToHex), objectives: OBJECTIVES_BY_KIND[s.entry.kind],
      ...(s.leaf === undefined ? {} : { leaf: s.leaf }),
    });
  }
  const consistency: EvidenceConsistency[] = [];
  if (o.trustedCheckpoint !== undefined) {
    const t = verifyCheckpointNote(o.trustedCheckpoint, { ...policy, witnessQuorum: 0 }).checkpoint;
    if (t.size > head.size) throw auditError('E_CHECKPOINT_ROLLBACK', `the log's checkpoint (size ${head.size}) is smaller than the trusted one (size ${t.size})`, { trustedSize: t.size, size: head.size });
    if (t.size === head.size && bytesToHex(t.rootHash) !== bytesToHex(head.rootHash)) throw auditError('E_CHECKPOINT_FORK', `two checkpoints of size ${t.size} with different roots: the log forked`, { size: t.size });
    if (t.size > 0 && t.size < head.size) {
      const proof = await proveConsistencyFromTiles(storage, t.size, head.size);
      verifyConsistency(t.size, head.size, t.rootHash, head.rootHash, proof);
      consistency.push({ fromSize: t.size, fromRoot: bytesToHex(t.rootHash), toCheckpoint: 0, proof: proof.map(bytesToHex) });
    }
  }
  const attachments = (o.attachments ?? []).map((a): EvidenceAttachment => {
    const hash = bytesToHex(sha256(a.bytes));
    if (attachmentReferences(entries, hash).length === 0) throw evidenceError('E_EVIDENCE_ATTACHMENT', `${a.name} (SHA-256 ${hash}) is not named by any entry of ${describeSubject(o.subject)}`, { name: a.name, sha256: hash });
    return { name: a.name, sha256: hash, base64: encodeBase64(a.bytes) };
  });
  return sealEvidenceBundle({
    format: EVIDENCE_FORMAT, exportedAtMs: o.nowMs, subject: o.subject, log: { origin: head.origin, policy: doc, ...(reader === null ? {} : { signers: signersOf(reader) }) },
    checkpoints: [{ note: new TextDecoder().decode(note) }], entries, consistency, attachments,
    controls: { version: CONTROLS_VERSION, objectives: CONTROL_OBJECTIVES, byKind: OBJECTIVES_BY_KIND },
  });
}

/** The identity keys the leaves were verified under (given, or attested in the log), by signer id. */
function signersOf(reader: CustodyLogReader): EvidenceSigner[] {
  return [...reader.book.keys].sort(([a], [b]) => (a < b ? -1 : 1)).map(([signerId, key]) => ({ signerId, identityKey: bytesToHex(key) }));
}

/** One pass over the log: the subject's entries, plus (for a request) the context in force at its last entry. */
async function selectEntries(storage: TileStorage, size: number, subject: EvidenceSubject, reader: CustodyLogReader | null): Promise<Selected[]> {
  const story: Selected[] = [];
  const attestations = new Map<string, Selected>();
  let manifest: Selected | null = null;
  let context: Selected[] = [];
  for await (const { index, bytes } of iterateLogEntries(storage, size)) {
    const custody = reader === null ? null : reader.read(bytes, index);
    const entry = custody === null ? decodeAt(bytes, index) : custody.entry;
    const s: Selected = { index, role: 'story', entry, bytes: bytes.slice(), ...(custody === null ? {} : { leaf: custody.signed }) };
    if (belongs(entry, subject)) {
      if (story.length + context.length >= EVIDENCE_ENTRIES_MAX) throw evidenceError('E_EVIDENCE_TOO_LARGE', `more than ${EVIDENCE_ENTRIES_MAX} entries for ${describeSubject(subject)}; narrow the range`);
      story.push(s);
      if (subject.kind === 'request') context = [...attestations.values(), ...(manifest === null ? [] : [manifest])];
    } else if (subject.kind === 'request' && entry.kind === 'attestation') {
      trackAttestation(attestations, { ...s, role: 'context' }, entry);
    } else if (subject.kind === 'request' && entry.kind === 'manifest.change') {
      manifest = { ...s, role: 'context' };
    }
  }
  return [...story, ...context].sort((a, b) => a.index - b.index);
}

function trackAttestation(map: Map<string, Selected>, s: Selected, entry: AttestationEntry): void {
  if (!map.has(entry.subject) && map.size >= EVIDENCE_CONTEXT_SUBJECTS_MAX) throw evidenceError('E_EVIDENCE_TOO_LARGE', `more than ${EVIDENCE_CONTEXT_SUBJECTS_MAX} attested subjects in the log`);
  map.set(entry.subject, s);
}

function belongs(entry: AuditEntry, subject: EvidenceSubject): boolean {
  if (subject.kind === 'range') return entry.at >= subject.fromMs && entry.at < subject.toMs;
  return 'requestId' in entry && entry.requestId === subject.requestId;
}

function decodeAt(bytes: Uint8Array, index: number): AuditEntry {
  try {
    return decodeAuditEntry(bytes);
  } catch (e) {
    throw auditError('E_AUDIT_CORRUPT', `entry ${index} is not a valid audit entry`, { index, cause: isCustodianError(e) ? e.code : 'unknown' });
  }
}

function describeSubject(s: EvidenceSubject): string {
  return s.kind === 'request' ? `request ${s.requestId}` : `the range [${new Date(s.fromMs).toISOString()}, ${new Date(s.toMs).toISOString()})`;
}

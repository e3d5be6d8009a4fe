/**
 * Offline verification of an evidence bundle, a pipeline of named steps in
 * this order: manifest (every item's SHA-256, no item missing or extra) →
 * control mapping (the catalogue of its version, each entry mapped as the
 * catalogue says) → checkpoints (log signature, origin and k-of-m
 * cosignatures under the checkpoint policy; no two of one size with
 * different roots) → entries (schema, order; for a custody log the signed
 * leaf's enclave signature and the entry it carries; RFC 9162 inclusion
 * proof of the recomputed leaf to its checkpoint's root) → attachments (each hashes to a
 * digest that a proven entry names) → subject (every story entry is
 * about the bundle's request or inside its range) → consistency proofs
 * (every smaller checkpoint proven a prefix of the largest) → the auditor's
 * trusted checkpoint, when given (same root at its size, or a consistency
 * proof from it). The first failure is thrown as a typed error.
 *
 * What a verified bundle shows: each entry is, byte for byte, at its index
 * in the log whose witnessed checkpoint the bundle carries. It does not show
 * that the bundle holds every entry about the request: completeness needs
 * the log itself (`custodian audit show` / `audit verify`).
 */
import { bytesToHex, equalBytes, hexToBytes } from '@custodian/core/bytes';
import { canonicalJsonBytes } from '@custodian/core/canonical-json';
import { auditError } from './errors.js';
import { evidenceError } from './evidence-errors.js';
import {
  attachmentBytes, attachmentReferences, computeManifestItems, evidenceBundleDigest, type AttachmentReference, type EvidenceBundle, type EvidenceSubject,
} from './evidence-bundle.js';
import { sha256 } from './hash.js';
import { CONTROL_OBJECTIVES, CONTROLS_VERSION, OBJECTIVES_BY_KIND } from './evidence-controls.js';
import { checkpointPolicyFromKeys, verifyCheckpointNote, type CheckpointPolicy, type VerifiedCheckpoint } from './checkpoint-policy.js';
import { encodeAuditEntry, type AuditEntry } from './entry.js';
import { decodeCustodyLeaf, type SignerKeys } from './custody-leaf.js';
import { CustodianError, isCustodianError } from '@custodian/core/errors';
import type { Json } from '@custodian/core/canonical-json';
import { hashLeaf } from './hash.js';
import { verifyInclusion } from './inclusion-proof.js';
import { verifyConsistency } from './consistency-proof.js';

/** Options of a bundle verification. */
export interface VerifyEvidenceOptions {
  /** The checkpoint policy the auditor trusts; without it the bundle's own policy is used (and reported as such). */
  readonly policy?: CheckpointPolicy;
  /** A checkpoint note the auditor already trusts (its log signature is checked, cosignatures are not required). */
  readonly trustedCheckpoint?: Uint8Array;
  /** Custody-log bundles: the signers' identity keys the auditor trusts; without them the bundle's own list is used (and reported). */
  readonly signerKeys?: SignerKeys;
}

/** One verified checkpoint of the bundle. */
export interface EvidenceCheckpointSummary {
  readonly size: number;
  readonly rootHash: string;
  readonly logSigners: readonly string[];
  readonly cosigners: readonly string[];
}

/** What a successful verification establishes. */
export interface EvidenceVerification {
  /** SHA-256 of the canonical manifest. */
  readonly bundleDigest: string;
  readonly origin: string;
  readonly subject: EvidenceSubject;
  /** Whose keys the checkpoints were checked against. */
  readonly trust: 'given-policy' | 'bundle-policy';
  readonly witnessQuorum: number;
  readonly checkpoints: readonly EvidenceCheckpointSummary[];
  readonly entries: number;
  readonly entriesByKind: Readonly<Record<string, number>>;
  /** How many items (entries and checkpoints) evidence each objective. */
  readonly objectives: Readonly<Record<string, number>>;
  readonly consistencyProofs: number;
  /** Each attached document and the entry fields that name its hash. */
  readonly attachments: readonly { readonly name: string; readonly sha256: string; readonly referencedBy: readonly AttachmentReference[] }[];
  readonly trustedSize: number | null;
  /** Custody-log bundles: whose identity keys the leaves' enclave signatures were checked under, and the signers seen. */
  readonly leaves: { readonly signerTrust: 'given-keys' | 'bundle-keys'; readonly signers: Readonly<Record<string, number>> } | null;
}

/** Verifies a decoded bundle entirely offline; throws the first failure (E_EVIDENCE_*, E_PROOF_INVALID, E_CHECKPOINT_*, E_NOTE_*). */
export function verifyEvidenceBundle(bundle: EvidenceBundle, o: VerifyEvidenceOptions = {}): EvidenceVerification {
  checkManifest(bundle);
  checkControls(bundle);
  const policy = o.policy ?? policyOfBundle(bundle);
  const checkpoints = checkCheckpoints(bundle, policy);
  const leaves = checkEntries(bundle, checkpoints, o.signerKeys);
  const attachments = checkAttachments(bundle);
  checkSubject(bundle);
  checkConsistency(bundle, checkpoints);
  const trustedSize = o.trustedCheckpoint === undefined ? null : checkTrusted(bundle, checkpoints, o.trustedCheckpoint, policy);
  return {
    bundleDigest: evidenceBundleDigest(bundle), origin: bundle.log.origin, subject: bundle.subject,
    trust: o.policy === undefined ? 'bundle-policy' : 'given-policy', witnessQuorum: policy.witnessQuorum,
    checkpoints: checkpoints.map((c) => ({
      size: c.checkpoint.size, rootHash: bytesToHex(c.checkpoint.rootHash), logSigners: c.logSignatures.map((s) => s.name), cosigners: c.cosignatures.map((s) => s.name),
    })),
    entries: bundle.entries.length, entriesByKind: countBy(bundle.entries.map((e) => e.entry.kind)),
    objectives: countBy([...bundle.entries.flatMap((e) => e.objectives), ...bundle.checkpoints.flatMap(() => OBJECTIVES_BY_KIND.checkpoint)]),
    consistencyProofs: bundle.consistency.length, attachments, trustedSize, leaves,
  };
}

/** Step 1: every item hashes to its manifest value, and the manifest lists exactly the bundle's items. */
function checkManifest(bundle: EvidenceBundle): void {
  const { manifest, ...content } = bundle;
  const actual = computeManifestItems(content);
  const listed = manifest.items;
  for (const [item, hash] of Object.entries(actual)) {
    const claimed = listed[item];
    if (claimed === undefined) throw evidenceError('E_EVIDENCE_MANIFEST_MISMATCH', `the manifest does not list ${item}`, { item });
    if (claimed !== hash) throw evidenceError('E_EVIDENCE_MANIFEST_MISMATCH', `${item} does not match its SHA-256 in the manifest (altered after export)`, { item, expected: claimed, actual: hash });
  }
  for (const item of Object.keys(listed)) {
    if (!(item in actual)) throw evidenceError('E_EVIDENCE_MANIFEST_MISMATCH', `the manifest lists ${item}, which the bundle does not hold (an item was removed)`, { item });
  }
}

/** Step 2: the catalogue is the one of its version, and each entry claims exactly its kind's objectives. */
function checkControls(bundle: EvidenceBundle): void {
  const c = bundle.controls;
  if (c.version !== CONTROLS_VERSION) throw evidenceError('E_EVIDENCE_CONTROLS', `control mapping ${c.version.slice(0, 64)} is not known to this verifier (${CONTROLS_VERSION})`, { version: c.version.slice(0, 64) });
  const same = (a: unknown, b: unknown): boolean => equalBytes(canonicalJsonBytes(a), canonicalJsonBytes(b));
  if (!same(c.objectives, CONTROL_OBJECTIVES) || !same(c.byKind, OBJECTIVES_BY_KIND)) throw evidenceError('E_EVIDENCE_CONTROLS', `the bundle's control catalogue differs from ${CONTROLS_VERSION}`);
  bundle.entries.forEach((e, i) => {
    if (!same(e.objectives, OBJECTIVES_BY_KIND[e.entry.kind])) throw evidenceError('E_EVIDENCE_CONTROLS', `entry ${e.index} (${e.entry.kind}) claims objectives its kind does not evidence`, { position: i, index: e.index });
  });
}

function policyOfBundle(bundle: EvidenceBundle): CheckpointPolicy {
  const d = bundle.log.policy;
  return checkpointPolicyFromKeys(d.origin, d.logKeys, d.witnessKeys, d.witnessQuorum);
}

/** Step 3: every checkpoint counts under the policy; equal sizes must have equal roots. */
function checkCheckpoints(bundle: EvidenceBundle, policy: CheckpointPolicy): VerifiedCheckpoint[] {
  const out = bundle.checkpoints.map((c) => verifyCheckpointNote(new TextEncoder().encode(c.note), policy));
  for (const a of out) {
    if (a.checkpoint.origin !== bundle.log.origin) throw auditError('E_CHECKPOINT_ORIGIN', `a checkpoint is for origin "${a.checkpoint.origin.slice(0, 80)}", the bundle for "${bundle.log.origin}"`);
    for (const b of out) {
      if (a.checkpoint.size === b.checkpoint.size && !equalBytes(a.checkpoint.rootHash, b.checkpoint.rootHash)) {
        throw auditError('E_CHECKPOINT_FORK', `two checkpoints of size ${a.checkpoint.size} with different roots: the log forked`, { size: a.checkpoint.size });
      }
    }
  }
  return out;
}

/**
 * Step 4: entries in strictly increasing index order, each proven included
 * under its checkpoint. A custody-log bundle carries every entry's signed
 * leaf: the leaf's enclave signature must verify under the signer's identity
 * key and carry exactly the stated entry, and the proof is over the leaf.
 */
function checkEntries(bundle: EvidenceBundle, checkpoints: readonly VerifiedCheckpoint[], given: SignerKeys | undefined): EvidenceVerification['leaves'] {
  const custody = bundle.log.signers !== undefined;
  const keys = given ?? new Map((bundle.log.signers ?? []).map((s) => [s.signerId, hexToBytes(s.identityKey)]));
  const signers: Record<string, number> = {};
  let previous = -1;
  for (const e of bundle.entries) {
    if (e.index <= previous) throw evidenceError('E_EVIDENCE_MALFORMED', `entry ${e.index} is out of order or repeated`, { index: e.index });
    previous = e.index;
    if (custody !== (e.leaf !== undefined)) throw evidenceError('E_EVIDENCE_MALFORMED', `entry ${e.index} ${custody ? 'lacks its signed leaf' : 'carries a leaf but the bundle lists no signers'}`, { index: e.index });
    const cp = checkpoints[e.checkpoint]!.checkpoint;
    const bytes = e.leaf === undefined ? encodeAuditEntry(e.entry) : leafBytes(e.leaf, e.entry, e.index, keys, signers);
    const leaf = hashLeaf(bytes);
    verifyInclusion(leaf, e.index, cp.size, e.proof.map((h) => hexToBytes(h)), cp.rootHash);
    if (bytesToHex(leaf) !== e.leafHash) throw evidenceError('E_EVIDENCE_MALFORMED', `entry ${e.index} states a leaf hash that is not its own`, { index: e.index });
  }
  return custody ? { signerTrust: given === undefined ? 'bundle-keys' : 'given-keys', signers } : null;
}

// The custody leaf's bytes, after its signature and typed entry are checked against the stated entry.
function leafBytes(leaf: Json, entry: AuditEntry, index: number, keys: SignerKeys, signers: Record<string, number>): Uint8Array {
  const bytes = canonicalJsonBytes(leaf);
  let decoded;
  try {
    decoded = decodeCustodyLeaf(bytes, keys);
  } catch (e) {
    if (isCustodianError(e)) throw new CustodianError(e.code, `entry ${index}: ${e.message}`, { ...e.detail, index });
    throw e;
  }
  if (!equalBytes(canonicalJsonBytes(decoded.entry), canonicalJsonBytes(entry))) {
    throw evidenceError('E_EVIDENCE_MALFORMED', `entry ${index} states another record than its signed leaf carries`, { index });
  }
  signers[decoded.signerId] = (signers[decoded.signerId] ?? 0) + 1;
  return bytes;
}

/** Step 4b: each attached document hashes to its stated SHA-256, which a proven entry names. */
function checkAttachments(bundle: EvidenceBundle): EvidenceVerification['attachments'] {
  return bundle.attachments.map((a, i) => {
    const actual = bytesToHex(sha256(attachmentBytes(a)));
    if (actual !== a.sha256) throw evidenceError('E_EVIDENCE_ATTACHMENT', `attachment ${a.name} does not hash to its stated SHA-256`, { position: i, name: a.name, expected: a.sha256, actual });
    const referencedBy = attachmentReferences(bundle.entries, a.sha256);
    if (referencedBy.length === 0) throw evidenceError('E_EVIDENCE_ATTACHMENT', `attachment ${a.name} is not named by any entry in the bundle`, { position: i, name: a.name, sha256: a.sha256 });
    return { name: a.name, sha256: a.sha256, referencedBy };
  });
}

/** Step 5: story entries belong to the subject; context entries are what was in force (attestations, manifest changes). */
function checkSubject(bundle: EvidenceBundle): void {
  const s = bundle.subject;
  const story = bundle.entries.filter((e) => e.role === 'story');
  if (story.length === 0) throw evidenceError('E_EVIDENCE_EMPTY', 'the bundle holds no entry of its subject');
  for (const e of bundle.entries) {
    const x = e.entry;
    const fits = e.role === 'context'
      ? s.kind === 'request' && (x.kind === 'attestation' || x.kind === 'manifest.change')
      : s.kind === 'request' ? 'requestId' in x && x.requestId === s.requestId : x.at >= s.fromMs && x.at < s.toMs;
    if (!fits) throw evidenceError('E_EVIDENCE_SUBJECT', `entry ${e.index} (${x.kind}, ${e.role}) is not part of the bundle's subject`, { index: e.index });
  }
}

/** Step 6: each consistency proof holds, and every smaller checkpoint is proven a prefix of the largest. */
function checkConsistency(bundle: EvidenceBundle, checkpoints: readonly VerifiedCheckpoint[]): void {
  for (const c of bundle.consistency) {
    const to = checkpoints[c.toCheckpoint]!.checkpoint;
    verifyConsistency(c.fromSize, to.size, hexToBytes(c.fromRoot), to.rootHash, c.proof.map((h) => hexToBytes(h)));
  }
  const largest = checkpoints.reduce((a, b) => (b.checkpoint.size > a.checkpoint.size ? b : a)).checkpoint;
  for (const v of checkpoints) {
    const cp = v.checkpoint;
    if (cp.size === largest.size || cp.size === 0) continue;
    const linked = bundle.consistency.some((c) => c.fromSize === cp.size && c.fromRoot === bytesToHex(cp.rootHash) && checkpoints[c.toCheckpoint]!.checkpoint.size === largest.size);
    if (!linked) throw evidenceError('E_EVIDENCE_UNLINKED', `checkpoint of size ${cp.size} is not proven consistent with the bundle's largest (size ${largest.size})`, { size: cp.size, largest: largest.size });
  }
}

/** Step 7: the auditor's checkpoint is one of the bundle's, or a consistency proof leads from it. */
function checkTrusted(bundle: EvidenceBundle, checkpoints: readonly VerifiedCheckpoint[], note: Uint8Array, policy: CheckpointPolicy): number {
  const t = verifyCheckpointNote(note, { ...policy, witnessQuorum: 0 }).checkpoint;
  const root = bytesToHex(t.rootHash);
  for (const v of checkpoints) {
    if (v.checkpoint.size === t.size && !equalBytes(v.checkpoint.rootHash, t.rootHash)) {
      throw auditError('E_CHECKPOINT_FORK', `the bundle's checkpoint of size ${t.size} differs from the trusted one: the log forked`, {
        size: t.size, trusted: new TextDecoder().decode(note), bundle: new TextDecoder().decode(v.note),
      });
    }
  }
  const equal = checkpoints.some((v) => v.checkpoint.size === t.size);
  const proven = bundle.consistency.some((c) => c.fromSize === t.size && c.fromRoot === root);
  if (equal || proven || t.size === 0) return t.size;
  const largest = Math.max(...checkpoints.map((v) => v.checkpoint.size));
  if (t.size > largest) throw auditError('E_CHECKPOINT_ROLLBACK', `the bundle's checkpoints (up to size ${largest}) are older than the trusted one (size ${t.size})`, { trustedSize: t.size, size: largest });
  throw evidenceError('E_EVIDENCE_UNLINKED', `the bundle carries no consistency proof from the trusted checkpoint (size ${t.size}); export it again with --trusted-checkpoint`, { trustedSize: t.size });
}

function countBy(keys: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of keys) out[k] = (out[k] ?? 0) + 1;
  return out;
}

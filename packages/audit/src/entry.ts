/**
 * Audit entries: the typed, canonical records the log holds, one per event of
 * the custody story (request, policy decision, approval, attestation,
 * signature released, manifest or measurement change, break-glass step,
 * refusal, and named operational events).
 *
 * Encoding: canonical JSON from @custodian/core/canonical-json (sorted keys,
 * no white space, safe integers only), so an entry's leaf bytes are a pure
 * function of its value and auditors can read entries with any JSON tool.
 * The one decoder, `decodeAuditEntry`, bounds size, parses strictly, reads
 * every field through `Fields` (unknown fields refused) and re-encodes to
 * prove the bytes were canonical.
 */
import { canonicalJsonBytes, parseJson, type Json } from '@custodian/core/canonical-json';
import { equalBytes } from '@custodian/core/bytes';
import { Fields } from '@custodian/core/fields';
import { isCustodianError } from '@custodian/core/errors';
import { auditError } from './errors.js';
import { ENTRY_BYTES_MAX } from './limits.js';

/** Version of the entry schema written in every entry's `v` field. */
export const AUDIT_ENTRY_VERSION = 1;
/** Longest identifier (request, operator, enclave, break-glass id). */
export const ENTRY_ID_CHARS_MAX = 128;
/** Longest human-readable reason. */
export const ENTRY_REASON_CHARS_MAX = 512;
/** Most items in any list inside an entry (reasons, policy ids, measurements). */
export const ENTRY_LIST_MAX = 64;
/** Most keys in an entry's free-form string `detail` map. */
export const ENTRY_DETAIL_KEYS_MAX = 32;

/** A SHA-256 (or other 32-byte) digest as 64 lower-case hex characters. */
export type HashHex = string;
/** Milliseconds since the Unix epoch, from the writer's trusted clock. */
export type TimeMs = number;

const HASH_HEX_RE = /^[0-9a-f]{64}$/;
const HEX_RE = /^([0-9a-f]{2}){1,4096}$/;
const ID_RE = /^[A-Za-z0-9][A-Za-z0-9._:@/+-]*$/;
const CODE_RE = /^E_[A-Z0-9_]+$/;
const EVENT_RE = /^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$/;

/** An operator's request entered the system (payload by hash only). */
export interface RequestEntry {
  readonly v: 1; readonly kind: 'request'; readonly at: TimeMs;
  readonly requestId: string; readonly initiator: string; readonly action: string;
  readonly chain: string; readonly payloadHash: HashHex;
}
/** The policy's decision and the exact inputs (by hash) it was computed from. */
export interface PolicyDecisionEntry {
  readonly v: 1; readonly kind: 'policy.decision'; readonly at: TimeMs;
  readonly requestId: string; readonly decision: 'allow' | 'deny' | 'needs-approval';
  readonly policyHash: HashHex; readonly addressBookHash: HashHex; readonly priceTableHash: HashHex; readonly screeningListHash: HashHex;
  readonly policies: readonly string[]; readonly reasons: readonly string[];
}
/** An approver's verified approval over the exact signing digest. */
export interface ApprovalEntry {
  readonly v: 1; readonly kind: 'approval'; readonly at: TimeMs;
  readonly requestId: string; readonly approver: string; readonly group: string;
  readonly digest: HashHex; readonly approvalHash: HashHex;
}
/** An attestation appraisal: the evidence bytes' hash and the result. */
export interface AttestationEntry {
  readonly v: 1; readonly kind: 'attestation'; readonly at: TimeMs;
  readonly subject: string; readonly platform: string; readonly evidenceHash: HashHex;
  readonly status: 'affirming' | 'warning' | 'contraindicated';
  readonly measurement: string; readonly reasons: readonly string[];
}
/** A signature left the signers (written before release: fail closed). */
export interface SignatureReleasedEntry {
  readonly v: 1; readonly kind: 'signature.released'; readonly at: TimeMs;
  readonly requestId: string; readonly scheme: string; readonly keyId: string;
  readonly digest: HashHex; readonly signatureHash: HashHex;
}
/** The organisation manifest or an allowed enclave measurement changed. */
export interface ManifestChangeEntry {
  readonly v: 1; readonly kind: 'manifest.change'; readonly at: TimeMs;
  readonly change: 'genesis' | 'update' | 'measurement';
  readonly manifestHash: HashHex; readonly previousManifestHash: HashHex | null;
  readonly measurementsAdded: readonly string[]; readonly measurementsRemoved: readonly string[];
}
/** One state change of a break-glass request. */
export interface BreakGlassStepEntry {
  readonly v: 1; readonly kind: 'breakglass.step'; readonly at: TimeMs;
  readonly breakglassId: string; readonly action: string;
  readonly step: 'proposed' | 'approved' | 'vetoed' | 'cancelled' | 'executed' | 'expired';
  readonly actor: string; readonly payloadHash: HashHex; readonly notBefore: TimeMs;
}
/** Something was refused, with the error code and words an operator understands. */
export interface RefusalEntry {
  readonly v: 1; readonly kind: 'refusal'; readonly at: TimeMs;
  readonly requestId: string | null; readonly code: string; readonly reason: string;
  readonly detail: Readonly<Record<string, string>>;
}
/** A named operational event (`signer.sealed`, `audit.gap_recovered`, ...). */
export interface EventEntry {
  readonly v: 1; readonly kind: 'event'; readonly at: TimeMs;
  readonly name: string; readonly detail: Readonly<Record<string, string>>;
}

/** Every record the audit log holds. */
export type AuditEntry =
  | RequestEntry | PolicyDecisionEntry | ApprovalEntry | AttestationEntry | SignatureReleasedEntry
  | ManifestChangeEntry | BreakGlassStepEntry | RefusalEntry | EventEntry;

/** The `kind` discriminator of an audit entry. */
export type AuditEntryKind = AuditEntry['kind'];

/** The canonical bytes of an entry (the log leaf); throws E_ENTRY_INVALID if it would not decode. */
export function encodeAuditEntry(entry: AuditEntry): Uint8Array {
  let bytes: Uint8Array;
  try {
    bytes = canonicalJsonBytes(entry);
  } catch (e) {
    throw auditError('E_ENTRY_INVALID', 'audit entry cannot be encoded', { cause: isCustodianError(e) ? e.code : 'unknown' });
  }
  decodeAuditEntry(bytes); // the encoder never writes what the decoder would refuse
  return bytes;
}

/** The one decoder of untrusted entry bytes: a typed entry or E_ENTRY_TOO_LARGE / E_ENTRY_INVALID. */
export function decodeAuditEntry(bytes: Uint8Array): AuditEntry {
  if (bytes.length > ENTRY_BYTES_MAX) throw auditError('E_ENTRY_TOO_LARGE', `audit entry of ${bytes.length} bytes exceeds ${ENTRY_BYTES_MAX}`, { size: bytes.length });
  let entry: AuditEntry;
  try {
    entry = readEntry(new Fields(parseJson(bytes, ENTRY_BYTES_MAX), 'entry'));
  } catch (e) {
    if (isCustodianError(e)) throw auditError('E_ENTRY_INVALID', `audit entry is invalid: ${e.message}`, { cause: e.code, ...e.detail });
    throw e;
  }
  if (!equalBytes(canonicalJsonBytes(entry), bytes)) throw auditError('E_ENTRY_INVALID', 'audit entry is not in canonical JSON form');
  return entry;
}

function readEntry(f: Fields): AuditEntry {
  f.int('v', AUDIT_ENTRY_VERSION, AUDIT_ENTRY_VERSION);
  const kind = f.str('kind', 32);
  const at = f.int('at');
  const base = { v: 1 as const, at };
  const e = readKind(f, kind, base);
  f.done();
  return Object.freeze(e);
}

function readKind(f: Fields, kind: string, base: { v: 1; at: number }): AuditEntry {
  switch (kind) {
    case 'request':
      return { ...base, kind, requestId: id(f, 'requestId'), initiator: id(f, 'initiator'), action: id(f, 'action'), chain: id(f, 'chain'), payloadHash: hash(f, 'payloadHash') };
    case 'policy.decision':
      return {
        ...base, kind, requestId: id(f, 'requestId'), decision: oneOf(f, 'decision', ['allow', 'deny', 'needs-approval'] as const),
        policyHash: hash(f, 'policyHash'), addressBookHash: hash(f, 'addressBookHash'), priceTableHash: hash(f, 'priceTableHash'),
        screeningListHash: hash(f, 'screeningListHash'), policies: list(f, 'policies', ID_RE), reasons: list(f, 'reasons'),
      };
    case 'approval':
      return { ...base, kind, requestId: id(f, 'requestId'), approver: id(f, 'approver'), group: id(f, 'group'), digest: hash(f, 'digest'), approvalHash: hash(f, 'approvalHash') };
    case 'attestation':
      return {
        ...base, kind, subject: id(f, 'subject'), platform: id(f, 'platform'), evidenceHash: hash(f, 'evidenceHash'),
        status: oneOf(f, 'status', ['affirming', 'warning', 'contraindicated'] as const), measurement: f.str('measurement', 8192, HEX_RE), reasons: list(f, 'reasons'),
      };
    case 'signature.released':
      return { ...base, kind, requestId: id(f, 'requestId'), scheme: id(f, 'scheme'), keyId: id(f, 'keyId'), digest: hash(f, 'digest'), signatureHash: hash(f, 'signatureHash') };
    case 'manifest.change':
      return {
        ...base, kind, change: oneOf(f, 'change', ['genesis', 'update', 'measurement'] as const), manifestHash: hash(f, 'manifestHash'),
        previousManifestHash: nullable(f, 'previousManifestHash', () => hash(f, 'previousManifestHash')),
        measurementsAdded: list(f, 'measurementsAdded', HEX_RE), measurementsRemoved: list(f, 'measurementsRemoved', HEX_RE),
      };
    case 'breakglass.step':
      return {
        ...base, kind, breakglassId: id(f, 'breakglassId'), action: id(f, 'action'),
        step: oneOf(f, 'step', ['proposed', 'approved', 'vetoed', 'cancelled', 'executed', 'expired'] as const),
        actor: id(f, 'actor'), payloadHash: hash(f, 'payloadHash'), notBefore: f.int('notBefore'),
      };
    case 'refusal':
      return {
        ...base, kind, requestId: nullable(f, 'requestId', () => id(f, 'requestId')), code: f.str('code', 64, CODE_RE),
        reason: f.str('reason', ENTRY_REASON_CHARS_MAX), detail: detail(f),
      };
    case 'event':
      return { ...base, kind, name: f.str('name', 64, EVENT_RE), detail: detail(f) };
    default:
      throw auditError('E_ENTRY_INVALID', `unknown audit entry kind "${kind.slice(0, 32)}"`, { kind: kind.slice(0, 32) });
  }
}

const id = (f: Fields, k: string): string => f.str(k, ENTRY_ID_CHARS_MAX, ID_RE);
const hash = (f: Fields, k: string): HashHex => f.str(k, 64, HASH_HEX_RE);

function oneOf<T extends string>(f: Fields, k: string, allowed: readonly T[]): T {
  const v = f.str(k, 32);
  if (!(allowed as readonly string[]).includes(v)) throw auditError('E_ENTRY_INVALID', `${f.where}.${k} must be one of ${allowed.join(', ')}`, { field: k });
  return v as T;
}

function nullable<T>(f: Fields, k: string, read: () => T): T | null {
  return f.raw(k) === null ? null : read();
}

function list(f: Fields, k: string, re?: RegExp): readonly string[] {
  return Object.freeze(
    f.arr(k, ENTRY_LIST_MAX).map((item, i) => {
      if (typeof item !== 'string' || item.length > ENTRY_REASON_CHARS_MAX || (re !== undefined && !re.test(item))) {
        throw auditError('E_ENTRY_INVALID', `${f.where}.${k}[${i}] is not a valid string`, { field: `${k}[${i}]` });
      }
      return item;
    }),
  );
}

function detail(f: Fields): Readonly<Record<string, string>> {
  const d = f.obj('detail');
  const raw = f.raw('detail') as { readonly [key: string]: Json };
  const keys = Object.keys(raw);
  if (keys.length > ENTRY_DETAIL_KEYS_MAX) throw auditError('E_ENTRY_INVALID', `entry.detail has more than ${ENTRY_DETAIL_KEYS_MAX} keys`);
  const out: Record<string, string> = {};
  for (const key of keys) {
    if (!ID_RE.test(key) || key.length > 64) throw auditError('E_ENTRY_INVALID', 'entry.detail has an invalid key', { key: key.slice(0, 64) });
    out[key] = d.str(key, ENTRY_REASON_CHARS_MAX);
  }
  d.done();
  return Object.freeze(out);
}

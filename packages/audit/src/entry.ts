/**
 * Audit entries: the typed, canonical records the log holds, one per event of
 * the custody story (request, policy decision, approval, attestation,
 * signature released, manifest or measurement change, break-glass step,
 * refusal, named operational events, wallet creation, a signer's decision to
 * sign, and an aborted threshold session with its culprit).
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
/** A counted approval: `operator:sha256(approval payload)`. */
const APPROVAL_REF_RE = /^[A-Za-z0-9][A-Za-z0-9._@+-]*:[0-9a-f]{64}$/;

/** True when `s` may stand in an id field (request, operator, wallet, signer). */
export function isEntryId(s: string): boolean {
  return s.length <= ENTRY_ID_CHARS_MAX && ID_RE.test(s);
}

/** True when `s` is an error code an entry may carry (`E_...`). */
export function isEntryCode(s: string): boolean {
  return s.length <= 64 && CODE_RE.test(s);
}

/** True when `s` is an event name (`request.replayed`). */
export function isEntryEventName(s: string): boolean {
  return s.length <= 64 && EVENT_RE.test(s);
}

/** True when `s` may be a key of an entry's string map (`detail`, `versions`). */
export function isEntryMapKey(s: string): boolean {
  return s.length <= 64 && ID_RE.test(s);
}

/** An operator's request entered the system (payload by hash only). */
export interface RequestEntry {
  readonly v: 1; readonly kind: 'request'; readonly at: TimeMs;
  readonly requestId: string; readonly initiator: string; readonly action: string;
  readonly chain: string; readonly payloadHash: HashHex;
  /** The wallet asked to sign, the signing digest and the enclave-signed summary shown to approvers (custody path). */
  readonly walletId?: string; readonly digest?: HashHex; readonly summaryHash?: HashHex;
}
/**
 * The policy's decision and the exact inputs (by hash) it was computed from.
 * A hash is null when the policy in force has no such input (the first
 * policy has no address book, price table or screening list).
 */
export interface PolicyDecisionEntry {
  readonly v: 1; readonly kind: 'policy.decision'; readonly at: TimeMs;
  readonly requestId: string; readonly decision: 'allow' | 'deny' | 'needs-approval';
  readonly policyHash: HashHex; readonly addressBookHash: HashHex | null; readonly priceTableHash: HashHex | null; readonly screeningListHash: HashHex | null;
  readonly policies: readonly string[]; readonly reasons: readonly string[];
  /** The denial's code, approvals still needed per group, and every version identifier the decision used. */
  readonly code?: string; readonly approvalsRequired?: Readonly<Record<string, number>>; readonly versions?: Readonly<Record<string, string>>;
}
/**
 * An approver's verified approval over the exact signing digest. `group` and
 * `approvalHash` are null when the writer did not record them.
 */
export interface ApprovalEntry {
  readonly v: 1; readonly kind: 'approval'; readonly at: TimeMs;
  readonly requestId: string; readonly approver: string; readonly group: string | null;
  readonly digest: HashHex; readonly approvalHash: HashHex | null;
  readonly summaryHash?: HashHex; readonly expiresAt?: TimeMs;
}
/**
 * An attestation appraisal: the evidence bytes' hash and the result.
 * `evidenceHash` is null when the appraiser did not record it, `measurement`
 * when the evidence was refused before a measurement was read.
 */
export interface AttestationEntry {
  readonly v: 1; readonly kind: 'attestation'; readonly at: TimeMs;
  readonly subject: string; readonly platform: string; readonly evidenceHash: HashHex | null;
  readonly status: 'affirming' | 'warning' | 'contraindicated';
  readonly measurement: string | null; readonly reasons: readonly string[];
  /** The identity key (Ed25519, hex) the evidence binds: the key the subject's log entries are signed with. */
  readonly identityKey?: HashHex;
}
/**
 * A signature left the signers (written before release: fail closed).
 * `digest` and `signatureHash` are null when the writer did not record them.
 */
export interface SignatureReleasedEntry {
  readonly v: 1; readonly kind: 'signature.released'; readonly at: TimeMs;
  readonly requestId: string; readonly scheme: string; readonly keyId: string;
  readonly digest: HashHex | null; readonly signatureHash: HashHex | null;
  /** The chain's id of the signed transaction as the chain writes it (EVM 0x-hash, Bitcoin txid, Solana signature) and the address it spends from. */
  readonly txId?: string; readonly address?: string;
}
/**
 * The organisation manifest or an allowed enclave measurement changed.
 * `measurementsAdded`/`measurementsRemoved` are null when the writer did not
 * know the previous set; `measurements` is the set in force after the change.
 */
export interface ManifestChangeEntry {
  readonly v: 1; readonly kind: 'manifest.change'; readonly at: TimeMs;
  readonly change: 'genesis' | 'update' | 'measurement';
  readonly manifestHash: HashHex; readonly previousManifestHash: HashHex | null;
  readonly measurementsAdded: readonly string[] | null; readonly measurementsRemoved: readonly string[] | null;
  readonly version?: number; readonly signedBy?: readonly string[]; readonly measurements?: readonly string[]; readonly rulebookDigest?: HashHex;
}
/**
 * One state change of a break-glass request. `applied`: a signer (`actor`)
 * applied the executed action; `notBefore` is then when the broker executed
 * it, and `target` what it applies to (`wallet:<id>`, `organisation:<id>`).
 */
export interface BreakGlassStepEntry {
  readonly v: 1; readonly kind: 'breakglass.step'; readonly at: TimeMs;
  readonly breakglassId: string; readonly action: string;
  readonly step: 'proposed' | 'approved' | 'vetoed' | 'cancelled' | 'executed' | 'expired' | 'applied';
  readonly actor: string; readonly payloadHash: HashHex; readonly notBefore: TimeMs;
  readonly target?: string;
}
/** Something was refused, with the error code and words an operator understands. */
export interface RefusalEntry {
  readonly v: 1; readonly kind: 'refusal'; readonly at: TimeMs;
  readonly requestId: string | null; readonly code: string; readonly reason: string;
  readonly detail: Readonly<Record<string, string>>;
  /** The writer's event that refused (`approval.rejected`, `sign.refused`, ...). */
  readonly event?: string;
}
/** A named operational event (`signer.sealed`, `audit.gap_recovered`, ...). */
export interface EventEntry {
  readonly v: 1; readonly kind: 'event'; readonly at: TimeMs;
  readonly name: string; readonly detail: Readonly<Record<string, string>>;
  /** The request the event concerns, if any (`request.replayed`). */
  readonly requestId?: string;
}
/** A wallet key was created (one signer's key, or a threshold key generated across parties). */
export interface WalletCreatedEntry {
  readonly v: 1; readonly kind: 'wallet.created'; readonly at: TimeMs;
  readonly walletId: string; readonly scheme: string; readonly publicKey: string; readonly address: string;
  readonly threshold: number; readonly parties: readonly string[]; readonly requestedBy: string;
  readonly manifestHash: HashHex | null; readonly sessionId: HashHex | null;
}
/**
 * A signer's decision to sign: the verified approvals counted (each as
 * `operator:sha256(approval payload)`), the policy outcome and versions it
 * signed under, and for a threshold session the signing set.
 */
export interface SigningApprovedEntry {
  readonly v: 1; readonly kind: 'signing.approved'; readonly at: TimeMs;
  readonly requestId: string; readonly digest: HashHex; readonly decision: 'allow' | 'deny' | 'needs-approval';
  readonly approvals: readonly string[]; readonly policies: readonly string[]; readonly versions: Readonly<Record<string, string>>;
  readonly scheme: string | null; readonly signers: readonly string[]; readonly combiner: string | null;
}
/** A threshold session (key generation or signing) ended without a result, naming the culprit when one was identified. */
export interface SessionAbortedEntry {
  readonly v: 1; readonly kind: 'session.aborted'; readonly at: TimeMs;
  readonly requestId: string | null; readonly session: 'dkg' | 'sign' | 'refresh'; readonly walletId: string | null;
  readonly sessionId: HashHex | null; readonly code: string; readonly reason: string;
  readonly culprit: string | null; readonly peer: string | null;
}

/** Every record the audit log holds. */
export type AuditEntry =
  | RequestEntry | PolicyDecisionEntry | ApprovalEntry | AttestationEntry | SignatureReleasedEntry
  | ManifestChangeEntry | BreakGlassStepEntry | RefusalEntry | EventEntry
  | WalletCreatedEntry | SigningApprovedEntry | SessionAbortedEntry;

/** The `kind` discriminator of an audit entry. */
export type AuditEntryKind = AuditEntry['kind'];

/** Every entry kind, in a stable order (the evidence catalogue and reports iterate it). */
export const AUDIT_ENTRY_KINDS: readonly AuditEntryKind[] = Object.freeze([
  'request', 'policy.decision', 'approval', 'attestation', 'signature.released', 'manifest.change', 'breakglass.step', 'refusal', 'event',
  'wallet.created', 'signing.approved', 'session.aborted',
] as const);

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
      return {
        ...base, kind, requestId: id(f, 'requestId'), initiator: id(f, 'initiator'), action: id(f, 'action'), chain: id(f, 'chain'), payloadHash: hash(f, 'payloadHash'),
        ...opt(f, 'walletId', () => id(f, 'walletId')), ...opt(f, 'digest', () => hash(f, 'digest')), ...opt(f, 'summaryHash', () => hash(f, 'summaryHash')),
      };
    case 'policy.decision':
      return {
        ...base, kind, requestId: id(f, 'requestId'), decision: oneOf(f, 'decision', DECISIONS),
        policyHash: hash(f, 'policyHash'), addressBookHash: nullableHash(f, 'addressBookHash'), priceTableHash: nullableHash(f, 'priceTableHash'),
        screeningListHash: nullableHash(f, 'screeningListHash'), policies: list(f, 'policies', ID_RE), reasons: list(f, 'reasons'),
        ...opt(f, 'code', () => f.str('code', 64, CODE_RE)), ...opt(f, 'approvalsRequired', () => counts(f, 'approvalsRequired')), ...opt(f, 'versions', () => detail(f, 'versions')),
      };
    case 'approval':
      return {
        ...base, kind, requestId: id(f, 'requestId'), approver: id(f, 'approver'), group: nullable(f, 'group', () => id(f, 'group')),
        digest: hash(f, 'digest'), approvalHash: nullableHash(f, 'approvalHash'),
        ...opt(f, 'summaryHash', () => hash(f, 'summaryHash')), ...opt(f, 'expiresAt', () => f.int('expiresAt')),
      };
    case 'attestation':
      return {
        ...base, kind, subject: id(f, 'subject'), platform: id(f, 'platform'), evidenceHash: nullableHash(f, 'evidenceHash'),
        status: oneOf(f, 'status', ['affirming', 'warning', 'contraindicated'] as const), measurement: nullable(f, 'measurement', () => f.str('measurement', 8192, HEX_RE)), reasons: list(f, 'reasons'),
        ...opt(f, 'identityKey', () => hash(f, 'identityKey')),
      };
    case 'signature.released':
      return {
        ...base, kind, requestId: id(f, 'requestId'), scheme: id(f, 'scheme'), keyId: id(f, 'keyId'), digest: nullableHash(f, 'digest'), signatureHash: nullableHash(f, 'signatureHash'),
        ...opt(f, 'txId', () => id(f, 'txId')), ...opt(f, 'address', () => id(f, 'address')),
      };
    case 'manifest.change':
      return {
        ...base, kind, change: oneOf(f, 'change', ['genesis', 'update', 'measurement'] as const), manifestHash: hash(f, 'manifestHash'),
        previousManifestHash: nullableHash(f, 'previousManifestHash'),
        measurementsAdded: nullable(f, 'measurementsAdded', () => list(f, 'measurementsAdded', HEX_RE)), measurementsRemoved: nullable(f, 'measurementsRemoved', () => list(f, 'measurementsRemoved', HEX_RE)),
        ...opt(f, 'version', () => f.int('version', 1)), ...opt(f, 'signedBy', () => list(f, 'signedBy', ID_RE)),
        ...opt(f, 'measurements', () => list(f, 'measurements', HEX_RE)), ...opt(f, 'rulebookDigest', () => hash(f, 'rulebookDigest')),
      };
    case 'breakglass.step':
      return {
        ...base, kind, breakglassId: id(f, 'breakglassId'), action: id(f, 'action'),
        step: oneOf(f, 'step', ['proposed', 'approved', 'vetoed', 'cancelled', 'executed', 'expired', 'applied'] as const),
        actor: id(f, 'actor'), payloadHash: hash(f, 'payloadHash'), notBefore: f.int('notBefore'), ...opt(f, 'target', () => id(f, 'target')),
      };
    case 'refusal':
      return {
        ...base, kind, requestId: nullable(f, 'requestId', () => id(f, 'requestId')), code: f.str('code', 64, CODE_RE),
        reason: f.str('reason', ENTRY_REASON_CHARS_MAX), detail: detail(f, 'detail'), ...opt(f, 'event', () => f.str('event', 64, EVENT_RE)),
      };
    case 'event':
      return { ...base, kind, name: f.str('name', 64, EVENT_RE), detail: detail(f, 'detail'), ...opt(f, 'requestId', () => id(f, 'requestId')) };
    case 'wallet.created':
      return {
        ...base, kind, walletId: id(f, 'walletId'), scheme: id(f, 'scheme'), publicKey: f.str('publicKey', 256, HEX_RE), address: id(f, 'address'),
        threshold: f.int('threshold', 1, ENTRY_LIST_MAX), parties: list(f, 'parties', ID_RE), requestedBy: id(f, 'requestedBy'),
        manifestHash: nullableHash(f, 'manifestHash'), sessionId: nullableHash(f, 'sessionId'),
      };
    case 'signing.approved':
      return {
        ...base, kind, requestId: id(f, 'requestId'), digest: hash(f, 'digest'), decision: oneOf(f, 'decision', DECISIONS),
        approvals: list(f, 'approvals', APPROVAL_REF_RE), policies: list(f, 'policies', ID_RE), versions: detail(f, 'versions'),
        scheme: nullable(f, 'scheme', () => id(f, 'scheme')), signers: list(f, 'signers', ID_RE), combiner: nullable(f, 'combiner', () => id(f, 'combiner')),
      };
    case 'session.aborted':
      return {
        ...base, kind, requestId: nullable(f, 'requestId', () => id(f, 'requestId')), session: oneOf(f, 'session', ['dkg', 'sign', 'refresh'] as const),
        walletId: nullable(f, 'walletId', () => id(f, 'walletId')), sessionId: nullableHash(f, 'sessionId'), code: f.str('code', 64, CODE_RE),
        reason: f.str('reason', ENTRY_REASON_CHARS_MAX), culprit: nullable(f, 'culprit', () => id(f, 'culprit')), peer: nullable(f, 'peer', () => id(f, 'peer')),
      };
    default:
      throw auditError('E_ENTRY_INVALID', `unknown audit entry kind "${kind.slice(0, 32)}"`, { kind: kind.slice(0, 32) });
  }
}

const DECISIONS = ['allow', 'deny', 'needs-approval'] as const;

const id = (f: Fields, k: string): string => f.str(k, ENTRY_ID_CHARS_MAX, ID_RE);
const hash = (f: Fields, k: string): HashHex => f.str(k, 64, HASH_HEX_RE);
const nullableHash = (f: Fields, k: string): HashHex | null => nullable(f, k, () => hash(f, k));

/** An optional field: absent stays absent (so re-encoding gives back the same bytes). */
function opt<K extends string, T>(f: Fields, k: K, read: () => T): { [P in K]?: T } {
  return (f.optRaw(k) === undefined ? {} : { [k]: read() }) as { [P in K]?: T };
}

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

function detail(f: Fields, k: string): Readonly<Record<string, string>> {
  const d = f.obj(k);
  const out: Record<string, string> = {};
  for (const key of mapKeys(f, k)) out[key] = d.str(key, ENTRY_REASON_CHARS_MAX);
  d.done();
  return Object.freeze(out);
}

/** A map of group name to a small count (approvals still needed per group). */
function counts(f: Fields, k: string): Readonly<Record<string, number>> {
  const d = f.obj(k);
  const out: Record<string, number> = {};
  for (const key of mapKeys(f, k)) out[key] = d.int(key, 0, ENTRY_LIST_MAX);
  d.done();
  return Object.freeze(out);
}

function mapKeys(f: Fields, k: string): string[] {
  const keys = Object.keys(f.raw(k) as { readonly [key: string]: Json });
  if (keys.length > ENTRY_DETAIL_KEYS_MAX) throw auditError('E_ENTRY_INVALID', `${f.where}.${k} has more than ${ENTRY_DETAIL_KEYS_MAX} keys`, { field: k });
  for (const key of keys) {
    if (!ID_RE.test(key) || key.length > 64) throw auditError('E_ENTRY_INVALID', `${f.where}.${k} has an invalid key`, { field: k, key: key.slice(0, 64) });
  }
  return keys;
}

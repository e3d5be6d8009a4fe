/**
 * The one mapping from the enclave's audit events — (kind, requestId, data)
 * as enclave.ts writes them through `appendAudit` — to the typed records of
 * @custodian/audit/entry that auditors' tools read. The typed entry travels
 * inside the signed statement, so the enclave's identity signature covers it.
 *
 * Every known event has its own record (see EVENT_KINDS). The mapping never
 * stops signing: an event it does not know becomes a named `event` entry
 * with its data flattened, and an event whose data does not fit its record
 * (a field missing or out of bounds) becomes an `audit.unmapped` event that
 * names the cause. Both are signed and logged like any entry, and the unit
 * tests hold every known event to its own record. Fields an event's data
 * does not carry are null in the record, never invented.
 */
import type { Json } from '@custodian/core/canonical-json';
import { isCustodianError } from '@custodian/core/errors';
import {
  decodeAuditEntry, encodeAuditEntry, isEntryCode, isEntryEventName, isEntryId, isEntryMapKey,
  ENTRY_DETAIL_KEYS_MAX, ENTRY_LIST_MAX, ENTRY_REASON_CHARS_MAX, type AuditEntry, type HashHex,
} from '@custodian/audit/entry';

/** What the mapping may know besides the event itself (read from sealed state by the writer). */
export interface AuditMapContext {
  /** The attestation platform of the installed manifest (`sim`, ...), null before one is installed. */
  readonly platform: string | null;
  /** The installed manifest's hash and the hash it names as previous ('' at genesis). */
  readonly manifest: { readonly hash: string; readonly previousHash: string } | null;
  /** The scheme of a wallet this signer holds, null when it holds none by that id. */
  walletScheme(walletId: string): string | null;
}

/** A context that knows nothing (tests, events before a manifest). */
export const EMPTY_AUDIT_MAP_CONTEXT: AuditMapContext = { platform: null, manifest: null, walletScheme: () => null };

/** The enclave events with a record of their own, and the entry kind each becomes. */
export const EVENT_KINDS: Readonly<Record<string, AuditEntry['kind']>> = Object.freeze({
  'request.proposed': 'request',
  'request.rejected': 'refusal',
  'request.replayed': 'event',
  'policy.decision': 'policy.decision',
  'policy.denied': 'policy.decision',
  'approval.accepted': 'approval',
  'approval.rejected': 'refusal',
  'approval.invalidated': 'refusal',
  'sign.approved': 'signing.approved',
  'sign.refused': 'refusal',
  'signature.released': 'signature.released',
  'manifest.installed': 'manifest.change',
  'manifest.rejected': 'refusal',
  'attest.accepted': 'attestation',
  'attest.rejected': 'attestation',
  'wallet.created': 'wallet.created',
  'wallet.rejected': 'refusal',
  'mpc.aborted': 'session.aborted',
  'input.rejected': 'refusal',
  'time.skew_detected': 'refusal',
  // Key-share refresh (wallet-refresh.ts): named events with their data (wallet, session, public digest, parties).
  'wallet.refreshed': 'event',
  'wallet.refresh_dropped': 'event',
  // Checkpoint sync from peers (checkpoint-ops.ts): adoption is an event, a fork or bad proof a refusal.
  'checkpoint.synced': 'event',
  'checkpoint.rejected': 'refusal',
  // Quorum provisioning (provisioning-ops.ts): steps as named events, refusals as refusals.
  'provision.started': 'event',
  'provision.share_accepted': 'event',
  'provision.completed': 'event',
  'provision.refused': 'refusal',
  'provision.share_refused': 'refusal',
  // Break-glass freezes applied by this signer (breakglass-ops.ts): a step of the request, refusals as refusals.
  'breakglass.applied': 'breakglass.step',
  'breakglass.refused': 'refusal',
  // A signing that counted its approvals under a break-glass policy override (policy-override.ts).
  'policy.overridden': 'event',
  // Signer backups and restores (backup-ops.ts): export and restore as named events, refusals as refusals.
  'backup.exported': 'event',
  'backup.restored': 'event',
  'backup.refused': 'refusal',
  // State migrations to a new enclave build (migrate-ops.ts): the old build's last entry and the new build's first, refusals as refusals.
  'state.migrated_out': 'event',
  'state.migrated_in': 'event',
  'state.migration_refused': 'refusal',
});

/** Event name of the fallback entry written when an event's data does not fit its record. */
export const UNMAPPED_EVENT = 'audit.unmapped';

/** Maps one enclave event to its typed entry (canonical, decodable); never throws for data it cannot map. */
export function mapAuditEvent(kind: string, requestId: string | null, data: Json, atMs: number, ctx: AuditMapContext): AuditEntry {
  try {
    return checked(mapKnown(kind, requestId, obj(data), atMs, ctx));
  } catch (e) {
    if (!(e instanceof Unmappable) && !isCustodianError(e)) throw e;
    const cause = e instanceof Unmappable ? e.message : e.code;
    return checked({ v: 1, kind: 'event', at: atMs, name: UNMAPPED_EVENT, detail: { event: clip(kind), cause: clip(cause) }, ...requestPart(requestId) });
  }
}

/** The entry as the decoder reads it back (so what is signed is what auditors decode). */
function checked(e: AuditEntry): AuditEntry {
  return decodeAuditEntry(encodeAuditEntry(e));
}

type Data = Readonly<Record<string, Json>>;

function mapKnown(kind: string, requestId: string | null, d: Data, at: number, ctx: AuditMapContext): AuditEntry {
  const base = { v: 1 as const, at };
  switch (kind) {
    case 'request.proposed':
      return {
        ...base, kind: 'request', requestId: reqId(requestId), initiator: id(d, 'initiator'), action: 'sign-transaction',
        // CAIP-2 style: eip155:<chain id> for EVM, else the chain family (older events name neither: evm).
        chain: proposedChain(d), payloadHash: hash(d, 'rawTxHash'), walletId: id(d, 'walletId'), digest: hash(d, 'txDigest'), summaryHash: hash(d, 'summaryHash'),
      };
    case 'policy.decision':
    case 'policy.denied':
      return policyDecision(requestId, d, at);
    case 'approval.accepted':
      return {
        ...base, kind: 'approval', requestId: reqId(requestId), approver: id(d, 'operatorId'),
        // Not in the event: which group the approval counted for, and the approval payload's hash.
        group: optId(d, 'group'), digest: hash(d, 'txDigest'), approvalHash: optHash(d, 'approvalHash'),
        summaryHash: hash(d, 'summaryHash'), expiresAt: int(d, 'expiresAtMs'),
      };
    case 'sign.approved':
      return signingApproved(requestId, d, at);
    case 'signature.released': {
      const walletId = id(d, 'walletId');
      return {
        ...base, kind: 'signature.released', requestId: reqId(requestId), scheme: optId(d, 'scheme') ?? ctx.walletScheme(walletId) ?? 'unknown', keyId: walletId,
        digest: optHash(d, 'txDigest'), signatureHash: optHash(d, 'signatureHash'), txId: id(d, 'txHash'), address: id(d, 'from'),
      };
    }
    case 'manifest.installed':
      return manifestChange(d, at, ctx);
    case 'attest.accepted':
      return {
        ...base, kind: 'attestation', subject: id(d, 'peer'), platform: ctx.platform ?? 'unknown', evidenceHash: optHash(d, 'evidenceHash'),
        status: 'affirming', measurement: hexStr(d, 'measurement'), reasons: [], identityKey: hash(d, 'identityKey'),
      };
    case 'attest.rejected':
      return {
        ...base, kind: 'attestation', subject: id(d, 'peer'), platform: ctx.platform ?? 'unknown', evidenceHash: optHash(d, 'evidenceHash'),
        status: 'contraindicated', measurement: null, reasons: [clip(`${code(d)}: ${text(d, 'reason')}`)],
      };
    case 'wallet.created':
      return walletCreated(d, at);
    case 'breakglass.applied':
      return breakglassApplied(d, at);
    case 'mpc.aborted': {
      const session = text(d, 'kind');
      if (session !== 'dkg' && session !== 'sign' && session !== 'refresh') throw new Unmappable(`mpc.aborted names session kind ${session.slice(0, 16)}`);
      return {
        ...base, kind: 'session.aborted', requestId: requestId === null ? null : reqId(requestId), session, walletId: optId(d, 'walletId'),
        sessionId: optHash(d, 'sessionId'), code: code(d), reason: clip(text(d, 'reason')), culprit: optId(d, 'culprit'), peer: optId(d, 'peer'),
      };
    }
    case 'request.replayed':
      return { ...base, kind: 'event', name: kind, detail: flatten(d), requestId: reqId(requestId) };
    case 'request.rejected':
    case 'approval.rejected':
    case 'approval.invalidated':
    case 'sign.refused':
    case 'manifest.rejected':
    case 'checkpoint.rejected':
    case 'provision.refused':
    case 'provision.share_refused':
    case 'breakglass.refused':
    case 'backup.refused':
    case 'state.migration_refused':
    case 'wallet.rejected':
    case 'input.rejected':
    case 'time.skew_detected': {
      const { code: _c, reason: _r, ...rest } = d;
      return { ...base, kind: 'refusal', requestId: requestId === null ? null : reqId(requestId), code: code(d), reason: clip(text(d, 'reason')), detail: flatten(rest), event: kind };
    }
    default:
      // An event this mapping does not know yet: kept, named and typed as an operational event.
      return { ...base, kind: 'event', name: isEntryEventName(kind) ? kind : 'enclave.event', detail: { ...flatten(d), ...(isEntryEventName(kind) ? {} : { event: clip(kind) }) }, ...requestPart(requestId) };
  }
}

/** The chain a `request.proposed` event names. */
function proposedChain(d: Data): string {
  const chain = d['chain'];
  if (chain === 'sol') return 'solana';
  if (chain === 'btc') return 'bitcoin';
  const id = d['chainId'];
  return typeof id === 'string' && /^[0-9]{1,20}$/.test(id) ? `eip155:${id}` : 'evm';
}

function policyDecision(requestId: string | null, d: Data, at: number): AuditEntry {
  const versions = obj(d['versions'] ?? {});
  const decision = text(d, 'decision');
  if (decision !== 'allow' && decision !== 'deny' && decision !== 'needs-approval') throw new Unmappable(`decision ${decision.slice(0, 16)}`);
  const denial = d['code'];
  return {
    v: 1, kind: 'policy.decision', at, requestId: reqId(requestId), decision,
    // The Cedar rulebook's policy set, or the first policy's hash (manifest policy without a rulebook).
    policyHash: hash(versions, versions['policySet'] !== undefined ? 'policySet' : 'firstPolicy'),
    addressBookHash: optHash(versions, 'addressBook'), priceTableHash: optHash(versions, 'priceTable'), screeningListHash: optHash(versions, 'screeningList'),
    policies: idList(versions['policies'] ?? []), reasons: textList(d['reasons'] ?? []),
    ...(typeof denial === 'string' ? { code: codeOf(denial) } : {}),
    approvalsRequired: counts(d['approvalsByGroup'] ?? {}),
    versions: flatten(versions, ['policies']),
  };
}

function signingApproved(requestId: string | null, d: Data, at: number): AuditEntry {
  const versions = obj(d['versions'] ?? {});
  const decision = text(d, 'policy');
  if (decision !== 'allow' && decision !== 'deny' && decision !== 'needs-approval') throw new Unmappable(`policy outcome ${decision.slice(0, 16)}`);
  return {
    v: 1, kind: 'signing.approved', at, requestId: reqId(requestId), digest: hash(d, 'txDigest'), decision,
    approvals: textList(d['approvals'] ?? []), policies: idList(versions['policies'] ?? []), versions: flatten(versions, ['policies']),
    scheme: optId(d, 'scheme'), signers: idList(d['signers'] ?? []), combiner: optId(d, 'combiner'),
  };
}

function manifestChange(d: Data, at: number, ctx: AuditMapContext): AuditEntry {
  const manifestHash = hash(d, 'manifestHash');
  const version = int(d, 'version');
  const measurements = textList(d['measurements'] ?? []);
  const rulebook = d['rulebook'];
  const rulebookDigest = rulebook !== null && typeof rulebook === 'object' && !Array.isArray(rulebook) ? optHash(obj(rulebook), 'digest') : null;
  // The previous hash: from the event when it carries one, else from the manifest just installed (its previousHash).
  const previousSet = d['previousMeasurements'] === undefined || version === 1 ? null : textList(d['previousMeasurements']);
  const previous = optHash(d, 'previousHash') ?? (ctx.manifest !== null && ctx.manifest.hash === manifestHash && ctx.manifest.previousHash !== '' ? ctx.manifest.previousHash : null);
  return {
    v: 1, kind: 'manifest.change', at, change: version === 1 ? 'genesis' : 'update', manifestHash, previousManifestHash: previous,
    // At genesis every measurement is new; on an update, against the previous set when the event carries it (older events do not).
    measurementsAdded: version === 1 ? measurements : previousSet === null ? null : measurements.filter((x) => !previousSet.includes(x)),
    measurementsRemoved: version === 1 ? [] : previousSet === null ? null : previousSet.filter((x) => !measurements.includes(x)),
    version, signedBy: idList(d['signedBy'] ?? []), measurements, ...(rulebookDigest === null ? {} : { rulebookDigest }),
  };
}

function walletCreated(d: Data, at: number): AuditEntry {
  const threshold = d['threshold'] === undefined ? 1 : int(d, 'threshold');
  return {
    v: 1, kind: 'wallet.created', at, walletId: id(d, 'walletId'), scheme: id(d, 'scheme'), publicKey: hexStr(d, 'publicKey'), address: id(d, 'address'),
    threshold, parties: d['parties'] === undefined ? [id(d, 'signerId')] : idList(d['parties']), requestedBy: id(d, 'requestedBy'),
    manifestHash: optHash(d, 'manifestHash'), sessionId: optHash(d, 'sessionId'),
  };
}

/** A signer applied an executed break-glass action: the signer is the actor, the broker's execution time `notBefore`. */
function breakglassApplied(d: Data, at: number): AuditEntry {
  const scope = text(d, 'scope');
  // `request`: an override-policy applied to one signing request (policy-override.ts).
  if (scope !== 'wallet' && scope !== 'organisation' && scope !== 'request') throw new Unmappable(`break-glass scope ${scope.slice(0, 16)}`);
  return {
    v: 1, kind: 'breakglass.step', at, breakglassId: id(d, 'breakglassId'), action: id(d, 'action'), step: 'applied', actor: id(d, 'signerId'),
    payloadHash: hash(d, 'payloadHash'), notBefore: int(d, 'executedAtMs'), target: `${scope}:${id(d, scope === 'wallet' ? 'walletId' : scope === 'request' ? 'requestId' : 'orgId')}`,
  };
}

/** The event's data does not fit its record. */
class Unmappable extends Error {}

function obj(v: Json): Data {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Unmappable('data is not an object');
  return v as Data;
}

function text(d: Data, k: string): string {
  const v = d[k];
  if (typeof v !== 'string') throw new Unmappable(`${k} is not a string`);
  return v;
}

function id(d: Data, k: string): string {
  const v = text(d, k);
  if (!isEntryId(v)) throw new Unmappable(`${k} is not an id`);
  return v;
}

function optId(d: Data, k: string): string | null {
  return d[k] === undefined || d[k] === null ? null : id(d, k);
}

function reqId(requestId: string | null): string {
  if (requestId === null || !isEntryId(requestId)) throw new Unmappable('the event names no valid request');
  return requestId;
}

function requestPart(requestId: string | null): { requestId?: string } {
  return requestId !== null && isEntryId(requestId) ? { requestId } : {};
}

/** A 32-byte hash as bare lower-case hex (the enclave writes digests `0x`-prefixed). */
function hash(d: Data, k: string): HashHex {
  const v = text(d, k).replace(/^0x/, '');
  if (!/^[0-9a-f]{64}$/.test(v)) throw new Unmappable(`${k} is not a 32-byte hex hash`);
  return v;
}

function optHash(d: Data, k: string): HashHex | null {
  return d[k] === undefined || d[k] === null ? null : hash(d, k);
}

function hexStr(d: Data, k: string): string {
  const v = text(d, k).replace(/^0x/, '');
  if (!/^([0-9a-f]{2}){1,4096}$/.test(v)) throw new Unmappable(`${k} is not hex`);
  return v;
}

function int(d: Data, k: string): number {
  const v = d[k];
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new Unmappable(`${k} is not a non-negative integer`);
  return v;
}

function code(d: Data): string {
  return codeOf(text(d, 'code'));
}

function codeOf(c: string): string {
  if (!isEntryCode(c)) throw new Unmappable('code is not an E_ code');
  return c;
}

function clip(s: string): string {
  return s.length <= ENTRY_REASON_CHARS_MAX ? s : `${s.slice(0, ENTRY_REASON_CHARS_MAX - 1)}…`;
}

function list(v: Json): readonly Json[] {
  if (!Array.isArray(v)) throw new Unmappable('a list is not an array');
  if (v.length > ENTRY_LIST_MAX) throw new Unmappable(`a list has more than ${ENTRY_LIST_MAX} items`);
  return v;
}

function textList(v: Json): string[] {
  return list(v).map((x) => {
    if (typeof x !== 'string') throw new Unmappable('a list item is not a string');
    return clip(x);
  });
}

function idList(v: Json): string[] {
  return list(v).map((x) => {
    if (typeof x !== 'string' || !isEntryId(x)) throw new Unmappable('a list item is not an id');
    return x;
  });
}

function counts(v: Json): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, n] of Object.entries(obj(v))) {
    if (!isEntryMapKey(k) || typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0 || n > ENTRY_LIST_MAX) throw new Unmappable('approvals by group is not a map of small counts');
    out[k] = n;
  }
  return out;
}

/**
 * Scalar fields (and lists of scalars, comma-joined; nested objects with
 * `key.sub` names) as a string map, in key order, at most
 * ENTRY_DETAIL_KEYS_MAX keys; `skip` names fields carried elsewhere.
 */
function flatten(d: Data, skip: readonly string[] = [], prefix = '', out: Record<string, string> = {}): Record<string, string> {
  for (const k of Object.keys(d).sort()) {
    const v = d[k];
    const key = prefix + k;
    if (skip.includes(k) || v === undefined || v === null || !isEntryMapKey(key)) continue;
    if (Object.keys(out).length >= ENTRY_DETAIL_KEYS_MAX) break;
    if (typeof v === 'object' && !Array.isArray(v)) flatten(v as Data, [], `${key}.`, out);
    else out[key] = clip(Array.isArray(v) ? v.map((x) => (typeof x === 'object' ? JSON.stringify(x) : String(x))).join(',') : String(v));
  }
  return out;
}

/**
 * Leaves of the custody log: each is an audit statement signed inside a
 * signer enclave with its attested identity key (Ed25519), and the statement
 * carries the typed entry (entry.ts) so the signature covers it:
 *
 *   leaf      = canonical JSON { statement, signature: hex(64 bytes) }
 *   statement = { signerId, seq, prevHash, timeMs, kind, requestId, data, entry }
 *   signature = Ed25519(identityKey, "custodian/enclave/audit-entry.v1\n" || canonical(statement))
 *
 * `kind`/`data` are the enclave's own event (kept for operators); `entry` is
 * the record auditors' tools read. `prevHash` chains the statements of one
 * signer (SHA-256 of the previous canonical statement, zeros at seq 0).
 *
 * `decodeCustodyLeaf` is the one decoder of a custody leaf. Steps, in order:
 * size → strict, canonical JSON → envelope shape → the signer's key (unknown
 * signer refused) → signature → typed entry (strict decoder) → the typed
 * entry agrees with the envelope (time, request). `CustodyChains` then checks
 * each signer's sequence and hash chain across the log.
 *
 * This mirrors @custodian/protocol/enclave-signed (which this package may not
 * import); apps/enclave/src/audit-entry-map.test.ts signs with the protocol
 * and decodes here, so the two cannot drift apart silently.
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { canonicalJsonBytes, parseJson, type Json } from '@custodian/core/canonical-json';
import { bytesToHex, concatBytes, equalBytes, utf8 } from '@custodian/core/bytes';
import { Fields } from '@custodian/core/fields';
import { isCustodianError } from '@custodian/core/errors';
import { auditError } from './errors.js';
import { decodeAuditEntry, type AuditEntry, type HashHex } from './entry.js';
import { sha256 } from './hash.js';
import { ENTRY_BYTES_MAX } from './limits.js';

/** Statement kind of custody-log statements (equals protocol's AUDIT_ENTRY_KIND). */
export const CUSTODY_STATEMENT_KIND = 'audit-entry.v1';
/** Signature domain of custody-log statements (protocol's `custodian/enclave/<kind>\n`). */
export const CUSTODY_STATEMENT_DOMAIN = `custodian/enclave/${CUSTODY_STATEMENT_KIND}\n`;
/** `prevHash` of a signer's first statement. */
export const CUSTODY_GENESIS_HASH: HashHex = '0'.repeat(64);
/** Most signers whose chains one verification tracks. */
export const CUSTODY_SIGNERS_MAX = 64;

const DOMAIN_BYTES = utf8(CUSTODY_STATEMENT_DOMAIN);
const SIGNER_ID_RE = /^[a-z0-9][a-z0-9._-]{0,63}$/;
const HASH_HEX_RE = /^[0-9a-f]{64}$/;

/** Identity public keys (32-byte Ed25519) by signer id. */
export type SignerKeys = ReadonlyMap<string, Uint8Array>;

/** A verified custody leaf: who wrote it, where in its chain, and the typed entry it carries. */
export interface CustodyLeaf {
  readonly signerId: string;
  readonly seq: number;
  readonly prevHash: HashHex;
  readonly timeMs: number;
  /** The enclave's event name (`policy.decision`, `sign.refused`, ...). */
  readonly event: string;
  readonly requestId: string | null;
  readonly entry: AuditEntry;
  /** SHA-256 of the canonical statement: the next statement's `prevHash`. */
  readonly statementHash: HashHex;
  /** The leaf as JSON (carried in evidence bundles so auditors re-check the signature). */
  readonly signed: Json;
}

/**
 * Decodes and verifies one custody leaf under `keys`: a CustodyLeaf or
 * E_LEAF_MALFORMED / E_LEAF_SIGNER_UNKNOWN / E_LEAF_SIGNATURE / E_LEAF_UNTYPED /
 * E_LEAF_MISMATCH / E_ENTRY_INVALID / E_ENTRY_TOO_LARGE.
 */
export function decodeCustodyLeaf(bytes: Uint8Array, keys: SignerKeys): CustodyLeaf {
  if (bytes.length > ENTRY_BYTES_MAX) throw auditError('E_ENTRY_TOO_LARGE', `custody leaf of ${bytes.length} bytes exceeds ${ENTRY_BYTES_MAX}`, { size: bytes.length });
  const { json, statement, signature, envelope } = readEnvelope(bytes);
  const key = keys.get(envelope.signerId);
  if (key === undefined) throw auditError('E_LEAF_SIGNER_UNKNOWN', `leaf is signed as ${envelope.signerId}, whose identity key is not known to this verifier`, { signerId: envelope.signerId });
  const statementBytes = canonicalJsonBytes(statement);
  if (!verifyCustodyStatement(statementBytes, signature, key)) {
    throw auditError('E_LEAF_SIGNATURE', `leaf ${envelope.signerId}#${envelope.seq} is not signed by ${envelope.signerId}'s identity key`, { signerId: envelope.signerId, seq: envelope.seq });
  }
  if (envelope.entry === undefined) throw auditError('E_LEAF_UNTYPED', `leaf ${envelope.signerId}#${envelope.seq} (${envelope.event}) carries no typed entry`, { signerId: envelope.signerId, seq: envelope.seq });
  const entry = decodeAuditEntry(canonicalJsonBytes(envelope.entry));
  checkAgreement(envelope, entry);
  return Object.freeze({
    signerId: envelope.signerId, seq: envelope.seq, prevHash: envelope.prevHash, timeMs: envelope.timeMs, event: envelope.event,
    requestId: envelope.requestId, entry, statementHash: bytesToHex(sha256(statementBytes)), signed: json,
  });
}

/** Ed25519 (RFC 8032, no ZIP-215 leniency, as the protocol verifies) over the domain-separated canonical statement bytes. */
export function verifyCustodyStatement(statementBytes: Uint8Array, signature: Uint8Array, identityKey: Uint8Array): boolean {
  try {
    return ed25519.verify(signature, concatBytes(DOMAIN_BYTES, statementBytes), identityKey, { zip215: false });
  } catch {
    return false;
  }
}

interface Envelope {
  readonly signerId: string;
  readonly seq: number;
  readonly prevHash: string;
  readonly timeMs: number;
  readonly event: string;
  readonly requestId: string | null;
  readonly entry: Json | undefined;
}

function readEnvelope(bytes: Uint8Array): { json: Json; statement: Json; signature: Uint8Array; envelope: Envelope } {
  try {
    const json = parseJson(bytes, ENTRY_BYTES_MAX);
    if (!equalBytes(canonicalJsonBytes(json), bytes)) throw auditError('E_LEAF_MALFORMED', 'custody leaf is not in canonical JSON form');
    const f = new Fields(json, 'leaf');
    const statement = f.raw('statement');
    const signature = f.hex('signature', 64);
    f.done();
    const s = new Fields(statement, 'leaf.statement');
    const requestId = s.raw('requestId');
    const envelope: Envelope = {
      signerId: s.str('signerId', 64, SIGNER_ID_RE),
      seq: s.int('seq'),
      prevHash: s.str('prevHash', 64, HASH_HEX_RE),
      timeMs: s.int('timeMs'),
      event: s.str('kind', 64),
      requestId: requestId === null ? null : s.str('requestId', 128),
      entry: s.optRaw('entry'),
    };
    s.raw('data'); // the enclave's own event data: signed, kept for operators, not interpreted here
    s.done();
    return { json, statement, signature, envelope };
  } catch (e) {
    if (isCustodianError(e, 'E_LEAF_MALFORMED')) throw e;
    if (isCustodianError(e)) throw auditError('E_LEAF_MALFORMED', `custody leaf is malformed: ${e.message}`, { cause: e.code });
    throw e;
  }
}

// The typed entry must tell the same story as the signed envelope around it.
function checkAgreement(env: Envelope, entry: AuditEntry): void {
  const where = { signerId: env.signerId, seq: env.seq };
  if (entry.at !== env.timeMs) throw auditError('E_LEAF_MISMATCH', `leaf ${env.signerId}#${env.seq}: entry time ${entry.at} differs from the statement's ${env.timeMs}`, where);
  const entryRequest = 'requestId' in entry ? (entry.requestId ?? null) : null;
  if (entryRequest !== null && entryRequest !== env.requestId) {
    throw auditError('E_LEAF_MISMATCH', `leaf ${env.signerId}#${env.seq}: entry names request ${entryRequest}, the statement ${String(env.requestId)}`, where);
  }
}

/** Most statements one signer may have signed for one sequence number (retries of an unacknowledged append). */
export const CUSTODY_SIBLINGS_MAX = 16;

/**
 * Checks every signer's chain across the log, in log order: a signer's
 * statements appear with seq 0, 1, 2, ... and each names the hash of one of
 * its predecessors at the previous seq. A gap, a reordering or a rewritten
 * statement is refused (E_LEAF_CHAIN) at the first log index where it shows.
 *
 * Leniency, stated: appends are at-least-once (docs/decisions/0003): a
 * statement whose append was not acknowledged may be in the log, and the
 * enclave then signs another statement for the same seq after the same
 * predecessor. Such a sibling is accepted (both stay visible, counted as
 * `superseded`), and the next statement may follow either; the same
 * statement twice, or a repeat with another predecessor, is not.
 */
export class CustodyChains {
  readonly #heads = new Map<string, { next: number; hashes: Set<HashHex>; prev: HashHex | null; superseded: number }>();

  /** Accepts the leaf at log `index` or throws E_LEAF_CHAIN. */
  accept(leaf: CustodyLeaf, index: number): void {
    let head = this.#heads.get(leaf.signerId);
    if (head === undefined) {
      if (this.#heads.size >= CUSTODY_SIGNERS_MAX) throw auditError('E_LEAF_CHAIN', `more than ${CUSTODY_SIGNERS_MAX} signers write to this log`, { index });
      head = { next: 0, hashes: new Set([CUSTODY_GENESIS_HASH]), prev: null, superseded: 0 };
      this.#heads.set(leaf.signerId, head);
    }
    if (leaf.seq === head.next && head.hashes.has(leaf.prevHash)) {
      this.#heads.set(leaf.signerId, { next: leaf.seq + 1, hashes: new Set([leaf.statementHash]), prev: leaf.prevHash, superseded: head.superseded });
      return;
    }
    if (leaf.seq === head.next - 1 && leaf.prevHash === head.prev && !head.hashes.has(leaf.statementHash)) {
      if (head.hashes.size >= CUSTODY_SIBLINGS_MAX) throw auditError('E_LEAF_CHAIN', `entry ${index}: ${leaf.signerId} signed more than ${CUSTODY_SIBLINGS_MAX} statements #${leaf.seq}`, { index, signerId: leaf.signerId, seq: leaf.seq });
      head.hashes.add(leaf.statementHash);
      head.superseded += 1;
      return;
    }
    if (leaf.seq !== head.next) {
      throw auditError('E_LEAF_CHAIN', `entry ${index}: ${leaf.signerId}'s statement #${leaf.seq} where #${head.next} was due (an entry of this signer was dropped, repeated or reordered)`, {
        index, signerId: leaf.signerId, expectedSeq: head.next, seq: leaf.seq,
      });
    }
    throw auditError('E_LEAF_CHAIN', `entry ${index}: ${leaf.signerId}#${leaf.seq} does not follow its previous statement (hash chain broken)`, {
      index, signerId: leaf.signerId, seq: leaf.seq, expected: [...head.hashes][0]!, actual: leaf.prevHash,
    });
  }

  /** Statements in each signer's chain (its next seq). */
  counts(): Record<string, number> {
    return Object.fromEntries([...this.#heads].map(([id, h]) => [id, h.next]));
  }

  /** Per signer, statements superseded by a re-signed sibling (unacknowledged appends that reached the log). */
  superseded(): Record<string, number> {
    return Object.fromEntries([...this.#heads].map(([id, h]) => [id, h.superseded]));
  }
}

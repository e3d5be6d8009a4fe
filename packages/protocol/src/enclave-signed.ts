/**
 * Statements signed by an enclave's attested identity key (Ed25519):
 * transaction summaries shown to approvers, and audit entries. Anyone holding
 * the identity key from verified evidence can check them; the host cannot
 * forge them.
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { canonicalJsonBytes, type Json } from '@custodian/core/canonical-json';
import { bytesToHex, concatBytes, utf8 } from '@custodian/core/bytes';
import { Fields } from '@custodian/core/fields';

/** Domain of enclave statements: `custodian/enclave/<kind>\n`. */
function domain(kind: string): Uint8Array {
  return utf8(`custodian/enclave/${kind}\n`);
}

/** A statement and the enclave's signature over it. */
export interface EnclaveSigned {
  readonly statement: Json;
  readonly signature: Uint8Array;
}

/** Signs a statement of `kind` with an identity secret key. */
export function signStatement(kind: string, statement: Json, identitySecret: Uint8Array): EnclaveSigned {
  return { statement, signature: ed25519.sign(concatBytes(domain(kind), canonicalJsonBytes(statement)), identitySecret) };
}

/** Verifies an enclave statement of `kind` under an identity public key. */
export function verifyStatement(kind: string, s: EnclaveSigned, identityKey: Uint8Array): boolean {
  try {
    return ed25519.verify(s.signature, concatBytes(domain(kind), canonicalJsonBytes(s.statement)), identityKey, { zip215: false });
  } catch {
    return false;
  }
}

/** sha256 of the canonical statement (hex). */
export function statementHash(statement: Json): string {
  return bytesToHex(sha256(canonicalJsonBytes(statement)));
}

/** Wire form. */
export function encodeEnclaveSigned(s: EnclaveSigned): Json {
  return { statement: s.statement, signature: bytesToHex(s.signature) };
}

/** Decodes the wire form (signature not yet checked). */
export function decodeEnclaveSigned(json: Json, where: string): EnclaveSigned {
  const f = new Fields(json, where);
  const s = { statement: f.raw('statement'), signature: f.hex('signature', 64) };
  f.done();
  return s;
}

/** Statement kind of transaction summaries. */
export const SUMMARY_KIND = 'tx-summary.v1';
/** Statement kind of audit entries. */
export const AUDIT_ENTRY_KIND = 'audit-entry.v1';

/**
 * The audit entry statement; `prevHash` chains entries of one signer. `kind`
 * and `data` are the enclave's event; `entry` is the same event as the typed
 * record auditors read (@custodian/audit/entry, checked by
 * @custodian/audit/custody-leaf), inside the statement so the signature
 * covers it. Statements written before typed entries existed have none.
 */
export interface AuditEntry {
  readonly signerId: string;
  readonly seq: number;
  readonly prevHash: string;
  readonly timeMs: number;
  readonly kind: string;
  readonly requestId: string | null;
  readonly data: Json;
  readonly entry?: Json;
}

/** Hash of the empty chain. */
export const AUDIT_GENESIS_HASH = '0'.repeat(64);

/** Decodes an audit entry statement. */
export function decodeAuditEntry(json: Json): AuditEntry {
  const f = new Fields(json, 'auditEntry');
  const requestId = f.optRaw('requestId');
  const typed = f.optRaw('entry');
  const e: AuditEntry = {
    signerId: f.str('signerId', 64),
    seq: f.int('seq'),
    prevHash: f.str('prevHash', 64, /^[0-9a-f]{64}$/),
    timeMs: f.int('timeMs'),
    kind: f.str('kind', 64),
    requestId: typeof requestId === 'string' ? requestId : null,
    data: f.raw('data'),
    ...(typed === undefined ? {} : { entry: typed }),
  };
  f.done();
  return e;
}

/**
 * Verifies a run of one signer's audit entries from `seq` 0: every signature
 * under `identityKey`, consecutive sequence numbers and the hash chain.
 * Returns the index of the first bad entry, or -1 when all are good.
 */
export function verifyAuditChain(entries: readonly EnclaveSigned[], identityKey: Uint8Array): number {
  let prev = AUDIT_GENESIS_HASH;
  for (let i = 0; i < entries.length; i++) {
    const s = entries[i]!;
    if (!verifyStatement(AUDIT_ENTRY_KIND, s, identityKey)) return i;
    let e: AuditEntry;
    try {
      e = decodeAuditEntry(s.statement);
    } catch {
      return i;
    }
    if (e.seq !== i || e.prevHash !== prev) return i;
    prev = statementHash(s.statement);
  }
  return -1;
}

/**
 * Who may write to the custody log: each signer enclave's attested identity
 * key (the key its leaves are signed with) and its note keys (the keys its
 * checkpoint signatures and cosignatures verify under).
 *
 * The host writes this document beside the log (CUSTODY_SIGNERS_FILE_NAME)
 * from the signers it attested, so `custodian audit verify --log DIR` works
 * alone. Like the checkpoint policy kept there, it is a convenience, not a
 * trust anchor: the CLI reports where the keys came from and an auditor may
 * pass a document of their own. Two checks tie it to the log itself: each
 * signer's log key must be one the checkpoint policy accepts, and every
 * identity key a verified signer recorded in the log after appraising a
 * peer's attestation evidence must be the one listed (`CustodySignerBook`).
 */
import { canonicalJsonBytes, parseJson } from '@custodian/core/canonical-json';
import { bytesToHex, equalBytes, hexToBytes } from '@custodian/core/bytes';
import { Fields } from '@custodian/core/fields';
import { isCustodianError } from '@custodian/core/errors';
import { auditError } from './errors.js';
import { CUSTODY_SIGNERS_MAX, type CustodyLeaf, type SignerKeys } from './custody-leaf.js';
import { NOTE_NAME_CHARS_MAX } from './limits.js';
import type { CheckpointPolicyDocument } from './checkpoint-policy.js';

/** File name of the signers document kept beside the log directory. */
export const CUSTODY_SIGNERS_FILE_NAME = 'custodian-log-signers.json';
/** Largest signers document read. */
export const CUSTODY_SIGNERS_BYTES_MAX = 64 * 1024;
/** Format tag of the signers document. */
export const CUSTODY_SIGNERS_FORMAT = 'custodian-log-signers/v1';

const SIGNER_ID_RE = /^[a-z0-9][a-z0-9._-]{0,63}$/;
const KEY_HEX_RE = /^[0-9a-f]{64}$/;

/** One signer as the host attested it. */
export interface CustodySignerRecord {
  readonly signerId: string;
  /** Ed25519 identity public key, hex: bound by the attestation evidence's report data. */
  readonly identityKey: string;
  /** Its checkpoint log key and cosignature key (vkeys). */
  readonly logKey: string;
  readonly cosignKey: string;
}

/** The signers document. */
export interface CustodySignersDocument {
  readonly format: typeof CUSTODY_SIGNERS_FORMAT;
  readonly origin: string;
  readonly signers: readonly CustodySignerRecord[];
}

/** The canonical bytes of a signers document. */
export function encodeCustodySigners(doc: CustodySignersDocument): Uint8Array {
  const bytes = canonicalJsonBytes(doc);
  decodeCustodySigners(bytes); // never write what the reader would refuse
  return bytes;
}

/** The one decoder of an (untrusted) signers document: E_SIGNERS_MALFORMED on anything off. */
export function decodeCustodySigners(bytes: Uint8Array): CustodySignersDocument {
  if (bytes.length > CUSTODY_SIGNERS_BYTES_MAX) throw auditError('E_SIGNERS_MALFORMED', `signers document of ${bytes.length} bytes exceeds ${CUSTODY_SIGNERS_BYTES_MAX}`);
  try {
    const f = new Fields(parseJson(bytes, CUSTODY_SIGNERS_BYTES_MAX), 'signers');
    if (f.str('format', 64) !== CUSTODY_SIGNERS_FORMAT) throw auditError('E_SIGNERS_MALFORMED', `signers document format must be ${CUSTODY_SIGNERS_FORMAT}`);
    const origin = f.str('origin', NOTE_NAME_CHARS_MAX);
    const signers = f.arr('signers', CUSTODY_SIGNERS_MAX).map((v, i) => {
      const g = new Fields(v, `signers.signers[${i}]`);
      const r = { signerId: g.str('signerId', 64, SIGNER_ID_RE), identityKey: g.str('identityKey', 64, KEY_HEX_RE), logKey: g.str('logKey', 512), cosignKey: g.str('cosignKey', 512) };
      g.done();
      return Object.freeze(r);
    });
    f.done();
    if (new Set(signers.map((s) => s.signerId)).size !== signers.length) throw auditError('E_SIGNERS_MALFORMED', 'a signer is listed twice');
    return Object.freeze({ format: CUSTODY_SIGNERS_FORMAT, origin, signers: Object.freeze(signers) });
  } catch (e) {
    if (isCustodianError(e, 'E_SIGNERS_MALFORMED')) throw e;
    throw auditError('E_SIGNERS_MALFORMED', `signers document is invalid: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/**
 * The identity keys of `doc`, after checking it belongs to the log of
 * `policy`: same origin, and each signer's log key among the policy's.
 */
export function signerKeysOf(doc: CustodySignersDocument, policy: CheckpointPolicyDocument): Map<string, Uint8Array> {
  if (doc.origin !== policy.origin) throw auditError('E_SIGNER_KEY_MISMATCH', `the signers document is for "${doc.origin.slice(0, 80)}", the log for "${policy.origin}"`);
  const keys = new Map<string, Uint8Array>();
  for (const s of doc.signers) {
    if (!policy.logKeys.includes(s.logKey)) throw auditError('E_SIGNER_KEY_MISMATCH', `signer ${s.signerId}'s log key is not one the checkpoint policy accepts`, { signerId: s.signerId });
    keys.set(s.signerId, hexToBytes(s.identityKey));
  }
  return keys;
}

/** Where a signer's identity key came from. */
export type SignerKeySource = 'given' | 'attested-in-log';

/**
 * The identity keys a log verification trusts, growing as it reads: an
 * affirming attestation entry, written and signed by an already trusted
 * signer, records the identity key of the peer it appraised. A key so
 * recorded must equal the one already held (E_SIGNER_KEY_MISMATCH); a
 * signer not yet known is learnt from it ("attested in the log").
 */
export class CustodySignerBook {
  readonly #keys: Map<string, Uint8Array>;
  readonly #sources = new Map<string, SignerKeySource>();
  readonly #corroborated = new Map<string, Set<string>>();

  constructor(given: SignerKeys) {
    this.#keys = new Map(given);
    for (const id of given.keys()) this.#sources.set(id, 'given');
  }

  /** The keys known so far. */
  get keys(): SignerKeys {
    return this.#keys;
  }

  /** Checks (and learns from) a verified leaf at log `index`. */
  observe(leaf: CustodyLeaf, index: number): void {
    const e = leaf.entry;
    if (e.kind !== 'attestation' || e.status !== 'affirming' || e.identityKey === undefined) return;
    const recorded = hexToBytes(e.identityKey);
    const held = this.#keys.get(e.subject);
    if (held !== undefined && !equalBytes(held, recorded)) {
      throw auditError('E_SIGNER_KEY_MISMATCH', `entry ${index}: ${leaf.signerId} attested ${e.subject} with identity key ${e.identityKey.slice(0, 16)}…, not the key ${bytesToHex(held).slice(0, 16)}… this verifier holds`, {
        index, subject: e.subject, recorded: e.identityKey, held: bytesToHex(held),
      });
    }
    if (held === undefined) {
      if (this.#keys.size >= CUSTODY_SIGNERS_MAX) throw auditError('E_SIGNER_KEY_MISMATCH', `more than ${CUSTODY_SIGNERS_MAX} signers attested in the log`, { index });
      this.#keys.set(e.subject, recorded);
      this.#sources.set(e.subject, 'attested-in-log');
    }
    const by = this.#corroborated.get(e.subject) ?? new Set<string>();
    by.add(leaf.signerId);
    this.#corroborated.set(e.subject, by);
  }

  /** Per signer: where its key came from and which peers attested that same key in the log. */
  summary(): Record<string, { source: SignerKeySource; attestedBy: string[] }> {
    const out: Record<string, { source: SignerKeySource; attestedBy: string[] }> = {};
    for (const id of [...this.#keys.keys()].sort()) out[id] = { source: this.#sources.get(id)!, attestedBy: [...(this.#corroborated.get(id) ?? [])].sort() };
    return out;
  }
}

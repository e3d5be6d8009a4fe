/**
 * The broker's audit file as a signed hash chain: each JSON line is
 *
 *   { seq, prevHash, kind, atMs, body, signature }
 *
 * where `prevHash` is SHA-256 of the previous line's statement (64 zeros for
 * the first) and `signature` the broker's `kbs-signing` signature (ECDSA
 * P-256 in the HSM, r‖s hex) over `custodian/kbs/audit-entry/v1\n` ‖
 * canonical JSON of `{ seq, prevHash, kind, atMs, body }`. Editing, removing
 * or reordering an entry breaks the chain or a signature, and only the HSM
 * can sign a replacement; `verifyKbsAuditLog` (and `custodian kbs audit
 * verify`) checks a file offline with the broker's public key. Cutting
 * entries off the end is what a chain alone cannot show: the newest head is
 * reported by `GET /v1/health` for monitors to keep.
 *
 * Appends are serialised (one chain), fsynced, and resolve only when durable;
 * the broker acts only after that (fail closed).
 */
import { createHash } from 'node:crypto';
import { open, readFile, type FileHandle } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { CustodianError } from '@custodian/core/errors';
import { bytesToHex, hexToBytes } from '@custodian/core/bytes';
import { canonicalJson, parseJson, type Json, domainStatementBytes } from '@custodian/core/canonical-json';
import { Fields } from '@custodian/core/fields';
import { KBS_SIGNATURE_BYTES, verifyKbsSignature } from '@custodian/protocol/key-release';
import type { KbsAuditEvent, KbsAuditSink } from './audit-sink.js';

/** Domain of the broker's audit signatures. */
export const KBS_AUDIT_DOMAIN = 'custodian/kbs/audit-entry/v1';
/** `prevHash` of the first entry. */
export const KBS_AUDIT_GENESIS = '0'.repeat(64);
/** Largest audit file `verifyKbsAuditLog` reads. */
export const KBS_AUDIT_FILE_BYTES_MAX = 1024 * 1024 * 1024;
/** Largest line (an entry). */
const LINE_BYTES_MAX = 256 * 1024;

/** The chain's newest position. */
export interface KbsAuditHead {
  /** Entries in the chain (the next entry's seq). */
  readonly size: number;
  /** Statement hash of the newest entry (genesis when empty). */
  readonly headHash: string;
}

function statementOf(seq: number, prevHash: string, e: KbsAuditEvent): Json {
  return { seq, prevHash, kind: e.kind, atMs: e.atMs, body: e.body };
}

function statementBytes(statement: Json): Uint8Array {
  return domainStatementBytes(KBS_AUDIT_DOMAIN, statement);
}

function hashOf(statement: Json): string {
  return createHash('sha256').update(statementBytes(statement)).digest('hex');
}

/** Appends signed, chained entries to a JSON-lines file. */
export class SignedChainAuditSink implements KbsAuditSink {
  #head: KbsAuditHead;
  #queue: Promise<unknown> = Promise.resolve();
  /** Set when a failed write could not be cut off: the file's tail is unknown, so nothing is chained after it. */
  #tailUnknown = false;

  private constructor(
    readonly path: string,
    private readonly sign: (statement: Uint8Array) => Promise<Uint8Array>,
    head: KbsAuditHead,
  ) {
    this.#head = head;
  }

  /**
   * Opens the file (creating it on first append) and continues its chain;
   * `publicKey` verifies the whole existing file first, so a broker never
   * extends a chain that was tampered with (E_KBS_AUDIT_INVALID).
   */
  static async open(path: string, sign: (statement: Uint8Array) => Promise<Uint8Array>, publicKey: Uint8Array): Promise<SignedChainAuditSink> {
    const head = existsSync(path) ? verifyKbsAuditLog(await readFile(path), publicKey).head : { size: 0, headHash: KBS_AUDIT_GENESIS };
    return new SignedChainAuditSink(path, sign, head);
  }

  /** The newest position (for health reports and monitors). */
  get head(): KbsAuditHead {
    return this.#head;
  }

  /** Cuts the file back to `size` after a failed write; if that fails too, every later append refuses (fail closed). */
  async #cutBack(fh: FileHandle, size: number): Promise<void> {
    try {
      await fh.truncate(size);
      await fh.sync();
    } catch {
      this.#tailUnknown = true;
    }
  }

  append(event: KbsAuditEvent): Promise<void> {
    const run = this.#queue.then(() => this.#append(event));
    this.#queue = run.catch(() => undefined);
    return run;
  }

  async #append(event: KbsAuditEvent): Promise<void> {
    const statement = statementOf(this.#head.size, this.#head.headHash, event);
    const signature = await this.sign(statementBytes(statement));
    const line = canonicalJson({ ...(statement as Record<string, Json>), signature: bytesToHex(signature) }) + '\n';
    if (this.#tailUnknown) {
      throw new CustodianError('E_KBS_AUDIT_INVALID', 'a failed audit write could not be undone; restart the key broker so that it verifies its audit file again', {});
    }
    const fh = await open(this.path, 'a', 0o600);
    let sizeBefore: number | null = null;
    try {
      sizeBefore = (await fh.stat()).size;
      await fh.appendFile(line);
      await fh.sync();
    } catch (e) {
      // The line may be (partly) in the file without being durable: cut it off, or the next entry would
      // repeat its seq and fork the chain — a file the broker itself then refuses to open.
      if (sizeBefore !== null) await this.#cutBack(fh, sizeBefore);
      throw e;
    } finally {
      await fh.close();
    }
    this.#head = { size: this.#head.size + 1, headHash: hashOf(statement) };
  }
}

/** One verified entry. */
export interface VerifiedKbsAuditEntry extends KbsAuditEvent {
  readonly seq: number;
}

/**
 * Verifies a whole audit file: every line decodes, chains to the one before
 * and carries the broker's signature under `publicKey`. E_KBS_AUDIT_INVALID
 * names the first line that does not.
 */
export function verifyKbsAuditLog(bytes: Uint8Array, publicKey: Uint8Array): { readonly entries: VerifiedKbsAuditEntry[]; readonly head: KbsAuditHead } {
  if (bytes.length > KBS_AUDIT_FILE_BYTES_MAX) throw new CustodianError('E_KBS_AUDIT_INVALID', `the audit file exceeds ${KBS_AUDIT_FILE_BYTES_MAX} bytes`, {});
  const text = Buffer.from(bytes).toString('utf8');
  const lines = text.split('\n');
  if (lines.at(-1) !== '') throw new CustodianError('E_KBS_AUDIT_INVALID', 'the audit file does not end with a complete line (a torn write or a cut)', { line: lines.length });
  lines.pop();
  const entries: VerifiedKbsAuditEntry[] = [];
  let prevHash = KBS_AUDIT_GENESIS;
  lines.forEach((line, i) => {
    const bad = (why: string): never => {
      throw new CustodianError('E_KBS_AUDIT_INVALID', `audit line ${i + 1}: ${why}`, { line: i + 1 });
    };
    if (Buffer.byteLength(line) > LINE_BYTES_MAX) bad(`longer than ${LINE_BYTES_MAX} bytes`);
    let f: Fields;
    try {
      f = new Fields(parseJson(line, LINE_BYTES_MAX), 'kbsAudit');
    } catch (e) {
      return bad(`not JSON (${(e as Error).message})`);
    }
    let entry: VerifiedKbsAuditEntry;
    let signature: Uint8Array;
    let statement: Json;
    try {
      const seq = f.int('seq');
      const prev = f.str('prevHash', 64, /^[0-9a-f]{64}$/);
      const kind = f.str('kind', 64) as KbsAuditEvent['kind'];
      const atMs = f.int('atMs');
      const raw = f.raw('body');
      if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) bad('body is not an object');
      signature = f.hex('signature', KBS_SIGNATURE_BYTES);
      f.done();
      if (seq !== i) bad(`seq ${seq} where ${i} was expected (an entry removed or reordered)`);
      if (prev !== prevHash) bad('prevHash does not match the previous entry (an entry removed, edited or reordered)');
      entry = { seq, kind, atMs, body: raw as { readonly [k: string]: Json } };
      statement = statementOf(seq, prev, entry);
    } catch (e) {
      if (e instanceof CustodianError && e.code === 'E_KBS_AUDIT_INVALID') throw e;
      return bad(`malformed entry (${(e as Error).message})`);
    }
    if (!verifyKbsSignature(publicKey, statementBytes(statement), signature)) bad('the signature is not the key broker\'s (edited, or signed by another key)');
    prevHash = hashOf(statement);
    entries.push(entry);
  });
  return { entries, head: { size: entries.length, headHash: prevHash } };
}

/** Hex helper for callers holding the broker key as text. */
export function kbsPublicKeyFromHex(hex: string): Uint8Array {
  const key = hexToBytes(hex);
  if (key.length !== 65 || key[0] !== 0x04) throw new CustodianError('E_KBS_KEY_INVALID', 'the key broker public key is 65 bytes of uncompressed SEC1 P-256 (04…)', {});
  return key;
}

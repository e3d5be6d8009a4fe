/**
 * A durable NonceStore: an append-only journal file, fsync'ed after every
 * record, with the nonces sealed (AES-256-GCM) under a key the caller holds
 * (the enclave's sealing key, or one derived from it). The durability
 * contract of NonceStore holds across kill -9: `reserve` and `consume`
 * resolve only after their record is on disk; a torn last line (a crash
 * mid-write) is ignored, which is safe because the promise of that write
 * never resolved, so neither the commitment nor the share left the signer.
 * Consumed keys are kept forever (B30: never fresh again), so the journal
 * grows by one short line per signature.
 */
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, writeSync } from 'node:fs';
import { createCipheriv, createDecipheriv } from 'node:crypto';
import { bytesToHex, hexToBytes, utf8 } from '@custodian/core/bytes';
import type { Random } from '@custodian/core/clock';
import { CustodianError } from '@custodian/core/errors';
import { Secret } from '@custodian/core/secret';
import type { NonceLookup, NonceStore, SigningNonces, StoredNonce } from './nonce-store.js';

/** Sealing-key length (AES-256-GCM). */
export const NONCE_JOURNAL_KEY_BYTES = 32;
/** Largest journal accepted on open, in bytes. */
export const NONCE_JOURNAL_BYTES_MAX = 256 * 1024 * 1024;

const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_RE = /^[0-9a-f]{64}$/;

interface Sealed {
  readonly sessionId: string;
  readonly box: Uint8Array;
}

/** An fsync'ed, append-only, sealed nonce journal (one per signer and key). */
export class JournalNonceStore implements NonceStore {
  readonly #fd: number;
  readonly #key: Secret<Uint8Array>;
  readonly #random: Random;
  readonly #fresh = new Map<string, Sealed>();
  readonly #consumed = new Set<string>();

  private constructor(fd: number, key: Secret<Uint8Array>, random: Random) {
    this.#fd = fd;
    this.#key = key;
    this.#random = random;
  }

  /** Opens (or creates) the journal at `path` and replays it. */
  static open(path: string, sealingKey: Secret<Uint8Array>, random: Random): JournalNonceStore {
    if (sealingKey.expose().length !== NONCE_JOURNAL_KEY_BYTES) throw new CustodianError('E_NONCE_STORE_INVALID', `journal key must be ${NONCE_JOURNAL_KEY_BYTES} bytes`);
    const text = existsSync(path) ? readFileSync(path) : Buffer.alloc(0);
    if (text.length > NONCE_JOURNAL_BYTES_MAX) throw new CustodianError('E_NONCE_STORE_INVALID', 'nonce journal is too large');
    const store = new JournalNonceStore(openSync(path, 'a'), sealingKey, random);
    const lines = text.toString('utf8').split('\n');
    lines.pop(); // the part after the last newline: empty, or a torn write whose promise never resolved
    lines.forEach((line, i) => store.#replay(line, i));
    return store;
  }

  #replay(line: string, index: number): void {
    const bad = (): never => {
      throw new CustodianError('E_NONCE_STORE_INVALID', `nonce journal record ${index} is corrupt`, { index });
    };
    let r: unknown;
    try {
      r = JSON.parse(line);
    } catch {
      bad();
    }
    if (typeof r !== 'object' || r === null) bad();
    const rec = r as Record<string, unknown>;
    const key = rec['key'];
    if (typeof key !== 'string' || !KEY_RE.test(key)) bad();
    const k = key as string;
    if (rec['op'] === 'consume') {
      this.#consumed.add(k);
      this.#fresh.delete(k);
    } else if (rec['op'] === 'reserve' && typeof rec['sessionId'] === 'string' && typeof rec['box'] === 'string') {
      if (!this.#consumed.has(k)) this.#fresh.set(k, { sessionId: rec['sessionId'], box: hexToBytes(rec['box']) });
    } else bad();
  }

  #append(record: Record<string, string>): void {
    writeSync(this.#fd, JSON.stringify(record) + '\n');
    fsyncSync(this.#fd);
  }

  async reserve(key: string, record: StoredNonce): Promise<void> {
    if (!KEY_RE.test(key)) throw new CustodianError('E_NONCE_STORE_INVALID', 'nonce key must be 32 bytes hex');
    if (this.#fresh.has(key) || this.#consumed.has(key)) throw new CustodianError('E_NONCE_REUSED', 'nonce key already used');
    const n = record.nonces.expose();
    const box = this.#seal(key, n);
    this.#append({ op: 'reserve', key, sessionId: record.sessionId, box: bytesToHex(box) });
    this.#fresh.set(key, { sessionId: record.sessionId, box });
  }

  async lookup(key: string): Promise<NonceLookup> {
    if (this.#consumed.has(key)) return { state: 'consumed' };
    const s = this.#fresh.get(key);
    return s === undefined ? { state: 'unknown' } : { state: 'fresh', record: { sessionId: s.sessionId, nonces: this.#open(key, s.box) } };
  }

  async consume(key: string): Promise<NonceLookup> {
    if (this.#consumed.has(key)) return { state: 'consumed' };
    const s = this.#fresh.get(key);
    if (s === undefined) return { state: 'unknown' };
    // Durable mark first (B30): only then may the nonces be used.
    this.#append({ op: 'consume', key });
    this.#consumed.add(key);
    this.#fresh.delete(key);
    return { state: 'fresh', record: { sessionId: s.sessionId, nonces: this.#open(key, s.box) } };
  }

  /** Closes the journal file. */
  close(): void {
    closeSync(this.#fd);
  }

  #seal(key: string, n: SigningNonces): Uint8Array {
    const iv = this.#random.bytes(IV_BYTES);
    const c = createCipheriv('aes-256-gcm', this.#key.expose(), iv);
    c.setAAD(utf8(key));
    const body = Buffer.concat([c.update(n.hiding), c.update(n.binding), c.final()]);
    return new Uint8Array(Buffer.concat([iv, body, c.getAuthTag()]));
  }

  #open(key: string, box: Uint8Array): Secret<SigningNonces> {
    try {
      const d = createDecipheriv('aes-256-gcm', this.#key.expose(), box.subarray(0, IV_BYTES));
      d.setAAD(utf8(key));
      d.setAuthTag(box.subarray(box.length - TAG_BYTES));
      const plain = Buffer.concat([d.update(box.subarray(IV_BYTES, box.length - TAG_BYTES)), d.final()]);
      const half = plain.length / 2;
      return new Secret({ hiding: new Uint8Array(plain.subarray(0, half)), binding: new Uint8Array(plain.subarray(half)) });
    } catch {
      throw new CustodianError('E_NONCE_STORE_INVALID', 'sealed nonce failed authentication');
    }
  }
}

/**
 * Where a signer keeps its round-one nonces between rounds. The contract that
 * makes reuse impossible (THREATS.md B30, F02, L06): a nonce is recorded
 * durably before its commitment leaves the signer, and marked consumed durably
 * BEFORE the signature share that uses it is released. Keys are derived from
 * the public commitment pair, so the set of keys is the global set of
 * (share, commitment) pairs ever used; a consumed key is never fresh again.
 */
import { CustodianError } from '@custodian/core/errors';
import type { Secret } from '@custodian/core/secret';

/** Default bound on outstanding nonces per signer (L06: back-pressure instead of unbounded growth). */
export const NONCE_FRESH_MAX = 4096;

/** The secret nonce pair of RFC 9591 §5.1, SerializeScalar form. */
export interface SigningNonces {
  readonly hiding: Uint8Array;
  readonly binding: Uint8Array;
}

/** What a signer stores per commitment: the session it was made for and the secret nonces. */
export interface StoredNonce {
  readonly sessionId: string;
  readonly nonces: Secret<SigningNonces>;
}

/** The state of a nonce key in the store. */
export type NonceLookup = { readonly state: 'fresh'; readonly record: StoredNonce } | { readonly state: 'consumed' } | { readonly state: 'unknown' };

/**
 * A signer's nonce store. Implementations backed by sealed storage must make
 * `reserve` and `consume` durable (fsync or a committed transaction) before
 * their promises resolve; after a crash, a key is either fresh with its
 * nonces or consumed, never fresh twice.
 */
export interface NonceStore {
  /** Durably records fresh nonces under `key`; must reject if `key` was ever used. */
  reserve(key: string, record: StoredNonce): Promise<void>;
  /** Reads a key's state without changing it. */
  lookup(key: string): Promise<NonceLookup>;
  /**
   * Atomically marks `key` consumed (durably, and zeroising the stored
   * nonces) and returns the nonces when it was fresh. Exactly one caller ever
   * receives `fresh` for a key.
   */
  consume(key: string): Promise<NonceLookup>;
}

/** An in-memory NonceStore (tests, and a model for the sealed-storage one); consumed keys are remembered forever. */
export class MemoryNonceStore implements NonceStore {
  readonly #fresh = new Map<string, StoredNonce>();
  readonly #consumed = new Set<string>();

  /** `freshMax` bounds outstanding (reserved, unconsumed) nonces (THREATS.md L06 back-pressure). */
  constructor(readonly freshMax: number = NONCE_FRESH_MAX) {}

  async reserve(key: string, record: StoredNonce): Promise<void> {
    if (this.#fresh.has(key) || this.#consumed.has(key)) throw new CustodianError('E_NONCE_REUSED', 'nonce key already used');
    if (this.#fresh.size >= this.freshMax) throw new CustodianError('E_NONCE_POOL_EXHAUSTED', 'too many outstanding signing nonces; retry later', { freshMax: this.freshMax, retryable: true });
    this.#fresh.set(key, record);
  }

  async lookup(key: string): Promise<NonceLookup> {
    if (this.#consumed.has(key)) return { state: 'consumed' };
    const record = this.#fresh.get(key);
    return record === undefined ? { state: 'unknown' } : { state: 'fresh', record };
  }

  async consume(key: string): Promise<NonceLookup> {
    if (this.#consumed.has(key)) return { state: 'consumed' };
    const record = this.#fresh.get(key);
    if (record === undefined) return { state: 'unknown' };
    // Mark first, then hand out: the same order a durable store must keep.
    this.#consumed.add(key);
    this.#fresh.delete(key);
    return { state: 'fresh', record };
  }

  /** Number of fresh (reserved, unconsumed) nonces; for back-pressure and tests. */
  get freshCount(): number {
    return this.#fresh.size;
  }
}

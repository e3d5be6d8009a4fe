/**
 * The enclave's FROST NonceStore, kept in its sealed state (THREATS.md B30,
 * F02, L06): a nonce pair is sealed before its commitment leaves, and marked
 * consumed — sealed — before the signature share that uses it can be
 * computed. After a crash or restart a key is either fresh with its nonces or
 * consumed, never fresh twice. Unused nonces past the session time and
 * consumed keys past it are forgotten: a forgotten key is `unknown`, which
 * signs nothing (signPackage refuses E_NONCE_UNKNOWN).
 */
import { CustodianError } from '@custodian/core/errors';
import { Secret } from '@custodian/core/secret';
import type { NonceLookup, NonceStore, StoredNonce } from '@custodian/tss/frost/nonce-store';
import { FROST_NONCES_SEALED_MAX, type EnclaveState } from './state.js';

/** A NonceStore whose every change is sealed (`persist`) before its promise resolves. */
export class SealedNonceStore implements NonceStore {
  constructor(
    private readonly state: () => EnclaveState,
    private readonly persist: () => Promise<void>,
    private readonly nowMs: () => number,
    readonly freshMax: number = FROST_NONCES_SEALED_MAX,
  ) {}

  /** Seals fresh nonces under `key`; refuses a key ever used and more than `freshMax` outstanding. */
  async reserve(key: string, record: StoredNonce): Promise<void> {
    const s = this.state();
    if (s.frostNonces.has(key) || s.frostConsumed.has(key)) throw new CustodianError('E_NONCE_REUSED', 'nonce key already used');
    if (s.frostNonces.size >= this.freshMax) throw new CustodianError('E_NONCE_POOL_EXHAUSTED', 'too many outstanding signing nonces; retry later', { freshMax: this.freshMax, retryable: true });
    const n = record.nonces.expose();
    s.frostNonces.set(key, { sessionId: record.sessionId, hiding: new Secret(Uint8Array.from(n.hiding)), binding: new Secret(Uint8Array.from(n.binding)), atMs: this.nowMs() });
    await this.persist();
  }

  /** A key's state, unchanged. */
  async lookup(key: string): Promise<NonceLookup> {
    const s = this.state();
    if (s.frostConsumed.has(key)) return { state: 'consumed' };
    const r = s.frostNonces.get(key);
    return r === undefined ? { state: 'unknown' } : { state: 'fresh', record: { sessionId: r.sessionId, nonces: new Secret({ hiding: Uint8Array.from(r.hiding.expose()), binding: Uint8Array.from(r.binding.expose()) }) } };
  }

  /** Marks `key` consumed and seals that before handing out its nonces (exactly once). */
  async consume(key: string): Promise<NonceLookup> {
    const s = this.state();
    if (s.frostConsumed.has(key)) return { state: 'consumed' };
    const r = s.frostNonces.get(key);
    if (r === undefined) return { state: 'unknown' };
    const record: StoredNonce = { sessionId: r.sessionId, nonces: new Secret({ hiding: Uint8Array.from(r.hiding.expose()), binding: Uint8Array.from(r.binding.expose()) }) };
    s.frostConsumed.set(key, this.nowMs());
    s.frostNonces.delete(key);
    r.hiding.zeroise();
    r.binding.zeroise();
    await this.persist();
    return { state: 'fresh', record };
  }

  /** Forgets unused nonces and consumed keys older than `maxAgeMs` (both then read as unknown: nothing signs with them). */
  prune(maxAgeMs: number): void {
    const s = this.state();
    const before = this.nowMs() - maxAgeMs;
    for (const [k, r] of s.frostNonces) {
      if (r.atMs < before) {
        r.hiding.zeroise();
        r.binding.zeroise();
        s.frostNonces.delete(k);
      }
    }
    for (const [k, at] of s.frostConsumed) if (at < before) s.frostConsumed.delete(k);
  }
}

/**
 * The one ephemeral key a pristine signer holds between attesting it and
 * receiving what was sealed to it (a restore from backup, a migration from
 * the old build): in memory only, bound to the nonce it was attested with,
 * usable for a bounded time, zeroised when replaced or cleared.
 */
import { CustodianError } from '@custodian/core/errors';
import { bytesToHex } from '@custodian/core/bytes';
import type { Secret } from '@custodian/core/secret';

/** A prepared key: the nonce its evidence bound, the key pair, when. */
export interface PreparedKey {
  readonly nonce: Uint8Array;
  readonly keys: { readonly publicKey: Uint8Array; readonly privateKey: Secret<Uint8Array> };
  readonly atMs: number;
}

/** One slot; `refusal` is the code and message for a nonce with no fresh preparation. */
export class EphemeralKeySlot {
  #prepared: PreparedKey | null = null;

  constructor(
    private readonly ttlMs: number,
    private readonly refusal: { readonly code: string; readonly message: string },
  ) {}

  /** Replaces any earlier preparation (its key is zeroised). */
  set(p: PreparedKey): void {
    this.clear();
    this.#prepared = p;
  }

  /** The preparation for `nonce`, if it is still fresh. */
  take(nonce: Uint8Array, nowMs: number): PreparedKey {
    const p = this.#prepared;
    if (!p || bytesToHex(p.nonce) !== bytesToHex(nonce) || nowMs - p.atMs > this.ttlMs || nowMs < p.atMs) throw new CustodianError(this.refusal.code, this.refusal.message);
    return p;
  }

  /** Zeroises and forgets the preparation. */
  clear(): void {
    this.#prepared?.keys.privateKey.zeroise();
    this.#prepared = null;
  }
}

/**
 * Verifier-chosen nonces for key-release requests (THREATS.md "Freshness and
 * binding", B21): random, single-use, expiring. A nonce is consumed by the
 * first request that names it, whatever that request's outcome, so a
 * replayed request is refused. Consumed nonces are remembered until they
 * would have expired, to tell a replay from an unknown nonce.
 */
import { CustodianError } from '@custodian/core/errors';
import { bytesToHex } from '@custodian/core/bytes';
import type { Clock, Random } from '@custodian/core/clock';
import { KEY_RELEASE_NONCE_BYTES } from '@custodian/protocol/key-release';

/** Length of a nonce (the wire's bound, packages/protocol). */
export const KBS_NONCE_BYTES = KEY_RELEASE_NONCE_BYTES;
/** Default lifetime of an issued nonce. */
export const KBS_NONCE_TTL_MS_DEFAULT = 60_000;
/** Most nonces outstanding (issued, unconsumed, unexpired) at once. */
export const KBS_NONCES_OUTSTANDING_MAX = 10_000;

/** An issued nonce. */
export interface IssuedNonce {
  readonly nonce: Uint8Array;
  readonly expiresAtMs: number;
}

/** Error codes of the nonce store. */
export type NonceErrorCode = 'E_KBS_NONCE_UNKNOWN' | 'E_KBS_NONCE_EXPIRED' | 'E_KBS_NONCE_REPLAYED' | 'E_KBS_BUSY';

/** Issues and consumes single-use nonces. */
export class NonceStore {
  readonly #outstanding = new Map<string, number>();
  readonly #consumed = new Map<string, number>();

  constructor(
    private readonly clock: Clock,
    private readonly random: Random,
    private readonly ttlMs = KBS_NONCE_TTL_MS_DEFAULT,
  ) {}

  /** Issues a fresh nonce; E_KBS_BUSY when too many are outstanding. */
  issue(): IssuedNonce {
    const now = this.clock.nowMs();
    this.#purge(now);
    if (this.#outstanding.size >= KBS_NONCES_OUTSTANDING_MAX) {
      throw new CustodianError<NonceErrorCode>('E_KBS_BUSY', 'too many key-release nonces are outstanding; retry later', { max: KBS_NONCES_OUTSTANDING_MAX });
    }
    const nonce = this.random.bytes(KBS_NONCE_BYTES);
    const expiresAtMs = now + this.ttlMs;
    this.#outstanding.set(bytesToHex(nonce), expiresAtMs);
    return { nonce, expiresAtMs };
  }

  /** Consumes `nonce` or throws why it cannot be used. */
  consume(nonce: Uint8Array): void {
    const now = this.clock.nowMs();
    const key = bytesToHex(nonce);
    const expiresAtMs = this.#outstanding.get(key);
    if (expiresAtMs === undefined) {
      if (this.#consumed.has(key)) throw new CustodianError<NonceErrorCode>('E_KBS_NONCE_REPLAYED', 'this nonce was already used by an earlier request (replay)', {});
      throw new CustodianError<NonceErrorCode>('E_KBS_NONCE_UNKNOWN', 'this nonce was not issued by this key broker, or it expired long ago', {});
    }
    this.#outstanding.delete(key);
    this.#consumed.set(key, expiresAtMs);
    if (now >= expiresAtMs) throw new CustodianError<NonceErrorCode>('E_KBS_NONCE_EXPIRED', 'this nonce has expired; ask for a fresh one', { expiresAtMs, nowMs: now });
  }

  #purge(now: number): void {
    for (const [k, exp] of this.#outstanding) if (exp <= now) this.#outstanding.delete(k);
    for (const [k, exp] of this.#consumed) if (exp <= now) this.#consumed.delete(k);
  }
}

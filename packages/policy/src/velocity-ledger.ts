/**
 * Spending state for per-transaction and rolling-window limits, as a pure
 * object the enclave seals (toJSON / fromJSON). `reserve` checks every limit
 * and records the spend in one synchronous step, so on Node's single thread
 * no interleaving of concurrent requests can pass a limit (THREATS.md L01);
 * a reservation is committed when the transaction is signed and released
 * when it never is. Reservations expire; committing an expired one is refused
 * (a request replayed after its reservation expired).
 */
import { CustodianError } from '@custodian/core/errors';
import type { Json } from '@custodian/core/canonical-json';
import type { LimitCaps, LimitScope, LimitSet } from './limits.js';

/** Most live entries (reserved or within the longest window). */
export const LEDGER_ENTRIES_MAX = 200_000;
/** Most closed request ids remembered (committed, released, expired). */
export const CLOSED_IDS_MAX = 200_000;
/** Most (wallet, destination) pairs remembered for first-time checks. */
export const KNOWN_DESTINATIONS_MAX = 1_000_000;

/** Most destinations one spend may name (a Bitcoin batch payout, several Solana transfers). */
export const SPEND_DESTINATIONS_MAX = 256;

/** The part of a spend paid to one destination. */
export interface DestinationPortion {
  /** `chain:address-key`. */
  readonly destination: string;
  readonly valueMinor: bigint | null;
  readonly baseUnits: bigint;
}

/** One spend as the limits see it. */
export interface Spend {
  readonly requestId: string;
  readonly wallet: string;
  readonly initiator: string;
  /** `chain:asset-key`, e.g. `eth:native` or `eth:0xa0b8…`. */
  readonly asset: string;
  /** `chain:address-key`. */
  readonly destination: string;
  /** Value in minor units of the reference currency; null when unpriced. */
  readonly valueMinor: bigint | null;
  readonly baseUnits: bigint;
  /**
   * When a spend pays several destinations: what each one receives (the
   * first is `destination`). Destination-scoped limits and first-time
   * destinations are counted per portion; the other scopes use the totals.
   * Absent means one destination receiving the whole spend.
   */
  readonly destinations?: readonly DestinationPortion[];
}

/** The destinations of a spend with what each receives. */
export function portionsOf(s: Spend): readonly DestinationPortion[] {
  return s.destinations ?? [{ destination: s.destination, valueMinor: s.valueMinor, baseUnits: s.baseUnits }];
}

/** The spend as seen by one of its destinations: that portion's value, and no other destination. */
function asPortion(s: Spend, p: DestinationPortion): Spend {
  return { requestId: s.requestId, wallet: s.wallet, initiator: s.initiator, asset: s.asset, destination: p.destination, valueMinor: p.valueMinor, baseUnits: p.baseUnits };
}

/** Why a spend would break a limit. */
export interface LimitBreach {
  readonly code: 'E_POLICY_VELOCITY_EXCEEDED' | 'E_POLICY_LIMIT_EXCEEDED' | 'E_PRICE_UNAVAILABLE';
  readonly limit: string;
  readonly windowMs: number | null;
  readonly measure: 'valueMinor' | 'baseUnits' | 'count';
  readonly used: string;
  readonly requested: string;
  readonly max: string;
}

interface Entry extends Spend {
  readonly atMs: number;
  state: 'reserved' | 'committed';
  readonly expiresAtMs: number;
}

/** Words for a breach, for decisions and errors. */
export function describeBreach(b: LimitBreach): string {
  if (b.code === 'E_PRICE_UNAVAILABLE') return `limit ${b.limit} is in the reference currency but the asset has no price`;
  const window = b.windowMs === null ? 'per transaction' : `per ${Math.round(b.windowMs / 1000)} s`;
  return `limit ${b.limit} (${b.measure} ${window}): ${b.used} used + ${b.requested} requested > ${b.max}`;
}

function scopeKey(s: Spend, scope: LimitScope): string {
  return scope === 'wallet' ? s.wallet : scope === 'initiator' ? s.initiator : scope === 'asset' ? s.asset : s.destination;
}

/** The ledger. */
export class VelocityLedger {
  readonly #limits: LimitSet;
  readonly #entries = new Map<string, Entry>();
  readonly #closed = new Map<string, 'committed' | 'released' | 'expired'>();
  readonly #known = new Set<string>();

  constructor(limits: LimitSet) {
    this.#limits = limits;
  }

  /** The first limit `spend` would break at `nowMs`, or null. Does not change state. */
  check(spend: Spend, nowMs: number): LimitBreach | null {
    for (const l of this.#limits.perTransaction) {
      const b = this.#breach(l, l.id, null, spend, [], 'E_POLICY_LIMIT_EXCEEDED');
      if (b) return b;
    }
    for (const l of this.#limits.velocity) {
      const inWindow = [...this.#entries.values()].filter((e) => this.#live(e, nowMs) && e.atMs > nowMs - l.windowMs);
      if (l.scope === 'destination') {
        for (const p of portionsOf(spend)) {
          const live = inWindow.flatMap((e) => portionsOf(e).filter((q) => q.destination === p.destination).map((q) => ({ ...e, ...asPortion(e, q) })));
          const b = this.#breach(l, l.id, l.windowMs, asPortion(spend, p), live, 'E_POLICY_VELOCITY_EXCEEDED');
          if (b) return b;
        }
        continue;
      }
      const key = scopeKey(spend, l.scope);
      const b = this.#breach(l, l.id, l.windowMs, spend, inWindow.filter((e) => scopeKey(e, l.scope) === key), 'E_POLICY_VELOCITY_EXCEEDED');
      if (b) return b;
    }
    return null;
  }

  #breach(caps: LimitCaps, id: string, windowMs: number | null, s: Spend, live: readonly Entry[], code: LimitBreach['code']): LimitBreach | null {
    const base = { limit: id, windowMs };
    if (caps.maxCount !== null && live.length + 1 > caps.maxCount) {
      return { ...base, code, measure: 'count', used: String(live.length), requested: '1', max: String(caps.maxCount) };
    }
    if (caps.maxValueMinor !== null) {
      if (s.valueMinor === null || live.some((e) => e.valueMinor === null)) return { ...base, code: 'E_PRICE_UNAVAILABLE', measure: 'valueMinor', used: '?', requested: '?', max: caps.maxValueMinor.toString() };
      const used = live.reduce((n, e) => n + (e.valueMinor ?? 0n), 0n);
      if (used + s.valueMinor > caps.maxValueMinor) return { ...base, code, measure: 'valueMinor', used: used.toString(), requested: s.valueMinor.toString(), max: caps.maxValueMinor.toString() };
    }
    if (caps.maxBaseUnits !== null && caps.asset === s.asset) {
      const used = live.filter((e) => e.asset === caps.asset).reduce((n, e) => n + e.baseUnits, 0n);
      if (used + s.baseUnits > caps.maxBaseUnits) return { ...base, code, measure: 'baseUnits', used: used.toString(), requested: s.baseUnits.toString(), max: caps.maxBaseUnits.toString() };
    }
    return null;
  }

  #live(e: Entry, nowMs: number): boolean {
    return e.state === 'committed' || e.expiresAtMs > nowMs;
  }

  /** Checks and records `spend` atomically; throws the breach's code, E_RESERVATION_EXISTS or E_RESERVATION_EXPIRED. */
  reserve(spend: Spend, nowMs: number, ttlMs: number): void {
    const breach = this.tryReserve(spend, nowMs, ttlMs);
    if (breach) throw new CustodianError(breach.code, describeBreach(breach), { ...breach });
  }

  /** Like `reserve`, but returns the breach instead of throwing it (nothing is recorded then). */
  tryReserve(spend: Spend, nowMs: number, ttlMs: number): LimitBreach | null {
    this.prune(nowMs);
    if (this.#entries.has(spend.requestId)) throw new CustodianError('E_RESERVATION_EXISTS', `request ${spend.requestId} already holds a reservation`, { requestId: spend.requestId });
    const closed = this.#closed.get(spend.requestId);
    if (closed !== undefined) throw new CustodianError('E_RESERVATION_EXPIRED', `request ${spend.requestId} was already ${closed}; submit a new request`, { requestId: spend.requestId, state: closed });
    const breach = this.check(spend, nowMs);
    if (breach) return breach;
    if (spend.destinations !== undefined && (spend.destinations.length === 0 || spend.destinations.length > SPEND_DESTINATIONS_MAX || spend.destinations[0]!.destination !== spend.destination)) {
      throw new CustodianError('E_FIELD_INVALID', `a spend names 1..${SPEND_DESTINATIONS_MAX} destinations, the first being its destination`, { requestId: spend.requestId });
    }
    if (this.#entries.size >= LEDGER_ENTRIES_MAX) throw new CustodianError('E_POLICY_VELOCITY_EXCEEDED', 'the spending ledger is full; refusing rather than forgetting spends', { max: LEDGER_ENTRIES_MAX });
    this.#entries.set(spend.requestId, { ...spend, atMs: nowMs, state: 'reserved', expiresAtMs: nowMs + ttlMs });
    return null;
  }

  /** Marks a reservation as spent (the transaction was signed). */
  commit(requestId: string, nowMs: number): void {
    const e = this.#entries.get(requestId);
    if (e === undefined || e.state !== 'reserved') {
      const closed = this.#closed.get(requestId);
      if (closed === 'expired') throw new CustodianError('E_RESERVATION_EXPIRED', `the reservation of request ${requestId} expired`, { requestId });
      throw new CustodianError('E_RESERVATION_UNKNOWN', `request ${requestId} holds no open reservation`, { requestId, state: e?.state ?? closed ?? 'none' });
    }
    if (e.expiresAtMs <= nowMs) {
      this.#entries.delete(requestId);
      this.#close(requestId, 'expired');
      throw new CustodianError('E_RESERVATION_EXPIRED', `the reservation of request ${requestId} expired`, { requestId });
    }
    e.state = 'committed';
    this.#close(requestId, 'committed');
    for (const p of portionsOf(e)) if (this.#known.size < KNOWN_DESTINATIONS_MAX) this.#known.add(`${e.wallet}|${p.destination}`);
  }

  /** Frees a reservation whose transaction will not be signed. */
  release(requestId: string): void {
    const e = this.#entries.get(requestId);
    if (e === undefined || e.state !== 'reserved') throw new CustodianError('E_RESERVATION_UNKNOWN', `request ${requestId} holds no open reservation`, { requestId });
    this.#entries.delete(requestId);
    this.#close(requestId, 'released');
  }

  /** True when `wallet` has already sent (committed) to `destination`. */
  hasSent(wallet: string, destination: string): boolean {
    return this.#known.has(`${wallet}|${destination}`);
  }

  /** Sum of live value (minor units) and count for a scope key over a window (for reports and tests). */
  usage(scope: LimitScope, key: string, windowMs: number, nowMs: number): { valueMinor: bigint; count: number } {
    let valueMinor = 0n;
    let count = 0;
    for (const e of this.#entries.values()) {
      if (!this.#live(e, nowMs) || e.atMs <= nowMs - windowMs) continue;
      const parts = scope === 'destination' ? portionsOf(e).filter((p) => p.destination === key).map((p) => asPortion(e, p)) : scopeKey(e, scope) === key ? [e] : [];
      for (const p of parts) {
        valueMinor += p.valueMinor ?? 0n;
        count++;
      }
    }
    return { valueMinor, count };
  }

  /** Drops expired reservations and entries older than every window. */
  prune(nowMs: number): void {
    const horizon = Math.max(0, ...this.#limits.velocity.map((l) => l.windowMs));
    for (const [id, e] of this.#entries) {
      if (e.state === 'reserved' && e.expiresAtMs <= nowMs) {
        this.#entries.delete(id);
        this.#close(id, 'expired');
      } else if (e.state === 'committed' && e.atMs <= nowMs - horizon) this.#entries.delete(id);
    }
  }

  #close(id: string, state: 'committed' | 'released' | 'expired'): void {
    this.#closed.delete(id);
    this.#closed.set(id, state);
    if (this.#closed.size > CLOSED_IDS_MAX) this.#closed.delete(this.#closed.keys().next().value!);
  }

  /** The state to seal, as canonical-JSON-ready data (amounts as decimal strings). */
  toJSON(): Json {
    return {
      limits: this.#limits.hash,
      entries: [...this.#entries.values()].map(({ destinations, ...e }) => ({
        ...e,
        valueMinor: e.valueMinor === null ? null : e.valueMinor.toString(),
        baseUnits: e.baseUnits.toString(),
        ...(destinations === undefined ? {} : { destinations: destinations.map((p) => ({ destination: p.destination, valueMinor: p.valueMinor === null ? null : p.valueMinor.toString(), baseUnits: p.baseUnits.toString() })) }),
      })),
      closed: [...this.#closed.entries()].map(([id, s]) => [id, s]),
      known: [...this.#known],
    };
  }

  /** Restores sealed state; the limits must be the ones it was written under or a later set. */
  static fromJSON(limits: LimitSet, json: Json): VelocityLedger {
    const bad = (): never => {
      throw new CustodianError('E_STATE_INVALID', 'sealed velocity state is malformed');
    };
    if (json === null || typeof json !== 'object' || Array.isArray(json)) return bad();
    const o = json as { readonly [k: string]: Json };
    const l = new VelocityLedger(limits);
    const entries = o['entries'];
    const closed = o['closed'];
    const known = o['known'];
    if (!Array.isArray(entries) || !Array.isArray(closed) || !Array.isArray(known)) return bad();
    if (entries.length > LEDGER_ENTRIES_MAX || closed.length > CLOSED_IDS_MAX || known.length > KNOWN_DESTINATIONS_MAX) return bad();
    for (const raw of entries as readonly Json[]) {
      if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) bad();
      const e = raw as Record<string, Json>;
      const str = (k: string): string => (typeof e[k] === 'string' ? (e[k] as string) : bad());
      const num = (k: string): number => (typeof e[k] === 'number' ? (e[k] as number) : bad());
      const big = (k: string): bigint => {
        const v = str(k);
        return /^(0|[1-9][0-9]{0,79})$/.test(v) ? BigInt(v) : bad();
      };
      const state = str('state');
      if (state !== 'reserved' && state !== 'committed') bad();
      const valueMinor = e['valueMinor'] === null ? null : big('valueMinor');
      const destinations = e['destinations'] === undefined ? undefined : portionsFromJson(e['destinations'], bad);
      l.#entries.set(str('requestId'), {
        requestId: str('requestId'), wallet: str('wallet'), initiator: str('initiator'), asset: str('asset'), destination: str('destination'),
        valueMinor, baseUnits: big('baseUnits'), atMs: num('atMs'), state: state as 'reserved' | 'committed', expiresAtMs: num('expiresAtMs'),
        ...(destinations === undefined ? {} : { destinations }),
      });
    }
    for (const raw of closed as readonly Json[]) {
      if (!Array.isArray(raw) || typeof raw[0] !== 'string' || !['committed', 'released', 'expired'].includes(raw[1] as string)) bad();
      const [id, s] = raw as readonly [string, 'committed' | 'released' | 'expired'];
      l.#closed.set(id, s);
    }
    for (const k of known as readonly Json[]) l.#known.add(typeof k === 'string' ? k : bad());
    return l;
  }
}

const DECIMAL_RE = /^(0|[1-9][0-9]{0,79})$/;

/** Reads sealed destination portions (bounded, amounts as decimal strings). */
function portionsFromJson(json: Json | undefined, bad: () => never): DestinationPortion[] {
  if (!Array.isArray(json) || json.length === 0 || json.length > SPEND_DESTINATIONS_MAX) return bad();
  return (json as readonly Json[]).map((raw) => {
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return bad();
    const o = raw as Record<string, Json>;
    const dec = (v: Json | undefined): bigint => (typeof v === 'string' && DECIMAL_RE.test(v) ? BigInt(v) : bad());
    if (typeof o['destination'] !== 'string') return bad();
    return { destination: o['destination'], valueMinor: o['valueMinor'] === null ? null : dec(o['valueMinor']), baseUnits: dec(o['baseUnits']) };
  });
}

/**
 * The break-glass requests of one organisation, persisted in the data
 * directory (`breakglass.json`, written atomically) and audited: every
 * accepted step and every refusal goes to the audit sink before the book
 * changes (fail closed). The state machine itself is `breakglass.ts`.
 *
 * The book also keeps the broker's observed time: how much time its own
 * monotonic clock has seen pass, across restarts, saved with every step and
 * by `checkpoint()`. Time-locks run on it (THREATS.md F08): a host that jumps
 * its clock forward and restarts the broker gains nothing, since time the
 * broker was not running does not count. That makes a lock longer by the
 * broker's downtime, never shorter.
 */
import { existsSync, readFileSync } from 'node:fs';
import { writeFileDurableSync } from '@custodian/core/durable-file';
import { join } from 'node:path';
import { CustodianError, isCustodianError } from '@custodian/core/errors';
import { canonicalJson, parseJson, type Json } from '@custodian/core/canonical-json';
import { Fields } from '@custodian/core/fields';
import type { Clock } from '@custodian/core/clock';
import type { MonotonicMs } from './trusted-time.js';
import { auditCause, type KbsAuditSink } from '../audit-sink.js';
import { applyBreakglassEvent, assertUsable, BREAKGLASS_ACTIONS, summary, type BreakglassAction, type BreakglassConfig, type BreakglassEvent, type BreakglassState, type BreakglassStatus } from './breakglass.js';

/** File name of the book inside the data directory. */
export const BREAKGLASS_FILE = 'breakglass.json';
/** Most requests kept in one book. */
export const BREAKGLASS_REQUESTS_MAX = 10_000;

const STATUSES: readonly BreakglassStatus[] = ['pending', 'time-locked', 'executed', 'vetoed', 'cancelled'];

/** Reads the summaries in a data directory (for `custodian breakglass list`); empty when none. */
export function readBreakglassFile(dataDir: string): BreakglassState[] {
  return readBook(dataDir).requests;
}

/** The requests and the observed time saved in a data directory (none and 0 when there is no book yet). */
function readBook(dataDir: string): { requests: BreakglassState[]; observedMs: number } {
  const path = join(dataDir, BREAKGLASS_FILE);
  if (!existsSync(path)) return { requests: [], observedMs: 0 };
  const f = new Fields(parseJson(readFileSync(path)), 'breakglass');
  f.int('version', 1, 1);
  const requests = f.arr('requests', BREAKGLASS_REQUESTS_MAX).map((j, i) => decodeState(j, `breakglass.requests[${i}]`));
  // Absent in books written before observed time was kept: it starts again from zero (every running lock restarts).
  const observedMs = f.optRaw('observedMs') === undefined ? 0 : f.int('observedMs');
  f.done();
  return { requests, observedMs };
}

function nullableInt(f: Fields, k: string): number | null {
  return f.optRaw(k) === null ? null : f.int(k);
}

function decodeState(json: Json, where: string): BreakglassState {
  const f = new Fields(json, where);
  const action = f.str('action', 32);
  if (!(BREAKGLASS_ACTIONS as readonly string[]).includes(action)) throw new CustodianError('E_FIELD_INVALID', `${where}.action is unknown`, {});
  const status = f.str('status', 16);
  if (!(STATUSES as readonly string[]).includes(status)) throw new CustodianError('E_FIELD_INVALID', `${where}.status is unknown`, {});
  const strings = (k: string) => f.arr(k, 256).map((x) => String(x));
  const vetoedBy = f.optRaw('vetoedBy') === null ? null : f.str('vetoedBy', 64);
  const vetoReason = f.optRaw('vetoReason') === null ? null : f.str('vetoReason', 1024);
  const s: BreakglassState = {
    request: { id: f.str('id', 64), action: action as BreakglassAction, payloadHash: f.str('payloadHash', 64), requestedBy: f.str('requestedBy', 64), requestedAtMs: f.int('requestedAtMs') },
    status: status as BreakglassStatus,
    approvals: strings('approvals'),
    threshold: f.int('threshold', 1, 256),
    unlocksAtMs: nullableInt(f, 'unlocksAtMs'),
    vetoedBy,
    vetoReason,
    cancelledBy: strings('cancelledBy'),
    executedAtMs: nullableInt(f, 'executedAtMs'),
    lastEventAtMs: f.int('lastEventAtMs'),
    // Absent in books written before payloads were kept: read as unknown (no execution statement) and unused.
    payload: f.optRaw('payload') ?? null,
    consumedAtMs: f.optRaw('consumedAtMs') === undefined ? null : nullableInt(f, 'consumedAtMs'),
    lockedAtObservedMs: f.optRaw('lockedAtObservedMs') === undefined ? null : nullableInt(f, 'lockedAtObservedMs'),
  };
  f.done();
  return s;
}

/** The book: states by request id, a config, an audit sink and (optionally) a data directory. */
export class BreakglassBook {
  readonly #states = new Map<string, BreakglassState>();
  /** Requests reserved by a use in flight (not persisted: a restart ends every use). */
  readonly #inUse = new Set<string>();

  /** Observed time saved before this run, and the monotonic reading it continues from. */
  readonly #observedBaseMs: number;
  readonly #monotonicAnchorMs: number;

  /**
   * `clock` stamps audit entries; `monotonic` is the broker's own clock, from
   * which observed time advances (openKbs passes the one its BoundedClock
   * uses).
   */
  constructor(
    private readonly config: BreakglassConfig,
    private readonly audit: KbsAuditSink,
    private readonly clock: Clock,
    private readonly monotonic: MonotonicMs,
    private readonly dataDir?: string,
  ) {
    const saved = dataDir === undefined ? { requests: [], observedMs: 0 } : readBook(dataDir);
    this.#observedBaseMs = saved.observedMs;
    this.#monotonicAnchorMs = monotonic();
    for (const s of saved.requests) {
      // A lock saved without its observed start (an older book) starts again now.
      this.#states.set(s.request.id, s.status === 'time-locked' && s.lockedAtObservedMs === null ? { ...s, lockedAtObservedMs: saved.observedMs } : s);
    }
  }

  /** Time the broker's own clock has seen pass, across restarts (ms). */
  observedMs(): number {
    const elapsed = this.monotonic() - this.#monotonicAnchorMs;
    if (elapsed < 0) throw new CustodianError('E_CLOCK_BACKWARDS', 'the monotonic clock ran backwards', { elapsedMs: elapsed });
    return this.#observedBaseMs + Math.floor(elapsed);
  }

  /**
   * Trusted time for a step, from `trusted` (the broker's BoundedClock); a
   * host clock out of bounds or a clock gone backwards refuses the step,
   * audited (`time.skew_detected`, THREATS.md F08) before it is thrown.
   */
  async trustedNow(trusted: Clock): Promise<number> {
    try {
      return trusted.nowMs();
    } catch (e) {
      const err = isCustodianError(e) ? e : new CustodianError('E_INTERNAL', 'trusted time failed', {});
      await this.#append('time.skew_detected', { code: err.code, message: err.message, ...err.detail } as { [k: string]: Json });
      throw err;
    }
  }

  /** Saves the observed time (openKbs calls this periodically and at close), so a crash loses little of a running lock. */
  checkpoint(): void {
    this.#persist();
  }

  /** Every request, oldest first. */
  list(): BreakglassState[] {
    return [...this.#states.values()];
  }

  /** One request's state; E_BREAKGLASS_UNKNOWN when there is none. */
  get(id: string): BreakglassState {
    const s = this.#states.get(id);
    if (!s) throw new CustodianError('E_BREAKGLASS_UNKNOWN', `no break-glass request ${id.slice(0, 64)}`, {});
    return s;
  }

  /**
   * Reserves an executed, unused request of `action` for one use (a
   * recovery): refused while another use of it is in flight, so two
   * concurrent uses cannot both pass. End with `markUsed` or `unreserve`.
   */
  reserve(id: string, action: BreakglassAction): BreakglassState {
    const s = assertUsable(this.#states.get(id), id, action);
    if (this.#inUse.has(id)) throw new CustodianError('E_BREAKGLASS_ALREADY_USED', `break-glass request ${id} is being used right now`, {});
    this.#inUse.add(id);
    return s;
  }

  /** Gives a reservation back after a use that failed (the request stays usable). */
  unreserve(id: string): void {
    this.#inUse.delete(id);
  }

  /** Marks a reserved request used at `atMs` (trusted time) and persists it: a second use is E_BREAKGLASS_ALREADY_USED. */
  markUsed(id: string, atMs: number): BreakglassState {
    const s = this.get(id);
    if (!this.#inUse.has(id) || s.consumedAtMs !== null) throw new CustodianError('E_BREAKGLASS_ALREADY_USED', `break-glass request ${id} was not reserved or was already used`, {});
    const next: BreakglassState = { ...s, consumedAtMs: atMs };
    this.#states.set(id, next);
    try {
      this.#persist();
    } catch (e) {
      // Fail closed: a use that is not on disk would be usable again after a restart.
      this.#states.set(id, s);
      throw new CustodianError('E_IO', 'the break-glass book cannot be written; the request is not used', { cause: e instanceof Error ? e.message : String(e) });
    } finally {
      this.#inUse.delete(id);
    }
    return next;
  }

  /** Applies an event: audited, then persisted; a refusal is audited as `breakglass.refused` and thrown. */
  async submit(event: BreakglassEvent): Promise<BreakglassState> {
    const id = event.type === 'request' ? event.request.id : event.requestId;
    let next;
    try {
      if (event.type === 'request' && this.#states.size >= BREAKGLASS_REQUESTS_MAX) throw new CustodianError('E_BREAKGLASS_BOOK_FULL', 'too many break-glass requests are kept', {});
      next = applyBreakglassEvent(this.config, this.#states.get(id), event, this.observedMs());
    } catch (e) {
      const err = isCustodianError(e) ? e : new CustodianError('E_INTERNAL', 'break-glass step failed', {});
      await this.#append('breakglass.refused', { id, event: event.type, code: err.code, message: err.message });
      throw err;
    }
    await this.#append(next.audit.kind, next.audit.body);
    const before = this.#states.get(id);
    this.#states.set(id, next.state);
    try {
      this.#persist();
    } catch (e) {
      // Fail closed: a step held in memory only would be undone by a restart (a veto lost, a request executable again).
      if (before === undefined) this.#states.delete(id);
      else this.#states.set(id, before);
      throw new CustodianError('E_IO', 'the break-glass book cannot be written; the step is not taken', { cause: e instanceof Error ? e.message : String(e) });
    }
    return next.state;
  }

  async #append(kind: Parameters<KbsAuditSink['append']>[0]['kind'], body: { readonly [k: string]: Json }): Promise<void> {
    try {
      await this.audit.append({ kind, atMs: this.clock.nowMs(), body });
    } catch (e) {
      throw new CustodianError('E_AUDIT_UNAVAILABLE', `the audit log cannot be written${auditCause(e)}; the break-glass step is not taken`, { kind, ...(isCustodianError(e) ? { cause: e.code } : {}) });
    }
  }

  #persist(): void {
    if (this.dataDir === undefined) return;
    writeFileDurableSync(join(this.dataDir, BREAKGLASS_FILE), canonicalJson({ version: 1, observedMs: this.observedMs(), requests: this.list().map(summary) }) + '\n');
  }
}

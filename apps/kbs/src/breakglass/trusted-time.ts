/**
 * Time for time-locks: the enclave's monotonic clock, anchored once to the
 * host's wall clock, with a bound on how far the host may drift from it
 * (THREATS.md F08: a host that jumps its clock +30 days does not open a
 * time-lock). Outside the bound every reading refuses with
 * E_TIME_SKEW_DETECTED; a clock that runs backwards is E_CLOCK_BACKWARDS.
 */
import { CustodianError } from '@custodian/core/errors';
import type { Clock } from '@custodian/core/clock';
import { CLOCK_SKEW_MAX_MS } from '@custodian/core/limits';

/** A monotonic millisecond source (the enclave's: `performance.now()`, TSC-derived in a TEE). */
export type MonotonicMs = () => number;

/** Host time checked against the monotonic clock. */
export class BoundedClock implements Clock {
  readonly #hostAnchorMs: number;
  readonly #monoAnchorMs: number;

  constructor(
    private readonly host: Clock,
    private readonly monotonic: MonotonicMs,
    private readonly maxSkewMs = CLOCK_SKEW_MAX_MS,
  ) {
    this.#hostAnchorMs = host.nowMs();
    this.#monoAnchorMs = monotonic();
  }

  /** The trusted time: the anchor plus monotonic elapsed time, if the host agrees within the bound. */
  nowMs(): number {
    const elapsed = this.monotonic() - this.#monoAnchorMs;
    if (elapsed < 0) throw new CustodianError('E_CLOCK_BACKWARDS', 'the monotonic clock ran backwards', { elapsedMs: elapsed });
    const trusted = Math.floor(this.#hostAnchorMs + elapsed);
    const hostMs = this.host.nowMs();
    if (Math.abs(hostMs - trusted) > this.maxSkewMs) {
      throw new CustodianError('E_TIME_SKEW_DETECTED', `the host clock differs from the enclave's by ${Math.round((hostMs - trusted) / 1000)} s (bound ${this.maxSkewMs / 1000} s); time-locked actions are refused`, {
        hostMs,
        trustedMs: trusted,
        maxSkewMs: this.maxSkewMs,
      });
    }
    return trusted;
  }
}

/** Injected time and randomness (STYLE.md: passed in, never reached for). */
import { randomBytes } from 'node:crypto';

/** A source of the current time in milliseconds since the epoch. */
export interface Clock {
  nowMs(): number;
}

/** A source of cryptographically secure random bytes. */
export interface Random {
  bytes(n: number): Uint8Array;
}

/** The process's wall clock. */
export const systemClock: Clock = { nowMs: () => Date.now() };

/** Node's CSPRNG. */
export const systemRandom: Random = { bytes: (n) => new Uint8Array(randomBytes(n)) };

/** A clock tests can move. */
export class ManualClock implements Clock {
  constructor(private t: number) {}
  nowMs(): number {
    return this.t;
  }
  advance(ms: number): void {
    this.t += ms;
  }
}

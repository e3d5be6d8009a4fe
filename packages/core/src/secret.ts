/**
 * `Secret<T>` wraps secret material so that it cannot be printed, logged or
 * serialised by accident: `String()`, `JSON.stringify` and `util.inspect`
 * show a placeholder. `expose()` is the one deliberate way in.
 */
import { inspect } from 'node:util';

const PLACEHOLDER = '[Secret]';

export class Secret<T> {
  readonly #value: T;
  #destroyed = false;

  constructor(value: T) {
    this.#value = value;
  }

  /** Returns the secret value; call sites are the audit surface. */
  expose(): T {
    if (this.#destroyed) throw new Error('secret was zeroised');
    return this.#value;
  }

  /** Overwrites byte material in place and makes the secret unusable. */
  zeroise(): void {
    if (this.#value instanceof Uint8Array) this.#value.fill(0);
    this.#destroyed = true;
  }

  toString(): string {
    return PLACEHOLDER;
  }

  toJSON(): never {
    throw new Error('a Secret must not be serialised');
  }

  [inspect.custom](): string {
    return PLACEHOLDER;
  }
}

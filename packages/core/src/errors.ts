/**
 * Typed errors shared by every package. Each error carries a machine-readable
 * code (SNAKE_CASE, prefixed `E_`), words an operator understands and
 * structured detail. The CLI and the API map codes to exit codes and HTTP
 * statuses in one place (apps/cli/src/exit-codes.ts, apps/host/src/http-status.ts).
 */
export class CustodianError<C extends string = string> extends Error {
  override readonly name: string = 'CustodianError';
  /** Machine-readable reason, e.g. `E_APPROVAL_EXPIRED`. */
  readonly code: C;
  /** Structured detail; never secrets. */
  readonly detail: Readonly<Record<string, unknown>>;

  constructor(code: C, message: string, detail: Record<string, unknown> = {}) {
    super(message);
    this.code = code;
    this.detail = Object.freeze({ ...detail });
  }

  /** The wire form used by the CLI's `--json` mode and the HTTP API. */
  toJSON(): { code: C; message: string; detail: Readonly<Record<string, unknown>> } {
    return { code: this.code, message: this.message, detail: this.detail };
  }
}

/** True when `e` is a CustodianError (optionally with one of `codes`). */
export function isCustodianError(e: unknown, ...codes: string[]): e is CustodianError {
  return e instanceof CustodianError && (codes.length === 0 || codes.includes(e.code));
}

/**
 * A broken invariant: a programming error, not bad input. It stops the
 * operation; callers must not catch it to continue (TigerBeetle style).
 */
export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new AssertionFailure(message);
}

/** Thrown by `assert`; distinct from operating errors on purpose. */
export class AssertionFailure extends Error {
  override readonly name = 'AssertionFailure';
}

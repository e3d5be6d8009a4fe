/**
 * The CLI's output contract (../shared/CONTRACTS.md): with `--json` the last
 * stdout line is one JSON object and human text goes to stderr; exit codes
 * 0 success, 1 checked and refused, 2 usage, 3 internal or environment error.
 */
import { CustodianError } from '@custodian/core/errors';

export const EXIT_OK = 0;
export const EXIT_REFUSED = 1;
export const EXIT_USAGE = 2;
export const EXIT_INTERNAL = 3;

/** Raised for bad command-line usage; exits 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** Error codes that mean "the environment failed", not "the input was refused". */
const INTERNAL_CODES = new Set(['E_INTERNAL', 'E_UNAVAILABLE', 'E_IO', 'E_HSM_UNAVAILABLE', 'E_AUDIT_UNAVAILABLE', 'E_SIGNER_UNAVAILABLE', 'E_HOST_UNAVAILABLE', 'E_QUORUM_UNAVAILABLE', 'E_KBS_UNAVAILABLE', 'E_PLATFORM']);

/** Maps any thrown value to an exit code, in one place. */
export function exitCodeFor(e: unknown): number {
  if (e instanceof UsageError) return EXIT_USAGE;
  if (e instanceof CustodianError) return INTERNAL_CODES.has(e.code) ? EXIT_INTERNAL : EXIT_REFUSED;
  return EXIT_INTERNAL;
}

/** Writes a human line to stderr (progress) — never secrets. */
export function progress(line: string): void {
  process.stderr.write(line + '\n');
}

/** Prints a command's result: JSON as the last stdout line, or human text. */
export function emit(json: boolean, result: unknown, human: string): void {
  if (json) process.stdout.write(JSON.stringify(result, jsonReplacer) + '\n');
  else process.stdout.write(human.endsWith('\n') ? human : human + '\n');
}

/** Prints an error per the contract and returns its exit code. */
export function emitError(json: boolean, e: unknown): number {
  const code = exitCodeFor(e);
  const err =
    e instanceof CustodianError
      ? e.toJSON()
      : e instanceof UsageError
        ? { code: 'E_USAGE', message: e.message, detail: {} }
        : { code: 'E_INTERNAL', message: e instanceof Error ? e.message : String(e), detail: {} };
  if (json) process.stdout.write(JSON.stringify({ ok: false, error: err }) + '\n');
  process.stderr.write(`error: ${err.message} (${err.code})\n`);
  return code;
}

function jsonReplacer(_k: string, v: unknown): unknown {
  if (typeof v === 'bigint') return v.toString();
  if (v instanceof Uint8Array) return Buffer.from(v).toString('hex');
  return v;
}

/** Parses `--flag value`, `--flag=value` and boolean `--flag` options. */
export function parseArgs(args: readonly string[], spec: { strings?: string[]; multi?: string[]; booleans?: string[] }): {
  values: Map<string, string[]>;
  flags: Set<string>;
  positionals: string[];
} {
  const values = new Map<string, string[]>();
  const flags = new Set<string>();
  const positionals: string[] = [];
  const strings = new Set([...(spec.strings ?? []), ...(spec.multi ?? [])]);
  const booleans = new Set(spec.booleans ?? []);
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (!a.startsWith('--')) {
      positionals.push(a);
      continue;
    }
    const eq = a.indexOf('=');
    const name = eq > 0 ? a.slice(2, eq) : a.slice(2);
    if (booleans.has(name) && eq < 0) {
      flags.add(name);
      continue;
    }
    if (!strings.has(name)) throw new UsageError(`unknown option --${name}`);
    const v = eq > 0 ? a.slice(eq + 1) : args[++i];
    if (v === undefined) throw new UsageError(`--${name} needs a value`);
    const list = values.get(name) ?? [];
    if (list.length > 0 && !(spec.multi ?? []).includes(name)) throw new UsageError(`--${name} given twice`);
    list.push(v);
    values.set(name, list);
  }
  return { values, flags, positionals };
}

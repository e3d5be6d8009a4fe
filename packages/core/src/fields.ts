/**
 * Typed field readers for decoded JSON objects: every decoder of a Custodian
 * message reads its fields through `Fields`, so shape errors are uniform
 * (`E_FIELD_INVALID` / `E_FIELD_MISSING` / `E_FIELD_UNKNOWN`) and unknown
 * fields are refused rather than ignored.
 */
import { CustodianError } from './errors.js';
import type { Json } from './canonical-json.js';
import { hexToBytes } from './bytes.js';

const DECIMAL_RE = /^(0|[1-9][0-9]*)$/;

export class Fields {
  readonly #obj: { readonly [k: string]: Json };
  readonly #seen = new Set<string>();

  /** Wraps `value`, which must be a JSON object; `where` names it in errors. */
  constructor(value: Json | undefined, readonly where: string) {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      throw new CustodianError('E_FIELD_INVALID', `${where} must be a JSON object`, { where });
    }
    this.#obj = value as { readonly [k: string]: Json };
  }

  #get(k: string, optional: boolean): Json | undefined {
    this.#seen.add(k);
    const v = Object.prototype.hasOwnProperty.call(this.#obj, k) ? this.#obj[k] : undefined;
    if (v === undefined && !optional) throw new CustodianError('E_FIELD_MISSING', `${this.where}.${k} is missing`, { field: `${this.where}.${k}` });
    return v;
  }

  #bad(k: string, why: string): never {
    throw new CustodianError('E_FIELD_INVALID', `${this.where}.${k} ${why}`, { field: `${this.where}.${k}` });
  }

  /** A string of at most `max` characters (default 256), optionally matching `re`. */
  str(k: string, max = 256, re?: RegExp): string {
    const v = this.#get(k, false);
    if (typeof v !== 'string') this.#bad(k, 'must be a string');
    if (v.length > max) this.#bad(k, `is longer than ${max} characters`);
    if (re && !re.test(v)) this.#bad(k, 'has an invalid format');
    return v;
  }

  /** Like `str` but may be absent. */
  optStr(k: string, max = 256, re?: RegExp): string | undefined {
    return this.#get(k, true) === undefined ? undefined : this.str(k, max, re);
  }

  /** A safe integer within [min, max]. */
  int(k: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
    const v = this.#get(k, false);
    if (typeof v !== 'number' || !Number.isSafeInteger(v)) this.#bad(k, 'must be an integer');
    if (v < min || v > max) this.#bad(k, `must be between ${min} and ${max}`);
    return v;
  }

  /** A non-negative integer sent as a decimal string (amounts, B32). */
  uint(k: string, max: bigint = (1n << 256n) - 1n): bigint {
    const v = this.str(k, 80);
    if (!DECIMAL_RE.test(v)) this.#bad(k, 'must be a non-negative decimal integer string');
    const n = BigInt(v);
    if (n > max) this.#bad(k, 'is too large');
    return n;
  }

  /** Lower-case hex bytes (one spelling per value), of exactly `len` bytes when given. */
  hex(k: string, len?: number, maxLen = 1 << 20): Uint8Array {
    const v = this.str(k, maxLen * 2 + 2);
    if (v !== v.toLowerCase()) this.#bad(k, 'must be lower-case hex');
    const b = hexToBytes(v, `${this.where}.${k}`);
    if (len !== undefined && b.length !== len) this.#bad(k, `must be ${len} bytes`);
    // The string bound above leaves room for a 0x prefix; the byte bound is exact.
    if (b.length > maxLen) this.#bad(k, `must be at most ${maxLen} bytes`);
    return b;
  }

  bool(k: string): boolean {
    const v = this.#get(k, false);
    if (typeof v !== 'boolean') this.#bad(k, 'must be true or false');
    return v;
  }

  /** A nested object's fields. */
  obj(k: string): Fields {
    return new Fields(this.#get(k, false), `${this.where}.${k}`);
  }

  /** The raw JSON of a nested value (for decoders that hand it on). */
  raw(k: string): Json {
    return this.#get(k, false) as Json;
  }

  optRaw(k: string): Json | undefined {
    return this.#get(k, true);
  }

  /** An array of at most `max` items. */
  arr(k: string, max: number): readonly Json[] {
    const v = this.#get(k, false);
    if (!Array.isArray(v)) this.#bad(k, 'must be an array');
    if (v.length > max) this.#bad(k, `has more than ${max} items`);
    return v as readonly Json[];
  }

  /** Refuses fields that no reader asked for. Call last. */
  done(): void {
    for (const k of Object.keys(this.#obj)) {
      if (!this.#seen.has(k)) throw new CustodianError('E_FIELD_UNKNOWN', `${this.where}.${k} is not a known field`, { field: `${this.where}.${k}` });
    }
  }
}

/**
 * Canonical JSON: the one encoding that Custodian signs and hashes for its own
 * messages (operator requests, approvals, manifests, summaries, audit entries).
 *
 * Encoding (a subset of RFC 8785 JCS): object keys sorted by UTF-16 code
 * units, no insignificant white space, numbers only as safe integers (amounts
 * travel as decimal strings, B32), no `undefined`, no floats.
 *
 * Decoding is strict and bounded: size first, then depth, duplicate keys
 * refused (RFC 8259 §4 leaves them undefined; last-wins is how B01-style
 * confusion happens), only safe integers, and nothing after the value.
 */
import { CustodianError } from './errors.js';
import { JSON_BYTES_MAX, JSON_DEPTH_MAX } from './limits.js';

/** A JSON value as Custodian accepts it. */
export type Json = null | boolean | number | string | readonly Json[] | { readonly [k: string]: Json };

type JsonErrorCode = 'E_JSON_TOO_LARGE' | 'E_JSON_DEPTH' | 'E_JSON_SYNTAX' | 'E_JSON_DUPLICATE_KEY' | 'E_JSON_NUMBER';

function fail(code: JsonErrorCode, message: string, detail: Record<string, unknown> = {}): never {
  throw new CustodianError(code, message, detail);
}

/** Encodes a value canonically. Throws on values JSON cannot carry exactly. */
export function canonicalJson(value: unknown): string {
  return encode(value, 0);
}

/** UTF-8 bytes of the canonical encoding. */
export function canonicalJsonBytes(value: unknown): Uint8Array {
  return new TextEncoder().encode(canonicalJson(value));
}

/**
 * The bytes signed or hashed for a statement: `domain ‖ 0x0a ‖ canonicalJson(body)`.
 * The domain names what the statement is, so a signature over one kind of
 * statement never verifies as another.
 */
export function domainStatementBytes(domain: string, body: unknown): Uint8Array {
  return new TextEncoder().encode(`${domain}\n${canonicalJson(body)}`);
}

function encode(v: unknown, depth: number): string {
  if (depth > JSON_DEPTH_MAX) fail('E_JSON_DEPTH', 'value nests too deeply to encode');
  if (v === null) return 'null';
  switch (typeof v) {
    case 'boolean':
      return v ? 'true' : 'false';
    case 'number':
      if (!Number.isSafeInteger(v)) fail('E_JSON_NUMBER', 'only safe integers are encoded; use strings for amounts', { value: String(v) });
      return Object.is(v, -0) ? '0' : String(v);
    case 'string':
      return JSON.stringify(v);
    case 'object': {
      if (Array.isArray(v)) return '[' + v.map((x) => encode(x, depth + 1)).join(',') + ']';
      if (v instanceof Uint8Array) fail('E_JSON_SYNTAX', 'bytes must be hex-encoded before canonical JSON');
      const entries = Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== undefined);
      entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      return '{' + entries.map(([k, x]) => JSON.stringify(k) + ':' + encode(x, depth + 1)).join(',') + '}';
    }
    default:
      return fail('E_JSON_SYNTAX', `a ${typeof v} cannot be encoded as JSON`);
  }
}

/**
 * Parses untrusted JSON text or bytes strictly (see the module comment).
 * Only CustodianError escapes, whatever the input.
 */
export function parseJson(input: string | Uint8Array, maxBytes = JSON_BYTES_MAX): Json {
  const size = typeof input === 'string' ? Buffer.byteLength(input) : input.length;
  if (size > maxBytes) fail('E_JSON_TOO_LARGE', `JSON document of ${size} bytes exceeds the limit of ${maxBytes}`, { size, maxBytes });
  let text: string;
  try {
    text = typeof input === 'string' ? input : new TextDecoder('utf-8', { fatal: true }).decode(input);
  } catch {
    return fail('E_JSON_SYNTAX', 'JSON document is not valid UTF-8');
  }
  const p = new Parser(text);
  p.ws();
  const v = p.value(0);
  p.ws();
  if (p.i !== text.length) fail('E_JSON_SYNTAX', 'unexpected data after the JSON value', { offset: p.i });
  return v;
}

/** True when `bytes` are exactly the canonical encoding of what they decode to. */
export function isCanonicalJson(bytes: Uint8Array): boolean {
  const v = parseJson(bytes);
  return Buffer.from(canonicalJsonBytes(v)).equals(Buffer.from(bytes));
}

const NUMBER_RE = /-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/y;
// eslint-disable-next-line no-control-regex -- RFC 8259 §7: control characters must be escaped
const STRING_RE = /"((?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*)"/y;

class Parser {
  i = 0;
  constructor(readonly s: string) {}

  ws(): void {
    while (this.i < this.s.length && ' \t\n\r'.includes(this.s[this.i]!)) this.i++;
  }

  value(depth: number): Json {
    if (depth > JSON_DEPTH_MAX) fail('E_JSON_DEPTH', `JSON nests deeper than ${JSON_DEPTH_MAX} levels`, { max: JSON_DEPTH_MAX });
    const c = this.s[this.i];
    if (c === '{') return this.object(depth);
    if (c === '[') return this.array(depth);
    if (c === '"') return this.string();
    if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) return this.number();
    for (const [lit, val] of [['true', true], ['false', false], ['null', null]] as const) {
      if (this.s.startsWith(lit, this.i)) {
        this.i += lit.length;
        return val;
      }
    }
    return fail('E_JSON_SYNTAX', 'unexpected character in JSON', { offset: this.i });
  }

  object(depth: number): Json {
    this.i++;
    const out: Record<string, Json> = Object.create(null) as Record<string, Json>;
    this.ws();
    if (this.s[this.i] === '}') {
      this.i++;
      return { ...out };
    }
    for (;;) {
      this.ws();
      if (this.s[this.i] !== '"') fail('E_JSON_SYNTAX', 'expected a string key', { offset: this.i });
      const k = this.string();
      if (Object.prototype.hasOwnProperty.call(out, k)) fail('E_JSON_DUPLICATE_KEY', `duplicate key "${k.slice(0, 64)}" in JSON object`, { key: k.slice(0, 64) });
      this.ws();
      if (this.s[this.i] !== ':') fail('E_JSON_SYNTAX', 'expected ":"', { offset: this.i });
      this.i++;
      this.ws();
      out[k] = this.value(depth + 1);
      this.ws();
      const c = this.s[this.i++];
      if (c === '}') return { ...out };
      if (c !== ',') fail('E_JSON_SYNTAX', 'expected "," or "}"', { offset: this.i - 1 });
    }
  }

  array(depth: number): Json {
    this.i++;
    const out: Json[] = [];
    this.ws();
    if (this.s[this.i] === ']') {
      this.i++;
      return out;
    }
    for (;;) {
      this.ws();
      out.push(this.value(depth + 1));
      this.ws();
      const c = this.s[this.i++];
      if (c === ']') return out;
      if (c !== ',') fail('E_JSON_SYNTAX', 'expected "," or "]"', { offset: this.i - 1 });
    }
  }

  string(): string {
    STRING_RE.lastIndex = this.i;
    const m = STRING_RE.exec(this.s);
    if (!m) return fail('E_JSON_SYNTAX', 'invalid JSON string', { offset: this.i });
    this.i = STRING_RE.lastIndex;
    return JSON.parse(m[0]) as string;
  }

  number(): number {
    NUMBER_RE.lastIndex = this.i;
    const m = NUMBER_RE.exec(this.s);
    if (!m) return fail('E_JSON_SYNTAX', 'invalid JSON number', { offset: this.i });
    this.i = NUMBER_RE.lastIndex;
    if (m[2] !== undefined || m[3] !== undefined) fail('E_JSON_NUMBER', 'only integers are accepted; send amounts as decimal strings', { text: m[0].slice(0, 40) });
    const n = Number(m[0]);
    if (!Number.isSafeInteger(n)) fail('E_JSON_NUMBER', 'integer outside the safe range; send it as a decimal string', { text: m[0].slice(0, 40) });
    return n;
  }
}

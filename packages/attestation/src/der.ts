/**
 * Strict, bounded DER reader (X.690 §10) for certificates, CRLs and vendor
 * extensions (B05). Refuses with E_DER_INVALID: indefinite lengths (BER),
 * long-form lengths that fit the short form or carry a leading zero, lengths
 * past the end of the input or above 2^32, high tag numbers, nesting deeper
 * than DER_DEPTH_MAX, and trailing bytes. Sizes are bounded before parsing.
 */
import { attestFail } from './errors.js';
import { DER_BYTES_MAX, DER_DEPTH_MAX } from './limits.js';

/** One DER element: its tag byte, its content and the whole encoding. */
export interface DerNode {
  readonly tag: number;
  readonly content: Uint8Array;
  readonly raw: Uint8Array;
}

/** Universal tags used here. */
export const DER_TAG = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  UTF8_STRING: 0x0c,
  PRINTABLE_STRING: 0x13,
  IA5_STRING: 0x16,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

function bad(message: string, detail: Record<string, unknown> = {}): never {
  return attestFail('E_DER_INVALID', 'bounds', message, detail);
}

/** Reads one element at `offset` of `buf`, checking its header strictly. */
export function readDerAt(buf: Uint8Array, offset: number): DerNode & { end: number } {
  const tag = buf[offset];
  if (tag === undefined) bad('DER input ends before a tag', { offset });
  if ((tag & 0x1f) === 0x1f) bad('DER high tag numbers are not used here', { offset });
  const l0 = buf[offset + 1];
  if (l0 === undefined) bad('DER input ends before a length', { offset });
  let len: number;
  let hdr = 2;
  if (l0 < 0x80) len = l0;
  else if (l0 === 0x80) return bad('indefinite length (BER) is not DER', { offset });
  else {
    const n = l0 & 0x7f;
    if (n > 4) bad('DER length longer than 4 bytes', { offset });
    if (offset + 2 + n > buf.length) bad('DER input ends inside a length', { offset });
    if (buf[offset + 2] === 0) bad('DER long-form length has a leading zero', { offset });
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[offset + 2 + i]!;
    if (len < 0x80) bad('DER long-form length where the short form fits', { offset });
    hdr = 2 + n;
  }
  const start = offset + hdr;
  // attacker-controlled: checked against the bytes that remain before slicing
  if (len > buf.length - start) bad('DER length runs past the end of the input', { offset, len });
  const end = start + len;
  return { tag, content: buf.subarray(start, end), raw: buf.subarray(offset, end), end };
}

/** Parses exactly one element filling `buf`, validating nested structure to DER_DEPTH_MAX. */
export function parseDer(buf: Uint8Array, maxBytes = DER_BYTES_MAX): DerNode {
  if (buf.length > maxBytes) bad(`DER input of ${buf.length} bytes exceeds ${maxBytes}`, { size: buf.length });
  const node = readDerAt(buf, 0);
  if (node.end !== buf.length) bad(`${buf.length - node.end} bytes follow the DER element`, { trailing: buf.length - node.end });
  validate(node, 0);
  return { tag: node.tag, content: node.content, raw: node.raw };
}

function validate(node: DerNode, depth: number): void {
  if (depth > DER_DEPTH_MAX) bad(`DER nests deeper than ${DER_DEPTH_MAX}`);
  if ((node.tag & 0x20) === 0) return;
  // X.690 §10.2: DER encodes strings primitively; only SEQUENCE and SET are constructed universal types.
  if ((node.tag & 0xc0) === 0 && node.tag !== DER_TAG.SEQUENCE && node.tag !== DER_TAG.SET) bad('constructed string encoding (BER) is not DER', { tag: node.tag });
  for (const c of derChildren(node)) validate(c, depth + 1);
}

/** The children of a constructed element, in order. */
export function derChildren(node: DerNode): DerNode[] {
  if ((node.tag & 0x20) === 0) bad('expected a constructed DER element', { tag: node.tag });
  const out: DerNode[] = [];
  let off = 0;
  while (off < node.content.length) {
    const c = readDerAt(node.content, off);
    out.push({ tag: c.tag, content: c.content, raw: c.raw });
    off = c.end;
  }
  return out;
}

/** Checks the tag of `node` (and returns it) or refuses. */
export function expectTag(node: DerNode | undefined, tag: number, what: string): DerNode {
  if (node === undefined || node.tag !== tag) bad(`${what}: expected DER tag 0x${tag.toString(16)}`, { what });
  return node;
}

/** Dotted-decimal form of an OBJECT IDENTIFIER's content. */
export function derOid(node: DerNode): string {
  expectTag(node, DER_TAG.OID, 'object identifier');
  const b = node.content;
  if (b.length === 0 || b.length > 64) bad('object identifier has a bad length');
  const arcs: number[] = [];
  let v = 0;
  for (let i = 0; i < b.length; i++) {
    const x = b[i]!;
    if (v === 0 && x === 0x80) bad('object identifier arc has a leading 0x80');
    v = v * 128 + (x & 0x7f);
    if (v > Number.MAX_SAFE_INTEGER / 128) bad('object identifier arc too large');
    if ((x & 0x80) === 0) {
      arcs.push(v);
      v = 0;
    } else if (i === b.length - 1) bad('object identifier ends inside an arc');
  }
  const first = arcs.shift()!;
  const head = first < 40 ? [0, first] : first < 80 ? [1, first - 40] : [2, first - 80];
  return [...head, ...arcs].join('.');
}

/** A DER INTEGER as a non-negative bigint (refuses negatives and non-minimal forms). */
export function derUint(node: DerNode): bigint {
  expectTag(node, DER_TAG.INTEGER, 'integer');
  const b = node.content;
  if (b.length === 0) bad('empty DER integer');
  if (b[0]! & 0x80) bad('negative DER integer where a non-negative one is required');
  if (b.length > 1 && b[0] === 0 && (b[1]! & 0x80) === 0) bad('DER integer is not minimally encoded');
  let v = 0n;
  for (const x of b) v = (v << 8n) | BigInt(x);
  return v;
}

/** A UTCTime or GeneralizedTime as a Date (RFC 5280 §4.1.2.5 forms only). */
export function derTime(node: DerNode): Date {
  const s = Buffer.from(node.content).toString('latin1');
  let m: RegExpExecArray | null;
  if (node.tag === DER_TAG.UTC_TIME && (m = /^(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)Z$/.exec(s))) {
    const yy = Number(m[1]);
    return new Date(Date.UTC(yy >= 50 ? 1900 + yy : 2000 + yy, Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])));
  }
  if (node.tag === DER_TAG.GENERALIZED_TIME && (m = /^(\d{4})(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)Z$/.exec(s))) {
    return new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])));
  }
  return bad('time is neither UTCTime nor GeneralizedTime in RFC 5280 form');
}

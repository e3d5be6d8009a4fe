/**
 * Recursive Length Prefix (Ethereum Yellow Paper, appendix B), strict:
 * only canonical encodings decode (single bytes < 0x80 must not be wrapped,
 * lengths must be minimal with no leading zeros, no trailing data), so a
 * transaction has exactly one byte form and its hash is unambiguous.
 * Size and depth are bounded before any allocation.
 */
import { CustodianError } from '@custodian/core/errors';
import { concatBytes } from '@custodian/core/bytes';

/** An RLP item: a byte string or a list of items. */
export type RlpItem = Uint8Array | readonly RlpItem[];

/** Deepest list nesting accepted (transactions need 3: tx → access list → keys). */
export const RLP_DEPTH_MAX = 8;
/** Most items in one list. */
export const RLP_LIST_ITEMS_MAX = 4096;

function fail(message: string, detail: Record<string, unknown> = {}): never {
  throw new CustodianError('E_RLP_INVALID', message, detail);
}

/** Encodes an item. */
export function encodeRlp(item: RlpItem): Uint8Array {
  if (item instanceof Uint8Array) {
    if (item.length === 1 && item[0]! < 0x80) return item;
    return concatBytes(lengthPrefix(item.length, 0x80), item);
  }
  const body = concatBytes(...item.map(encodeRlp));
  return concatBytes(lengthPrefix(body.length, 0xc0), body);
}

function lengthPrefix(len: number, offset: number): Uint8Array {
  if (len < 56) return Uint8Array.of(offset + len);
  const lenBytes = uintToBytes(BigInt(len));
  return concatBytes(Uint8Array.of(offset + 55 + lenBytes.length), lenBytes);
}

/** Minimal big-endian bytes of a non-negative integer (empty for zero). */
export function uintToBytes(n: bigint): Uint8Array {
  if (n < 0n) throw new CustodianError('E_RLP_INVALID', 'negative integer cannot be RLP-encoded');
  if (n === 0n) return new Uint8Array(0);
  let hex = n.toString(16);
  if (hex.length % 2) hex = '0' + hex;
  return new Uint8Array(Buffer.from(hex, 'hex'));
}

/** Reads a canonical RLP integer (no leading zeros) of at most `maxBytes`. */
export function bytesToUint(b: Uint8Array, field: string, maxBytes = 32): bigint {
  if (b.length > maxBytes) fail(`${field} is longer than ${maxBytes} bytes`, { field, length: b.length });
  if (b.length > 0 && b[0] === 0) fail(`${field} has a leading zero byte`, { field });
  return b.length === 0 ? 0n : BigInt('0x' + Buffer.from(b).toString('hex'));
}

/** Decodes exactly one canonical RLP item spanning all of `input`. */
export function decodeRlp(input: Uint8Array, maxBytes: number): RlpItem {
  if (input.length > maxBytes) fail(`RLP input of ${input.length} bytes exceeds ${maxBytes}`, { length: input.length, maxBytes });
  const [item, end] = decodeAt(input, 0, input.length, 0);
  if (end !== input.length) fail('trailing bytes after the RLP item', { offset: end });
  return item;
}

function readLength(input: Uint8Array, pos: number, n: number, limit: number): number {
  if (pos + n > limit) fail('truncated RLP length', { offset: pos });
  if (input[pos] === 0) fail('RLP length has a leading zero', { offset: pos });
  let len = 0;
  for (let i = 0; i < n; i++) len = len * 256 + input[pos + i]!;
  if (len < 56) fail('RLP long form used for a short length', { offset: pos });
  return len;
}

function decodeAt(input: Uint8Array, pos: number, limit: number, depth: number): [RlpItem, number] {
  if (pos >= limit) fail('truncated RLP item', { offset: pos });
  const b = input[pos]!;
  if (b < 0x80) return [input.subarray(pos, pos + 1), pos + 1];
  if (b < 0xb8) {
    const len = b - 0x80;
    if (pos + 1 + len > limit) fail('truncated RLP string', { offset: pos, length: len });
    if (len === 1 && input[pos + 1]! < 0x80) fail('single byte below 0x80 must not be wrapped', { offset: pos });
    return [input.subarray(pos + 1, pos + 1 + len), pos + 1 + len];
  }
  if (b < 0xc0) {
    const n = b - 0xb7;
    const len = readLength(input, pos + 1, n, limit);
    const start = pos + 1 + n;
    if (start + len > limit) fail('truncated RLP string', { offset: pos, length: len });
    return [input.subarray(start, start + len), start + len];
  }
  if (depth >= RLP_DEPTH_MAX) fail(`RLP nests deeper than ${RLP_DEPTH_MAX}`, { offset: pos });
  let start: number;
  let len: number;
  if (b < 0xf8) {
    len = b - 0xc0;
    start = pos + 1;
  } else {
    const n = b - 0xf7;
    len = readLength(input, pos + 1, n, limit);
    start = pos + 1 + n;
  }
  const end = start + len;
  if (end > limit) fail('truncated RLP list', { offset: pos, length: len });
  const items: RlpItem[] = [];
  let p = start;
  while (p < end) {
    if (items.length >= RLP_LIST_ITEMS_MAX) fail(`RLP list has more than ${RLP_LIST_ITEMS_MAX} items`, { offset: pos });
    const [item, next] = decodeAt(input, p, end, depth + 1);
    items.push(item);
    p = next;
  }
  return [items, end];
}

/**
 * Minimal strict protobuf reader (wire types 0 and 2 only) for go-tpm-tools
 * `Attestation` messages: every length is checked against what remains, varints
 * are at most 10 bytes, and unknown fields are skipped within bounds.
 */
import { attestFail } from '../errors.js';

/** One field: number, wire type, and a varint value or the bytes of a length-delimited field. */
export interface PbField {
  readonly field: number;
  readonly varint?: bigint;
  readonly bytes?: Uint8Array;
}

/** Most fields read from one message (bounds the work per message). */
export const PB_FIELDS_MAX = 4096;

function bad(message: string): never {
  return attestFail('E_ATTEST_FORMAT', 'decode', `protobuf: ${message}`);
}

/** Splits one message into its fields. */
export function readPbFields(b: Uint8Array): PbField[] {
  const out: PbField[] = [];
  let i = 0;
  const varint = (): bigint => {
    let v = 0n;
    for (let n = 0; n < 10; n++) {
      const x = b[i++];
      if (x === undefined) bad('input ends inside a varint');
      v |= BigInt(x & 0x7f) << BigInt(7 * n);
      if ((x & 0x80) === 0) return v;
    }
    return bad('varint longer than 10 bytes');
  };
  while (i < b.length) {
    if (out.length >= PB_FIELDS_MAX) bad(`more than ${PB_FIELDS_MAX} fields`);
    const key = varint();
    const field = Number(key >> 3n);
    const wire = Number(key & 7n);
    if (field === 0 || field > 0x1fffffff) bad('invalid field number');
    if (wire === 0) out.push({ field, varint: varint() });
    else if (wire === 2) {
      const len = varint();
      // attacker-controlled: checked against the remaining bytes before slicing
      if (len > BigInt(b.length - i)) bad('length-delimited field runs past the end');
      out.push({ field, bytes: b.subarray(i, i + Number(len)) });
      i += Number(len);
    } else bad(`unsupported wire type ${wire}`);
  }
  return out;
}

/**
 * AWS Nitro Enclaves attestation document (AWS "Verifying the root of trust";
 * aws-nitro-enclaves-nsm-api AttestationDoc): the CBOR payload of a COSE_Sign1.
 * Decoded strictly: fixed key set, typed fields, bounded sizes.
 */
import { CborMap, type CborValue } from '@custodian/core/cbor/types';
import { attestFail } from '../errors.js';
import { decodeEvidenceCbor } from '../cose-sign1.js';

/** Largest Nitro attestation document accepted (real ones are under 8 KiB). */
export const NITRO_DOC_BYTES_MAX = 32 * 1024;
/** Deepest nesting of the payload: map → pcrs map / cabundle array → byte string. */
export const NITRO_PAYLOAD_DEPTH_MAX = 2;
/** Most PCRs in a document (NSM exposes 32). */
export const NITRO_PCRS_MAX = 32;
/** Most certificates in the cabundle. */
export const NITRO_CABUNDLE_MAX = 8;
/**
 * Largest public_key / user_data / nonce. AWS documents 1024 / 512 / 512, but
 * real documents carry 1024-byte user_data and nonce, so 1024 for all three.
 */
export const NITRO_FIELD_BYTES_MAX = 1024;

/** The decoded payload of a Nitro attestation document. */
export interface NitroDocument {
  readonly moduleId: string;
  readonly digest: 'SHA384';
  readonly timestampMs: number;
  readonly pcrs: ReadonlyMap<number, Uint8Array>;
  readonly certificate: Uint8Array;
  /** Root first, as AWS orders it. */
  readonly cabundle: readonly Uint8Array[];
  readonly publicKey: Uint8Array;
  readonly userData: Uint8Array;
  readonly nonce: Uint8Array;
}

const KEYS = new Set(['module_id', 'digest', 'timestamp', 'pcrs', 'certificate', 'cabundle', 'public_key', 'user_data', 'nonce']);

function bad(message: string, detail: Record<string, unknown> = {}): never {
  return attestFail('E_ATTEST_FORMAT', 'decode', `Nitro document: ${message}`, detail);
}

function bytes(v: CborValue | undefined, field: string, min: number, max: number): Uint8Array {
  if (!(v instanceof Uint8Array) || v.length < min || v.length > max) bad(`${field} must be a byte string of ${min}..${max} bytes`, { field });
  return v;
}

/** Optional byte field: absent, null and empty are the same (README quirk: real docs send empty bstrs). */
function optBytes(v: CborValue | undefined, field: string): Uint8Array {
  if (v === undefined || v === null) return new Uint8Array(0);
  return bytes(v, field, 0, NITRO_FIELD_BYTES_MAX);
}

/** Decodes the payload bytes of a Nitro COSE_Sign1. */
export function decodeNitroPayload(payload: Uint8Array): NitroDocument {
  const m = decodeEvidenceCbor(payload, 'Nitro payload', NITRO_DOC_BYTES_MAX, NITRO_PAYLOAD_DEPTH_MAX);
  if (!(m instanceof CborMap)) return bad('payload must be a map');
  for (const [k] of m.entries) if (typeof k !== 'string' || !KEYS.has(k)) bad('unknown payload key', { key: String(k) });
  const moduleId = m.get('module_id');
  if (typeof moduleId !== 'string' || moduleId.length === 0 || moduleId.length > 256) bad('module_id must be a non-empty string');
  if (m.get('digest') !== 'SHA384') bad('digest must be SHA384');
  const ts = m.get('timestamp');
  if (typeof ts !== 'number' || ts <= 0) bad('timestamp must be a positive integer (milliseconds)');
  const pcrsV = m.get('pcrs');
  if (!(pcrsV instanceof CborMap) || pcrsV.size === 0 || pcrsV.size > NITRO_PCRS_MAX) bad(`pcrs must be a map of 1..${NITRO_PCRS_MAX} entries`);
  const pcrs = new Map<number, Uint8Array>();
  for (const [k, v] of pcrsV.entries) {
    if (typeof k !== 'number' || k < 0 || k >= NITRO_PCRS_MAX) bad('PCR index out of range', { index: String(k) });
    pcrs.set(k, bytes(v, `PCR${k}`, 48, 48));
  }
  const cab = m.get('cabundle');
  if (!Array.isArray(cab) || cab.length === 0 || cab.length > NITRO_CABUNDLE_MAX) bad(`cabundle must be an array of 1..${NITRO_CABUNDLE_MAX} certificates`);
  return {
    moduleId,
    digest: 'SHA384',
    timestampMs: ts,
    pcrs,
    certificate: bytes(m.get('certificate'), 'certificate', 1, 4096),
    cabundle: (cab as readonly CborValue[]).map((c, i) => bytes(c, `cabundle[${i}]`, 1, 4096)),
    publicKey: optBytes(m.get('public_key'), 'public_key'),
    userData: optBytes(m.get('user_data'), 'user_data'),
    nonce: optBytes(m.get('nonce'), 'nonce'),
  };
}

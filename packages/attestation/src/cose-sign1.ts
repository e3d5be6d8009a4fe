/**
 * COSE_Sign1 (RFC 9052 §4.2) as Nitro, CCA and sim use it: decoded strictly
 * (deterministic CBOR, no duplicate keys), protected header must be a map
 * naming a supported `alg`, unprotected header must be a map, signature in
 * raw r‖s form verified over Sig_structure1 with empty external AAD.
 */
import { verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { decodeCbor } from '@custodian/core/cbor/decode';
import { encodeCbor } from '@custodian/core/cbor/encode';
import { CborMap, CborTag, type CborValue } from '@custodian/core/cbor/types';
import { isCustodianError } from '@custodian/core/errors';
import { attestFail } from './errors.js';

/** COSE algorithm identifiers accepted (RFC 9053 §2.1). */
export const COSE_ALG = { ES256: -7, ES384: -35, ES512: -36 } as const;

/** Deepest nesting inside a protected header (a map of scalars, maybe one array). */
export const COSE_HEADER_DEPTH_MAX = 3;
/** Deepest nesting of a COSE_Sign1 envelope (tag, array, header map, values). */
export const COSE_SIGN1_DEPTH_MAX = 4;

/** CBOR tag of a tagged COSE_Sign1 (RFC 9052 §2). */
export const COSE_SIGN1_TAG = 18;

const HASH_FOR_ALG: Record<number, { hash: string; sigBytes: number }> = {
  [COSE_ALG.ES256]: { hash: 'sha256', sigBytes: 64 },
  [COSE_ALG.ES384]: { hash: 'sha384', sigBytes: 96 },
  [COSE_ALG.ES512]: { hash: 'sha512', sigBytes: 132 },
};

/** A decoded, not yet verified COSE_Sign1. */
export interface CoseSign1 {
  readonly protectedBytes: Uint8Array;
  readonly alg: number;
  readonly unprotected: CborMap;
  readonly payload: Uint8Array;
  readonly signature: Uint8Array;
}

/** Decodes CBOR for a verifier with the format's own size and depth bounds; codec errors become E_ATTEST_FORMAT with the codec's code kept in detail. */
export function decodeEvidenceCbor(bytes: Uint8Array, what: string, maxBytes: number, maxDepth: number): CborValue {
  try {
    return decodeCbor(bytes, { maxBytes, maxDepth });
  } catch (e) {
    if (isCustodianError(e) && e.code.startsWith('E_CBOR_')) {
      return attestFail(e.code === 'E_CBOR_TOO_LARGE' ? 'E_ATTEST_TOO_LARGE' : 'E_ATTEST_FORMAT', 'decode', `${what}: ${e.message}`, { cbor: e.code, ...e.detail });
    }
    throw e;
  }
}

/** Decodes a COSE_Sign1 from a CBOR value; `tagged` says whether tag 18 is required, forbidden or optional. */
export function decodeCoseSign1(v: CborValue, what: string, tagged: 'required' | 'forbidden' | 'optional'): CoseSign1 {
  let inner = v;
  if (inner instanceof CborTag) {
    if (tagged === 'forbidden' || inner.tag !== COSE_SIGN1_TAG) attestFail('E_ATTEST_FORMAT', 'decode', `${what}: unexpected CBOR tag`, { tag: String(inner.tag) });
    inner = inner.value;
  } else if (tagged === 'required') attestFail('E_ATTEST_FORMAT', 'decode', `${what}: COSE_Sign1 tag 18 missing`);
  if (!Array.isArray(inner) || inner.length !== 4) attestFail('E_ATTEST_FORMAT', 'decode', `${what}: COSE_Sign1 must be an array of 4`);
  const [prot, unprot, payload, sig] = inner as readonly CborValue[];
  if (!(prot instanceof Uint8Array) || !(payload instanceof Uint8Array) || !(sig instanceof Uint8Array)) {
    attestFail('E_ATTEST_FORMAT', 'decode', `${what}: COSE_Sign1 protected header, payload and signature must be byte strings`);
  }
  if (!(unprot instanceof CborMap)) attestFail('E_ATTEST_FORMAT', 'decode', `${what}: COSE unprotected header must be a map`);
  const ph = prot.length === 0 ? new CborMap([]) : decodeEvidenceCbor(prot, `${what} protected header`, prot.length, COSE_HEADER_DEPTH_MAX);
  if (!(ph instanceof CborMap)) attestFail('E_ATTEST_FORMAT', 'decode', `${what}: protected header must be a map`);
  const alg = ph.get(1);
  if (typeof alg !== 'number' || HASH_FOR_ALG[alg] === undefined) {
    attestFail('E_ATTEST_SIGNATURE', 'decode', `${what}: protected header names no supported signature algorithm`, { alg: alg === undefined ? null : String(alg) });
  }
  if (unprot.has(1)) attestFail('E_ATTEST_FORMAT', 'decode', `${what}: alg must not appear in the unprotected header`);
  return { protectedBytes: prot, alg, unprotected: unprot, payload, signature: sig };
}

/** Sig_structure1 bytes (RFC 9052 §4.4) with empty external AAD. */
export function sigStructure1(m: CoseSign1): Uint8Array {
  return encodeCbor(['Signature1', m.protectedBytes, new Uint8Array(0), m.payload]);
}

/** True when the COSE_Sign1 signature verifies under `key` (curve must match the alg). */
export function coseSignatureValid(m: CoseSign1, key: KeyObject): boolean {
  const a = HASH_FOR_ALG[m.alg]!;
  if (m.signature.length !== a.sigBytes) return false;
  const curve = key.asymmetricKeyDetails?.namedCurve;
  const expected = m.alg === COSE_ALG.ES256 ? 'prime256v1' : m.alg === COSE_ALG.ES384 ? 'secp384r1' : 'secp521r1';
  if (key.asymmetricKeyType !== 'ec' || curve !== expected) return false;
  try {
    return cryptoVerify(a.hash, sigStructure1(m), { key, dsaEncoding: 'ieee-p1363' }, m.signature);
  } catch {
    return false;
  }
}

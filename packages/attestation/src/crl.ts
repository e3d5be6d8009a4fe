/**
 * X.509 CRLs (RFC 5280 §5) for revocation checks (B23): parsed with the
 * strict DER reader, signature verified under the issuing certificate of the
 * verified path, thisUpdate/nextUpdate judged at the verification time.
 * Signature algorithms: ECDSA and RSA PKCS#1 v1.5 with SHA-256/384 (Intel PCS
 * CRLs) and RSASSA-PSS (RFC 4055 §3.1) with SHA-256/384/512 and MGF1 over the
 * same hash (AMD KDS CRLs, signed by the ARK with SHA-384, salt 48).
 */
import { constants, createHash, type KeyObject, type VerifyKeyObjectInput } from 'node:crypto';
import { DER_TAG, derChildren, derOid, derTime, derUint, expectTag, parseDer, type DerNode } from './der.js';
import { attestFail } from './errors.js';
import type { Certificate } from './x509.js';
import { safeVerify } from './safe-verify.js';
import { DER_BYTES_MAX } from './limits.js';

/** A parsed CRL (signature not yet checked). */
export interface Crl {
  readonly issuerRaw: Uint8Array;
  readonly thisUpdate: Date;
  readonly nextUpdate?: Date;
  /** Revoked serial numbers as content-byte hex, as in Certificate.serialHex. */
  readonly revoked: ReadonlySet<string>;
  readonly tbs: Uint8Array;
  readonly sigAlg: string;
  /** RSASSA-PSS parameters, when sigAlg is id-RSASSA-PSS. */
  readonly pss?: PssParams;
  readonly signature: Uint8Array;
}

/** RSASSA-PSS parameters (RFC 4055 §3.1) restricted to what is accepted: MGF1 with the message hash, trailer 1. */
export interface PssParams {
  readonly hash: 'sha256' | 'sha384' | 'sha512';
  readonly saltLength: number;
}

/** id-RSASSA-PSS (RFC 4055 §3.1). */
export const OID_RSASSA_PSS = '1.2.840.113549.1.1.10';
const OID_MGF1 = '1.2.840.113549.1.1.8';
const PSS_HASHES: Readonly<Record<string, PssParams['hash']>> = {
  '2.16.840.1.101.3.4.2.1': 'sha256',
  '2.16.840.1.101.3.4.2.2': 'sha384',
  '2.16.840.1.101.3.4.2.3': 'sha512',
};
/** Largest PSS salt accepted (the hash length of SHA-512). */
const PSS_SALT_BYTES_MAX = 64;

/** Signature algorithms accepted on CRLs: OID → hash and signature encoding. */
const SIG_ALGS: Record<string, string> = {
  '1.2.840.10045.4.3.2': 'sha256',
  '1.2.840.10045.4.3.3': 'sha384',
  '1.2.840.113549.1.1.11': 'sha256',
  '1.2.840.113549.1.1.12': 'sha384',
};

function badCrl(message: string): never {
  return attestFail('E_DER_INVALID', 'chain', `CRL: ${message}`);
}

/** The OID of an AlgorithmIdentifier. */
function algorithmOid(node: DerNode | undefined, what: string): string {
  return derOid(expectTag(derChildren(expectTag(node, DER_TAG.SEQUENCE, what))[0], DER_TAG.OID, what));
}

/** Reads RSASSA-PSS-params; refuses defaults (SHA-1), a mask hash other than the message hash and trailers other than 1. */
function readPssParams(params: DerNode | undefined): PssParams {
  if (params === undefined) return badCrl('RSASSA-PSS parameters are missing (SHA-1 defaults are not accepted)');
  let hash: PssParams['hash'] | undefined;
  let mgfHash: PssParams['hash'] | undefined;
  let saltLength = 20;
  for (const field of derChildren(expectTag(params, DER_TAG.SEQUENCE, 'RSASSA-PSS-params'))) {
    const [inner, ...rest] = derChildren(field);
    if (inner === undefined || rest.length > 0) badCrl('malformed RSASSA-PSS parameter');
    if (field.tag === 0xa0) hash = PSS_HASHES[algorithmOid(inner, 'hashAlgorithm')];
    else if (field.tag === 0xa1) {
      const [mgf, mgfParams] = derChildren(expectTag(inner, DER_TAG.SEQUENCE, 'maskGenAlgorithm'));
      if (derOid(expectTag(mgf, DER_TAG.OID, 'maskGenAlgorithm')) !== OID_MGF1 || mgfParams === undefined) badCrl('RSASSA-PSS mask generation must be MGF1');
      mgfHash = PSS_HASHES[algorithmOid(mgfParams, 'MGF1 hash')];
    } else if (field.tag === 0xa2) {
      const n = derUint(inner);
      if (n > BigInt(PSS_SALT_BYTES_MAX)) badCrl('RSASSA-PSS salt length is too large');
      saltLength = Number(n);
    } else if (field.tag === 0xa3) {
      if (derUint(inner) !== 1n) badCrl('RSASSA-PSS trailer field must be 1');
    } else badCrl('unknown RSASSA-PSS parameter');
  }
  if (hash === undefined || mgfHash !== hash) badCrl('RSASSA-PSS must use SHA-256/384/512 with MGF1 over the same hash');
  return { hash, saltLength };
}

/** Parses a DER CRL strictly. */
export function parseCrl(der: Uint8Array): Crl {
  const root = expectTag(parseDer(der), DER_TAG.SEQUENCE, 'CertificateList');
  const [tbs, alg, sig, ...extra] = derChildren(root);
  if (extra.length > 0) badCrl('CertificateList has more than three parts');
  const [algOid, algParams] = derChildren(expectTag(alg, DER_TAG.SEQUENCE, 'signatureAlgorithm'));
  const sigAlg = derOid(expectTag(algOid, DER_TAG.OID, 'signatureAlgorithm'));
  const pss = sigAlg === OID_RSASSA_PSS ? readPssParams(algParams) : undefined;
  const sigBits = expectTag(sig, DER_TAG.BIT_STRING, 'signatureValue').content;
  const f = derChildren(expectTag(tbs, DER_TAG.SEQUENCE, 'tbsCertList'));
  let i = 0;
  if (f[i]?.tag === DER_TAG.INTEGER) i++;
  // RFC 5280 §5.1.1.2: the inner signature algorithm must equal the outer one
  if (!Buffer.from(expectTag(f[i++], DER_TAG.SEQUENCE, 'signature').raw).equals(Buffer.from(alg!.raw))) badCrl('tbsCertList signature algorithm differs from signatureAlgorithm');
  const issuer = expectTag(f[i++], DER_TAG.SEQUENCE, 'issuer');
  const thisUpdate = derTime(f[i++]!);
  let nextUpdate: Date | undefined;
  if (f[i] && (f[i]!.tag === DER_TAG.UTC_TIME || f[i]!.tag === DER_TAG.GENERALIZED_TIME)) nextUpdate = derTime(f[i++]!);
  const revoked = new Set<string>();
  if (f[i]?.tag === DER_TAG.SEQUENCE) {
    for (const entry of derChildren(f[i]!)) revoked.add(serialOf(entry));
  }
  return {
    issuerRaw: issuer.raw,
    thisUpdate,
    ...(nextUpdate ? { nextUpdate } : {}),
    revoked,
    tbs: tbs!.raw,
    sigAlg,
    ...(pss ? { pss } : {}),
    signature: sigBits.subarray(1),
  };
}

/** True when `crl` is signed by `key` under its declared algorithm; false for anything unsupported. */
export function crlSignatureValid(crl: Crl, key: KeyObject): boolean {
  if (crl.pss !== undefined) {
    const input: VerifyKeyObjectInput = { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: crl.pss.saltLength };
    return key.asymmetricKeyType !== 'ec' && safeVerify(crl.pss.hash, crl.tbs, input, crl.signature);
  }
  return safeVerify(SIG_ALGS[crl.sigAlg], crl.tbs, key, crl.signature);
}

function serialOf(entry: DerNode): string {
  const [serial] = derChildren(expectTag(entry, DER_TAG.SEQUENCE, 'revokedCertificate'));
  return Buffer.from(expectTag(serial, DER_TAG.INTEGER, 'userCertificate').content).toString('hex');
}

/** Most remembered CRLs (parsed, and signature-checked per issuer). */
export const CRL_CACHE_MAX = 256;
const parsedCache = new Map<string, Crl>();
/** CRL hashes whose signature verified, per issuer object (parsed certificates are cached, so the object stands for its key). */
const signedCache = new WeakMap<Certificate, Set<string>>();

/** parseCrl, remembered by SHA-256 of the DER (the cached value keeps its own copy of the bytes). */
function parseCrlCached(der: Uint8Array): { crl: Crl; hash: string } {
  const hash = createHash('sha256').update(der).digest('hex');
  let crl = parsedCache.get(hash);
  if (crl === undefined) {
    crl = parseCrl(new Uint8Array(der));
    if (parsedCache.size >= CRL_CACHE_MAX) parsedCache.delete(parsedCache.keys().next().value!);
    parsedCache.set(hash, crl);
  }
  return { crl, hash };
}

/**
 * Checks every certificate of `path` (leaf first, root last) against the CRLs
 * whose issuer is in the path: a CRL must verify under its issuer and be
 * current at `now`; a listed serial is E_ATTEST_REVOKED. Returns how many CRLs applied.
 * Parsing and a good signature check are remembered (a fixed signature under
 * a fixed key verifies the same way every time); currency is judged every call.
 */
export function checkRevocation(path: readonly Certificate[], crlDers: readonly Uint8Array[], now: Date): number {
  let applied = 0;
  for (const der of crlDers) {
    if (der.length > DER_BYTES_MAX) badCrl(`CRL of ${der.length} bytes exceeds ${DER_BYTES_MAX}`);
    const { crl, hash } = parseCrlCached(der);
    const issuerIndex = path.findIndex((c) => Buffer.from(c.subjectRaw).equals(Buffer.from(crl.issuerRaw)));
    if (issuerIndex < 0) continue;
    const issuer = path[issuerIndex]!;
    const verified = signedCache.get(issuer) ?? new Set<string>();
    if (!verified.has(hash)) {
      if (!crlSignatureValid(crl, issuer.publicKey)) attestFail('E_COLLATERAL_INVALID', 'chain', `CRL issued by "${issuer.subject}" has an invalid signature`);
      if (verified.size >= CRL_CACHE_MAX) verified.delete(verified.values().next().value!);
      verified.add(hash);
      signedCache.set(issuer, verified);
    }
    if (now < crl.thisUpdate || (crl.nextUpdate !== undefined && now > crl.nextUpdate)) {
      attestFail('E_CRL_EXPIRED', 'chain', `CRL issued by "${issuer.subject}" is not current at ${now.toISOString()}`, {
        thisUpdate: crl.thisUpdate.toISOString(),
        nextUpdate: crl.nextUpdate?.toISOString() ?? null,
      });
    }
    applied++;
    for (let i = 0; i < issuerIndex; i++) {
      const c = path[i]!;
      if (Buffer.from(c.issuerRaw).equals(Buffer.from(crl.issuerRaw)) && crl.revoked.has(c.serialHex)) {
        attestFail('E_ATTEST_REVOKED', 'chain', `certificate "${c.subject}" is revoked`, { subject: c.subject, serial: c.serialHex });
      }
    }
  }
  return applied;
}

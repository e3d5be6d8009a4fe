/**
 * X.509 CRLs (RFC 5280 §5) for revocation checks (B23): parsed with the
 * strict DER reader, signature verified under the issuing certificate of the
 * verified path, thisUpdate/nextUpdate judged at the verification time.
 */
import { DER_TAG, derChildren, derOid, derTime, expectTag, parseDer, type DerNode } from './der.js';
import { attestFail } from './errors.js';
import type { Certificate } from './x509.js';
import { safeVerify } from './safe-verify.js';

/** A parsed CRL (signature not yet checked). */
export interface Crl {
  readonly issuerRaw: Uint8Array;
  readonly thisUpdate: Date;
  readonly nextUpdate?: Date;
  /** Revoked serial numbers as content-byte hex, as in Certificate.serialHex. */
  readonly revoked: ReadonlySet<string>;
  readonly tbs: Uint8Array;
  readonly sigAlg: string;
  readonly signature: Uint8Array;
}

/** Signature algorithms accepted on CRLs: OID → hash and signature encoding. */
const SIG_ALGS: Record<string, string> = {
  '1.2.840.10045.4.3.2': 'sha256',
  '1.2.840.10045.4.3.3': 'sha384',
  '1.2.840.113549.1.1.11': 'sha256',
  '1.2.840.113549.1.1.12': 'sha384',
};

/** Parses a DER CRL strictly. */
export function parseCrl(der: Uint8Array): Crl {
  const root = expectTag(parseDer(der), DER_TAG.SEQUENCE, 'CertificateList');
  const [tbs, alg, sig] = derChildren(root);
  const sigAlg = derOid(derChildren(expectTag(alg, DER_TAG.SEQUENCE, 'signatureAlgorithm'))[0]!);
  const sigBits = expectTag(sig, DER_TAG.BIT_STRING, 'signatureValue').content;
  const f = derChildren(expectTag(tbs, DER_TAG.SEQUENCE, 'tbsCertList'));
  let i = 0;
  if (f[i]?.tag === DER_TAG.INTEGER) i++;
  expectTag(f[i++], DER_TAG.SEQUENCE, 'signature');
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
    signature: sigBits.subarray(1),
  };
}

function serialOf(entry: DerNode): string {
  const [serial] = derChildren(expectTag(entry, DER_TAG.SEQUENCE, 'revokedCertificate'));
  return Buffer.from(expectTag(serial, DER_TAG.INTEGER, 'userCertificate').content).toString('hex');
}

/**
 * Checks every certificate of `path` (leaf first, root last) against the CRLs
 * whose issuer is in the path: a CRL must verify under its issuer and be
 * current at `now`; a listed serial is E_ATTEST_REVOKED. Returns how many CRLs applied.
 */
export function checkRevocation(path: readonly Certificate[], crlDers: readonly Uint8Array[], now: Date): number {
  let applied = 0;
  for (const der of crlDers) {
    const crl = parseCrl(der);
    const issuerIndex = path.findIndex((c) => Buffer.from(c.subjectRaw).equals(Buffer.from(crl.issuerRaw)));
    if (issuerIndex < 0) continue;
    const issuer = path[issuerIndex]!;
    const hash = SIG_ALGS[crl.sigAlg];
    if (!safeVerify(hash, crl.tbs, issuer.publicKey, crl.signature)) attestFail('E_COLLATERAL_INVALID', 'chain', `CRL issued by "${issuer.subject}" has an invalid signature`);
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

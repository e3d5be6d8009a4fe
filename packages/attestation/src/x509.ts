/**
 * X.509 certificates as the verifiers use them: DER structure checked by our
 * strict reader first (B05), then handed to node:crypto for key and signature
 * work. Chain building is ours and bounded (Go crypto/x509 style): names must
 * link, each signature must verify under the next key, every certificate must
 * be valid at the time passed in, issuers must be CAs, and the chain must end
 * at a pinned root — never at a root that came with the evidence.
 */
import { X509Certificate, createHash, type KeyObject } from 'node:crypto';
import { attestFail, type VerifyStep } from './errors.js';
import { DER_TAG, derChildren, derOid, derTime, expectTag, parseDer, type DerNode } from './der.js';
import { CHAIN_DEPTH_MAX, DER_BYTES_MAX } from './limits.js';

/** A certificate extension: criticality and the content of its extnValue OCTET STRING. */
export interface CertExtension {
  readonly critical: boolean;
  readonly value: Uint8Array;
}

/** A parsed, structurally checked certificate. */
export interface Certificate {
  readonly der: Uint8Array;
  readonly x509: X509Certificate;
  readonly publicKey: KeyObject;
  /** Serial number content bytes as lower-case hex (compared with CRL entries). */
  readonly serialHex: string;
  readonly issuerRaw: Uint8Array;
  readonly subjectRaw: Uint8Array;
  readonly subject: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly extensions: ReadonlyMap<string, CertExtension>;
  /** SHA-256 of the DER, hex. */
  readonly sha256: string;
}

/** Most remembered parsed certificates (DESIGN.md: cache parsed certificates). */
export const CERT_CACHE_MAX = 1024;
const certCache = new Map<string, Certificate>();

/**
 * Parses one DER certificate strictly; refuses with E_DER_INVALID. Parsing is
 * a pure function of the bytes, so results are remembered by SHA-256 of the
 * DER (failures are not); the cached value holds its own copy of the bytes,
 * so a caller reusing its buffer cannot change it. Validity and signatures
 * are still judged on every use (verifyChain).
 */
export function parseCertificate(der: Uint8Array): Certificate {
  if (der.length > DER_BYTES_MAX) bad(`certificate of ${der.length} bytes exceeds ${DER_BYTES_MAX}`);
  const sha256 = createHash('sha256').update(der).digest('hex');
  const hit = certCache.get(sha256);
  if (hit) return hit;
  const cert = parseCertificateUncached(new Uint8Array(der), sha256);
  if (certCache.size >= CERT_CACHE_MAX) certCache.delete(certCache.keys().next().value!);
  certCache.set(sha256, cert);
  return cert;
}

function parseCertificateUncached(der: Uint8Array, sha256: string): Certificate {
  const root = expectTag(parseDer(der, DER_BYTES_MAX), DER_TAG.SEQUENCE, 'certificate');
  const [tbs, sigAlg, sig, ...rest] = derChildren(root);
  if (rest.length > 0 || sig?.tag !== DER_TAG.BIT_STRING || sigAlg?.tag !== DER_TAG.SEQUENCE) bad('certificate is not SEQUENCE { tbs, algorithm, signature }');
  const f = derChildren(expectTag(tbs, DER_TAG.SEQUENCE, 'tbsCertificate'));
  let i = 0;
  if (f[0]?.tag === 0xa0) i++; // [0] EXPLICIT version
  const serial = expectTag(f[i++], DER_TAG.INTEGER, 'serialNumber');
  expectTag(f[i++], DER_TAG.SEQUENCE, 'signature algorithm');
  const issuer = expectTag(f[i++], DER_TAG.SEQUENCE, 'issuer');
  const validity = derChildren(expectTag(f[i++], DER_TAG.SEQUENCE, 'validity'));
  const subject = expectTag(f[i++], DER_TAG.SEQUENCE, 'subject');
  expectTag(f[i++], DER_TAG.SEQUENCE, 'subjectPublicKeyInfo');
  if (validity.length !== 2) bad('validity must hold two times');
  const extensions = new Map<string, CertExtension>();
  for (; i < f.length; i++) {
    if (f[i]!.tag === 0xa3) readExtensions(f[i]!, extensions);
  }
  let x509: X509Certificate;
  let publicKey: KeyObject;
  try {
    x509 = new X509Certificate(der);
    publicKey = x509.publicKey;
  } catch (e) {
    return bad(`certificate rejected by the X.509 parser: ${e instanceof Error ? e.message : String(e)}`);
  }
  return {
    der,
    x509,
    publicKey,
    serialHex: Buffer.from(serial.content).toString('hex'),
    issuerRaw: issuer.raw,
    subjectRaw: subject.raw,
    subject: (x509.subject ?? '').replace(/\n/g, ', '),
    notBefore: derTime(validity[0]!),
    notAfter: derTime(validity[1]!),
    extensions,
    sha256,
  };
}

function readExtensions(wrapper: DerNode, out: Map<string, CertExtension>): void {
  const [seq] = derChildren(wrapper);
  for (const ext of derChildren(expectTag(seq, DER_TAG.SEQUENCE, 'extensions'))) {
    const parts = derChildren(expectTag(ext, DER_TAG.SEQUENCE, 'extension'));
    const oid = derOid(parts[0]!);
    const critical = parts.length === 3 && parts[1]!.tag === DER_TAG.BOOLEAN && parts[1]!.content[0] === 0xff;
    const value = expectTag(parts[parts.length - 1], DER_TAG.OCTET_STRING, 'extnValue');
    if (out.has(oid)) bad(`extension ${oid} appears twice`, { oid });
    out.set(oid, { critical, value: value.content });
  }
}

function bad(message: string, detail: Record<string, unknown> = {}): never {
  return attestFail('E_DER_INVALID', 'bounds', message, detail);
}

/** Splits PEM text into the DER bodies of its CERTIFICATE (or `label`) blocks. */
export function pemBlocks(text: string, label = 'CERTIFICATE'): Uint8Array[] {
  const re = new RegExp(`-----BEGIN ${label}-----([A-Za-z0-9+/=\\s]+?)-----END ${label}-----`, 'g');
  const out: Uint8Array[] = [];
  for (const m of text.matchAll(re)) out.push(new Uint8Array(Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64')));
  return out;
}

/** Extensions this verifier understands; an unknown critical extension makes a certificate unusable (RFC 5280 §4.2). */
const KNOWN_CRITICAL = new Set(['2.5.29.15', '2.5.29.17', '2.5.29.19', '2.5.29.32', '2.5.29.35', '2.5.29.14', '2.5.29.31', '2.5.29.37']);

/** RFC 5280 §4.2.1.3: when keyUsage is present, an issuer must assert keyCertSign (bit 5). */
function mayIssue(cert: Certificate): boolean {
  const ku = cert.extensions.get('2.5.29.15')?.value;
  if (ku === undefined) return true;
  // BIT STRING: 03 len unused-bits byte0 ...; keyCertSign is bit 5 of the first byte (0x04)
  return ku.length >= 4 && ku[0] === 0x03 && (ku[3]! & 0x04) !== 0;
}

function checkCritical(cert: Certificate): void {
  for (const [oid, e] of cert.extensions) {
    if (e.critical && !KNOWN_CRITICAL.has(oid)) attestFail('E_ATTEST_CHAIN_UNTRUSTED', 'chain', `certificate "${cert.subject}" has an unknown critical extension ${oid}`, { oid });
  }
}

/** Refuses when `now` is outside the certificate's validity. */
export function checkValidity(cert: Certificate, now: Date, step: VerifyStep): void {
  const t = now.getTime();
  if (t < cert.notBefore.getTime() || t > cert.notAfter.getTime()) {
    attestFail('E_ATTEST_CERT_EXPIRED', step, `certificate "${cert.subject}" is not valid at ${now.toISOString()} (valid ${cert.notBefore.toISOString()} .. ${cert.notAfter.toISOString()})`, {
      subject: cert.subject,
      notBefore: cert.notBefore.toISOString(),
      notAfter: cert.notAfter.toISOString(),
    });
  }
}

/** Most remembered certificate signature results (DESIGN.md: cache parsed certificates). */
export const LINK_CACHE_MAX = 1024;
const linkCache = new Map<string, boolean>();

/**
 * True when `issuer` signed `child`. A signature over fixed bytes under a fixed
 * key verifies the same way every time, so results are remembered by the pair
 * of certificate hashes; validity at `now` is still judged on every call.
 */
function signedBy(child: Certificate, issuer: Certificate): boolean {
  if (!Buffer.from(child.issuerRaw).equals(Buffer.from(issuer.subjectRaw))) return false;
  const key = child.sha256 + issuer.sha256;
  const hit = linkCache.get(key);
  if (hit !== undefined) return hit;
  let ok: boolean;
  try {
    ok = child.x509.verify(issuer.publicKey);
  } catch {
    ok = false;
  }
  if (linkCache.size >= LINK_CACHE_MAX) linkCache.delete(linkCache.keys().next().value!);
  linkCache.set(key, ok);
  return ok;
}

/**
 * Verifies a leaf-first chain to one of `anchors` (pinned roots) at `now` and
 * returns the full path, leaf first, ending with the pinned root. The chain may
 * or may not include the root; a root it includes must be byte-identical to a
 * pinned one.
 */
export function verifyChain(chain: readonly Certificate[], anchors: readonly Certificate[], now: Date): Certificate[] {
  if (chain.length === 0 || chain.length > CHAIN_DEPTH_MAX) attestFail('E_ATTEST_CHAIN_UNTRUSTED', 'chain', `chain has ${chain.length} certificates (1..${CHAIN_DEPTH_MAX} allowed)`);
  const path = [...chain];
  const last = path[path.length - 1]!;
  const pinned = anchors.find((a) => a.sha256 === last.sha256);
  if (!pinned) {
    const anchor = anchors.find((a) => signedBy(last, a));
    if (!anchor) {
      attestFail('E_ATTEST_CHAIN_UNTRUSTED', 'chain', `certificate "${last.subject}" does not chain to a pinned root`, { subject: last.subject });
    }
    path.push(anchor);
  }
  for (let i = 0; i < path.length - 1; i++) {
    const child = path[i]!;
    const issuer = path[i + 1]!;
    if (!signedBy(child, issuer)) {
      attestFail('E_ATTEST_CHAIN_UNTRUSTED', 'chain', `certificate "${child.subject}" is not signed by "${issuer.subject}"`, { index: i, subject: child.subject, issuer: issuer.subject });
    }
    if (!issuer.x509.ca || !mayIssue(issuer)) attestFail('E_ATTEST_CHAIN_UNTRUSTED', 'chain', `issuer "${issuer.subject}" is not a CA allowed to sign certificates`, { index: i + 1 });
  }
  const root = path[path.length - 1]!;
  if (!signedBy(root, root)) attestFail('E_ATTEST_CHAIN_UNTRUSTED', 'chain', `pinned root "${root.subject}" is not self-signed`);
  for (const c of path) {
    checkCritical(c);
    checkValidity(c, now, 'chain');
  }
  return path;
}

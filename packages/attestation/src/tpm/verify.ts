/**
 * Verifies a TPM 2.0 quote attestation in go-tpm-tools' `Attestation`
 * protobuf form (GCE Shielded VM vTPM): decode → bounds → chain (AK
 * certificate → Google vTPM intermediate → pinned Google root) → signature
 * (each quote RSASSA-signed by the AK, whose TPMT_PUBLIC must carry the
 * certified modulus and whose qualified name as an endorsement- or owner-hierarchy primary must be the quote's qualifiedSigner) →
 * claims (PCR values must hash to each quote's pcrDigest; extraData is the
 * nonce). The event log is carried but not replayed (known gap).
 */
import { createHash } from 'node:crypto';
import { bytesToHex, equalBytes } from '@custodian/core/bytes';
import { attestFail, type VerifyStep } from '../errors.js';
import { parseCertificate, verifyChain, type Certificate } from '../x509.js';
import { pinnedRoot } from '../roots.js';
import { checkBinding } from '../binding.js';
import { safeVerify } from '../safe-verify.js';
import { EVIDENCE_BYTES_MAX } from '../limits.js';
import type { AttestationClaims, VerifyOptions } from '../claims.js';
import { readPbFields, type PbField } from './protobuf.js';
import { decodeTpmsAttestQuote, decodeTpmtSignatureRsassa, rsaModulusOfTpmtPublic, TPM_HASH, type TpmsAttestQuote } from './structures.js';

/** Most quotes (PCR banks) in one attestation. */
export const TPM_QUOTES_MAX = 8;
/** PCRs per bank. */
export const TPM_PCRS = 24;

/** Attestation message field numbers (go-tpm-tools proto/attest.proto). */
const ATTESTATION = { AK_PUB: 1, QUOTES: 2, EVENT_LOG: 3, AK_CERT: 6, INTERMEDIATES: 7 } as const;
const QUOTE = { QUOTE: 1, RAW_SIG: 2, PCRS: 3 } as const;

interface Quote {
  readonly attest: TpmsAttestQuote;
  readonly bank: number;
  readonly pcrs: ReadonlyMap<number, Uint8Array>;
}

function bad(message: string): never {
  return attestFail('E_ATTEST_FORMAT', 'decode', `TPM attestation: ${message}`);
}

function one(fields: readonly PbField[], n: number, what: string): Uint8Array {
  const f = fields.filter((x) => x.field === n);
  if (f.length !== 1 || f[0]!.bytes === undefined) bad(`${what} must appear exactly once`);
  return f[0]!.bytes!;
}

/** Verifies a go-tpm-tools Attestation and returns its claims. */
export function verifyTpm(evidence: Uint8Array, opts: VerifyOptions): AttestationClaims {
  if (evidence.length > EVIDENCE_BYTES_MAX) attestFail('E_ATTEST_TOO_LARGE', 'bounds', `TPM attestation of ${evidence.length} bytes exceeds ${EVIDENCE_BYTES_MAX}`);
  const fields = readPbFields(evidence);
  const akPub = one(fields, ATTESTATION.AK_PUB, 'ak_pub');
  const akCertDer = one(fields, ATTESTATION.AK_CERT, 'ak_cert');
  const quoteFields = fields.filter((f) => f.field === ATTESTATION.QUOTES);
  if (quoteFields.length === 0 || quoteFields.length > TPM_QUOTES_MAX) bad(`must carry 1..${TPM_QUOTES_MAX} quotes`);
  const { nameAlg, modulus } = rsaModulusOfTpmtPublic(akPub);
  const steps: VerifyStep[] = ['decode', 'bounds'];

  const ak = parseCertificate(akCertDer);
  const carried = fields.filter((f) => f.field === ATTESTATION.INTERMEDIATES && f.bytes).map((f) => parseCertificate(f.bytes!));
  const path = verifyChain([ak, ...intermediatesFor(ak, carried)], [pinnedRoot('google-tpm-ek-root-1')], opts.now);
  steps.push('chain');

  const n = ak.publicKey.export({ format: 'jwk' }).n;
  if (typeof n !== 'string' || !equalBytes(Buffer.from(n, 'base64url'), modulus)) attestFail('E_ATTEST_SIGNATURE', 'signature', 'ak_pub is not the key the AK certificate certifies');
  const hash = TPM_HASH[nameAlg];
  if (!hash) bad('unsupported AK name algorithm');
  // TPM 2.0 Part 1 §16: Name = nameAlg ‖ H(TPMT_PUBLIC); a primary key's qualified name is nameAlg ‖ H(hierarchy handle ‖ Name)
  const alg = Buffer.from([nameAlg >> 8, nameAlg & 0xff]);
  const akName = Buffer.concat([alg, createHash(hash.name).update(akPub).digest()]);
  const qualifiedNames = [TPM_RH_ENDORSEMENT, TPM_RH_OWNER].map((h) => {
    const handle = Buffer.alloc(4);
    handle.writeUInt32BE(h);
    return Buffer.concat([alg, createHash(hash.name).update(handle).update(akName).digest()]);
  });
  const quotes = quoteFields.map((f) => verifyQuote(f.bytes!, ak, qualifiedNames));
  steps.push('signature');

  const nonce = quotes[0]!.attest.extraData;
  if (quotes.some((q) => !equalBytes(q.attest.extraData, nonce))) attestFail('E_ATTEST_NONCE', 'claims', 'quotes in one attestation carry different nonces');
  const claims = buildClaims(quotes, ak, path, [...steps, 'claims']);
  checkBinding(claims, opts);
  return claims;
}

/** Carried intermediates first, else the pinned Google intermediate that issued the AK certificate. */
function intermediatesFor(ak: Certificate, carried: readonly Certificate[]): Certificate[] {
  if (carried.length > 0) return [...carried];
  const pinned = [pinnedRoot('google-tpm-ek-intermediate-2'), pinnedRoot('google-tpm-ek-intermediate-3')];
  const issuer = pinned.find((c) => Buffer.from(c.subjectRaw).equals(Buffer.from(ak.issuerRaw)));
  return issuer ? [issuer] : [];
}

/** Hierarchy handles under which the AK may be a primary key (TPM 2.0 Part 2 §7.4). */
const TPM_RH_OWNER = 0x40000001;
const TPM_RH_ENDORSEMENT = 0x4000000b;

function verifyQuote(bytes: Uint8Array, ak: Certificate, qualifiedNames: readonly Uint8Array[]): Quote {
  const f = readPbFields(bytes);
  const quote = one(f, QUOTE.QUOTE, 'quote');
  const sig = decodeTpmtSignatureRsassa(one(f, QUOTE.RAW_SIG, 'raw_sig'));
  const sigHash = TPM_HASH[sig.hash];
  if (!sigHash || !safeVerify(sigHash.name, quote, ak.publicKey, sig.signature)) attestFail('E_ATTEST_SIGNATURE', 'signature', 'TPM quote signature does not verify under the AK');
  const attest = decodeTpmsAttestQuote(quote);
  if (!qualifiedNames.some((qn) => equalBytes(attest.qualifiedSigner, qn))) attestFail('E_ATTEST_SIGNATURE', 'signature', 'TPM quote was not produced by the certified AK (qualifiedSigner differs)');
  const { bank, pcrs } = decodePcrs(one(f, QUOTE.PCRS, 'pcrs'));
  if (attest.selection.length !== 1 || attest.selection[0]!.hash !== bank) bad('quote must select exactly the PCR bank it carries');
  const selected = attest.selection[0]!.pcrs;
  const values = selected.map((i) => pcrs.get(i) ?? bad(`PCR ${i} is selected but not supplied`));
  // The digest uses the signing scheme's hash, whatever the bank (README, checked on all samples).
  const digest = createHash(sigHash.name);
  for (const v of values) digest.update(v);
  if (!equalBytes(digest.digest(), attest.pcrDigest)) attestFail('E_ATTEST_MEASUREMENT', 'claims', 'PCR values do not match the quoted pcrDigest');
  return { attest, bank, pcrs: new Map(selected.map((i, k) => [i, values[k]!])) };
}

function decodePcrs(bytes: Uint8Array): { bank: number; pcrs: Map<number, Uint8Array> } {
  const f = readPbFields(bytes);
  const hashField = f.filter((x) => x.field === 1);
  if (hashField.length !== 1 || hashField[0]!.varint === undefined) bad('PCRs.hash must appear once');
  const bank = Number(hashField[0]!.varint);
  const size = TPM_HASH[bank]?.bytes ?? bad('unsupported PCR bank');
  const pcrs = new Map<number, Uint8Array>();
  for (const e of f.filter((x) => x.field === 2)) {
    const kv = readPbFields(e.bytes ?? bad('PCR entry must be a message'));
    const idx = Number(kv.find((x) => x.field === 1)?.varint ?? 0n);
    const val = kv.find((x) => x.field === 2)?.bytes;
    if (idx >= TPM_PCRS || val === undefined || val.length !== size || pcrs.has(idx)) bad('PCR entries must be unique indices 0..23 with digests of the bank size');
    pcrs.set(idx, val);
  }
  return { bank, pcrs };
}

function buildClaims(quotes: readonly Quote[], ak: Certificate, path: Certificate[], steps: VerifyStep[]): AttestationClaims {
  const measurements: Record<string, string> = {};
  const bankName = (b: number): string => (TPM_HASH[b]?.name ?? String(b)).toUpperCase();
  for (const q of quotes) {
    for (const [i, v] of q.pcrs) measurements[q.bank === 0x000b ? `PCR${i}` : `${bankName(q.bank)}_PCR${i}`] = bytesToHex(v);
  }
  const a = quotes[0]!.attest;
  return {
    format: 'tpm',
    insecure: false,
    debug: false,
    measurements,
    reportData: a.extraData,
    nonce: a.extraData,
    tcb: { status: 'Unevaluated', components: {}, detail: 'a vTPM quote carries no TCB version; the event log is not replayed' },
    platform: {
      firmwareVersion: '0x' + a.firmwareVersion.toString(16),
      resetCount: a.resetCount,
      restartCount: a.restartCount,
      clock: a.clock.toString(),
      safe: a.safe,
      banks: quotes.map((q) => bankName(q.bank)).join(','),
      akCertSha256: ak.sha256,
      confidential: false,
    },
    chain: path.map((c) => c.subject),
    steps,
  };
}

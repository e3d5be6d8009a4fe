/**
 * One entry point over the vendor verifiers: format detection and dispatch.
 * Every verifier has the same signature (STYLE.md) and returns the same
 * claims type. `sim` evidence is verified only when the caller passes the sim
 * root (`opts.simRootPublicKey`); production callers never do (B20b).
 */
import { attestFail } from './errors.js';
import { EVIDENCE_BYTES_MAX } from './limits.js';
import type { AttestationClaims, AttestationFormat, VerifyOptions } from './claims.js';
import { verifyNitro } from './nitro/verify.js';
import { verifySevSnp } from './sev-snp/verify.js';
import { verifyTdx } from './tdx/verify.js';
import { verifyCca } from './cca/verify.js';
import { verifyTpm } from './tpm/verify.js';
import { verifySim } from './sim-verify.js';
import { SNP_REPORT_BYTES } from './sev-snp/report.js';

/** The common verifier signature. */
export type Verifier = (evidence: Uint8Array, opts: VerifyOptions) => AttestationClaims;

/** The hardware verifiers by format. */
export const VERIFIERS: Readonly<Record<Exclude<AttestationFormat, 'sim'>, Verifier>> = Object.freeze({
  nitro: verifyNitro,
  'sev-snp': verifySevSnp,
  tdx: verifyTdx,
  cca: verifyCca,
  tpm: verifyTpm,
});

/** Guesses the format from the first bytes (and size for SEV-SNP); refuses what it cannot place. */
export function detectFormat(evidence: Uint8Array): AttestationFormat {
  if (evidence.length > EVIDENCE_BYTES_MAX) attestFail('E_ATTEST_TOO_LARGE', 'bounds', `evidence of ${evidence.length} bytes exceeds ${EVIDENCE_BYTES_MAX}`);
  const b = Buffer.from(evidence.buffer, evidence.byteOffset, evidence.length);
  if (b.length >= 3 && b[0] === 0xd9 && b[1] === 0x01 && b[2] === 0x8f) return 'cca'; // tag 399
  if (b[0] === 0x84 || (b[0] === 0xd2 && b[1] === 0x84)) return 'nitro'; // COSE_Sign1, untagged or tag 18
  if (b.length >= 8 && (b.readUInt16LE(0) === 4 || b.readUInt16LE(0) === 5) && b.readUInt16LE(2) === 2 && b.readUInt32LE(4) === 0x81) return 'tdx';
  if (b.length === SNP_REPORT_BYTES && [2, 3, 5].includes(b.readUInt32LE(0))) return 'sev-snp';
  if (b[0] === 0x7b && b.includes('custodian-sim')) return 'sim';
  // go-tpm-tools Attestation: field 1 (ak_pub, length-delimited) holding an RSA or ECC TPMT_PUBLIC
  if (b.length > 6 && b[0] === 0x0a && b[1]! >= 0x80 && b[3] === 0x00 && (b[4] === 0x01 || b[4] === 0x23)) return 'tpm';
  return attestFail('E_ATTEST_FORMAT', 'decode', 'evidence format not recognised (expected Nitro, SEV-SNP, TDX, CCA, TPM or sim)');
}

/** Verifies evidence of `format` ('auto' detects it); `sim` needs `opts.simRootPublicKey`. */
export function verifyEvidence(format: AttestationFormat | 'auto', evidence: Uint8Array, opts: VerifyOptions): AttestationClaims {
  if (evidence.length > EVIDENCE_BYTES_MAX) attestFail('E_ATTEST_TOO_LARGE', 'bounds', `evidence of ${evidence.length} bytes exceeds ${EVIDENCE_BYTES_MAX}`);
  const f = format === 'auto' ? detectFormat(evidence) : format;
  if (f === 'sim') return verifySim(evidence, opts);
  return VERIFIERS[f](evidence, opts);
}

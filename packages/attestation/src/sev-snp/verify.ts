/**
 * Verifies an AMD SEV-SNP attestation report: decode → bounds → chain
 * (VCEK → ASK → ARK, or VLEK → ASVK → ARK, per the report's SIGNING_KEY and
 * the VCEK's product line) → signature (ECDSA P-384 over 0x000..0x29F) →
 * claims (VCEK TCB extensions must equal REPORTED_TCB, hwID must equal
 * CHIP_ID) → binding. The VCEK/VLEK comes from `collateral.certificates`;
 * AMD KDS CRLs from `collateral.crls` (issued by the ARK, RSASSA-PSS) are
 * checked against the whole path (B23), so a revoked ASK/ASVK (or a VCEK, were
 * a CRL for it given) is refused.
 */
import { verify as cryptoVerify } from 'node:crypto';
import { bytesToHex, equalBytes } from '@custodian/core/bytes';
import { attestFail, type VerifyStep } from '../errors.js';
import { parseCertificate, verifyChain, type Certificate } from '../x509.js';
import { pinnedRoot } from '../roots.js';
import { checkBinding } from '../binding.js';
import { checkRevocation } from '../crl.js';
import type { AttestationClaims, VerifyOptions } from '../claims.js';
import { decodeSnpReport, productFromCpuid, splitTcb, SNP_POLICY, SNP_REPORT_BYTES, SNP_SIG_ALGO_ECDSA_P384_SHA384, type SnpReport, type SnpTcb } from './report.js';
import { readVcekFacts, type VcekFacts } from './vcek.js';

/** Verifies a SEV-SNP report against its VCEK/VLEK (in collateral) and the pinned AMD roots. */
export function verifySevSnp(evidence: Uint8Array, opts: VerifyOptions): AttestationClaims {
  if (evidence.length !== SNP_REPORT_BYTES) attestFail('E_ATTEST_FORMAT', 'bounds', `SEV-SNP report must be ${SNP_REPORT_BYTES} bytes, got ${evidence.length}`);
  const report = decodeSnpReport(evidence);
  if (report.signatureAlgo !== SNP_SIG_ALGO_ECDSA_P384_SHA384) attestFail('E_ATTEST_SIGNATURE', 'decode', `unsupported SIGNATURE_ALGO ${report.signatureAlgo}`);
  if (report.signingKey > 1) attestFail('E_ATTEST_FORMAT', 'decode', `unsupported SIGNING_KEY ${report.signingKey}`);
  const steps: VerifyStep[] = ['decode', 'bounds'];

  const vek = pickVek(report, opts);
  const facts = readVcekFacts(vek);
  const cpuProduct = productFromCpuid(report.cpuid);
  if (cpuProduct !== undefined && cpuProduct !== facts.product) {
    attestFail('E_ATTEST_CHAIN_UNTRUSTED', 'chain', `report CPUID says ${cpuProduct} but the key certificate is for ${facts.productName}`);
  }
  const vlek = report.signingKey === 1;
  const intermediate = pinnedRoot(`amd-${facts.product}-${vlek ? 'asvk' : 'ask'}`);
  const path = verifyChain([vek, intermediate], [pinnedRoot(`amd-${facts.product}-ark`)], opts.now);
  const crlsApplied = checkRevocation(path, opts.collateral?.crls ?? [], opts.now);
  steps.push('chain');

  if (!snpSignatureValid(report, vek)) attestFail('E_ATTEST_SIGNATURE', 'signature', `SEV-SNP report signature does not verify under the ${vlek ? 'VLEK' : 'VCEK'}`);
  steps.push('signature');

  const reported = splitTcb(report.reportedTcb, facts.product);
  checkTcbExtensions(reported, facts);
  if (!vlek) checkHwId(report, facts);
  const claims = buildClaims(report, facts, reported, path, crlsApplied, [...steps, 'claims']);
  checkBinding(claims, opts);
  return claims;
}

/** The VCEK/VLEK from collateral: the one whose hwID matches CHIP_ID, else the only AMD key certificate. */
function pickVek(report: SnpReport, opts: VerifyOptions): Certificate {
  const certs = (opts.collateral?.certificates ?? []).map(parseCertificate).filter((c) => !c.x509.ca);
  if (certs.length === 0) attestFail('E_COLLATERAL_MISSING', 'chain', 'SEV-SNP verification needs the VCEK or VLEK certificate (--collateral)');
  const byChip = certs.find((c) => {
    const hw = c.extensions.get('1.3.6.1.4.1.3704.1.4')?.value;
    return hw !== undefined && hw.length > 0 && equalBytes(hw, report.chipId.subarray(0, hw.length));
  });
  return byChip ?? certs[0]!;
}

/** THREATS.md §4: the VCEK's TCB extensions must equal REPORTED_TCB (B22). */
export function checkTcbExtensions(reported: SnpTcb, facts: VcekFacts): void {
  const names = ['bootloader', 'tee', 'snp', 'microcode', 'fmc'] as const;
  for (const n of names) {
    if (reported[n] !== facts[n]) {
      attestFail('E_ATTEST_TCB', 'claims', `REPORTED_TCB ${n} ${String(reported[n])} differs from the key certificate's ${String(facts[n])}`, { component: n, reported: reported[n] ?? null, certified: facts[n] ?? null });
    }
  }
}

/** A VCEK is issued per chip: its hwID must be CHIP_ID (Turin: the first 8 bytes). */
function checkHwId(report: SnpReport, facts: VcekFacts): void {
  if (report.maskChipKey) return; // MASK_CHIP_KEY: CHIP_ID is zeroed by the guest's request; the signature still binds the chip
  const hw = facts.hwId;
  const want = facts.product === 'turin' ? report.chipId.subarray(0, 8) : report.chipId;
  if (hw === undefined || !equalBytes(hw, want)) attestFail('E_ATTEST_CHAIN_UNTRUSTED', 'claims', 'VCEK hwID does not match the report CHIP_ID');
}

function buildClaims(r: SnpReport, facts: VcekFacts, reported: SnpTcb, path: Certificate[], crlsApplied: number, steps: VerifyStep[]): AttestationClaims {
  const bit = (n: bigint): boolean => ((r.policy >> n) & 1n) === 1n;
  const { raw: _raw, ...components } = reported;
  return {
    format: 'sev-snp',
    insecure: false,
    // SNP ABI spec Table 9: bit 19 = DEBUG
    debug: bit(SNP_POLICY.DEBUG),
    measurements: {
      MEASUREMENT: bytesToHex(r.measurement),
      HOST_DATA: bytesToHex(r.hostData),
      ID_KEY_DIGEST: bytesToHex(r.idKeyDigest),
      AUTHOR_KEY_DIGEST: bytesToHex(r.authorKeyDigest),
      FAMILY_ID: bytesToHex(r.familyId),
      IMAGE_ID: bytesToHex(r.imageId),
    },
    reportData: r.reportData,
    tcb: {
      status: 'Unevaluated',
      components: components as Record<string, number>,
      detail: 'REPORTED_TCB equals the key certificate TCB; AMD publishes no TCB status, so minimum versions are judged by policy',
    },
    platform: {
      version: r.version,
      product: facts.productName,
      signingKey: r.signingKey === 1 ? 'vlek' : 'vcek',
      guestSvn: r.guestSvn,
      policy: '0x' + r.policy.toString(16),
      smt: bit(SNP_POLICY.SMT),
      migrateMa: bit(SNP_POLICY.MIGRATE_MA),
      singleSocket: bit(SNP_POLICY.SINGLE_SOCKET),
      vmpl: r.vmpl,
      platformInfo: '0x' + r.platformInfo.toString(16),
      chipId: bytesToHex(r.chipId),
      currentTcb: bytesToHex(r.currentTcb),
      reportedTcb: reported.raw,
      committedTcb: bytesToHex(r.committedTcb),
      launchTcb: bytesToHex(r.launchTcb),
      firmware: r.currentBuild,
      crlsApplied,
    },
    chain: path.map((c) => c.subject),
    steps,
  };
}

function snpSignatureValid(report: SnpReport, vek: Certificate): boolean {
  try {
    return cryptoVerify('sha384', report.signed, { key: vek.publicKey, dsaEncoding: 'ieee-p1363' }, report.signature);
  } catch {
    return false;
  }
}

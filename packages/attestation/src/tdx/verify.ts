/**
 * Verifies an Intel TDX DCAP quote (v4, v5): decode → bounds → chain (PCK →
 * PCK CA → pinned Intel SGX Root CA, CRLs from collateral) → signature (QE
 * report by the PCK key, QE report data = SHA-256(attestation key ‖ QE auth
 * data), quote by the attestation key) → claims (TCB judged only with TCB
 * info / QE identity collateral, otherwise `Unevaluated`, never up to date) →
 * binding.
 */
import { createHash, createPublicKey, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { bytesToHex, equalBytes } from '@custodian/core/bytes';
import { attestFail, type VerifyStep } from '../errors.js';
import { parseCertificate, pemBlocks, verifyChain, type Certificate } from '../x509.js';
import { pinnedRoot } from '../roots.js';
import { checkRevocation } from '../crl.js';
import { checkBinding } from '../binding.js';
import { CHAIN_DEPTH_MAX } from '../limits.js';
import type { AttestationClaims, Collateral, TcbClaim, VerifyOptions } from '../claims.js';
import { decodeTdxQuote, type TdxQuote } from './quote.js';
import { readPckFacts, type PckFacts } from './pck.js';
import { evaluateQe, evaluateTdxTcb, pickCollateral, verifyQeIdentity, verifyTdxTcbInfo, worseStatus } from './collateral.js';

/** TD_ATTRIBUTES bit 0 (TUD.DEBUG) and bit 28 (SEPT_VE_DISABLE), TDX ABI spec Table 3.x. */
const TD_ATTR_DEBUG = 0n;
const TD_ATTR_SEPT_VE_DISABLE = 28n;

/** Verifies a TDX quote and returns its claims. */
export function verifyTdx(evidence: Uint8Array, opts: VerifyOptions): AttestationClaims {
  const q = decodeTdxQuote(evidence);
  const steps: VerifyStep[] = ['decode', 'bounds'];

  const chainDers = pemBlocks(q.pckChainPem);
  if (chainDers.length === 0 || chainDers.length > CHAIN_DEPTH_MAX) attestFail('E_ATTEST_FORMAT', 'decode', 'TDX quote carries no usable PCK certificate chain');
  const root = pinnedRoot('intel-sgx-root-ca');
  const path = verifyChain(chainDers.map(parseCertificate), [root], opts.now);
  const crls = opts.collateral?.crls ?? [];
  checkRevocation(path, crls, opts.now);
  steps.push('chain');

  const pck = path[0]!;
  if (!ecdsaValid(pck.publicKey, q.qeReport.raw, q.qeReportSignature)) attestFail('E_ATTEST_SIGNATURE', 'signature', 'QE report signature does not verify under the PCK key');
  const binding = createHash('sha256').update(q.attestationKey).update(q.qeAuthData).digest();
  if (!equalBytes(q.qeReport.reportData.subarray(0, 32), binding) || q.qeReport.reportData.subarray(32).some((b) => b !== 0)) {
    attestFail('E_ATTEST_SIGNATURE', 'signature', 'QE report data does not bind the attestation key');
  }
  if (!ecdsaValid(attestationKey(q.attestationKey), q.signed, q.signature)) attestFail('E_ATTEST_SIGNATURE', 'signature', 'quote signature does not verify under the attestation key');
  steps.push('signature');

  const facts = readPckFacts(pck);
  const tcb = judgeTcb(q, facts, opts.collateral, root, opts.now);
  const claims = buildClaims(q, facts, tcb, path, crls.length, [...steps, 'claims']);
  checkBinding(claims, opts);
  return claims;
}

function ecdsaValid(key: KeyObject | undefined, data: Uint8Array, sig: Uint8Array): boolean {
  if (!key) return false;
  try {
    return cryptoVerify('sha256', data, { key, dsaEncoding: 'ieee-p1363' }, sig);
  } catch {
    return false;
  }
}

/** The raw x‖y P-256 attestation key as a KeyObject, or undefined when it is not a curve point. */
function attestationKey(raw: Uint8Array): KeyObject | undefined {
  try {
    const b64 = (b: Uint8Array): string => Buffer.from(b).toString('base64url');
    return createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: b64(raw.subarray(0, 32)), y: b64(raw.subarray(32, 64)) }, format: 'jwk' });
  } catch {
    return undefined;
  }
}

/** TCB status from TCB info + QE identity when collateral has them for this FMSPC; otherwise Unevaluated. */
function judgeTcb(q: TdxQuote, facts: PckFacts, collateral: Collateral | undefined, root: Certificate, now: Date): TcbClaim {
  const components: Record<string, number> = { pcesvn: facts.pceSvn, qeIsvSvn: q.qeReport.isvSvn, tdxModuleSvn: q.body.teeTcbSvn[0]!, tdxModuleMajor: q.body.teeTcbSvn[1]! };
  facts.sgxTcbComponents.forEach((c, i) => (components[`sgx${i + 1}`] = c));
  const signers = (collateral?.certificates ?? []).map(parseCertificate);
  const infoText = pickCollateral(collateral?.tcbInfo ?? [], 'tcbInfo', now, facts.fmspc);
  if (infoText === undefined) {
    return { status: 'Unevaluated', components, detail: `no TCB info for FMSPC ${facts.fmspc} was supplied` };
  }
  const info = verifyTdxTcbInfo(infoText, signers, root, now);
  if (info.fmspc !== facts.fmspc || info.pceId !== facts.pceId) attestFail('E_COLLATERAL_INVALID', 'claims', `TCB info is for FMSPC ${info.fmspc}, not ${facts.fmspc}`);
  const platform = evaluateTdxTcb(info, facts, q.body);
  let status = platform.status;
  let detail = `tcbInfo fmspc ${info.fmspc} evaluation ${info.evaluationDataNumber}: platform ${platform.status}`;
  if (platform.module) detail += `, module ${platform.module}`;
  const qeText = pickCollateral(collateral?.qeIdentity ?? [], 'enclaveIdentity', now);
  if (qeText !== undefined) {
    const qe = evaluateQe(verifyQeIdentity(qeText, signers, root, now), q.qeReport);
    status = worseStatus(status, qe);
    detail += `; QE ${qe}`;
  } else {
    detail += '; QE identity not supplied';
  }
  return { status, components, detail, advisories: platform.level?.advisories ?? [], ...(platform.level ? { tcbDate: platform.level.tcbDate } : {}) };
}

function buildClaims(q: TdxQuote, facts: PckFacts, tcb: TcbClaim, path: Certificate[], crls: number, steps: VerifyStep[]): AttestationClaims {
  const b = q.body;
  const attrs = Buffer.from(b.tdAttributes).readBigUInt64LE(0);
  const measurements: Record<string, string> = {
    MRTD: bytesToHex(b.mrTd),
    RTMR0: bytesToHex(b.rtmr[0]),
    RTMR1: bytesToHex(b.rtmr[1]),
    RTMR2: bytesToHex(b.rtmr[2]),
    RTMR3: bytesToHex(b.rtmr[3]),
    MRCONFIGID: bytesToHex(b.mrConfigId),
    MROWNER: bytesToHex(b.mrOwner),
    MROWNERCONFIG: bytesToHex(b.mrOwnerConfig),
    MRSEAM: bytesToHex(b.mrSeam),
  };
  if (b.mrServiceTd) measurements.MRSERVICETD = bytesToHex(b.mrServiceTd);
  return {
    format: 'tdx',
    insecure: false,
    // THREATS.md §5: TUD bits 7:0 must be zero; bit 0 is DEBUG.
    debug: (attrs & 0xffn) !== 0n,
    measurements,
    reportData: b.reportData,
    tcb,
    platform: {
      version: q.version,
      bodyType: q.bodyType,
      tdAttributes: bytesToHex(b.tdAttributes),
      tdDebug: ((attrs >> TD_ATTR_DEBUG) & 1n) === 1n,
      septVeDisable: ((attrs >> TD_ATTR_SEPT_VE_DISABLE) & 1n) === 1n,
      xfam: bytesToHex(b.xfam),
      teeTcbSvn: bytesToHex(b.teeTcbSvn),
      ...(b.teeTcbSvn2 ? { teeTcbSvn2: bytesToHex(b.teeTcbSvn2) } : {}),
      fmspc: facts.fmspc,
      pceId: facts.pceId,
      qeMrSigner: bytesToHex(q.qeReport.mrSigner),
      qeIsvSvn: q.qeReport.isvSvn,
      crlsChecked: crls,
      paddingBytes: q.paddingBytes,
      trailingNonZero: q.trailingNonZero,
    },
    chain: path.map((c) => c.subject),
    steps,
  };
}

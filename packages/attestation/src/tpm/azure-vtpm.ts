/**
 * Azure confidential VM vTPM (paravisor / HCL) evidence. Azure issues no AK
 * certificate; the chain of trust is: hardware evidence (SEV-SNP report under
 * the VCEK, or TDX quote under Intel's PCK chain) → its REPORTDATA[0:32] =
 * SHA-256 of the exact runtime-data JSON bytes in the HCL report → that JSON's
 * `HCLAkPub` → the AK's signature on the TPM quote → the PCR values.
 * Not a single-file format: callers pass the parts (see AzureVtpmParts).
 */
import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import { bytesToHex, equalBytes } from '@custodian/core/bytes';
import { parseJson, type Json } from '@custodian/core/canonical-json';
import { attestFail } from '../errors.js';
import { safeVerify } from '../safe-verify.js';
import { checkBinding } from '../binding.js';
import type { AttestationClaims, VerifyOptions } from '../claims.js';
import { verifySevSnp } from '../sev-snp/verify.js';
import { verifyTdx } from '../tdx/verify.js';
import { decodeTpmsAttestQuote, TPM_ALG } from './structures.js';

/** HCL report layout (Azure "HCL report" / IGVM attestation request). */
export const HCL_HEADER_BYTES = 32;
export const HCL_HW_REPORT_BYTES = 1184;
export const HCL_IGVM_HEADER_BYTES = 20;
/** Largest runtime-data JSON accepted. */
export const HCL_RUNTIME_BYTES_MAX = 16 * 1024;
/** IGVM report types. */
export const IGVM_REPORT_SNP = 2;
export const IGVM_REPORT_TDX = 4;

/** The pieces of one Azure vTPM attestation. */
export interface AzureVtpmParts {
  /** The HCL report read from vTPM NV index 0x01400001. */
  readonly hclReport: Uint8Array;
  /** TPMS_ATTEST signed by the HCL AK. */
  readonly tpmQuote: Uint8Array;
  /** Raw RSASSA-PKCS1-v1_5/SHA-256 signature over tpmQuote. */
  readonly tpmSignature: Uint8Array;
  /** The quoted SHA-256 PCR values by index. */
  readonly pcrs: ReadonlyMap<number, Uint8Array>;
  /** SEV-SNP: the VCEK certificate (DER). */
  readonly vcek?: Uint8Array;
  /** TDX: the DCAP quote for the TD report. */
  readonly tdQuote?: Uint8Array;
}

function bad(message: string): never {
  return attestFail('E_ATTEST_FORMAT', 'decode', `Azure HCL report: ${message}`);
}

/** Splits an HCL report into its hardware report, report type and runtime JSON bytes. */
export function decodeHclReport(b: Uint8Array): { hardware: Uint8Array; reportType: number; runtime: Uint8Array } {
  const buf = Buffer.from(b.buffer, b.byteOffset, b.length);
  const igvm = HCL_HEADER_BYTES + HCL_HW_REPORT_BYTES;
  if (buf.length < igvm + HCL_IGVM_HEADER_BYTES) bad('too short');
  if (buf.subarray(0, 4).toString('latin1') !== 'HCLA') bad('missing HCLA signature');
  const reportType = buf.readUInt32LE(igvm + 8);
  if (buf.readUInt32LE(igvm + 12) !== 1) bad('runtime data hash type must be SHA-256');
  const size = buf.readUInt32LE(igvm + 16);
  const start = igvm + HCL_IGVM_HEADER_BYTES;
  if (size > HCL_RUNTIME_BYTES_MAX || size > buf.length - start) bad('runtime data length out of bounds');
  return { hardware: new Uint8Array(buf.subarray(HCL_HEADER_BYTES, igvm)), reportType, runtime: new Uint8Array(buf.subarray(start, start + size)) };
}

function akFromRuntime(runtime: Uint8Array): KeyObject {
  let doc: Json;
  try {
    doc = parseJson(runtime, HCL_RUNTIME_BYTES_MAX);
  } catch {
    return bad('runtime data is not strict JSON');
  }
  const keys = (doc as { keys?: Json }).keys;
  const ak = Array.isArray(keys) ? keys.find((k) => (k as { kid?: Json } | null)?.kid === 'HCLAkPub') : undefined;
  const { kty, n, e } = (ak ?? {}) as { kty?: Json; n?: Json; e?: Json };
  if (kty !== 'RSA' || typeof n !== 'string' || typeof e !== 'string') bad('runtime data has no RSA HCLAkPub');
  try {
    return createPublicKey({ key: { kty, n, e }, format: 'jwk' });
  } catch {
    return bad('HCLAkPub is not a valid RSA key');
  }
}

/** Verifies an Azure vTPM attestation; claims carry the PCRs plus the hardware evidence's measurements. */
export function verifyAzureVtpm(parts: AzureVtpmParts, opts: VerifyOptions): AttestationClaims {
  const hcl = decodeHclReport(parts.hclReport);
  let hw: AttestationClaims;
  if (hcl.reportType === IGVM_REPORT_SNP) {
    if (!parts.vcek) attestFail('E_COLLATERAL_MISSING', 'chain', 'Azure SEV-SNP vTPM evidence needs the VCEK');
    hw = verifySevSnp(hcl.hardware, { now: opts.now, collateral: { certificates: [parts.vcek] } });
  } else if (hcl.reportType === IGVM_REPORT_TDX) {
    if (!parts.tdQuote) attestFail('E_COLLATERAL_MISSING', 'chain', 'Azure TDX vTPM evidence needs the TD quote');
    hw = verifyTdx(parts.tdQuote, { now: opts.now, ...(opts.collateral ? { collateral: opts.collateral } : {}) });
    // TDREPORT REPORTDATA (offset 128) must be what the quote signs
    if (!equalBytes(hcl.hardware.subarray(128, 192), hw.reportData)) attestFail('E_ATTEST_BINDING', 'claims', 'the TD quote does not cover the HCL TD report');
  } else return bad(`unknown IGVM report type ${hcl.reportType}`);
  const runtimeHash = createHash('sha256').update(hcl.runtime).digest();
  if (!equalBytes(hw.reportData.subarray(0, 32), runtimeHash)) attestFail('E_ATTEST_BINDING', 'claims', 'hardware report data is not the hash of the HCL runtime data');

  const ak = akFromRuntime(hcl.runtime);
  if (!safeVerify('sha256', parts.tpmQuote, ak, parts.tpmSignature)) attestFail('E_ATTEST_SIGNATURE', 'signature', 'TPM quote signature does not verify under HCLAkPub');
  const attest = decodeTpmsAttestQuote(parts.tpmQuote);
  const sel = attest.selection;
  if (sel.length !== 1 || sel[0]!.hash !== TPM_ALG.SHA256) bad('the TPM quote must select the SHA-256 bank');
  const digest = createHash('sha256');
  const measurements: Record<string, string> = {};
  for (const i of sel[0]!.pcrs) {
    const v = parts.pcrs.get(i);
    if (v === undefined || v.length !== 32) bad(`PCR ${i} is selected but not supplied`);
    digest.update(v);
    measurements[`PCR${i}`] = bytesToHex(v);
  }
  if (!equalBytes(digest.digest(), attest.pcrDigest)) attestFail('E_ATTEST_MEASUREMENT', 'claims', 'PCR values do not match the quoted pcrDigest');
  for (const [k, v] of Object.entries(hw.measurements)) measurements[`${hw.format === 'tdx' ? 'TDX' : 'SNP'}_${k}`] = v;
  const claims: AttestationClaims = {
    format: 'tpm',
    insecure: false,
    debug: hw.debug,
    measurements,
    reportData: attest.extraData,
    nonce: attest.extraData,
    tcb: hw.tcb,
    platform: { hardware: hw.format, confidential: true, firmwareVersion: '0x' + attest.firmwareVersion.toString(16), resetCount: attest.resetCount, runtimeSha256: bytesToHex(runtimeHash), ...prefixed(hw.platform) },
    chain: hw.chain,
    steps: ['decode', 'bounds', 'chain', 'signature', 'claims'],
  };
  checkBinding(claims, opts);
  return claims;
}

function prefixed(p: AttestationClaims['platform']): Record<string, string | number | boolean> {
  return Object.fromEntries(Object.entries(p).map(([k, v]) => [`hw.${k}`, v]));
}

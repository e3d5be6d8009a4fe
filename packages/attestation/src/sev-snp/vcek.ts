/**
 * AMD VCEK/VLEK certificate extensions (AMD "Versioned Chip Endorsement Key
 * (VCEK) Certificate and KDS Interface Specification", Table 8): product name,
 * TCB SPLs as DER INTEGERs, hardware ID as raw bytes.
 */
import { DER_TAG, derUint, readDerAt } from '../der.js';
import { attestFail } from '../errors.js';
import type { Certificate } from '../x509.js';
import type { SnpProduct } from './report.js';

/** AMD extension OIDs under 1.3.6.1.4.1.3704.1. */
export const AMD_OID = {
  PRODUCT_NAME: '1.3.6.1.4.1.3704.1.2',
  BL_SPL: '1.3.6.1.4.1.3704.1.3.1',
  TEE_SPL: '1.3.6.1.4.1.3704.1.3.2',
  SNP_SPL: '1.3.6.1.4.1.3704.1.3.3',
  UCODE_SPL: '1.3.6.1.4.1.3704.1.3.8',
  FMC_SPL: '1.3.6.1.4.1.3704.1.3.9',
  HW_ID: '1.3.6.1.4.1.3704.1.4',
  CSP_ID: '1.3.6.1.4.1.3704.1.5',
} as const;

/** What a VCEK or VLEK certifies. */
export interface VcekFacts {
  readonly productName: string;
  readonly product: SnpProduct;
  readonly bootloader: number;
  readonly tee: number;
  readonly snp: number;
  readonly microcode: number;
  readonly fmc?: number;
  /** The chip's hardware ID (VCEK only; 64 bytes, 8 on Turin). */
  readonly hwId?: Uint8Array;
}

function bad(message: string): never {
  return attestFail('E_DER_INVALID', 'claims', `VCEK/VLEK: ${message}`);
}

function ext(cert: Certificate, oid: string): Uint8Array | undefined {
  return cert.extensions.get(oid)?.value;
}

function spl(cert: Certificate, oid: string, required: boolean): number | undefined {
  const v = ext(cert, oid);
  if (v === undefined) return required ? bad(`missing SPL extension ${oid}`) : undefined;
  const node = readDerAt(v, 0);
  if (node.end !== v.length || node.tag !== DER_TAG.INTEGER) bad(`SPL extension ${oid} is not one DER INTEGER`);
  const n = derUint(node);
  if (n > 255n) bad(`SPL extension ${oid} exceeds 255`);
  return Number(n);
}

/** Reads the AMD extensions of a VCEK/VLEK. */
export function readVcekFacts(cert: Certificate): VcekFacts {
  const pn = ext(cert, AMD_OID.PRODUCT_NAME);
  if (pn === undefined) bad('missing productName extension');
  const node = readDerAt(pn, 0);
  if (node.end !== pn.length || node.tag !== DER_TAG.IA5_STRING) bad('productName is not an IA5String');
  const productName = Buffer.from(node.content).toString('latin1');
  const family = productName.split('-')[0]!.toLowerCase();
  if (family !== 'milan' && family !== 'genoa' && family !== 'turin') bad(`unknown product ${productName}`);
  const fmc = spl(cert, AMD_OID.FMC_SPL, false);
  const hwId = ext(cert, AMD_OID.HW_ID);
  return {
    productName,
    product: family,
    bootloader: spl(cert, AMD_OID.BL_SPL, true)!,
    tee: spl(cert, AMD_OID.TEE_SPL, true)!,
    snp: spl(cert, AMD_OID.SNP_SPL, true)!,
    microcode: spl(cert, AMD_OID.UCODE_SPL, true)!,
    ...(fmc !== undefined ? { fmc } : {}),
    ...(hwId !== undefined ? { hwId } : {}),
  };
}

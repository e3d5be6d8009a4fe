/**
 * Intel SGX PCK certificate extensions (Intel "SGX PCK Certificate and CRL
 * Profile" §1.3.5): FMSPC, PCE-ID, the 16 CPU SVN components and PCESVN.
 */
import { DER_TAG, derChildren, derOid, derUint, expectTag, readDerAt, type DerNode } from '../der.js';
import { attestFail } from '../errors.js';
import type { Certificate } from '../x509.js';

/** The SGX extensions OID and its children. */
export const SGX_OID = {
  EXTENSIONS: '1.2.840.113741.1.13.1',
  TCB: '1.2.840.113741.1.13.1.2',
  PCESVN: '1.2.840.113741.1.13.1.2.17',
  CPUSVN: '1.2.840.113741.1.13.1.2.18',
  PCEID: '1.2.840.113741.1.13.1.3',
  FMSPC: '1.2.840.113741.1.13.1.4',
} as const;

/** What a PCK certificate certifies about the platform's TCB. */
export interface PckFacts {
  readonly fmspc: string;
  readonly pceId: string;
  /** SGX TCB components 1..16 (index 0 = component 1). */
  readonly sgxTcbComponents: readonly number[];
  readonly pceSvn: number;
  readonly cpuSvn: string;
}

function bad(message: string): never {
  return attestFail('E_DER_INVALID', 'claims', `PCK certificate: ${message}`);
}

function small(node: DerNode): number {
  const n = derUint(node);
  if (n > 0xffffn) bad('SVN out of range');
  return Number(n);
}

/** Reads the SGX extensions of a PCK certificate. */
export function readPckFacts(cert: Certificate): PckFacts {
  const ext = cert.extensions.get(SGX_OID.EXTENSIONS)?.value;
  if (ext === undefined) bad('missing SGX extensions');
  const top = readDerAt(ext, 0);
  if (top.end !== ext.length) bad('trailing bytes after the SGX extensions');
  const byOid = new Map<string, DerNode>();
  for (const e of derChildren(expectTag(top, DER_TAG.SEQUENCE, 'SGX extensions'))) {
    const [oid, value] = derChildren(expectTag(e, DER_TAG.SEQUENCE, 'SGX extension'));
    if (!oid || !value) bad('SGX extension without a value');
    byOid.set(derOid(oid), value);
  }
  const tcb = byOid.get(SGX_OID.TCB);
  const fmspc = byOid.get(SGX_OID.FMSPC);
  const pceId = byOid.get(SGX_OID.PCEID);
  if (!tcb || !fmspc || !pceId) bad('missing TCB, FMSPC or PCE-ID');
  const comps = new Array<number>(16).fill(-1);
  let pceSvn = -1;
  let cpuSvn = '';
  for (const e of derChildren(expectTag(tcb, DER_TAG.SEQUENCE, 'TCB'))) {
    const [oidNode, value] = derChildren(expectTag(e, DER_TAG.SEQUENCE, 'TCB component'));
    if (!oidNode || !value) bad('TCB component without a value');
    const oid = derOid(oidNode);
    if (oid === SGX_OID.PCESVN) pceSvn = small(value);
    else if (oid === SGX_OID.CPUSVN) cpuSvn = Buffer.from(expectTag(value, DER_TAG.OCTET_STRING, 'CPUSVN').content).toString('hex');
    else {
      const idx = Number(oid.slice(SGX_OID.TCB.length + 1)) - 1;
      if (!oid.startsWith(SGX_OID.TCB + '.') || !(idx >= 0 && idx < 16)) bad(`unknown TCB component ${oid}`);
      comps[idx] = small(value);
    }
  }
  if (comps.includes(-1) || pceSvn < 0) bad('TCB components incomplete');
  const fm = expectTag(fmspc, DER_TAG.OCTET_STRING, 'FMSPC').content;
  if (fm.length !== 6) bad('FMSPC must be 6 bytes');
  return {
    fmspc: Buffer.from(fm).toString('hex'),
    pceId: Buffer.from(expectTag(pceId, DER_TAG.OCTET_STRING, 'PCE-ID').content).toString('hex'),
    sgxTcbComponents: comps,
    pceSvn,
    cpuSvn,
  };
}

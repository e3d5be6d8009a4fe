/**
 * Intel TDX DCAP quote, versions 4 and 5 (Intel "TDX DCAP Quoting Library
 * API", Appendix A: Quote Format). Little-endian fixed layout; the signature
 * data length decides where the quote ends. Bytes after it are outside the
 * signed quote and never interpreted: real quotes are zero-padded to 5006 or
 * 8000 bytes, and go-tdx-guest's sample appends text, so up to
 * TDX_TRAILING_BYTES_MAX are tolerated and reported (leniency: transports pad).
 */
import { attestFail } from '../errors.js';

/** Largest TDX quote accepted (the biggest real sample is 8000 bytes, padded). */
export const TDX_QUOTE_BYTES_MAX = 16 * 1024;
/** Most bytes tolerated after the signature data (GCP pads by 3065). */
export const TDX_TRAILING_BYTES_MAX = 4096;
/** Header size (all versions). */
export const TDX_HEADER_BYTES = 48;
/** TD report body sizes: v4 / v5 type 2 (TDX 1.0) and v5 type 3 (TDX 1.5). */
export const TDX_BODY_BYTES_10 = 584;
export const TDX_BODY_BYTES_15 = 648;
/** Attestation key type 2 = ECDSA-256 with P-256. */
export const TDX_ATT_KEY_ECDSA_P256 = 2;
/** TEE type 0x81 = TDX. */
export const TDX_TEE_TYPE = 0x81;
/** Intel's QE vendor ID. */
export const INTEL_QE_VENDOR_ID = '939a7233f79c4ca9940a0db3957f0607';
/** Certification data types (QuoteLib API, Table 9). */
export const CERT_DATA_PCK_CHAIN = 5;
export const CERT_DATA_QE_REPORT = 6;
/** Size of an SGX REPORT body (the QE report). */
export const SGX_REPORT_BYTES = 384;

/** The TD report body fields (names as in the spec). */
export interface TdReportBody {
  readonly teeTcbSvn: Uint8Array;
  readonly mrSeam: Uint8Array;
  readonly mrSignerSeam: Uint8Array;
  readonly seamAttributes: Uint8Array;
  readonly tdAttributes: Uint8Array;
  readonly xfam: Uint8Array;
  readonly mrTd: Uint8Array;
  readonly mrConfigId: Uint8Array;
  readonly mrOwner: Uint8Array;
  readonly mrOwnerConfig: Uint8Array;
  readonly rtmr: readonly [Uint8Array, Uint8Array, Uint8Array, Uint8Array];
  readonly reportData: Uint8Array;
  readonly teeTcbSvn2?: Uint8Array;
  readonly mrServiceTd?: Uint8Array;
}

/** The SGX REPORT body of the quoting enclave. */
export interface QeReport {
  readonly raw: Uint8Array;
  readonly cpuSvn: Uint8Array;
  readonly miscSelect: number;
  readonly attributes: Uint8Array;
  readonly mrEnclave: Uint8Array;
  readonly mrSigner: Uint8Array;
  readonly isvProdId: number;
  readonly isvSvn: number;
  readonly reportData: Uint8Array;
}

/** A decoded TDX quote (not yet verified). */
export interface TdxQuote {
  readonly version: 4 | 5;
  readonly bodyType: 2 | 3;
  readonly body: TdReportBody;
  /** Bytes covered by the quote signature. */
  readonly signed: Uint8Array;
  readonly signature: Uint8Array;
  readonly attestationKey: Uint8Array;
  readonly qeReport: QeReport;
  readonly qeReportSignature: Uint8Array;
  readonly qeAuthData: Uint8Array;
  /** PEM text of the PCK chain (leaf, intermediate, root). */
  readonly pckChainPem: string;
  readonly paddingBytes: number;
  /** True when the bytes after the quote are not all zero. */
  readonly trailingNonZero: boolean;
}

function bad(message: string, detail: Record<string, unknown> = {}): never {
  return attestFail('E_ATTEST_FORMAT', 'decode', `TDX quote: ${message}`, detail);
}

class Cursor {
  pos = 0;
  constructor(readonly b: Buffer) {}
  take(n: number, what: string): Buffer {
    // attacker-controlled lengths are checked against what remains
    if (n < 0 || n > this.b.length - this.pos) bad(`${what} runs past the end`, { offset: this.pos, length: n });
    const out = this.b.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
  u16(what: string): number {
    return this.take(2, what).readUInt16LE(0);
  }
  u32(what: string): number {
    return this.take(4, what).readUInt32LE(0);
  }
}

const copy = (b: Buffer): Uint8Array => new Uint8Array(b);

/** Decodes a TDX quote v4/v5 strictly. */
export function decodeTdxQuote(bytes: Uint8Array): TdxQuote {
  if (bytes.length > TDX_QUOTE_BYTES_MAX) attestFail('E_ATTEST_TOO_LARGE', 'bounds', `TDX quote of ${bytes.length} bytes exceeds ${TDX_QUOTE_BYTES_MAX}`);
  const c = new Cursor(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length));
  const header = c.take(TDX_HEADER_BYTES, 'header');
  const version = header.readUInt16LE(0);
  if (version !== 4 && version !== 5) bad(`version ${version} is not supported`, { version });
  if (header.readUInt16LE(2) !== TDX_ATT_KEY_ECDSA_P256) bad('attestation key type must be ECDSA P-256');
  if (header.readUInt32LE(4) !== TDX_TEE_TYPE) bad('TEE type is not TDX');
  if (header.subarray(12, 28).toString('hex') !== INTEL_QE_VENDOR_ID) bad('QE vendor is not Intel');
  let bodyType: 2 | 3 = 2;
  let bodySize = TDX_BODY_BYTES_10;
  if (version === 5) {
    const t = c.u16('body type');
    const size = c.u32('body size');
    if (t === 2 && size === TDX_BODY_BYTES_10) bodyType = 2;
    else if (t === 3 && size === TDX_BODY_BYTES_15) bodyType = 3;
    else bad(`unsupported v5 body type ${t} of ${size} bytes`);
    bodySize = size;
  }
  const body = decodeBody(c.take(bodySize, 'TD report body'), bodyType);
  const signed = copy(c.b.subarray(0, c.pos));
  const sigLen = c.u32('signature data length');
  const sig = new Cursor(c.take(sigLen, 'signature data'));
  const rest = c.b.subarray(c.pos);
  if (rest.length > TDX_TRAILING_BYTES_MAX) bad(`${rest.length} bytes follow the signature data (at most ${TDX_TRAILING_BYTES_MAX})`, { trailing: rest.length });
  const signature = copy(sig.take(64, 'quote signature'));
  const attestationKey = copy(sig.take(64, 'attestation key'));
  if (sig.u16('certification data type') !== CERT_DATA_QE_REPORT) bad('outer certification data must be type 6 (QE report)');
  const outer = new Cursor(sig.take(sig.u32('certification data size'), 'certification data'));
  if (sig.pos !== sig.b.length) bad('bytes follow the certification data inside the signature data');
  const qeRaw = outer.take(SGX_REPORT_BYTES, 'QE report');
  const qeReportSignature = copy(outer.take(64, 'QE report signature'));
  const qeAuthData = copy(outer.take(outer.u16('QE auth data size'), 'QE auth data'));
  if (outer.u16('inner certification data type') !== CERT_DATA_PCK_CHAIN) bad('inner certification data must be type 5 (PCK chain)');
  const pem = outer.take(outer.u32('PCK chain size'), 'PCK chain');
  if (outer.pos !== outer.b.length) bad('bytes follow the PCK chain');
  return {
    version,
    bodyType,
    body,
    signed,
    signature,
    attestationKey,
    qeReport: decodeQeReport(qeRaw),
    qeReportSignature,
    qeAuthData,
    pckChainPem: pem.toString('latin1'),
    paddingBytes: rest.length,
    trailingNonZero: rest.some((x) => x !== 0),
  };
}

function decodeBody(b: Buffer, bodyType: 2 | 3): TdReportBody {
  const at = (off: number, len: number): Uint8Array => copy(b.subarray(off, off + len));
  return {
    teeTcbSvn: at(0, 16),
    mrSeam: at(16, 48),
    mrSignerSeam: at(64, 48),
    seamAttributes: at(112, 8),
    tdAttributes: at(120, 8),
    xfam: at(128, 8),
    mrTd: at(136, 48),
    mrConfigId: at(184, 48),
    mrOwner: at(232, 48),
    mrOwnerConfig: at(280, 48),
    rtmr: [at(328, 48), at(376, 48), at(424, 48), at(472, 48)],
    reportData: at(520, 64),
    ...(bodyType === 3 ? { teeTcbSvn2: at(584, 16), mrServiceTd: at(600, 48) } : {}),
  };
}

function decodeQeReport(b: Buffer): QeReport {
  return {
    raw: copy(b),
    cpuSvn: copy(b.subarray(0, 16)),
    miscSelect: b.readUInt32LE(16),
    attributes: copy(b.subarray(48, 64)),
    mrEnclave: copy(b.subarray(64, 96)),
    mrSigner: copy(b.subarray(128, 160)),
    isvProdId: b.readUInt16LE(256),
    isvSvn: b.readUInt16LE(258),
    reportData: copy(b.subarray(320, 384)),
  };
}

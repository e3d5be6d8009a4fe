/**
 * AMD SEV-SNP ATTESTATION_REPORT (SEV-SNP ABI spec, Table 22 in rev 1.55;
 * Table 23 for v3+ CPUID fields). Fixed 1184-byte little-endian structure;
 * versions 2, 3 and 5 accepted (the samples show 2 and 3).
 */
import { attestFail } from '../errors.js';

/** Size of an ATTESTATION_REPORT in bytes. */
export const SNP_REPORT_BYTES = 0x4a0;
/** The signed part: bytes 0x000..0x29F (ABI spec: signature covers the report up to SIGNATURE). */
export const SNP_SIGNED_BYTES = 0x2a0;
/** Report versions understood. */
export const SNP_REPORT_VERSIONS: readonly number[] = [2, 3, 5];
/** SIGNATURE_ALGO 1 = ECDSA P-384 with SHA-384. */
export const SNP_SIG_ALGO_ECDSA_P384_SHA384 = 1;

/** A TCB_VERSION split into its components (layout depends on the CPU family). */
export interface SnpTcb {
  readonly raw: string;
  readonly bootloader: number;
  readonly tee: number;
  readonly snp: number;
  readonly microcode: number;
  /** Turin (family 0x1A) only. */
  readonly fmc?: number;
}

/** The decoded report; all byte fields are copies. */
export interface SnpReport {
  readonly version: number;
  readonly guestSvn: number;
  readonly policy: bigint;
  readonly familyId: Uint8Array;
  readonly imageId: Uint8Array;
  readonly vmpl: number;
  readonly signatureAlgo: number;
  readonly currentTcb: Uint8Array;
  readonly platformInfo: bigint;
  /** SIGNING_KEY (bits 4:2 of the u32 at 0x48): 0 = VCEK, 1 = VLEK. */
  readonly signingKey: number;
  readonly maskChipKey: boolean;
  readonly reportData: Uint8Array;
  readonly measurement: Uint8Array;
  readonly hostData: Uint8Array;
  readonly idKeyDigest: Uint8Array;
  readonly authorKeyDigest: Uint8Array;
  readonly reportedTcb: Uint8Array;
  /** CPUID family/model/stepping (v3+), else undefined. */
  readonly cpuid?: { readonly family: number; readonly model: number; readonly stepping: number };
  readonly chipId: Uint8Array;
  readonly committedTcb: Uint8Array;
  readonly currentBuild: string;
  readonly launchTcb: Uint8Array;
  /** The signed bytes 0x000..0x29F. */
  readonly signed: Uint8Array;
  /** Signature r‖s, each 48 bytes big-endian (converted from the report's 72-byte little-endian fields). */
  readonly signature: Uint8Array;
}

/** Policy bits (ABI spec Table 9). */
export const SNP_POLICY = { SMT: 16n, RESERVED_MBO: 17n, MIGRATE_MA: 18n, DEBUG: 19n, SINGLE_SOCKET: 20n } as const;

function bad(message: string, detail: Record<string, unknown> = {}): never {
  return attestFail('E_ATTEST_FORMAT', 'decode', `SEV-SNP report: ${message}`, detail);
}

/** Decodes an ATTESTATION_REPORT; refuses any other size (no trailing bytes). */
export function decodeSnpReport(bytes: Uint8Array): SnpReport {
  if (bytes.length !== SNP_REPORT_BYTES) bad(`must be exactly ${SNP_REPORT_BYTES} bytes, got ${bytes.length}`, { size: bytes.length });
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  const copy = (off: number, len: number): Uint8Array => new Uint8Array(b.subarray(off, off + len));
  const version = b.readUInt32LE(0x00);
  if (!SNP_REPORT_VERSIONS.includes(version)) bad(`version ${version} is not supported`, { version });
  const flags = b.readUInt32LE(0x48);
  const signature = new Uint8Array(96);
  for (const [i, off] of [0x2a0, 0x2e8].entries()) {
    const le = b.subarray(off, off + 72);
    // Only the low 48 bytes may be non-zero for P-384 (ABI spec Table 134).
    if (le.subarray(48).some((x) => x !== 0)) bad('signature component wider than 48 bytes');
    for (let j = 0; j < 48; j++) signature[i * 48 + j] = le[47 - j]!;
  }
  return {
    version,
    guestSvn: b.readUInt32LE(0x04),
    policy: b.readBigUInt64LE(0x08),
    familyId: copy(0x10, 16),
    imageId: copy(0x20, 16),
    vmpl: b.readUInt32LE(0x30),
    signatureAlgo: b.readUInt32LE(0x34),
    currentTcb: copy(0x38, 8),
    platformInfo: b.readBigUInt64LE(0x40),
    signingKey: (flags >> 2) & 0x7,
    maskChipKey: (flags & 0x2) !== 0,
    reportData: copy(0x50, 64),
    measurement: copy(0x90, 48),
    hostData: copy(0xc0, 32),
    idKeyDigest: copy(0xe0, 48),
    authorKeyDigest: copy(0x110, 48),
    reportedTcb: copy(0x180, 8),
    ...(version >= 3 ? { cpuid: { family: b[0x188]!, model: b[0x189]!, stepping: b[0x18a]! } } : {}),
    chipId: copy(0x1a0, 64),
    committedTcb: copy(0x1e0, 8),
    currentBuild: `${b[0x1ea]}.${b[0x1e9]}.${b[0x1e8]}`,
    launchTcb: copy(0x1f0, 8),
    signed: copy(0, SNP_SIGNED_BYTES),
    signature,
  };
}

/** Splits a TCB_VERSION by product: Milan/Genoa byte0 BL, byte1 TEE, byte6 SNP, byte7 ucode; Turin byte0 FMC, 1 BL, 2 TEE, 3 SNP, 7 ucode. */
export function splitTcb(tcb: Uint8Array, product: SnpProduct): SnpTcb {
  const raw = Buffer.from(tcb).toString('hex');
  if (product === 'turin') return { raw, fmc: tcb[0]!, bootloader: tcb[1]!, tee: tcb[2]!, snp: tcb[3]!, microcode: tcb[7]! };
  return { raw, bootloader: tcb[0]!, tee: tcb[1]!, snp: tcb[6]!, microcode: tcb[7]! };
}

/** AMD EPYC product lines with pinned ARKs. */
export type SnpProduct = 'milan' | 'genoa' | 'turin';

/** Product line from CPUID family/model (v3+ reports), or undefined when unknown. */
export function productFromCpuid(cpuid: SnpReport['cpuid']): SnpProduct | undefined {
  if (!cpuid) return undefined;
  if (cpuid.family === 0x19 && cpuid.model <= 0x0f) return 'milan';
  if (cpuid.family === 0x19 && ((cpuid.model >= 0x10 && cpuid.model <= 0x1f) || (cpuid.model >= 0xa0 && cpuid.model <= 0xaf))) return 'genoa';
  if (cpuid.family === 0x1a) return 'turin';
  return undefined;
}

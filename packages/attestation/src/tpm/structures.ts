/**
 * TPM 2.0 structures (TCG "TPM 2.0 Library Part 2: Structures"), big-endian:
 * TPMS_ATTEST for quotes (§10.12.12), TPMT_SIGNATURE (§11.3.4) and the RSA
 * TPMT_PUBLIC (§12.2.4) of an attestation key. Strict: exact lengths, no
 * trailing bytes.
 */
import { attestFail } from '../errors.js';

/** TPM_GENERATED_VALUE: every TPM-produced attestation starts with it. */
export const TPM_GENERATED_VALUE = 0xff544347;
/** TPM_ST_ATTEST_QUOTE. */
export const TPM_ST_ATTEST_QUOTE = 0x8018;
/** Algorithm IDs used here (TCG Algorithm Registry). */
export const TPM_ALG = { RSA: 0x0001, SHA1: 0x0004, SHA256: 0x000b, SHA384: 0x000c, SHA512: 0x000d, NULL: 0x0010, RSASSA: 0x0014 } as const;

/** Node hash names for TPM hash algorithm IDs. */
export const TPM_HASH: Readonly<Record<number, { name: string; bytes: number }>> = {
  [TPM_ALG.SHA1]: { name: 'sha1', bytes: 20 },
  [TPM_ALG.SHA256]: { name: 'sha256', bytes: 32 },
  [TPM_ALG.SHA384]: { name: 'sha384', bytes: 48 },
  [TPM_ALG.SHA512]: { name: 'sha512', bytes: 64 },
};

/** A decoded quote attestation. */
export interface TpmsAttestQuote {
  readonly qualifiedSigner: Uint8Array;
  readonly extraData: Uint8Array;
  readonly clock: bigint;
  readonly resetCount: number;
  readonly restartCount: number;
  readonly safe: boolean;
  readonly firmwareVersion: bigint;
  /** Selected PCRs per bank (hash algorithm → indices ascending). */
  readonly selection: readonly { readonly hash: number; readonly pcrs: readonly number[] }[];
  readonly pcrDigest: Uint8Array;
}

function bad(what: string, message: string): never {
  return attestFail('E_ATTEST_FORMAT', 'decode', `${what}: ${message}`);
}

class Be {
  i = 0;
  constructor(
    readonly b: Buffer,
    readonly what: string,
  ) {}
  take(n: number): Buffer {
    if (n > this.b.length - this.i) bad(this.what, 'ends early');
    const out = this.b.subarray(this.i, this.i + n);
    this.i += n;
    return out;
  }
  u8(): number {
    return this.take(1)[0]!;
  }
  u16(): number {
    return this.take(2).readUInt16BE(0);
  }
  u32(): number {
    return this.take(4).readUInt32BE(0);
  }
  u64(): bigint {
    return this.take(8).readBigUInt64BE(0);
  }
  tpm2b(max: number): Uint8Array {
    const n = this.u16();
    if (n > max) bad(this.what, `sized buffer of ${n} bytes exceeds ${max}`);
    return new Uint8Array(this.take(n));
  }
  end(): void {
    if (this.i !== this.b.length) bad(this.what, `${this.b.length - this.i} trailing bytes`);
  }
}

const buf = (b: Uint8Array): Buffer => Buffer.from(b.buffer, b.byteOffset, b.length);

/** Decodes a TPMS_ATTEST that must be a quote. */
export function decodeTpmsAttestQuote(bytes: Uint8Array): TpmsAttestQuote {
  const r = new Be(buf(bytes), 'TPMS_ATTEST');
  if (r.u32() !== TPM_GENERATED_VALUE) bad('TPMS_ATTEST', 'magic is not TPM_GENERATED_VALUE');
  if (r.u16() !== TPM_ST_ATTEST_QUOTE) bad('TPMS_ATTEST', 'not a quote');
  const qualifiedSigner = r.tpm2b(66);
  const extraData = r.tpm2b(64);
  const clock = r.u64();
  const resetCount = r.u32();
  const restartCount = r.u32();
  const safe = r.u8() === 1;
  const firmwareVersion = r.u64();
  const count = r.u32();
  if (count > 8) bad('TPMS_ATTEST', 'too many PCR banks');
  const selection: { hash: number; pcrs: number[] }[] = [];
  for (let k = 0; k < count; k++) {
    const hash = r.u16();
    const size = r.u8();
    if (size > 4) bad('TPMS_ATTEST', 'PCR select larger than 4 bytes');
    const sel = r.take(size);
    const pcrs: number[] = [];
    for (let i = 0; i < size * 8; i++) if (sel[i >> 3]! & (1 << (i & 7))) pcrs.push(i);
    selection.push({ hash, pcrs });
  }
  const pcrDigest = r.tpm2b(64);
  r.end();
  return { qualifiedSigner, extraData, clock, resetCount, restartCount, safe, firmwareVersion, selection, pcrDigest };
}

/** Decodes an RSASSA TPMT_SIGNATURE and returns its hash algorithm and signature bytes. */
export function decodeTpmtSignatureRsassa(bytes: Uint8Array): { hash: number; signature: Uint8Array } {
  const r = new Be(buf(bytes), 'TPMT_SIGNATURE');
  if (r.u16() !== TPM_ALG.RSASSA) bad('TPMT_SIGNATURE', 'only RSASSA signatures are supported');
  const hash = r.u16();
  const signature = r.tpm2b(512);
  r.end();
  return { hash, signature };
}

/** The RSA modulus of an RSA TPMT_PUBLIC (refuses other key types). */
export function rsaModulusOfTpmtPublic(bytes: Uint8Array): { nameAlg: number; modulus: Uint8Array } {
  const r = new Be(buf(bytes), 'TPMT_PUBLIC');
  if (r.u16() !== TPM_ALG.RSA) bad('TPMT_PUBLIC', 'only RSA attestation keys are supported');
  const nameAlg = r.u16();
  r.u32(); // objectAttributes
  r.tpm2b(64); // authPolicy
  const sym = r.u16();
  if (sym !== TPM_ALG.NULL) bad('TPMT_PUBLIC', 'an attestation key has no symmetric algorithm');
  const scheme = r.u16();
  if (scheme !== TPM_ALG.NULL) r.u16(); // scheme hash
  r.u16(); // keyBits
  r.u32(); // exponent
  const modulus = r.tpm2b(512);
  r.end();
  return { nameAlg, modulus };
}

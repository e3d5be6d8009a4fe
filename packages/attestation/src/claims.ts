/**
 * The vendor-neutral claims every verifier returns, and the options every
 * verifier takes: `verify<Format>(evidence, opts) => AttestationClaims`.
 * Claims say what the evidence proves (after authenticity checks); judging
 * them against reference values is the appraisal's job (appraisal.ts).
 */
import type { KeyObject } from 'node:crypto';
import type { VerifyStep } from './errors.js';

/** Evidence formats Custodian verifies. */
export type AttestationFormat = 'nitro' | 'sev-snp' | 'tdx' | 'cca' | 'tpm' | 'sim';

/** Every format, in the order auto-detection tries them. */
export const ATTESTATION_FORMATS: readonly AttestationFormat[] = ['nitro', 'sev-snp', 'tdx', 'cca', 'tpm', 'sim'];

/**
 * TCB status in Intel's vocabulary (TDX/SGX TCB info), plus `NotSupported`
 * (no TCB level matches) and `Unevaluated` (no collateral to judge with; never
 * read as up to date).
 */
export type TcbStatus =
  | 'UpToDate'
  | 'SWHardeningNeeded'
  | 'ConfigurationNeeded'
  | 'ConfigurationAndSWHardeningNeeded'
  | 'OutOfDate'
  | 'OutOfDateConfigurationNeeded'
  | 'Revoked'
  | 'NotSupported'
  | 'Unevaluated';

/** The trusted computing base as reported and, when collateral allows, judged. */
export interface TcbClaim {
  readonly status: TcbStatus;
  /** Named component versions, e.g. SNP bootloader/tee/snp/microcode, TDX pcesvn. */
  readonly components: Readonly<Record<string, number>>;
  /** What judged the status (e.g. `tcbInfo fmspc 50806f000000 eval 15`), or why it was not. */
  readonly detail: string;
  /** Advisory IDs attached to the matching TCB level, when known. */
  readonly advisories?: readonly string[];
  /** The matching TCB level's tcbDate (ISO 8601), when judged from Intel collateral. */
  readonly tcbDate?: string;
}

/** What a verifier proved about the evidence. */
export interface AttestationClaims {
  readonly format: AttestationFormat;
  /** True for development evidence (sim) that no production policy accepts. */
  readonly insecure: boolean;
  /** The TEE runs in a debug (inspectable) mode. */
  readonly debug: boolean;
  /** Measurements by their spec names (PCR0, MEASUREMENT, MRTD, RTMR0, RIM ...), lower-case hex. */
  readonly measurements: Readonly<Record<string, string>>;
  /** The caller-bound data: Nitro user_data, SNP/TDX REPORTDATA, CCA realm challenge. */
  readonly reportData: Uint8Array;
  /** Nitro's separate nonce field, when the format has one. */
  readonly nonce?: Uint8Array;
  /** A public key the enclave put in the evidence (Nitro public_key, CCA RAK). */
  readonly publicKey?: Uint8Array;
  /** When the evidence says it was produced (Nitro timestamp), ISO 8601. */
  readonly issuedAt?: string;
  readonly tcb: TcbClaim;
  /** Format-specific facts (module id, chip id, VMPL, policy bits, FMSPC ...). */
  readonly platform: Readonly<Record<string, string | number | boolean>>;
  /** Subjects of the verified certificate path, leaf first (empty when key-anchored). */
  readonly chain: readonly string[];
  /** The pipeline steps that passed, in order. */
  readonly steps: readonly VerifyStep[];
}

/** Material the evidence does not carry, supplied by the caller (never a root). */
export interface Collateral {
  /** DER certificates: VCEK/VLEK/ASK for SEV-SNP; PCK chain certs or TCB signing chain for TDX. */
  readonly certificates?: readonly Uint8Array[];
  /** DER CRLs (Intel PCK / Root CA CRLs, AMD KDS CRLs). */
  readonly crls?: readonly Uint8Array[];
  /** Intel PCS TCB info documents, as the exact JSON text served. */
  readonly tcbInfo?: readonly string[];
  /** Intel PCS QE identity documents, as the exact JSON text served. */
  readonly qeIdentity?: readonly string[];
  /** Configured CCA platform keys (CPAK). */
  readonly cpak?: readonly KeyObject[];
}

/** Options every verifier takes; time is passed in, never read from the clock. */
export interface VerifyOptions {
  /** The verification time: certificate validity and collateral freshness are judged at it. */
  readonly now: Date;
  /** Supplementary material (see Collateral). */
  readonly collateral?: Collateral;
  /** When given, the evidence must carry this nonce (Nitro nonce field; elsewhere the start of report data, rest zero). */
  readonly nonce?: Uint8Array;
  /** When given, the report data must equal this binding exactly (zero-padded to the field size). */
  readonly reportData?: Uint8Array;
  /** The development sim root's Ed25519 public key; only `sim` evidence uses it, and without it `sim` is refused (B20b). */
  readonly simRootPublicKey?: Uint8Array;
}

/**
 * The root of trust behind the key broker: the keys that never leave it and
 * the few operations the broker needs from them. Two implementations share
 * this interface: a PKCS#11 HSM (`pkcs11-root.ts`, production) and a software
 * root (`software-root.ts`, the embedded default, loudly labelled).
 *
 * Roles (DESIGN.md "HSM: root keys: KBS wrapping key, recovery/backup key"):
 * - `kbs-wrapping`: AES-256, WRAP/UNWRAP only (RFC 5649 key wrap with padding);
 *   wraps the sealing master from which per-measurement sealing keys derive.
 * - `recovery`: the organisation's recovery key, EC P-256, DERIVE only (ECDH):
 *   backups are encrypted to its public key and opened only through the root.
 * - `kbs-signing`: EC P-256, SIGN only: the broker's signatures (workload
 *   credentials, release receipts).
 * No root key is extractable or readable in clear, and no key mixes wrapping
 * with decryption (THREATS.md B35).
 */
import type { Secret } from '@custodian/core/secret';

/** Which implementation backs a root: reported in health and the demo's `hsm` field. */
export type RootKind = 'pkcs11' | 'software';

/** The three root keys a root of trust holds. */
export type RootKeyRole = 'kbs-wrapping' | 'recovery' | 'kbs-signing';

/** Roles that have a public key (EC P-256). */
export type AsymmetricRootRole = Exclude<RootKeyRole, 'kbs-wrapping'>;

/** Result of a health probe; never throws for an unhealthy root. */
export interface RootHealth {
  /** True when every root key is present and usable. */
  readonly ok: boolean;
  /** The implementation. */
  readonly kind: RootKind;
  /** Human-readable description (module, token label), never a PIN. */
  readonly description: string;
  /** Why not ok, in an operator's words. */
  readonly reasons: readonly string[];
}

/** The operations the key broker needs from its root of trust. */
export interface RootOfTrust {
  /** `pkcs11` or `software`. */
  readonly kind: RootKind;
  /** Wraps key material under the KBS wrapping key (RFC 5649 AES key wrap with padding). */
  wrapKey(key: Secret<Uint8Array>): Promise<Uint8Array>;
  /** Unwraps a blob made by `wrapKey`; E_HSM_UNWRAP_FAILED when it does not authenticate. */
  unwrapKey(wrapped: Uint8Array): Promise<Secret<Uint8Array>>;
  /** ECDSA P-256 over SHA-256 of `message` with the KBS signing key; 64 bytes r‖s (IEEE P1363). */
  sign(message: Uint8Array): Promise<Uint8Array>;
  /** The uncompressed SEC1 public key (65 bytes) of an asymmetric root key. */
  publicKey(role: AsymmetricRootRole): Promise<Uint8Array>;
  /** ECDH (P-256) between the recovery key and `peerPublicKey` (SEC1); the 32-byte shared x-coordinate. */
  recoveryAgree(peerPublicKey: Uint8Array): Promise<Secret<Uint8Array>>;
  /** Probes the root: keys present, session alive. */
  health(): Promise<RootHealth>;
  /** Releases sessions; the root is unusable afterwards. */
  close(): Promise<void>;
}

/** Error codes a root of trust raises (one per distinct reason). */
export type RootErrorCode =
  | 'E_HSM_UNAVAILABLE'
  | 'E_HSM_POLICY'
  | 'E_HSM_LOGIN_FAILED'
  | 'E_HSM_KEY_MISSING'
  | 'E_HSM_UNWRAP_FAILED'
  | 'E_HSM_CONFIG'
  | 'E_HSM_OPERATION_FAILED';

/** Size of the per-role ECDH / signature keys' field (P-256). */
export const P256_POINT_BYTES = 65;
/** Size of an ECDSA P-256 signature in IEEE P1363 form (r‖s). */
export const P256_SIGNATURE_BYTES = 64;
/** Largest key material `wrapKey` accepts (sealing masters are 32 bytes). */
export const WRAP_INPUT_BYTES_MAX = 512;
/** Smallest key material `wrapKey` accepts (RFC 5649 wraps at least one byte; we want real keys). */
export const WRAP_INPUT_BYTES_MIN = 16;
/** Largest wrapped blob `unwrapKey` accepts: input max + RFC 5649 overhead. */
export const WRAPPED_BYTES_MAX = WRAP_INPUT_BYTES_MAX + 16;

/**
 * Backups encrypted to the organisation's HSM-held recovery key (issue 7
 * item 5). A signer encrypts its shares to the recovery public key (ECIES on
 * P-256: ephemeral ECDH, HKDF-SHA256, AES-256-GCM); only the root can
 * compute the shared secret (`recoveryAgree`, CKM_ECDH1_DERIVE in the HSM),
 * and the broker does so only for an executed `recover-signer` break-glass
 * request naming exactly this backup.
 *
 * The encrypting half must run in the signer, which may not import apps/kbs;
 * the lead moves `encryptToRecoveryKey` (pure node:crypto) where it can.
 */
import { createCipheriv, createDecipheriv, createECDH, createHash, hkdfSync, randomBytes } from 'node:crypto';
import { CustodianError } from '@custodian/core/errors';
import { bytesToHex, concatBytes, utf8 } from '@custodian/core/bytes';
import { Secret } from '@custodian/core/secret';
import type { RootOfTrust } from './hsm/root-of-trust.js';
import { payloadHashOf, type BreakglassState } from './breakglass/breakglass.js';

/** HKDF info of the backup key. */
export const RECOVERY_BACKUP_INFO = 'custodian/recovery-backup/v1';
/** Largest backup plaintext. */
export const RECOVERY_BACKUP_BYTES_MAX = 1024 * 1024;
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** A backup: the ephemeral public key, the GCM IV and the ciphertext with its tag. */
export interface RecoveryBackup {
  readonly ephemeralPublicKey: Uint8Array;
  readonly iv: Uint8Array;
  readonly ciphertext: Uint8Array;
}

function backupKey(shared: Uint8Array, ephemeral: Uint8Array, recovery: Uint8Array): Buffer {
  return Buffer.from(hkdfSync('sha256', shared, concatBytes(ephemeral, recovery), utf8(RECOVERY_BACKUP_INFO), 32));
}

/** Encrypts `plaintext` to the recovery public key; `aad` names what it is (signer id, share set). */
export function encryptToRecoveryKey(recoveryPublicKey: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): RecoveryBackup {
  if (plaintext.length > RECOVERY_BACKUP_BYTES_MAX) throw new CustodianError('E_RECOVERY_BACKUP_INVALID', 'backup too large', {});
  const eph = createECDH('prime256v1');
  eph.generateKeys();
  const ephemeralPublicKey = new Uint8Array(eph.getPublicKey());
  const shared = eph.computeSecret(recoveryPublicKey);
  const key = backupKey(shared, ephemeralPublicKey, recoveryPublicKey);
  shared.fill(0);
  const iv = new Uint8Array(randomBytes(IV_BYTES));
  const c = createCipheriv('aes-256-gcm', key, iv);
  c.setAAD(aad);
  const ct = Buffer.concat([c.update(plaintext), c.final(), c.getAuthTag()]);
  key.fill(0);
  return { ephemeralPublicKey, iv, ciphertext: new Uint8Array(ct) };
}

/** SHA-256 of a backup (what a `recover-signer` request names). */
export function recoveryBackupDigest(b: RecoveryBackup): string {
  return createHash('sha256').update(concatBytes(b.ephemeralPublicKey, b.iv, b.ciphertext)).digest('hex');
}

/** The payload a `recover-signer` break-glass request carries for a backup. */
export function recoverSignerPayload(signerId: string, b: RecoveryBackup): { signerId: string; backupSha256: string } {
  return { signerId, backupSha256: recoveryBackupDigest(b) };
}

/**
 * Opens a backup through the root, only under an executed `recover-signer`
 * break-glass request whose payload names this signer and this backup:
 * E_BREAKGLASS_REQUIRED otherwise, E_RECOVERY_BACKUP_INVALID if it does not decrypt.
 */
export async function openRecoveryBackup(root: RootOfTrust, signerId: string, backup: RecoveryBackup, aad: Uint8Array, authorisation: BreakglassState): Promise<Secret<Uint8Array>> {
  if (authorisation.request.action !== 'recover-signer' || authorisation.status !== 'executed') {
    throw new CustodianError('E_BREAKGLASS_REQUIRED', 'opening a recovery backup needs an executed recover-signer break-glass request', { status: authorisation.status, action: authorisation.request.action });
  }
  if (authorisation.request.payloadHash !== payloadHashOf(recoverSignerPayload(signerId, backup))) {
    throw new CustodianError('E_BREAKGLASS_PAYLOAD_CHANGED', 'the break-glass request was approved for another signer or backup', { backupSha256: recoveryBackupDigest(backup) });
  }
  if (backup.iv.length !== IV_BYTES || backup.ciphertext.length < TAG_BYTES) throw new CustodianError('E_RECOVERY_BACKUP_INVALID', 'malformed recovery backup', {});
  const recoveryPublicKey = await root.publicKey('recovery');
  const shared = await root.recoveryAgree(backup.ephemeralPublicKey);
  const key = backupKey(shared.expose(), backup.ephemeralPublicKey, recoveryPublicKey);
  shared.zeroise();
  try {
    const d = createDecipheriv('aes-256-gcm', key, backup.iv);
    d.setAAD(aad);
    d.setAuthTag(backup.ciphertext.subarray(backup.ciphertext.length - TAG_BYTES));
    return new Secret(new Uint8Array(Buffer.concat([d.update(backup.ciphertext.subarray(0, backup.ciphertext.length - TAG_BYTES)), d.final()])));
  } catch {
    throw new CustodianError('E_RECOVERY_BACKUP_INVALID', `the recovery backup ${bytesToHex(backup.iv).slice(0, 8)}… does not decrypt under the recovery key`, {});
  } finally {
    key.fill(0);
  }
}

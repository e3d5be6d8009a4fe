/**
 * The HSM half of backups encrypted to the organisation's recovery key
 * (issue 7 item 5). Signers encrypt with `encryptToRecoveryKey`
 * (@custodian/protocol/recovery-backup: ECIES on P-256, HKDF-SHA256,
 * AES-256-GCM); only the root can compute the shared secret
 * (`recoveryAgree`, CKM_ECDH1_DERIVE in the HSM), and the broker does so
 * only for an executed `recover-signer` break-glass request naming exactly
 * this signer and this backup.
 */
import { createDecipheriv } from 'node:crypto';
import { CustodianError } from '@custodian/core/errors';
import { Secret } from '@custodian/core/secret';
import {
  recoverSignerPayload,
  recoveryBackupAad,
  recoveryBackupDigest,
  recoveryBackupKey,
  RECOVERY_BACKUP_IV_BYTES,
  RECOVERY_BACKUP_TAG_BYTES,
  type RecoveryBackup,
} from '@custodian/protocol/recovery-backup';
import type { RootOfTrust } from './hsm/root-of-trust.js';
import { payloadHashOf, type BreakglassState } from './breakglass/breakglass.js';

// The encrypting half and the codec live in the protocol package (the enclave uses them); re-exported for the broker's callers.
export { encryptToRecoveryKey, recoverSignerPayload, recoveryBackupAad, recoveryBackupDigest, RECOVERY_BACKUP_BYTES_MAX, type RecoveryBackup } from '@custodian/protocol/recovery-backup';

/**
 * Opens a signer's backup through the root (associated data
 * `recoveryBackupAad(signerId)`), only under an executed `recover-signer`
 * break-glass request whose payload names this signer and this backup:
 * E_BREAKGLASS_REQUIRED otherwise, E_BREAKGLASS_PAYLOAD_CHANGED for another
 * signer or backup, E_RECOVERY_BACKUP_INVALID if it does not decrypt.
 */
export async function openRecoveryBackup(root: RootOfTrust, signerId: string, backup: RecoveryBackup, authorisation: BreakglassState): Promise<Secret<Uint8Array>> {
  if (authorisation.request.action !== 'recover-signer' || authorisation.status !== 'executed') {
    throw new CustodianError('E_BREAKGLASS_REQUIRED', 'opening a recovery backup needs an executed recover-signer break-glass request', { status: authorisation.status, action: authorisation.request.action });
  }
  if (authorisation.request.payloadHash !== payloadHashOf(recoverSignerPayload(signerId, backup))) {
    throw new CustodianError('E_BREAKGLASS_PAYLOAD_CHANGED', 'the break-glass request was approved for another signer or backup', { backupSha256: recoveryBackupDigest(backup) });
  }
  const aad = recoveryBackupAad(signerId);
  if (backup.iv.length !== RECOVERY_BACKUP_IV_BYTES || backup.ciphertext.length < RECOVERY_BACKUP_TAG_BYTES) throw new CustodianError('E_RECOVERY_BACKUP_INVALID', 'malformed recovery backup', {});
  const recoveryPublicKey = await root.publicKey('recovery');
  const shared = await root.recoveryAgree(backup.ephemeralPublicKey);
  const key = recoveryBackupKey(shared.expose(), backup.ephemeralPublicKey, recoveryPublicKey);
  shared.zeroise();
  const body = backup.ciphertext.subarray(0, backup.ciphertext.length - RECOVERY_BACKUP_TAG_BYTES);
  const plaintext = new Uint8Array(body.length);
  try {
    const d = createDecipheriv('aes-256-gcm', key, backup.iv);
    d.setAAD(aad);
    d.setAuthTag(backup.ciphertext.subarray(backup.ciphertext.length - RECOVERY_BACKUP_TAG_BYTES));
    const part = d.update(body);
    plaintext.set(part);
    part.fill(0);
    d.final();
    return new Secret(plaintext);
  } catch {
    // Unauthenticated plaintext is never handed on.
    plaintext.fill(0);
    throw new CustodianError('E_RECOVERY_BACKUP_INVALID', `the backup of ${signerId} does not decrypt under the recovery key`, { backupSha256: recoveryBackupDigest(backup) });
  } finally {
    key.fill(0);
  }
}

/**
 * Sealed state: the enclave's persistent state encrypted with AES-256-GCM
 * under the platform sealing key. Associated data binds the format, the
 * signer id and the state version, so a blob cannot be moved between signers
 * or re-labelled. Layout: version (8 bytes BE) ‖ iv (12) ‖ ciphertext ‖ tag (16).
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { CustodianError } from '@custodian/core/errors';
import { concatBytes, utf8 } from '@custodian/core/bytes';

/** Domain of the associated data. */
export const SEALED_STATE_DOMAIN = 'custodian/sealed-state/v1';
/** Largest sealed blob accepted back from the parent. */
export const SEALED_STATE_BYTES_MAX = 64 * 1024 * 1024;
/** Largest state sealed: what fits in SEALED_STATE_BYTES_MAX with the version, IV and tag. */
export const SEALED_STATE_PLAINTEXT_MAX = SEALED_STATE_BYTES_MAX - 8 - 12 - 16;

function aad(signerId: string, version: bigint): Uint8Array {
  const v = Buffer.alloc(8);
  v.writeBigUInt64BE(version);
  return concatBytes(utf8(`${SEALED_STATE_DOMAIN}\n${signerId}\n`), v);
}

/** Encrypts `plaintext` as state `version` of `signerId`. */
export function seal(key: Uint8Array, signerId: string, version: bigint, plaintext: Uint8Array): Uint8Array {
  const iv = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', key, iv);
  c.setAAD(aad(signerId, version));
  const ct = Buffer.concat([c.update(plaintext), c.final()]);
  const v = Buffer.alloc(8);
  v.writeBigUInt64BE(version);
  return concatBytes(v, iv, ct, c.getAuthTag());
}

/** Decrypts a sealed blob; any tampering or a blob of another signer fails. */
export function unseal(key: Uint8Array, signerId: string, blob: Uint8Array): { version: bigint; plaintext: Uint8Array } {
  if (blob.length < 8 + 12 + 16 || blob.length > SEALED_STATE_BYTES_MAX) throw new CustodianError('E_SEALED_STATE_INVALID', 'sealed state has an impossible size');
  const b = Buffer.from(blob);
  const version = b.readBigUInt64BE(0);
  const iv = b.subarray(8, 20);
  const tag = b.subarray(b.length - 16);
  try {
    const d = createDecipheriv('aes-256-gcm', key, iv);
    d.setAAD(aad(signerId, version));
    d.setAuthTag(tag);
    return { version, plaintext: new Uint8Array(Buffer.concat([d.update(b.subarray(20, b.length - 16)), d.final()])) };
  } catch {
    throw new CustodianError('E_SEALED_STATE_INVALID', 'sealed state does not authenticate (tampered, or sealed for another signer or measurement)');
  }
}

/**
 * Signer backups to the organisation's HSM-held recovery key, and the key
 * broker's re-encryption of one to a fresh attested enclave (issue 7 item 5;
 * DESIGN.md flow 5: recovery is a break-glass action).
 *
 * A backup is ECIES on P-256: an ephemeral ECDH key against the recovery
 * public key, HKDF-SHA256 over the shared secret (salt = ephemeral ‖
 * recovery key, info = `RECOVERY_BACKUP_INFO`), AES-256-GCM with the fixed
 * associated data `recoveryBackupAad(signerId)`. The signer encrypts (it
 * learns the recovery key from the broker's signed release answer); only the
 * HSM can compute the shared secret, and the broker does so only under an
 * executed `recover-signer` request naming the signer and
 * `recoveryBackupDigest(backup)`.
 *
 * Recovery (`POST /v1/recover`):
 *
 *   request  `{ nonce, evidence, publicKey, requestId, signerId, backup }`
 *            (nonce, evidence, publicKey exactly as `/v1/release`)
 *   answer   `{ ok: true, measurement, enc, ciphertext, signature }`: the
 *            backup's plaintext HPKE-sealed to `publicKey` (info =
 *            `recoveryAnswerInfo(measurement)`, aad = the nonce), and the
 *            broker's ECDSA P-256 signature over `recoveryAnswerStatement`.
 *
 * Size: a backup travels as hex in the host↔enclave frame that answers
 * `backup.export` (FRAME_BYTES_MAX, 4 MiB), so its plaintext is capped at
 * 1.5 MiB (`RECOVERY_BACKUP_BYTES_MAX`; the signer compresses its state
 * first). The broker's `/v1/recover` route takes bodies up to
 * `RECOVERY_REQUEST_BYTES_MAX` (the backup and the evidence as hex), larger
 * than its 1 MiB default, and seals up to the cap (core HPKE's per-caller
 * bound), so no signer makes a backup it could not get back.
 */
import { createCipheriv, createECDH, createHash, hkdfSync, randomBytes } from 'node:crypto';
import { CustodianError } from '@custodian/core/errors';
import { bytesToHex, concatBytes, utf8 } from '@custodian/core/bytes';
import { type Json, domainStatementBytes } from '@custodian/core/canonical-json';
import { Fields } from '@custodian/core/fields';
import { hpkeOpen, X25519_PUBLIC_KEY_BYTES } from '@custodian/core/hpke-seal';
import type { Secret } from '@custodian/core/secret';
import { decodeKeyReleaseRequest, KBS_PUBLIC_KEY_BYTES, KEY_RELEASE_EVIDENCE_BYTES_MAX, KBS_SIGNATURE_BYTES, verifyKbsSignature, type KeyReleaseRequest } from './key-release.js';

/** HKDF info of a backup's AES key. */
export const RECOVERY_BACKUP_INFO = 'custodian/recovery-backup/v1';
/** Domain of a backup's associated data: `domain ‖ 0x00 ‖ signerId`. */
export const RECOVERY_BACKUP_AAD_DOMAIN = 'custodian/recovery-backup/aad/v1';
/** Largest backup plaintext: what fits a `/v1/recover` body as hex beside the largest evidence (see the module comment). */
export const RECOVERY_BACKUP_BYTES_MAX = 1536 * 1024;
/** AES-256-GCM IV and tag lengths. */
export const RECOVERY_BACKUP_IV_BYTES = 12;
export const RECOVERY_BACKUP_TAG_BYTES = 16;
/** Largest backup ciphertext (plaintext and GCM tag). */
export const RECOVERY_BACKUP_CIPHERTEXT_BYTES_MAX = RECOVERY_BACKUP_BYTES_MAX + RECOVERY_BACKUP_TAG_BYTES;
/** Largest `/v1/recover` body: backup and evidence as hex, and the other fields. */
export const RECOVERY_REQUEST_BYTES_MAX = 2 * (RECOVERY_BACKUP_BYTES_MAX + RECOVERY_BACKUP_TAG_BYTES + 65 + RECOVERY_BACKUP_IV_BYTES) + 2 * KEY_RELEASE_EVIDENCE_BYTES_MAX + 64 * 1024;
/** HPKE `info` prefix of a recovery answer: `prefix ‖ 0x00 ‖ measurement`. */
export const RECOVERY_ANSWER_INFO_PREFIX = 'custodian/kbs/recovery/v1';
/** Domain of the broker's signature over a recovery answer. */
export const RECOVERY_ANSWER_DOMAIN = 'custodian/kbs/recovery-answer/v1';
/** Largest HPKE ciphertext in a recovery answer (the backup plaintext and the AEAD tag). */
export const RECOVERY_ANSWER_CIPHERTEXT_BYTES_MAX = RECOVERY_BACKUP_BYTES_MAX + 16;

/** Signer and break-glass request ids (as in the broker's book and manifests). */
const ID_RE = /^[a-z0-9][a-z0-9._-]{0,63}$/;
const MEASUREMENT_RE = /^[0-9a-f]{32,192}$/;
const AES_KEY_BYTES = 32;

/** A backup: the ephemeral P-256 key (uncompressed SEC1), the GCM IV and the ciphertext with its tag. */
export interface RecoveryBackup {
  readonly ephemeralPublicKey: Uint8Array;
  readonly iv: Uint8Array;
  readonly ciphertext: Uint8Array;
}

/** The associated data of a signer's backup: it opens only as that signer's. */
export function recoveryBackupAad(signerId: string): Uint8Array {
  if (!ID_RE.test(signerId)) throw new CustodianError('E_FIELD_INVALID', 'a backup names a signer id', { field: 'signerId' });
  return concatBytes(utf8(RECOVERY_BACKUP_AAD_DOMAIN), Uint8Array.of(0), utf8(signerId));
}

/** The backup's AES-256 key from the ECDH shared secret (both halves use this; the caller zeroes it). */
export function recoveryBackupKey(shared: Uint8Array, ephemeralPublicKey: Uint8Array, recoveryPublicKey: Uint8Array): Buffer {
  return Buffer.from(hkdfSync('sha256', shared, concatBytes(ephemeralPublicKey, recoveryPublicKey), utf8(RECOVERY_BACKUP_INFO), AES_KEY_BYTES));
}

/** Encrypts `plaintext` to the recovery public key with associated data `aad` (a signer's: `recoveryBackupAad(signerId)`). */
export function encryptToRecoveryKey(recoveryPublicKey: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): RecoveryBackup {
  if (plaintext.length > RECOVERY_BACKUP_BYTES_MAX) throw new CustodianError('E_RECOVERY_BACKUP_INVALID', `a backup holds at most ${RECOVERY_BACKUP_BYTES_MAX} bytes`, { bytes: plaintext.length, maxBytes: RECOVERY_BACKUP_BYTES_MAX });
  if (recoveryPublicKey.length !== KBS_PUBLIC_KEY_BYTES || recoveryPublicKey[0] !== 0x04) throw new CustodianError('E_RECOVERY_BACKUP_INVALID', 'the recovery key must be an uncompressed SEC1 P-256 key', {});
  const eph = createECDH('prime256v1');
  eph.generateKeys();
  const ephemeralPublicKey = new Uint8Array(eph.getPublicKey());
  let shared: Buffer;
  try {
    shared = eph.computeSecret(recoveryPublicKey);
  } catch {
    throw new CustodianError('E_RECOVERY_BACKUP_INVALID', 'the recovery key is not a point on P-256', {});
  }
  const key = recoveryBackupKey(shared, ephemeralPublicKey, recoveryPublicKey);
  shared.fill(0);
  try {
    const iv = new Uint8Array(randomBytes(RECOVERY_BACKUP_IV_BYTES));
    const c = createCipheriv('aes-256-gcm', key, iv);
    c.setAAD(aad);
    const ct = Buffer.concat([c.update(plaintext), c.final(), c.getAuthTag()]);
    return { ephemeralPublicKey, iv, ciphertext: new Uint8Array(ct) };
  } finally {
    key.fill(0);
  }
}

/** SHA-256 (hex) of a backup, over ephemeral key ‖ IV ‖ ciphertext (the first two fixed-length): what a `recover-signer` request names. */
export function recoveryBackupDigest(b: RecoveryBackup): string {
  return createHash('sha256').update(concatBytes(b.ephemeralPublicKey, b.iv, b.ciphertext)).digest('hex');
}

/** The payload of a `recover-signer` break-glass request for a backup (a `RecoverSignerPayload`, typed as JSON to be hashed). */
export function recoverSignerPayload(signerId: string, b: RecoveryBackup): { readonly signerId: string; readonly backupSha256: string } {
  return { signerId, backupSha256: recoveryBackupDigest(b) };
}

/** The JSON form of a backup (hex). */
export function encodeRecoveryBackup(b: RecoveryBackup): Json {
  return { ephemeralPublicKey: bytesToHex(b.ephemeralPublicKey), iv: bytesToHex(b.iv), ciphertext: bytesToHex(b.ciphertext) };
}

/** Decodes a backup (untrusted: stored by the host); sizes exact or bounded, unknown fields refused. */
export function decodeRecoveryBackup(json: Json): RecoveryBackup {
  const f = new Fields(json, 'backup');
  const ephemeralPublicKey = f.hex('ephemeralPublicKey', KBS_PUBLIC_KEY_BYTES);
  const iv = f.hex('iv', RECOVERY_BACKUP_IV_BYTES);
  const ciphertext = f.hex('ciphertext', undefined, RECOVERY_BACKUP_CIPHERTEXT_BYTES_MAX);
  f.done();
  // SEC1 §2.3.3: 0x04 prefixes an uncompressed point (the curve check is the ECDH's, in the HSM).
  if (ephemeralPublicKey[0] !== 0x04) throw new CustodianError('E_FIELD_INVALID', 'backup.ephemeralPublicKey must be an uncompressed SEC1 P-256 key', { field: 'backup.ephemeralPublicKey' });
  if (ciphertext.length < RECOVERY_BACKUP_TAG_BYTES) throw new CustodianError('E_FIELD_INVALID', 'backup.ciphertext is shorter than its GCM tag', { field: 'backup.ciphertext' });
  return { ephemeralPublicKey, iv, ciphertext };
}

/** A recovery request: an attested ephemeral key (as in a key release), the break-glass request and the backup. */
export interface RecoveryRequest extends KeyReleaseRequest {
  readonly requestId: string;
  readonly signerId: string;
  readonly backup: RecoveryBackup;
}

/** The wire form of a recovery request. */
export function encodeRecoveryRequest(r: RecoveryRequest): Json {
  return { nonce: bytesToHex(r.nonce), evidence: bytesToHex(r.evidence), publicKey: bytesToHex(r.publicKey), requestId: r.requestId, signerId: r.signerId, backup: encodeRecoveryBackup(r.backup) };
}

/** Decodes a recovery request (the broker's side): nonce, evidence and key through the release decoder, then the rest. */
export function decodeRecoveryRequest(json: Json): RecoveryRequest {
  const f = new Fields(json, 'recover');
  const release = decodeKeyReleaseRequest({ nonce: f.raw('nonce'), evidence: f.raw('evidence'), publicKey: f.raw('publicKey') });
  const requestId = f.str('requestId', 64, ID_RE);
  const signerId = f.str('signerId', 64, ID_RE);
  const backup = decodeRecoveryBackup(f.raw('backup'));
  f.done();
  return { ...release, requestId, signerId, backup };
}

/** A granted recovery: the backup plaintext sealed to the request's key, signed by the broker. */
export interface RecoveryAnswer {
  readonly measurement: string;
  readonly enc: Uint8Array;
  readonly ciphertext: Uint8Array;
  /** The broker's signature (r‖s) over `recoveryAnswerStatement`. */
  readonly signature: Uint8Array;
}

/** What the answer is checked against: the enclave's own request, the request and backup it restores, the broker it trusts. */
export interface RecoveryExpectation {
  readonly kbsPublicKey: Uint8Array;
  readonly nonce: Uint8Array;
  readonly publicKey: Uint8Array;
  readonly requestId: string;
  readonly signerId: string;
  readonly backupSha256: string;
  /** When given, the measurement the broker appraised must be this one. */
  readonly measurement?: string;
}

/** The HPKE info binding a recovery answer to the measurement the broker appraised. */
export function recoveryAnswerInfo(measurement: string): Uint8Array {
  return concatBytes(utf8(RECOVERY_ANSWER_INFO_PREFIX), Uint8Array.of(0), utf8(measurement));
}

/** What the broker signs for a recovery answer. */
export function recoveryAnswerStatement(a: {
  readonly measurement: string;
  readonly nonce: Uint8Array;
  readonly publicKey: Uint8Array;
  readonly enc: Uint8Array;
  readonly ciphertext: Uint8Array;
  readonly requestId: string;
  readonly signerId: string;
  readonly backupSha256: string;
}): Uint8Array {
  const body = {
    measurement: a.measurement,
    nonce: bytesToHex(a.nonce),
    publicKey: bytesToHex(a.publicKey),
    enc: bytesToHex(a.enc),
    ciphertext: bytesToHex(a.ciphertext),
    requestId: a.requestId,
    signerId: a.signerId,
    backupSha256: a.backupSha256,
  };
  return domainStatementBytes(RECOVERY_ANSWER_DOMAIN, body);
}

/** The wire form of a granted recovery. */
export function encodeRecoveryAnswer(a: RecoveryAnswer): Json {
  return { ok: true, measurement: a.measurement, enc: bytesToHex(a.enc), ciphertext: bytesToHex(a.ciphertext), signature: bytesToHex(a.signature) };
}

/** Decodes a granted recovery answer (untrusted, relayed by the host); the signature is checked by `openRecoveryAnswer`. */
export function decodeRecoveryAnswer(json: Json): RecoveryAnswer {
  const f = new Fields(json, 'recoveryAnswer');
  if (!f.bool('ok')) throw new CustodianError('E_KBS_ANSWER_INVALID', 'the key broker refused the recovery', {});
  const out = {
    measurement: f.str('measurement', 192, MEASUREMENT_RE),
    enc: f.hex('enc', X25519_PUBLIC_KEY_BYTES),
    ciphertext: f.hex('ciphertext', undefined, RECOVERY_ANSWER_CIPHERTEXT_BYTES_MAX),
    signature: f.hex('signature', KBS_SIGNATURE_BYTES),
  };
  f.done();
  return out;
}

/** True when the answer is the broker's, for exactly this request, signer, backup and key. */
export function verifyRecoveryAnswer(answer: RecoveryAnswer, expected: RecoveryExpectation): boolean {
  if (expected.measurement !== undefined && expected.measurement !== answer.measurement) return false;
  const statement = recoveryAnswerStatement({
    measurement: answer.measurement,
    nonce: expected.nonce,
    publicKey: expected.publicKey,
    enc: answer.enc,
    ciphertext: answer.ciphertext,
    requestId: expected.requestId,
    signerId: expected.signerId,
    backupSha256: expected.backupSha256,
  });
  return verifyKbsSignature(expected.kbsPublicKey, statement, answer.signature);
}

/**
 * Checks the broker's signature (E_KBS_ANSWER_INVALID otherwise), then opens
 * the backup plaintext with the ephemeral private key (E_HPKE_OPEN_FAILED if
 * it was not sealed for this key, measurement and nonce).
 */
export async function openRecoveryAnswer(answer: RecoveryAnswer, privateKey: Secret<Uint8Array>, expected: RecoveryExpectation): Promise<Secret<Uint8Array>> {
  if (expected.publicKey.length !== X25519_PUBLIC_KEY_BYTES || expected.kbsPublicKey.length !== KBS_PUBLIC_KEY_BYTES) {
    throw new CustodianError('E_KBS_ANSWER_INVALID', 'the recovery answer is checked against an X25519 key and the broker P-256 key', {});
  }
  if (!verifyRecoveryAnswer(answer, expected)) {
    throw new CustodianError('E_KBS_ANSWER_INVALID', `the recovery answer is not the key broker's for request ${expected.requestId}, signer ${expected.signerId} and this enclave's key`, {
      requestId: expected.requestId,
      signerId: expected.signerId,
    });
  }
  return hpkeOpen(privateKey, answer, recoveryAnswerInfo(answer.measurement), expected.nonce);
}


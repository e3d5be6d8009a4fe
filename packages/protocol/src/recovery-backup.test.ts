/**
 * Signer backups and recovery answers on the wire: the ECIES construction
 * opens with the recovery private key and only with the signer's associated
 * data; the codecs are strict and bounded; a recovery answer opens only when
 * the broker signed it for exactly this request, signer, backup, nonce and
 * key. Mutated inputs only ever produce typed errors.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createDecipheriv, createECDH } from 'node:crypto';
import fc from 'fast-check';
import { p256 } from '@noble/curves/nist.js';
import { isCustodianError } from '@custodian/core/errors';
import { bytesToHex, utf8 } from '@custodian/core/bytes';
import { canonicalJsonBytes, type Json } from '@custodian/core/canonical-json';
import { FRAME_BYTES_MAX } from '@custodian/core/limits';
import { generateHpkeKeyPair, hpkeSeal } from '@custodian/core/hpke-seal';
import { KEY_RELEASE_EVIDENCE_BYTES_MAX } from './key-release.js';
import {
  decodeRecoveryAnswer,
  decodeRecoveryBackup,
  decodeRecoveryRequest,
  encodeRecoveryAnswer,
  encodeRecoveryBackup,
  encodeRecoveryRequest,
  encryptToRecoveryKey,
  openRecoveryAnswer,
  RECOVERY_BACKUP_BYTES_MAX,
  RECOVERY_REQUEST_BYTES_MAX,
  RECOVERY_BACKUP_CIPHERTEXT_BYTES_MAX,
  recoveryAnswerInfo,
  recoveryAnswerStatement,
  recoveryBackupAad,
  recoveryBackupDigest,
  recoveryBackupKey,
  type RecoveryBackup,
} from './recovery-backup.js';

const recovery = createECDH('prime256v1');
recovery.generateKeys();
const recoveryPublicKey = new Uint8Array(recovery.getPublicKey());

/** The HSM's half, done in the test with the private key in hand. */
function open(b: RecoveryBackup, aad: Uint8Array): Uint8Array {
  const key = recoveryBackupKey(recovery.computeSecret(b.ephemeralPublicKey), b.ephemeralPublicKey, recoveryPublicKey);
  const d = createDecipheriv('aes-256-gcm', key, b.iv);
  d.setAAD(aad);
  d.setAuthTag(b.ciphertext.subarray(-16));
  return new Uint8Array(Buffer.concat([d.update(b.ciphertext.subarray(0, -16)), d.final()]));
}

const typed =
  (...codes: string[]) =>
  (e: unknown): boolean =>
    isCustodianError(e) && (codes.length === 0 || codes.includes(e.code) || codes.some((c) => c.endsWith('*') && e.code.startsWith(c.slice(0, -1))));

test('a backup opens with the recovery private key and only as the signer it was made for', () => {
  const b = encryptToRecoveryKey(recoveryPublicKey, utf8('shares of signer-2'), recoveryBackupAad('signer-2'));
  assert.deepEqual(open(b, recoveryBackupAad('signer-2')), utf8('shares of signer-2'));
  assert.throws(() => open(b, recoveryBackupAad('signer-3')), 'another signer id does not authenticate');
  assert.notDeepEqual(recoveryBackupAad('signer-2'), utf8('signer-2'), 'the associated data is domain-separated');
  const again = encryptToRecoveryKey(recoveryPublicKey, utf8('shares of signer-2'), recoveryBackupAad('signer-2'));
  assert.notEqual(recoveryBackupDigest(again), recoveryBackupDigest(b), 'fresh ephemeral key and IV each time');
});

test('refuses a plaintext over the recoverable bound, a recovery key that is not a P-256 point, and an ill-formed signer id', () => {
  assert.throws(() => encryptToRecoveryKey(recoveryPublicKey, new Uint8Array(RECOVERY_BACKUP_BYTES_MAX + 1), recoveryBackupAad('s')), typed('E_RECOVERY_BACKUP_INVALID'));
  assert.ok(encryptToRecoveryKey(recoveryPublicKey, new Uint8Array(RECOVERY_BACKUP_BYTES_MAX), recoveryBackupAad('s')).ciphertext.length === RECOVERY_BACKUP_CIPHERTEXT_BYTES_MAX);
  const offCurve = Uint8Array.from(recoveryPublicKey);
  offCurve[64] = offCurve[64]! ^ 1;
  assert.throws(() => encryptToRecoveryKey(offCurve, utf8('x'), recoveryBackupAad('s')), typed('E_RECOVERY_BACKUP_INVALID'));
  assert.throws(() => encryptToRecoveryKey(recoveryPublicKey.subarray(0, 33), utf8('x'), recoveryBackupAad('s')), typed('E_RECOVERY_BACKUP_INVALID'));
  assert.throws(() => recoveryBackupAad('Signer/2'), typed('E_FIELD_INVALID'));
});

test('the backup codec round-trips and refuses wrong sizes, a compressed key, a tagless or oversized ciphertext and unknown fields', () => {
  const b = encryptToRecoveryKey(recoveryPublicKey, utf8('x'), recoveryBackupAad('s'));
  const wire = encodeRecoveryBackup(b) as Record<string, string>;
  assert.deepEqual(decodeRecoveryBackup(wire), b);
  assert.equal(recoveryBackupDigest(decodeRecoveryBackup(wire)), recoveryBackupDigest(b));
  for (const bad of [
    { ...wire, ephemeralPublicKey: wire['ephemeralPublicKey']!.slice(2) },
    { ...wire, ephemeralPublicKey: '02' + wire['ephemeralPublicKey']!.slice(2) },
    { ...wire, iv: '00'.repeat(16) },
    { ...wire, ciphertext: '00'.repeat(15) },
    { ...wire, ciphertext: '00'.repeat(RECOVERY_BACKUP_CIPHERTEXT_BYTES_MAX + 1) },
    { ...wire, ciphertext: wire['ciphertext']!.toUpperCase() },
    { ...wire, extra: '' },
    { iv: wire['iv']!, ciphertext: wire['ciphertext']! },
  ]) {
    assert.throws(() => decodeRecoveryBackup(bad), typed('E_FIELD_*', 'E_HEX_INVALID'));
  }
});

test('a recovery request round-trips, reuses the release bounds, and the largest one fits the /v1/recover body bound; the largest export answer fits a host-enclave frame', () => {
  const b = encryptToRecoveryKey(recoveryPublicKey, utf8('x'), recoveryBackupAad('signer-2'));
  const r = { nonce: new Uint8Array(32).fill(1), evidence: new Uint8Array(10).fill(2), publicKey: new Uint8Array(32).fill(3), requestId: 'rec-1', signerId: 'signer-2', backup: b };
  assert.deepEqual(decodeRecoveryRequest(encodeRecoveryRequest(r)), r);
  const wire = encodeRecoveryRequest(r) as Record<string, Json>;
  for (const bad of [{ ...wire, nonce: '00' }, { ...wire, evidence: '' }, { ...wire, publicKey: '00'.repeat(33) }, { ...wire, requestId: 'A' }, { ...wire, signerId: '' }, { ...wire, more: 1 }]) {
    assert.throws(() => decodeRecoveryRequest(bad), typed('E_FIELD_*'));
  }
  const largest = { ...r, evidence: new Uint8Array(KEY_RELEASE_EVIDENCE_BYTES_MAX), requestId: 'r'.repeat(64), signerId: 's'.repeat(64), backup: { ...b, ciphertext: new Uint8Array(RECOVERY_BACKUP_CIPHERTEXT_BYTES_MAX) } };
  assert.ok(canonicalJsonBytes(encodeRecoveryRequest(largest)).length <= RECOVERY_REQUEST_BYTES_MAX, 'a recoverable backup always fits a /v1/recover body');
  // backup.export answers { signerId, backupSha256, wallets, backup } in one frame: the largest backup fits with room for the wallet list.
  const exportAnswer = { signerId: 's'.repeat(64), backupSha256: 'a'.repeat(64), wallets: [], backup: encodeRecoveryBackup(largest.backup) };
  assert.ok(canonicalJsonBytes(exportAnswer).length + 256 * 1024 <= FRAME_BYTES_MAX, 'the largest backup leaves a quarter MiB of the frame for the rest');
});

const kbsKey = p256.utils.randomSecretKey();
const kbsPublicKey = p256.getPublicKey(kbsKey, false);
const M = 'a1'.repeat(48);

async function grant(plaintext: Uint8Array, over: Partial<{ requestId: string; signerId: string; backupSha256: string }> = {}) {
  const kp = await generateHpkeKeyPair();
  const nonce = new Uint8Array(32).fill(9);
  const expected = { kbsPublicKey, nonce, publicKey: kp.publicKey, requestId: 'rec-1', signerId: 'signer-2', backupSha256: 'ab'.repeat(32) };
  const sealed = await hpkeSeal(kp.publicKey, plaintext, recoveryAnswerInfo(M), nonce);
  const signature = p256.sign(recoveryAnswerStatement({ ...expected, ...over, measurement: M, enc: sealed.enc, ciphertext: sealed.ciphertext }), kbsKey, { prehash: true });
  return { kp, expected, wire: encodeRecoveryAnswer({ measurement: M, enc: sealed.enc, ciphertext: sealed.ciphertext, signature }) };
}

test('a recovery answer opens only when the broker signed it for this request, signer, backup, key and nonce', async () => {
  const { kp, expected, wire } = await grant(utf8('backup plaintext'));
  const a = decodeRecoveryAnswer(wire);
  assert.deepEqual((await openRecoveryAnswer(a, kp.privateKey, expected)).expose(), utf8('backup plaintext'));
  assert.deepEqual((await openRecoveryAnswer(a, kp.privateKey, { ...expected, measurement: M })).expose(), utf8('backup plaintext'));
  for (const other of [
    { requestId: 'rec-2' },
    { signerId: 'signer-3' },
    { backupSha256: 'cd'.repeat(32) },
    { nonce: new Uint8Array(32) },
    { publicKey: new Uint8Array(32).fill(5) },
    { measurement: 'b2'.repeat(48) },
    { kbsPublicKey: p256.getPublicKey(p256.utils.randomSecretKey(), false) },
  ]) {
    await assert.rejects(openRecoveryAnswer(a, kp.privateKey, { ...expected, ...other }), typed('E_KBS_ANSWER_INVALID'), JSON.stringify(Object.keys(other)));
  }
});

test('refuses a plaintext the relaying host sealed itself to the attested key (the signature does not cover it)', async () => {
  const { kp, expected, wire } = await grant(utf8('genuine'));
  const mine = await hpkeSeal(kp.publicKey, utf8('the host chose this state'), recoveryAnswerInfo(M), expected.nonce);
  const forged = { ...(wire as Record<string, Json>), enc: bytesToHex(mine.enc), ciphertext: bytesToHex(mine.ciphertext) };
  await assert.rejects(openRecoveryAnswer(decodeRecoveryAnswer(forged), kp.privateKey, expected), typed('E_KBS_ANSWER_INVALID'));
});

test('a refusal or a malformed answer is refused by the decoder; mutated answers only raise typed errors', async () => {
  assert.throws(() => decodeRecoveryAnswer({ ok: false, measurement: M, enc: '', ciphertext: '', signature: '' }), typed('E_KBS_ANSWER_INVALID'));
  const { wire } = await grant(utf8('p'));
  const w = wire as Record<string, Json>;
  for (const bad of [{ ...w, ok: 'true' }, { ...w, measurement: 'XYZ' }, { ...w, enc: '00' }, { ...w, signature: '00'.repeat(63) }, { ...w, extra: 1 }]) {
    assert.throws(() => decodeRecoveryAnswer(bad), typed('E_FIELD_*', 'E_HEX_INVALID'));
  }
  const real = JSON.stringify(wire);
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.nat(real.length - 1), fc.integer({ min: 0x20, max: 0x7e })), { minLength: 1, maxLength: 6 }), (edits) => {
      const chars = [...real];
      for (const [i, c] of edits) chars[i] = String.fromCharCode(c);
      let json: Json;
      try {
        json = JSON.parse(chars.join('')) as Json;
      } catch {
        return;
      }
      try {
        decodeRecoveryAnswer(json);
      } catch (e) {
        assert.ok(isCustodianError(e), `untyped error: ${String(e)}`);
      }
    }),
    { numRuns: 2000 },
  );
});

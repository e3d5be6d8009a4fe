/**
 * Signer backups to the recovery key and the restore of a lost signer, in
 * process (issue 7 item 5). The broker's part is played here with its two
 * keys: a P-256 `kbs-signing` key that signs the recovery answer, and the
 * P-256 recovery key that opens the backup (in production inside the HSM,
 * reached only under an executed break-glass request: apps/kbs).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createDecipheriv, createECDH, randomBytes } from 'node:crypto';
import zlib, { deflateRawSync, inflateRawSync } from 'node:zlib';
import { syncBuiltinESMExports } from 'node:module';
import { p256 } from '@noble/curves/nist.js';
import type { Json } from '@custodian/core/canonical-json';
import { parseJson } from '@custodian/core/canonical-json';
import { bytesToHex, hexToBytes } from '@custodian/core/bytes';
import { hpkeSeal } from '@custodian/core/hpke-seal';
import { encodeSignedRequest, signRequest } from '@custodian/protocol/operator-request';
import { WALLET_CREATE_TYPE } from '@custodian/protocol/payloads';
import { decodeRecoveryBackup, encodeRecoveryAnswer, RECOVERY_BACKUP_BYTES_MAX, recoveryAnswerInfo, recoveryAnswerStatement, recoveryBackupAad, recoveryBackupDigest, recoveryBackupKey, type RecoveryBackup } from '@custodian/protocol/recovery-backup';
import { decodeAuditEntry, decodeEnclaveSigned, statementHash } from '@custodian/protocol/enclave-signed';
import { Enclave } from './enclave.js';
import { bootSigners, memoryPlatform, orgKeys, orgManifest, proposeTransfer, RecordingHost, rejectsWith, requestNonce, runSession, simHardware, singleKeySigner, TestBroker, type MemoryPlatform } from './test-signers.js';
import { SEALED_STATE_BYTES_MAX } from './sealed-state.js';

type R = Record<string, Json>;
const TO = '0x70997970c51812dc3a010c7d01b50e0d17dc79c8';
const hw = simHardware();
const keys = orgKeys();
const manifest = orgManifest(hw, keys, { allowlist: [TO], maxValueWei: '1000000' });
const MEASUREMENT = bytesToHex(hw.measurement);

const recovery = createECDH('prime256v1');
recovery.generateKeys();
const RECOVERY_KEY = new Uint8Array(recovery.getPublicKey());
const broker = new TestBroker(RECOVERY_KEY);
const KBS = broker.trust;
const kbsSecret = broker.secret;

/** What the HSM does under an executed recover-signer request: ECDH with the recovery key, HKDF, AES-GCM open. */
function openWithRecoveryKey(b: RecoveryBackup, signerId: string): Uint8Array {
  const shared = recovery.computeSecret(b.ephemeralPublicKey);
  const key = recoveryBackupKey(shared, b.ephemeralPublicKey, RECOVERY_KEY);
  const d = createDecipheriv('aes-256-gcm', key, b.iv);
  d.setAAD(recoveryBackupAad(signerId));
  d.setAuthTag(b.ciphertext.subarray(b.ciphertext.length - 16));
  return new Uint8Array(Buffer.concat([d.update(b.ciphertext.subarray(0, b.ciphertext.length - 16)), d.final()]));
}

/** The broker's answer: the backup plaintext sealed to the prepared key, signed. */
async function brokerAnswer(prepared: R, nonce: Uint8Array, plaintext: Uint8Array, o: { requestId: string; signerId: string; backupSha256: string }, secret = kbsSecret): Promise<Json> {
  const publicKey = hexToBytes(String(prepared['publicKey']));
  const sealed = await hpkeSeal(publicKey, plaintext, recoveryAnswerInfo(MEASUREMENT), nonce);
  const signature = p256.sign(recoveryAnswerStatement({ measurement: MEASUREMENT, nonce, publicKey, enc: sealed.enc, ciphertext: sealed.ciphertext, ...o }), secret, { prehash: true, format: 'compact' });
  return encodeRecoveryAnswer({ measurement: MEASUREMENT, enc: sealed.enc, ciphertext: sealed.ciphertext, signature });
}

/** signer-1's sealing key: the broker releases the same key to every machine of this build and signer id. */
const SEALING_KEY = new Uint8Array(randomBytes(32));
const signerWithWallet = () => singleKeySigner(hw, manifest, keys, KBS, SEALING_KEY);

/** The newest audit entry `host` holds for `signerId` (what the real host hands a restore). */
function headOf(host: RecordingHost, signerId: string): Json {
  return [...host.signed].reverse().find((j) => decodeAuditEntry(decodeEnclaveSigned(j, 'e').statement).signerId === signerId)!;
}

async function pristine(kbs: MemoryPlatform['kbs'] = KBS, sealingKey: Uint8Array = SEALING_KEY): Promise<Enclave> {
  const platform = memoryPlatform(hw, sealingKey);
  platform.kbs = kbs;
  const e = new Enclave(platform, 'signer-1');
  await e.boot();
  return e;
}

/** Proposes and signs a transfer from `w` with bob's and carol's approvals; the signed transaction. */
async function signTransfer(e: Enclave, host: RecordingHost): Promise<R> {
  const { proposal, approvals } = await proposeTransfer(e, host, keys, 'w', TO);
  return (await e.handle('tx.sign', { proposal, approvals }, host.peer)) as R;
}

test('backup.export: the state encrypted to the recovery key; only that key opens it; no unused nonce or replay record travels', async () => {
  const { host, enclave } = await signerWithWallet();
  await signTransfer(enclave, host);
  const out = (await enclave.handle('backup.export', {}, host.peer)) as R;
  const backup = decodeRecoveryBackup(out['backup']!);
  assert.equal(out['backupSha256'], recoveryBackupDigest(backup));
  assert.deepEqual(out['wallets'], ['w']);
  assert.equal(host.of('backup.exported').at(-1)!.data['backupSha256'], out['backupSha256']);
  const plain = parseJson(inflateRawSync(openWithRecoveryKey(backup, 'signer-1'))) as R;
  assert.equal(plain['type'], 'custodian.signer-backup.v1');
  const state = plain['state'] as R;
  assert.equal((state['wallets'] as R[])[0]!['walletId'], 'w');
  assert.deepEqual(state['signed'], [], 'signed-request records are not restored');
  assert.deepEqual(state['consumedNonces'], []);
  assert.equal(state['frostNonces'], undefined, 'unused FROST nonces never travel');
  // Bound to its signer: another signer id as AAD does not open it.
  assert.throws(() => openWithRecoveryKey(backup, 'signer-2'));
});

test('backup.export without a broker-named recovery key is refused E_BACKUP_UNAVAILABLE, audited', async () => {
  const platform = memoryPlatform(hw);
  platform.kbs = { publicKey: KBS.publicKey, recoveryKey: null };
  const host = new RecordingHost();
  const e = (await bootSigners(['signer-1'], new Map([['signer-1', platform]]), manifest, host)).get('signer-1')!;
  await rejectsWith(e.handle('backup.export', {}, host.peer), 'E_BACKUP_UNAVAILABLE');
  assert.equal(host.of('backup.refused').at(-1)!.data['code'], 'E_BACKUP_UNAVAILABLE');
});

test('item 5: a pristine signer restored from the backup is the lost signer (identity, wallet key, audit chain) and signs again', async () => {
  const { host, enclave } = await signerWithWallet();
  const before = await signTransfer(enclave, host);
  const identity = bytesToHex(enclave.identityKey());
  const out = (await enclave.handle('backup.export', {}, host.peer)) as R;
  // The lost signer went on: one more signature after the backup.
  await signTransfer(enclave, host);
  const head = host.signed.at(-1)!;
  const headSeq = host.entries.length;

  const fresh = await pristine();
  assert.equal(fresh.phase, 'AWAITING_MANIFEST');
  assert.notEqual(bytesToHex(fresh.identityKey()), identity);
  const nonce = new Uint8Array(32).fill(9);
  const prepared = (await fresh.handle('backup.restore.prepare', { nonce: bytesToHex(nonce) }, host.peer)) as R;
  const backupSha256 = String(out['backupSha256']);
  const plaintext = openWithRecoveryKey(decodeRecoveryBackup(out['backup']!), 'signer-1');
  const answer = await brokerAnswer(prepared, nonce, plaintext, { requestId: 'recover-1', signerId: 'signer-1', backupSha256 });
  const done = (await fresh.handle('backup.restore.complete', { nonce: bytesToHex(nonce), requestId: 'recover-1', backupSha256, answer, auditHead: head }, host.peer)) as R;
  assert.equal(done['identityKey'], identity);
  assert.equal(bytesToHex(fresh.identityKey()), identity);
  // Until the restore is audited it serves nothing else.
  await rejectsWith(fresh.handle('tx.propose', { request: {} }, host.peer), 'E_RESTORE_UNCONFIRMED');
  await fresh.handle('backup.restore.confirm', {}, host.peer);
  const restored = host.entries.at(-1)!;
  assert.equal(restored.kind, 'backup.restored');
  assert.equal(restored.data['breakglassRequest'], 'recover-1');
  assert.equal(host.entries.length, headSeq + 1);
  const seqOf = (j: Json): number => decodeAuditEntry(decodeEnclaveSigned(j, 'e').statement).seq;
  assert.equal(seqOf(host.signed.at(-1)!), seqOf(head) + 1, 'the restore is the next position after the newest entry the host held');
  assert.equal(decodeAuditEntry(decodeEnclaveSigned(host.signed.at(-1)!, 'e').statement).prevHash, statementHash(decodeEnclaveSigned(head, 'e').statement));
  assert.equal(fresh.phase, 'READY');
  const after = await signTransfer(fresh, host);
  assert.ok(String(after['signedTx']).startsWith('0x02'), 'the restored wallet key signs');
  assert.notEqual(after['signedTx'], before['signedTx']);
});

test('restore refusals: not pristine, wrong broker, other backup or request, not prepared, forked audit head', async () => {
  const { host, enclave } = await signerWithWallet();
  const out = (await enclave.handle('backup.export', {}, host.peer)) as R;
  const backupSha256 = String(out['backupSha256']);
  const plaintext = openWithRecoveryKey(decodeRecoveryBackup(out['backup']!), 'signer-1');
  const nonce = new Uint8Array(32).fill(3);
  const hexNonce = bytesToHex(nonce);

  // A signer that holds state is never overwritten.
  await rejectsWith(enclave.handle('backup.restore.prepare', { nonce: hexNonce }, host.peer), 'E_RESTORE_NOT_PRISTINE');
  // A signer launched without a broker cannot check an answer.
  await rejectsWith((await pristine(null)).handle('backup.restore.prepare', { nonce: hexNonce }, host.peer), 'E_BACKUP_UNAVAILABLE');

  const fresh = await pristine();
  await rejectsWith(fresh.handle('backup.restore.complete', { nonce: hexNonce, requestId: 'r', backupSha256, answer: await brokerAnswer({ publicKey: '09'.repeat(32) }, nonce, plaintext, { requestId: 'r', signerId: 'signer-1', backupSha256 }), auditHead: headOf(host, 'signer-1') }, host.peer), 'E_RESTORE_NOT_PREPARED');
  const prepared = (await fresh.handle('backup.restore.prepare', { nonce: hexNonce }, host.peer)) as R;
  const complete = (answer: Json, over: R = {}) => fresh.handle('backup.restore.complete', { nonce: hexNonce, requestId: 'recover-1', backupSha256, answer, auditHead: headOf(host, 'signer-1'), ...over }, host.peer);
  // Signed by another broker; for another request; for another backup digest.
  await rejectsWith(complete(await brokerAnswer(prepared, nonce, plaintext, { requestId: 'recover-1', signerId: 'signer-1', backupSha256 }, p256.utils.randomSecretKey())), 'E_KBS_ANSWER_INVALID');
  await rejectsWith(complete(await brokerAnswer(prepared, nonce, plaintext, { requestId: 'recover-2', signerId: 'signer-1', backupSha256 })), 'E_KBS_ANSWER_INVALID');
  await rejectsWith(complete(await brokerAnswer(prepared, nonce, plaintext, { requestId: 'recover-1', signerId: 'signer-1', backupSha256: 'ab'.repeat(32) })), 'E_KBS_ANSWER_INVALID');
  // A head signed by someone else than the restored identity is refused, and nothing was installed.
  const stranger = (await signerWithWallet()).host.signed.at(-1)!;
  await rejectsWith(complete(await brokerAnswer(prepared, nonce, plaintext, { requestId: 'recover-1', signerId: 'signer-1', backupSha256 }), { auditHead: stranger }), 'E_AUDIT_HEAD_INVALID');
  assert.equal(fresh.phase, 'AWAITING_MANIFEST');
  // A head older than the backup's own is a rollback.
  const old = host.signed[0]!;
  const again = (await fresh.handle('backup.restore.prepare', { nonce: hexNonce }, host.peer)) as R;
  await rejectsWith(
    fresh.handle('backup.restore.complete', { nonce: hexNonce, requestId: 'recover-1', backupSha256, answer: await brokerAnswer(again, nonce, plaintext, { requestId: 'recover-1', signerId: 'signer-1', backupSha256 }), auditHead: old }, host.peer),
    'E_AUDIT_HEAD_INVALID',
  );
  // A host that withholds the export's own entry hands the backup's head itself: that would fork at the export's position.
  const beforeExport = host.signed.at(-2)!;
  const third = (await fresh.handle('backup.restore.prepare', { nonce: hexNonce }, host.peer)) as R;
  await rejectsWith(
    fresh.handle('backup.restore.complete', { nonce: hexNonce, requestId: 'recover-1', backupSha256, answer: await brokerAnswer(third, nonce, plaintext, { requestId: 'recover-1', signerId: 'signer-1', backupSha256 }), auditHead: beforeExport }, host.peer),
    'E_AUDIT_HEAD_INVALID',
  );
  // Without a head at all: refused before anything else.
  await rejectsWith(fresh.handle('backup.restore.complete', { nonce: hexNonce, requestId: 'recover-1', backupSha256, answer: await brokerAnswer(third, nonce, plaintext, { requestId: 'recover-1', signerId: 'signer-1', backupSha256 }) }, host.peer), 'E_FIELD_MISSING');
  // Another signer's backup does not restore this one (the broker would not release it either).
  const other = memoryPlatform(hw);
  other.kbs = KBS;
  const e2 = new Enclave(other, 'signer-2');
  await e2.boot();
  const p2 = (await e2.handle('backup.restore.prepare', { nonce: hexNonce }, host.peer)) as R;
  await rejectsWith(
    e2.handle('backup.restore.complete', { nonce: hexNonce, requestId: 'recover-1', backupSha256, answer: await brokerAnswer(p2, nonce, plaintext, { requestId: 'recover-1', signerId: 'signer-2', backupSha256 }), auditHead: headOf(host, 'signer-1') }, host.peer),
    'E_RECOVERY_BACKUP_INVALID',
  );
});

test('a signer holding threshold ECDSA shares (25 KB each) backs up within the bound and restores them', async () => {
  const ids = ['signer-1', 'signer-2', 'signer-3'];
  const platforms = new Map(ids.map((id) => [id, broker.platform(hw)] as const));
  const host = new RecordingHost();
  const enclaves = await bootSigners(ids, platforms, manifest, host);
  for (const walletId of ['t1', 't2']) {
    const req = encodeSignedRequest(signRequest({ type: WALLET_CREATE_TYPE, orgId: 'acme', walletId, scheme: 'ecdsa-dkls', threshold: 2, parties: ids, nonce: requestNonce(), createdAtMs: Date.now() }, 'alice', keys['alice']!));
    await runSession(enclaves, host, ids, { kind: 'dkg', request: req });
  }
  const out = (await enclaves.get('signer-2')!.handle('backup.export', {}, host.peer)) as R;
  assert.deepEqual(out['wallets'], ['t1', 't2']);
  const backup = decodeRecoveryBackup(out['backup']!);
  const compressed = openWithRecoveryKey(backup, 'signer-2');
  const json = inflateRawSync(compressed);
  assert.ok(compressed.length < json.length * 0.7, `compression pays for the hex shares: ${compressed.length} of ${json.length} bytes`);
  console.log(`backup of a signer with 2 ecdsa-dkls 2-of-3 wallets: ${json.length} bytes of state JSON, ${compressed.length} compressed (bound ${RECOVERY_BACKUP_BYTES_MAX})`);

  const p = memoryPlatform(hw, platforms.get('signer-2')!.key);
  p.kbs = KBS;
  const fresh = new Enclave(p, 'signer-2');
  await fresh.boot();
  const nonce = new Uint8Array(32).fill(5);
  const prepared = (await fresh.handle('backup.restore.prepare', { nonce: bytesToHex(nonce) }, host.peer)) as R;
  const backupSha256 = String(out['backupSha256']);
  const answer = await brokerAnswer(prepared, nonce, compressed, { requestId: 'recover-2', signerId: 'signer-2', backupSha256 });
  const done = (await fresh.handle('backup.restore.complete', { nonce: bytesToHex(nonce), requestId: 'recover-2', backupSha256, answer, auditHead: headOf(host, 'signer-2') }, host.peer)) as R;
  assert.deepEqual(done['wallets'], ['t1', 't2']);
  assert.equal(done['identityKey'], bytesToHex(enclaves.get('signer-2')!.identityKey()));
});

test('an opened backup that inflates past the bound (a compression bomb) is refused E_RECOVERY_BACKUP_INVALID, nothing installed', async () => {
  const fresh = await pristine();
  const nonce = new Uint8Array(32).fill(6);
  const prepared = (await fresh.handle('backup.restore.prepare', { nonce: bytesToHex(nonce) }, new RecordingHost().peer)) as R;
  const bomb = new Uint8Array(deflateRawSync(Buffer.alloc(SEALED_STATE_BYTES_MAX + 1)));
  const backupSha256 = 'cd'.repeat(32);
  const answer = await brokerAnswer(prepared, nonce, bomb, { requestId: 'recover-b', signerId: 'signer-1', backupSha256 });
  await rejectsWith(fresh.handle('backup.restore.complete', { nonce: bytesToHex(nonce), requestId: 'recover-b', backupSha256, answer, auditHead: null }, new RecordingHost().peer), 'E_RECOVERY_BACKUP_INVALID');
  assert.equal(fresh.phase, 'AWAITING_MANIFEST');
});

test('F16b the compressed backup (export) and the inflated one (restore) hold the identity and wallet keys: zlib\'s own output buffers are zeroised, not copies of them', async () => {
  const outputs: Buffer[] = [];
  const deflate = zlib.deflateRawSync;
  const inflate = zlib.inflateRawSync;
  zlib.deflateRawSync = ((b: zlib.InputType, o?: zlib.ZlibOptions) => {
    const out = deflate(b, o);
    outputs.push(out);
    return out;
  }) as typeof zlib.deflateRawSync;
  zlib.inflateRawSync = ((b: zlib.InputType, o?: zlib.ZlibOptions) => {
    const out = inflate(b, o);
    outputs.push(out);
    return out;
  }) as typeof zlib.inflateRawSync;
  syncBuiltinESMExports();
  try {
    const { host, enclave } = await signerWithWallet();
    const out = (await enclave.handle('backup.export', {}, host.peer)) as R;
    const fresh = await pristine();
    const nonce = new Uint8Array(32).fill(7);
    const prepared = (await fresh.handle('backup.restore.prepare', { nonce: bytesToHex(nonce) }, host.peer)) as R;
    const backupSha256 = String(out['backupSha256']);
    const plaintext = openWithRecoveryKey(decodeRecoveryBackup(out['backup']!), 'signer-1');
    const answer = await brokerAnswer(prepared, nonce, plaintext, { requestId: 'recover-z', signerId: 'signer-1', backupSha256 });
    await fresh.handle('backup.restore.complete', { nonce: bytesToHex(nonce), requestId: 'recover-z', backupSha256, answer, auditHead: host.signed.at(-1)! }, host.peer);
  } finally {
    zlib.deflateRawSync = deflate;
    zlib.inflateRawSync = inflate;
    syncBuiltinESMExports();
  }
  assert.equal(outputs.length, 2, 'one deflate on export, one inflate on restore');
  for (const b of outputs) assert.ok(b.length > 0 && b.every((x) => x === 0), `a ${b.length}-byte zlib output was left holding the signer's state`);
});

test('B33 a backup the host made up — encrypted to the public recovery key, approved by digest — or one from another enclave build is refused: only this signer\'s build can make a backup it restores', async () => {
  const { host, enclave } = await signerWithWallet();
  const out = (await enclave.handle('backup.export', {}, host.peer)) as R;
  const genuine = openWithRecoveryKey(decodeRecoveryBackup(out['backup']!), 'signer-1');
  const contents = parseJson(inflateRawSync(genuine)) as R;
  // The host's own state in the genuine format: any identity it likes, the MAC it cannot compute.
  const forgedState = { ...(contents['state'] as R), identitySecret: '11'.repeat(32) };
  const forged = new Uint8Array(deflateRawSync(Buffer.from(JSON.stringify({ ...contents, state: forgedState }))));
  const restore = async (fresh: Enclave, plaintext: Uint8Array, nonceByte: number) => {
    const nonce = new Uint8Array(32).fill(nonceByte);
    const prepared = (await fresh.handle('backup.restore.prepare', { nonce: bytesToHex(nonce) }, host.peer)) as R;
    const backupSha256 = 'ef'.repeat(32);
    const answer = await brokerAnswer(prepared, nonce, plaintext, { requestId: 'recover-f', signerId: 'signer-1', backupSha256 });
    return fresh.handle('backup.restore.complete', { nonce: bytesToHex(nonce), requestId: 'recover-f', backupSha256, answer, auditHead: headOf(host, 'signer-1') }, host.peer);
  };
  const fresh = await pristine();
  await rejectsWith(restore(fresh, forged, 8), 'E_RECOVERY_BACKUP_INVALID');
  assert.equal(fresh.phase, 'AWAITING_MANIFEST', 'nothing installed');
  // Another build (another sealing key) cannot restore this build's backup either; this build can.
  await rejectsWith(restore(await pristine(KBS, new Uint8Array(randomBytes(32))), genuine, 9), 'E_RECOVERY_BACKUP_INVALID');
  assert.equal(((await restore(fresh, genuine, 10)) as R)['identityKey'], bytesToHex(enclave.identityKey()));
});

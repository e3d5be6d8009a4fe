/**
 * Backups of a signer to the organisation's HSM-held recovery key, and the
 * re-creation of a lost signer from one (issue 7 item 5; DESIGN.md flow 5:
 * recovery is a break-glass action).
 *
 *   backup.export            this signer's state — identity, manifest, peers,
 *                            rulebook, wallets with their keys and shares,
 *                            audit head — compressed (raw DEFLATE; 1.5 MiB
 *                            at most) and encrypted to the recovery key the
 *                            key broker's signed release answer named. The
 *                            host stores the ciphertext, the audit log its
 *                            digest. Re-exported whenever shares change.
 *   backup.restore.prepare   a pristine signer (a new machine: no manifest,
 *                            no wallets, no audit entry) makes an ephemeral
 *                            key and attests it with the broker's nonce.
 *   backup.restore.complete  the broker's answer — the backup re-encrypted to
 *                            that key, released only under an executed
 *                            `recover-signer` request naming this signer and
 *                            this backup — is checked under the broker key
 *                            this signer was launched with, opened, and
 *                            becomes this signer's state.
 *
 * The restored signer is the lost one: same identity (peers and auditors
 * know it), same shares. Left out of a backup, because a restored copy would
 * be older than the truth: unused FROST nonces (reusing one after the lost
 * signer used it would leak the share — they are never restored), consumed
 * approval nonces, signed-request records, first-sight times. The audit head
 * is moved forward to the newest entry the host holds in this identity's
 * chain, which the restored identity checks it signed itself.
 *
 * A pristine signer cannot write audit entries (its chain position belongs
 * to the lost signer), so refusals before a restore are answered, not
 * logged; the restore itself is the restored chain's next entry.
 *
 * Only ciphertext leaves: the host sees the backup encrypted to the HSM key
 * and the answer encrypted to a key that lives in this enclave's memory.
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { sha256 } from '@noble/hashes/sha2.js';
import { hmac } from '@noble/hashes/hmac.js';
import { CustodianError, isCustodianError } from '@custodian/core/errors';
import { bytesToHex, equalBytes, utf8 } from '@custodian/core/bytes';
import { canonicalJsonBytes, parseJson, type Json } from '@custodian/core/canonical-json';
import { Fields } from '@custodian/core/fields';
import { generateHpkeKeyPair } from '@custodian/core/hpke-seal';
import type { RpcPeer } from '@custodian/protocol/frame-rpc';
import { identityReportData } from '@custodian/protocol/identity-binding';
import { KEY_RELEASE_NONCE_BYTES } from '@custodian/protocol/key-release';
import {
  decodeRecoveryAnswer,
  encodeRecoveryBackup,
  encryptToRecoveryKey,
  openRecoveryAnswer,
  RECOVERY_BACKUP_BYTES_MAX,
  recoveryBackupAad,
  recoveryBackupDigest,
} from '@custodian/protocol/recovery-backup';
import { AUDIT_ENTRY_KIND, decodeAuditEntry, decodeEnclaveSigned, statementHash, verifyStatement } from '@custodian/protocol/enclave-signed';
import { decodeManifest } from '@custodian/protocol/manifest';
import type { EnclaveContext } from './enclave-context.js';
import { EphemeralKeySlot } from './ephemeral-key-slot.js';
import { decodeState, encodeState, type EnclaveState } from './state.js';
import { SEALED_STATE_BYTES_MAX } from './sealed-state.js';

/** Label of the backup MAC key derived from the sealing key. */
export const BACKUP_MAC_LABEL = 'custodian/signer-backup/mac/v1';
/** Type tag of a backup's plaintext. */
export const SIGNER_BACKUP_TYPE = 'custodian.signer-backup.v1';
/** How long a prepared restore waits for the broker's answer. */
export const RESTORE_PREPARE_TTL_MS = 5 * 60 * 1000;

/** The in-memory state of the one restore a signer may have in progress. */
export class RestoreSlot {
  /** The ephemeral key waiting for the broker's answer (a restart starts over with a fresh nonce). */
  readonly key = new EphemeralKeySlot(RESTORE_PREPARE_TTL_MS, {
    code: 'E_RESTORE_NOT_PREPARED',
    message: 'no restore was prepared with this nonce on this signer (or it expired); prepare again with a fresh nonce from the key broker',
  });
  /** A restore installed in memory and not yet audited: the signer serves only `hello` and the confirmation. */
  unconfirmed: { readonly breakglassRequest: string; readonly backupSha256: string; readonly measurement: string; readonly wallets: readonly string[] } | null = null;
}

/** The state a backup carries: everything but what a restored copy would hold stale (see the module comment). */
export function backupState(s: EnclaveState): EnclaveState {
  return {
    ...s,
    consumedNonces: new Map(),
    signed: new Map(),
    mpcApproved: new Map(),
    usedPresigs: new Map(),
    frostNonces: new Map(),
    frostConsumed: new Map(),
    requestSeen: new Map(),
    summarySeen: new Map(),
  };
}

/**
 * zlib's output as a view over its own memory (not a copy), so that zeroising
 * the result zeroises the bytes zlib wrote: a backup or migration package in
 * the clear holds identity and wallet keys.
 */
export function ownBytes(b: Buffer): Uint8Array {
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

/** Inflates an opened backup or migration package within the sealed-state bound (a bomb or a corrupt stream is `code`: it cannot expand past what a signer could seal); the caller zeroises the result. */
export function inflateState(compressed: Uint8Array, code: string, what: string): Uint8Array {
  try {
    return ownBytes(inflateRawSync(compressed, { maxOutputLength: SEALED_STATE_BYTES_MAX }));
  } catch {
    throw new CustodianError(code, `${what} does not inflate within ${SEALED_STATE_BYTES_MAX} bytes`);
  }
}

/** True for a signer that has never been set up: no manifest, no wallet, no audit entry. */
export function isPristine(s: EnclaveState): boolean {
  return s.signedManifest === null && s.wallets.size === 0 && s.audit.seq === 0;
}

/** `backup.export {}`: this signer's state, encrypted to the organisation's recovery key. */
export async function exportBackup(ctx: EnclaveContext, body: Json, peer: RpcPeer): Promise<Json> {
  try {
    new Fields(body, 'backup.export').done();
    const m = ctx.manifest();
    const recoveryKey = ctx.keyBroker()?.recoveryKey ?? null;
    if (!recoveryKey) throw new CustodianError('E_BACKUP_UNAVAILABLE', 'this signer has no recovery key: it was not launched with a key broker whose signed release answer named one');
    const s = ctx.state();
    const walletIds = [...s.wallets.keys()].sort();
    const state = encodeState(backupState(s));
    const contents: { [k: string]: Json } = { type: SIGNER_BACKUP_TYPE, signerId: ctx.signerId, orgId: m.orgId, createdAtMs: ctx.nowMs(), stateVersion: s.version.toString(), state: parseJson(state, SEALED_STATE_BYTES_MAX) };
    state.fill(0);
    const json = canonicalJsonBytes({ ...contents, mac: backupMac(ctx, contents) });
    // Compressed before it is encrypted: shares are hex in the state, and the backup's bound is a frame's.
    const plaintext = ownBytes(deflateRawSync(json));
    json.fill(0);
    try {
      if (plaintext.length > RECOVERY_BACKUP_BYTES_MAX) throw new CustodianError('E_BACKUP_TOO_LARGE', `the backup of this signer is ${plaintext.length} bytes, over ${RECOVERY_BACKUP_BYTES_MAX}`);
      const backup = encryptToRecoveryKey(recoveryKey, plaintext, recoveryBackupAad(ctx.signerId));
      const digest = recoveryBackupDigest(backup);
      await ctx.audit(peer, 'backup.exported', null, { backupSha256: digest, wallets: walletIds, stateVersion: s.version.toString(), recoveryKeyHash: bytesToHex(sha256(recoveryKey)) });
      await ctx.persist();
      return { signerId: ctx.signerId, backupSha256: digest, wallets: walletIds, backup: encodeRecoveryBackup(backup) };
    } finally {
      plaintext.fill(0);
    }
  } catch (e) {
    if (isCustodianError(e) && ctx.wasAudited(e)) throw e;
    return ctx.refuse(peer, 'backup.refused', null, e, { step: 'export' });
  }
}

/** `backup.restore.prepare { nonce }`: an ephemeral key for the broker's answer, attested with its nonce; only on a pristine signer. */
export async function prepareRestore(ctx: EnclaveContext, slot: RestoreSlot, body: Json): Promise<Json> {
  const f = new Fields(body, 'backup.restore.prepare');
  const nonce = f.hex('nonce', KEY_RELEASE_NONCE_BYTES);
  f.done();
  if (!ctx.keyBroker()) throw new CustodianError('E_BACKUP_UNAVAILABLE', 'this signer was not launched with a key broker; it cannot check a recovery answer');
  if (!isPristine(ctx.state())) throw new CustodianError('E_RESTORE_NOT_PRISTINE', 'a backup is restored only into a pristine signer (no manifest, no wallet, no audit entry)');
  const keys = await generateHpkeKeyPair();
  slot.key.set({ nonce, keys, atMs: ctx.nowMs() });
  const evidence = await ctx.attest(identityReportData(keys.publicKey, nonce));
  return { signerId: ctx.signerId, publicKey: bytesToHex(keys.publicKey), evidence: bytesToHex(evidence) };
}

/**
 * `backup.restore.complete { nonce, requestId, backupSha256, answer, auditHead }`:
 * checks the broker's answer for the prepared key, opens it, checks the
 * backup is this signer's, moves the audit head forward to `auditHead` (the
 * newest entry the host holds for this signer, which must be signed by the
 * restored identity) and makes it this signer's state — in memory only, and
 * serving nothing but `hello` and `backup.restore.confirm` until the restore
 * is audited (the host must first learn the restored identity from fresh
 * evidence to accept its entries). A restart before then leaves the
 * pristine state.
 */
export async function completeRestore(ctx: EnclaveContext, slot: RestoreSlot, body: Json): Promise<Json> {
  const f = new Fields(body, 'backup.restore.complete');
  const nonce = f.hex('nonce', KEY_RELEASE_NONCE_BYTES);
  const requestId = f.str('requestId', 64);
  // The digest the broker's signed answer names (the answer is the backup's plaintext; the ciphertext is not needed here).
  const backupSha256 = f.str('backupSha256', 64, /^[0-9a-f]{64}$/);
  const answer = decodeRecoveryAnswer(f.raw('answer'));
  // Required: the lost signer wrote at least its backup.exported entry after the state it backed up.
  const head = f.raw('auditHead');
  f.done();
  const broker = ctx.keyBroker();
  if (!broker) throw new CustodianError('E_BACKUP_UNAVAILABLE', 'this signer was not launched with a key broker; it cannot check a recovery answer');
  if (!isPristine(ctx.state())) throw new CustodianError('E_RESTORE_NOT_PRISTINE', 'a backup is restored only into a pristine signer (no manifest, no wallet, no audit entry)');
  const pending = slot.key.take(nonce, ctx.nowMs());
  const opened = await openRecoveryAnswer(answer, pending.keys.privateKey, { kbsPublicKey: broker.publicKey, nonce, publicKey: pending.keys.publicKey, requestId, signerId: ctx.signerId, backupSha256 });
  slot.key.clear();
  let restored: EnclaveState;
  try {
    restored = decodeBackupPlaintext(ctx, opened.expose(), ctx.state().version);
  } finally {
    opened.zeroise();
  }
  restored.audit = auditHeadAfter(restored, ctx.signerId, head);
  ctx.replaceState(restored);
  const wallets = [...restored.wallets.keys()].sort();
  slot.unconfirmed = { breakglassRequest: requestId, backupSha256, measurement: answer.measurement, wallets };
  return { signerId: ctx.signerId, backupSha256, wallets, identityKey: bytesToHex(ctx.identityKey()) };
}

/** `backup.restore.confirm {}`: audits the restore (in the restored chain) and seals the restored state; the signer then serves again. */
export async function confirmRestore(ctx: EnclaveContext, slot: RestoreSlot, body: Json, peer: RpcPeer): Promise<Json> {
  new Fields(body, 'backup.restore.confirm').done();
  const done = slot.unconfirmed;
  if (!done) throw new CustodianError('E_RESTORE_NOT_PREPARED', 'no restore is waiting for confirmation on this signer');
  await ctx.audit(peer, 'backup.restored', null, { ...done, wallets: [...done.wallets] });
  await ctx.persist();
  slot.unconfirmed = null;
  return { signerId: ctx.signerId, backupSha256: done.backupSha256, wallets: [...done.wallets] };
}

/**
 * The backup's MAC: HMAC-SHA256 of its canonical body under a key derived
 * from the sealing key, which every enclave of this build and signer id —
 * and only those — derives alike. Anyone holding the recovery *public* key
 * can encrypt a plaintext of their choosing; only this signer's enclave can
 * make one that a restore accepts (a host cannot have approvers sign off a
 * digest of a state it made up).
 */
function backupMac(ctx: EnclaveContext, body: Json): string {
  const key = ctx.sealingDerivedKey(BACKUP_MAC_LABEL);
  try {
    return bytesToHex(hmac(sha256, key, canonicalJsonBytes(body)));
  } finally {
    key.fill(0);
  }
}

/** Decodes an opened backup into a state (at the pristine signer's version); it must be this signer's, made by this build. */
function decodeBackupPlaintext(ctx: EnclaveContext, compressed: Uint8Array, version: bigint): EnclaveState {
  const bytes = inflateState(compressed, 'E_RECOVERY_BACKUP_INVALID', 'the backup');
  try {
    return decodeBackupJson(ctx, bytes, version);
  } finally {
    bytes.fill(0);
  }
}

function decodeBackupJson(ctx: EnclaveContext, bytes: Uint8Array, version: bigint): EnclaveState {
  const signerId = ctx.signerId;
  const { mac, ...body } = parseJson(bytes, SEALED_STATE_BYTES_MAX) as { [k: string]: Json };
  if (typeof mac !== 'string' || !equalBytes(utf8(mac), utf8(backupMac(ctx, body)))) {
    throw new CustodianError('E_RECOVERY_BACKUP_INVALID', `the backup was not made by an enclave of this build for signer ${signerId} (its MAC does not verify under this signer's sealing key)`);
  }
  const f = new Fields(body, 'backup');
  if (f.str('type', 64) !== SIGNER_BACKUP_TYPE) throw new CustodianError('E_RECOVERY_BACKUP_INVALID', `the backup is not a ${SIGNER_BACKUP_TYPE}`);
  const owner = f.str('signerId', 64);
  const orgId = f.str('orgId', 64);
  f.int('createdAtMs');
  f.str('stateVersion', 40, /^[0-9]+$/);
  const state = decodeState(canonicalJsonBytes(f.raw('state')), version);
  f.done();
  if (owner !== signerId) throw new CustodianError('E_RECOVERY_BACKUP_INVALID', `the backup belongs to signer ${owner}, not ${signerId}`);
  const m = state.signedManifest ? decodeManifest(state.signedManifest.payload) : null;
  if (!m || m.orgId !== orgId) throw new CustodianError('E_RECOVERY_BACKUP_INVALID', 'the backup holds no manifest of the organisation it names');
  return state;
}

/**
 * The audit head the restored chain continues from: the position after
 * `head`, if the restored identity signed it at or after the backup's own
 * head (an entry's `seq` is its position; the state's `seq` the next one).
 */
function auditHeadAfter(restored: EnclaveState, signerId: string, json: Json): { seq: number; headHash: string } {
  const signed = decodeEnclaveSigned(json, 'auditHead');
  const identityKey = ed25519.getPublicKey(restored.identitySecret.expose());
  if (!verifyStatement(AUDIT_ENTRY_KIND, signed, identityKey)) throw new CustodianError('E_AUDIT_HEAD_INVALID', 'the audit head handed to the restore is not signed by the restored identity');
  const e = decodeAuditEntry(signed.statement);
  const hash = statementHash(signed.statement);
  const next = e.seq + 1;
  if (e.signerId !== signerId) throw new CustodianError('E_AUDIT_HEAD_INVALID', `the audit head names signer ${e.signerId}`);
  // The backup's own export entry sits at the backup's next position: the host's newest entry is at least that one.
  if (next <= restored.audit.seq || (e.seq === restored.audit.seq && e.prevHash !== restored.audit.headHash)) {
    throw new CustodianError('E_AUDIT_HEAD_INVALID', `the audit head #${e.seq} is not after the backup's last entry #${restored.audit.seq - 1}, or forks from it`);
  }
  return { seq: next, headHash: hash };
}

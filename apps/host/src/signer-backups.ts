/**
 * The host's part in signer backups and recovery (issue 7 item 5). The host
 * holds only ciphertext and relays:
 *
 *   export   after a wallet is created or refreshed, each of its signers
 *            exports a backup encrypted to the HSM-held recovery key; the
 *            host checks the digest it is told and keeps the backup.
 *   restore  a pristine signer (a new machine for a lost one) is restored in
 *            three relayed steps, driven by an operator's CLI that talks to
 *            the key broker: `prepare` (the signer attests an ephemeral key
 *            with the broker's nonce), `complete` (the broker's answer, with
 *            the stored backup and the newest audit entry of the signer's
 *            chain), then the host re-attests the signer — it is the lost
 *            signer again, same identity — and has it audit the restore
 *            (`backup.restore.confirm`) before it serves anything else.
 */
import { CustodianError, isCustodianError } from '@custodian/core/errors';
import { parseJson, type Json } from '@custodian/core/canonical-json';
import { Fields } from '@custodian/core/fields';
import type { Clock } from '@custodian/core/clock';
import type { Manifest } from '@custodian/protocol/manifest';
import { decodeRecoveryBackup, recoveryBackupDigest } from '@custodian/protocol/recovery-backup';
import type { SignerLink } from './signer-link.js';
import type { HostStore } from './store.js';
import type { TransparencyLog } from './transparency-log.js';

/** What the backups need of the custody service. */
export interface SignerBackupsDeps {
  readonly store: HostStore;
  readonly link: (signerId: string) => SignerLink;
  readonly manifest: () => Manifest;
  readonly clock: Clock;
  readonly log: (line: string) => void;
  readonly auditLog: TransparencyLog | null;
}

const HEX64 = /^[0-9a-f]{64}$/;

/** Backups and restores of signers, relayed. */
export class SignerBackups {
  constructor(private readonly deps: SignerBackupsDeps) {}

  /** Has one signer export a backup and keeps it; answers `{ signerId, backupSha256, wallets }`. */
  async export(signerId: string): Promise<Json> {
    const answer = await this.deps.link(signerId).call('backup.export', {});
    const f = new Fields(answer, 'backup.export');
    const said = f.str('signerId', 64);
    const backupSha256 = f.str('backupSha256', 64, HEX64);
    const wallets = f.arr('wallets', 100_000).map((w) => String(w));
    const backupJson = f.raw('backup');
    f.done();
    const digest = recoveryBackupDigest(decodeRecoveryBackup(backupJson));
    if (said !== signerId || digest !== backupSha256) throw new CustodianError('E_SIGNER_RESPONSE', `${signerId} answered a backup that is not the one it names`);
    await this.deps.store.putBackup({ signerId, backupSha256, backup: JSON.stringify(backupJson), wallets: JSON.stringify(wallets), createdAtMs: this.deps.clock.nowMs() });
    return { signerId, backupSha256, wallets };
  }

  /**
   * Backs up each of `signerIds` after their shares changed. A signer without
   * a recovery key (no key broker) is skipped; any other failure is logged:
   * the wallet operation already happened, and the previous backup stays.
   */
  async afterSharesChanged(signerIds: readonly string[]): Promise<void> {
    for (const id of signerIds) {
      try {
        const b = await this.export(id);
        this.deps.log(`signer ${id}: backup ${String((b as { backupSha256: string }).backupSha256).slice(0, 16)}… kept (encrypted to the recovery key)`);
      } catch (e) {
        if (isCustodianError(e, 'E_BACKUP_UNAVAILABLE')) continue;
        this.deps.log(`signer ${id}: backup NOT taken: ${(e as Error).message}`);
      }
    }
  }

  /** A signer's newest backup (or the one named), as kept. */
  async get(signerId: string, backupSha256?: string): Promise<Json> {
    const row = await this.deps.store.getBackup(signerId, backupSha256);
    if (!row) throw new CustodianError('E_NOT_FOUND', `no backup${backupSha256 ? ` ${backupSha256.slice(0, 16)}…` : ''} of signer ${signerId} is kept`);
    return { signerId, backupSha256: row.backupSha256, wallets: parseJson(row.wallets), backup: parseJson(row.backup), createdAtMs: row.createdAtMs };
  }

  /** Restore step 1: the pristine signer attests an ephemeral key with the broker's nonce; answers its key and evidence and the backup to send the broker. */
  async prepare(signerId: string, body: Json): Promise<Json> {
    const f = new Fields(body, 'restore.prepare');
    const nonce = f.str('nonce', 64, HEX64);
    const backupSha256 = f.optStr('backupSha256', 64, HEX64);
    f.done();
    const kept = await this.get(signerId, backupSha256);
    const answer = await this.deps.link(signerId).call('backup.restore.prepare', { nonce });
    return { ...(answer as Record<string, Json>), backupSha256: (kept as { backupSha256: string }).backupSha256, backup: (kept as { backup: Json }).backup };
  }

  /** Restore steps 2 and 3: the broker's answer to the signer, re-attestation, the audited confirmation, the checkpoint from the peers. */
  async complete(signerId: string, body: Json): Promise<Json> {
    const f = new Fields(body, 'restore.complete');
    const nonce = f.str('nonce', 64, HEX64);
    const requestId = f.str('requestId', 64);
    const backupSha256 = f.str('backupSha256', 64, HEX64);
    const answer = f.raw('answer');
    f.done();
    const row = await this.deps.store.getBackup(signerId, backupSha256);
    if (!row) throw new CustodianError('E_NOT_FOUND', `no backup ${backupSha256.slice(0, 16)}… of signer ${signerId} is kept`);
    const head = await this.deps.store.lastAudit(signerId);
    if (!head) throw new CustodianError('E_AUDIT_HEAD_INVALID', `the host holds no audit entry of ${signerId}: a restore continues the lost signer's own chain, which its backup's export entry starts at the least`);
    const link = this.deps.link(signerId);
    const done = new Fields(
      await link.call('backup.restore.complete', { nonce, requestId, backupSha256, answer, auditHead: parseJson(head.entry) }),
      'backup.restore.complete',
    );
    const identityKey = done.str('identityKey', 64, HEX64);
    // The restored signer has the lost signer's identity: the host learns it from fresh evidence before accepting its entries.
    const rec = await link.attest(this.deps.manifest(), this.deps.clock.nowMs());
    if (rec.identityKey !== identityKey) throw new CustodianError('E_SIGNER_RESPONSE', `${signerId} attested identity ${rec.identityKey.slice(0, 16)}…, not the restored ${identityKey.slice(0, 16)}…`);
    const confirmed = await link.call('backup.restore.confirm', {});
    await this.deps.auditLog?.syncSigners(this.deps.log);
    this.deps.log(`signer ${signerId} restored from backup ${backupSha256.slice(0, 16)}… under break-glass request ${requestId}`);
    return { ...(confirmed as Record<string, Json>), identityKey, measurement: rec.measurement };
  }
}

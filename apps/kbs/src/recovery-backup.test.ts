/**
 * The HSM half of signer backups: a backup opens through the recovery key
 * only under an executed recover-signer request naming that signer and that
 * backup, and only as that signer's (fixed associated data).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '@custodian/core/clock';
import { isCustodianError } from '@custodian/core/errors';
import { utf8 } from '@custodian/core/bytes';
import type { Json } from '@custodian/core/canonical-json';
import { openSoftwareRoot } from './hsm/software-root.js';
import { MemoryAuditSink } from './audit-sink.js';
import { makeQuorum } from './test-fixtures.js';
import { signStatement } from './quorum.js';
import { BreakglassBook } from './breakglass/breakglass-book.js';
import { BREAKGLASS_DOMAIN, approvalStatement, payloadHashOf, requestStatement, validateBreakglassConfig, type BreakglassRequest } from './breakglass/breakglass.js';
import { encryptToRecoveryKey, openRecoveryBackup, recoverSignerPayload, recoveryBackupAad } from './recovery-backup.js';

const HOUR = 3_600_000;

test('a signer backup opens through the recovery key only after an executed recover-signer break-glass', async () => {
  const root = await openSoftwareRoot({ warn: () => undefined });
  const backup = encryptToRecoveryKey(await root.publicKey('recovery'), utf8('share bytes'), recoveryBackupAad('signer-2'));
  // Made by signer-3's code path but handed in as signer-2's: the associated data differs.
  const misfiled = encryptToRecoveryKey(await root.publicKey('recovery'), utf8('share bytes'), recoveryBackupAad('signer-3'));

  const { quorum, secrets } = makeQuorum(2, 3);
  const clock = new ManualClock(1_800_000_000_000);
  const book = new BreakglassBook(validateBreakglassConfig({ approvers: quorum, dailyThreshold: 1, guardians: quorum.members, timelockMs: HOUR }), new MemoryAuditSink(), clock, () => clock.nowMs());
  const requestFor = async (id: string, payload: Json) => {
    const r: BreakglassRequest = { id, action: 'recover-signer', payloadHash: payloadHashOf(payload), requestedBy: 'member-0', requestedAtMs: clock.nowMs() };
    const pending = await book.submit({ type: 'request', atMs: clock.nowMs(), request: r, signature: signStatement(BREAKGLASS_DOMAIN, requestStatement(r), 'member-0', secrets.get('member-0')!) });
    await book.submit({ type: 'approve', atMs: clock.nowMs(), requestId: r.id, payloadHash: r.payloadHash, approval: signStatement(BREAKGLASS_DOMAIN, approvalStatement(r.id, r.action, r.payloadHash), 'member-1', secrets.get('member-1')!) });
    return { pending, execute: () => book.submit({ type: 'execute', atMs: clock.nowMs(), requestId: r.id, payload }) };
  };
  const a = await requestFor('rec-1', recoverSignerPayload('signer-2', backup));
  const b = await requestFor('rec-2', recoverSignerPayload('signer-2', misfiled));
  await assert.rejects(openRecoveryBackup(root, 'signer-2', backup, a.pending), (e) => isCustodianError(e, 'E_BREAKGLASS_REQUIRED'));
  clock.advance(HOUR);
  const executed = await a.execute();
  const executedMisfiled = await b.execute();

  assert.deepEqual((await openRecoveryBackup(root, 'signer-2', backup, executed)).expose(), utf8('share bytes'));
  await assert.rejects(openRecoveryBackup(root, 'signer-3', backup, executed), (e) => isCustodianError(e, 'E_BREAKGLASS_PAYLOAD_CHANGED'));
  await assert.rejects(openRecoveryBackup(root, 'signer-2', misfiled, executed), (e) => isCustodianError(e, 'E_BREAKGLASS_PAYLOAD_CHANGED'));
  await assert.rejects(openRecoveryBackup(root, 'signer-2', misfiled, executedMisfiled), (e) => isCustodianError(e, 'E_RECOVERY_BACKUP_INVALID'));
  await root.close();
});

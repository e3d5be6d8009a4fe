import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '@custodian/core/clock';
import { isCustodianError } from '@custodian/core/errors';
import { utf8 } from '@custodian/core/bytes';
import { openSoftwareRoot } from './hsm/software-root.js';
import { MemoryAuditSink } from './audit-sink.js';
import { makeQuorum } from './test-fixtures.js';
import { signStatement } from './quorum.js';
import { BreakglassBook } from './breakglass/breakglass-book.js';
import { BREAKGLASS_DOMAIN, approvalStatement, payloadHashOf, requestStatement, validateBreakglassConfig, type BreakglassRequest } from './breakglass/breakglass.js';
import { encryptToRecoveryKey, openRecoveryBackup, recoverSignerPayload } from './recovery-backup.js';

const HOUR = 3_600_000;

test('a signer backup opens through the recovery key only after an executed recover-signer break-glass', async () => {
  const root = await openSoftwareRoot({ warn: () => undefined });
  const aad = utf8('signer-2/shares/v1');
  const backup = encryptToRecoveryKey(await root.publicKey('recovery'), utf8('share bytes'), aad);

  const { quorum, secrets } = makeQuorum(2, 3);
  const clock = new ManualClock(1_800_000_000_000);
  const book = new BreakglassBook(validateBreakglassConfig({ approvers: quorum, dailyThreshold: 1, guardians: quorum.members, timelockMs: HOUR }), new MemoryAuditSink(), clock);
  const r: BreakglassRequest = { id: 'rec-1', action: 'recover-signer', payloadHash: payloadHashOf(recoverSignerPayload('signer-2', backup)), requestedBy: 'member-0', requestedAtMs: clock.nowMs() };
  let state = await book.submit({ type: 'request', atMs: clock.nowMs(), request: r, signature: signStatement(BREAKGLASS_DOMAIN, requestStatement(r), 'member-0', secrets.get('member-0')!) });
  await assert.rejects(openRecoveryBackup(root, 'signer-2', backup, aad, state), (e) => isCustodianError(e, 'E_BREAKGLASS_REQUIRED'));
  await book.submit({ type: 'approve', atMs: clock.nowMs(), requestId: r.id, payloadHash: r.payloadHash, approval: signStatement(BREAKGLASS_DOMAIN, approvalStatement(r.id, r.action, r.payloadHash), 'member-1', secrets.get('member-1')!) });
  clock.advance(HOUR);
  state = await book.submit({ type: 'execute', atMs: clock.nowMs(), requestId: r.id, payload: recoverSignerPayload('signer-2', backup) });

  assert.deepEqual((await openRecoveryBackup(root, 'signer-2', backup, aad, state)).expose(), utf8('share bytes'));
  await assert.rejects(openRecoveryBackup(root, 'signer-3', backup, aad, state), (e) => isCustodianError(e, 'E_BREAKGLASS_PAYLOAD_CHANGED'));
  await assert.rejects(openRecoveryBackup(root, 'signer-2', backup, utf8('other'), state), (e) => isCustodianError(e, 'E_RECOVERY_BACKUP_INVALID'));
});

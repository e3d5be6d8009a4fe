/**
 * Re-creating a lost signer (issue 7 item 5; DESIGN.md flow 5): the broker
 * re-encrypts a signer's backup from the HSM-held recovery key to a fresh
 * attested enclave, only under an executed break-glass request. The steps,
 * in order; any failing step refuses, audited as `backup.recovery_refused`:
 *
 *   decode `{ nonce, evidence, publicKey, requestId, signerId, backup }` →
 *   admit the attested key exactly as a release does (nonce single-use,
 *   evidence binds key and nonce, debug off, measurement approved) → reserve
 *   the request: executed, `recover-signer`, not vetoed or cancelled, unused →
 *   its payload names this signer and `recoveryBackupDigest(backup)` → open
 *   the backup in the HSM (AAD `recoveryBackupAad(signerId)`) → HPKE-seal it
 *   to the enclave key (info `recoveryAnswerInfo(measurement)`, aad = nonce)
 *   → sign `recoveryAnswerStatement` → mark the request used (persisted) →
 *   audit `backup.recovered` (durable) → answer.
 *
 * The request is marked used before the audit entry is written: if the audit
 * log then fails, nothing is answered and the request stays used (a new
 * break-glass request is needed) — fail closed, never a second use.
 */
import { createHash } from 'node:crypto';
import { CustodianError, isCustodianError } from '@custodian/core/errors';
import { bytesToHex } from '@custodian/core/bytes';
import type { Clock } from '@custodian/core/clock';
import type { Json } from '@custodian/core/canonical-json';
import { hpkeSeal } from '@custodian/core/hpke-seal';
import { decodeRecoverSignerPayload } from '@custodian/protocol/breakglass-execution';
import type { KeyReleaseRequest } from '@custodian/protocol/key-release';
import { decodeRecoveryRequest, RECOVERY_BACKUP_BYTES_MAX, recoveryAnswerInfo, recoveryAnswerStatement, recoveryBackupDigest, type RecoveryAnswer, type RecoveryRequest } from '@custodian/protocol/recovery-backup';
import type { RootOfTrust } from './hsm/root-of-trust.js';
import type { KbsAuditKind } from './audit-sink.js';
import type { BreakglassBook } from './breakglass/breakglass-book.js';
import type { BreakglassState } from './breakglass/breakglass.js';
import { openRecoveryBackup } from './recovery-backup.js';

/** What a recovery uses of the broker (KeyBroker.recover wires it). */
export interface SignerRecoveryDeps {
  readonly root: RootOfTrust;
  /** The release's attested admission (nonce, appraisal, approved measurement). */
  readonly admit: (req: KeyReleaseRequest) => Promise<{ readonly measurement: string; readonly platform: string }>;
  /** A required audit append: E_AUDIT_UNAVAILABLE when it cannot be written. */
  readonly audit: (kind: KbsAuditKind, body: { readonly [k: string]: Json }, refusal?: CustodianError) => Promise<void>;
  /** Best-effort `hsm.error` entry. */
  readonly hsmError: (body: { readonly [k: string]: Json }) => Promise<void>;
  /** The break-glass book; without one every recovery is refused. */
  readonly book?: BreakglassBook;
  /** Trusted time (BoundedClock) stamped on the request's use. */
  readonly trustedClock?: Clock;
}

/** Runs one recovery from the request body; the answer, or a typed refusal that was audited. */
export async function recoverSigner(deps: SignerRecoveryDeps, body: () => Promise<Json>): Promise<RecoveryAnswer> {
  let ctx: { [k: string]: Json } = {};
  let measurement = '';
  let reserved: string | null = null;
  try {
    const req = decodeRecoveryRequest(await body());
    ctx = contextOf(req);
    if (!deps.book || !deps.trustedClock) throw new CustodianError('E_BREAKGLASS_NOT_CONFIGURED', 'this key broker has no break-glass configuration; recovery is a break-glass action', {});
    const admitted = await deps.admit(req);
    measurement = admitted.measurement;
    const state = deps.book.reserve(req.requestId, 'recover-signer');
    reserved = req.requestId;
    checkNamesBackup(state, req);
    const answer = await sealBackup(deps.root, req, state, measurement);
    deps.book.markUsed(req.requestId, deps.trustedClock.nowMs());
    reserved = null;
    await deps.audit('backup.recovered', { ...ctx, measurement });
    return answer;
  } catch (e) {
    if (reserved !== null) deps.book?.unreserve(reserved);
    if (isCustodianError(e, 'E_AUDIT_UNAVAILABLE')) throw e;
    const err = isCustodianError(e) ? e : new CustodianError('E_INTERNAL', 'the recovery failed unexpectedly', {});
    if (err.code.startsWith('E_HSM_')) await deps.hsmError({ operation: 'recover', code: err.code, message: err.message });
    const m = measurement || (typeof err.detail['measurement'] === 'string' ? err.detail['measurement'] : '');
    await deps.audit('backup.recovery_refused', { ...ctx, measurement: m, code: err.code, message: err.message, reasons: refusalReasons(err) }, err);
    throw err;
  }
}

/** The request's payload must name this signer and exactly this backup. */
function checkNamesBackup(state: BreakglassState, req: RecoveryRequest): void {
  if (state.payload === null) throw new CustodianError('E_BREAKGLASS_NOT_EXECUTED', `break-glass request ${req.requestId} has no payload in the book`, {});
  const approved = decodeRecoverSignerPayload(state.payload);
  if (approved.signerId !== req.signerId) {
    throw new CustodianError('E_BREAKGLASS_PAYLOAD_CHANGED', `break-glass request ${req.requestId} recovers signer ${approved.signerId}, not ${req.signerId}`, { approvedSignerId: approved.signerId });
  }
  const digest = recoveryBackupDigest(req.backup);
  if (approved.backupSha256 !== digest) {
    throw new CustodianError('E_BREAKGLASS_PAYLOAD_CHANGED', `break-glass request ${req.requestId} was approved for backup ${approved.backupSha256.slice(0, 16)}…, not ${digest.slice(0, 16)}…`, {
      approvedBackupSha256: approved.backupSha256,
      backupSha256: digest,
    });
  }
}

/** Opens the backup in the HSM, seals it to the enclave key and signs the answer; the plaintext is zeroed either way. */
async function sealBackup(root: RootOfTrust, req: RecoveryRequest, state: BreakglassState, measurement: string): Promise<RecoveryAnswer> {
  const plaintext = await openRecoveryBackup(root, req.signerId, req.backup, state);
  try {
    const sealed = await hpkeSeal(req.publicKey, plaintext.expose(), recoveryAnswerInfo(measurement), req.nonce, RECOVERY_BACKUP_BYTES_MAX);
    const statement = recoveryAnswerStatement({
      measurement,
      nonce: req.nonce,
      publicKey: req.publicKey,
      enc: sealed.enc,
      ciphertext: sealed.ciphertext,
      requestId: req.requestId,
      signerId: req.signerId,
      backupSha256: recoveryBackupDigest(req.backup),
    });
    return { measurement, enc: sealed.enc, ciphertext: sealed.ciphertext, signature: await root.sign(statement) };
  } finally {
    plaintext.zeroise();
  }
}

/** What the audit entries of one recovery name (never the backup's contents). */
function contextOf(req: RecoveryRequest): { [k: string]: Json } {
  return {
    requestId: req.requestId,
    signerId: req.signerId,
    backupSha256: recoveryBackupDigest(req.backup),
    nonce: bytesToHex(req.nonce),
    publicKey: bytesToHex(req.publicKey),
    evidenceSha256: createHash('sha256').update(req.evidence).digest('hex'),
  };
}

/** A refusal's reasons: its detail's `reasons`, or its message. */
export function refusalReasons(e: CustodianError): string[] {
  const r = e.detail['reasons'];
  return Array.isArray(r) ? r.map(String) : [e.message];
}

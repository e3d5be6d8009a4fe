/**
 * The audit log's checkpoints: this signer's note keys, and `checkpoint.sign`,
 * which signs and cosigns a checkpoint only as an append-only extension of
 * the last one it signed.
 */
import { CustodianError } from '@custodian/core/errors';
import type { Json } from '@custodian/core/canonical-json';
import { Fields } from '@custodian/core/fields';
import { bytesToHex, hexToBytes } from '@custodian/core/bytes';
import { AUDIT_LOG_ORIGIN, cosignKeyName, logKeyName } from '@custodian/protocol/audit-log';
import { Ed25519NoteKey, NOTE_KEY_TYPE_COSIGNATURE_V1, NOTE_KEY_TYPE_ED25519 } from '@custodian/audit/ed25519-note-key';
import { decodeCheckpoint } from '@custodian/audit/checkpoint';
import { verifyCheckpointAdvance } from '@custodian/audit/checkpoint-advance';
import { checkNoteText } from '@custodian/audit/note';
import type { EnclaveContext } from './enclave-context.js';

/** This signer's audit-log signing key (note signatures). */
export function auditLogKey(ctx: EnclaveContext): Ed25519NoteKey {
  return new Ed25519NoteKey(logKeyName(ctx.signerId), ctx.state().logSeed, NOTE_KEY_TYPE_ED25519);
}

/** This signer's audit-log witness key (timestamped cosignatures). */
export function auditCosignKey(ctx: EnclaveContext): Ed25519NoteKey {
  return new Ed25519NoteKey(cosignKeyName(ctx.signerId), ctx.state().cosignSeed, NOTE_KEY_TYPE_COSIGNATURE_V1, () => Math.floor(ctx.nowMs() / 1000));
}

/**
 * Signs and cosigns an audit-log checkpoint only if it extends, append-only,
 * the last one this signer signed (kept sealed, persisted before the
 * signatures leave): no rollback, no fork, no split view (F13, issue 6).
 * The caller has checked the phase.
 */
export async function signCheckpoint(ctx: EnclaveContext, body: Json): Promise<Json> {
  const f = new Fields(body, 'checkpoint.sign');
  const text = f.str('text', 4096);
  const oldSize = f.int('oldSize');
  const proof = f.arr('proof', 64).map((h, i) => {
    if (typeof h !== 'string' || !/^[0-9a-f]{64}$/.test(h)) throw new CustodianError('E_FIELD_INVALID', `checkpoint.sign.proof[${i}] must be a 32-byte hex hash`);
    return hexToBytes(h);
  });
  f.done();
  checkNoteText(text);
  const next = decodeCheckpoint(text);
  if (next.origin !== AUDIT_LOG_ORIGIN) throw new CustodianError('E_CHECKPOINT_ORIGIN', `checkpoint is for "${next.origin.slice(0, 80)}", not ${AUDIT_LOG_ORIGIN}`);
  const s = ctx.state();
  const last = s.lastCheckpoint === null ? null : decodeCheckpoint(s.lastCheckpoint);
  if ((last?.size ?? 0) !== oldSize) throw new CustodianError('E_CHECKPOINT_PROOF_BASE', `this signer last signed size ${last?.size ?? 0}; prove consistency from there`, { size: last?.size ?? 0 });
  verifyCheckpointAdvance(last, next, proof);
  s.lastCheckpoint = text;
  await ctx.persist();
  const bytes = new TextEncoder().encode(text);
  const logKey = auditLogKey(ctx);
  const cosignKey = auditCosignKey(ctx);
  return {
    log: { name: logKey.name, keyId: logKey.keyId, signature: bytesToHex(await logKey.sign(bytes)) },
    cosign: { name: cosignKey.name, keyId: cosignKey.keyId, signature: bytesToHex(await cosignKey.sign(bytes)) },
  };
}

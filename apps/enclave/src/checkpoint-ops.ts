/**
 * The audit log's checkpoints: this signer's note keys, and `checkpoint.sign`,
 * which signs and cosigns a checkpoint only as an append-only extension of
 * the last one it signed.
 */
import { CustodianError, isCustodianError } from '@custodian/core/errors';
import type { Json } from '@custodian/core/canonical-json';
import { Fields } from '@custodian/core/fields';
import { bytesToHex, hexToBytes } from '@custodian/core/bytes';
import { AUDIT_LOG_ORIGIN, cosignKeyName, logKeyName, NOTE_KEYS_KIND } from '@custodian/protocol/audit-log';
import { decodeEnclaveSigned, verifyStatement } from '@custodian/protocol/enclave-signed';
import type { RpcPeer } from '@custodian/protocol/frame-rpc';
import { Ed25519NoteKey, noteVerifierFromKey, NOTE_KEY_TYPE_COSIGNATURE_V1, NOTE_KEY_TYPE_ED25519 } from '@custodian/audit/ed25519-note-key';
import { decodeCheckpoint } from '@custodian/audit/checkpoint';
import { verifyCheckpointAdvance } from '@custodian/audit/checkpoint-advance';
import { checkNoteText, openNote, type NoteVerifier } from '@custodian/audit/note';
import type { EnclaveContext } from './enclave-context.js';

/** This signer's audit-log signing key (note signatures). */
export function auditLogKey(ctx: EnclaveContext): Ed25519NoteKey {
  return new Ed25519NoteKey(logKeyName(ctx.signerId), ctx.state().logSeed, NOTE_KEY_TYPE_ED25519);
}

/** This signer's audit-log witness key (timestamped cosignatures). */
export function auditCosignKey(ctx: EnclaveContext): Ed25519NoteKey {
  return new Ed25519NoteKey(cosignKeyName(ctx.signerId), ctx.state().cosignSeed, NOTE_KEY_TYPE_COSIGNATURE_V1, () => Math.floor(ctx.nowMs() / 1000));
}

/** A body's `proof`: at most 64 consistency-proof hashes, each 32 bytes in lowercase hex. */
function proofHashes(f: Fields): Uint8Array[] {
  return f.arr('proof', 64).map((h, i) => {
    if (typeof h !== 'string' || !/^[0-9a-f]{64}$/.test(h)) throw new CustodianError('E_FIELD_INVALID', `${f.where}.proof[${i}] must be a 32-byte hex hash`);
    return hexToBytes(h);
  });
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
  const proof = proofHashes(f);
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

/**
 * `checkpoint.sync` (issue 6 §4): the latest checkpoint of the log as its
 * peers cosigned it, for a signer that (re)starts behind them — restored
 * from an older backup, or new. The note must carry a valid signature by at
 * least one verified peer (its note keys in a statement signed by its
 * attested identity key); a checkpoint ahead of this signer's last is
 * adopted only with a consistency proof from it, so from then on this signer
 * signs nothing that forks or rolls back what its peers signed; one of the
 * same size with another root is a fork (refused, audited).
 */
export async function syncCheckpoint(ctx: EnclaveContext, body: Json, peer: RpcPeer): Promise<Json> {
  const f = new Fields(body, 'checkpoint.sync');
  const note = f.str('note', 16 * 1024);
  const keyStatements = f.arr('noteKeys', 64);
  const oldSize = f.int('oldSize');
  const proof = proofHashes(f);
  f.done();
  const s = ctx.state();
  const verifiers: NoteVerifier[] = [];
  const signers = new Map<string, string>();
  for (const json of keyStatements) {
    const signed = decodeEnclaveSigned(json, 'noteKeys');
    const g = new Fields(signed.statement, 'noteKeys.statement');
    const signerId = g.str('signerId', 64);
    const log = g.str('log', 256);
    const cosign = g.str('cosign', 256);
    g.done();
    const identityKey = s.peers.get(signerId)?.identityKey;
    if (signerId === ctx.signerId || !identityKey || !verifyStatement(NOTE_KEYS_KIND, signed, identityKey)) {
      throw new CustodianError('E_CHECKPOINT_UNVERIFIED', `the note keys of ${signerId} are not signed by a verified peer's attested identity key`, { peer: signerId });
    }
    for (const vkey of [log, cosign]) {
      const v = noteVerifierFromKey(vkey);
      if (v.name !== logKeyName(signerId) && v.name !== cosignKeyName(signerId)) throw new CustodianError('E_CHECKPOINT_UNVERIFIED', `${signerId} presented note keys named for another signer`, { peer: signerId });
      verifiers.push(v);
      signers.set(v.name, signerId);
    }
  }
  let text: string;
  let by: string[];
  try {
    const opened = openNote(new TextEncoder().encode(note), verifiers);
    text = opened.text;
    by = [...new Set(opened.verified.map((v) => signers.get(v.name)!))];
  } catch (e) {
    return ctx.refuse(peer, 'checkpoint.rejected', null, isCustodianError(e) ? new CustodianError('E_CHECKPOINT_UNVERIFIED', `the checkpoint carries no valid signature of a verified peer: ${e.message}`) : e);
  }
  checkNoteText(text);
  const next = decodeCheckpoint(text);
  if (next.origin !== AUDIT_LOG_ORIGIN) throw new CustodianError('E_CHECKPOINT_ORIGIN', `checkpoint is for "${next.origin.slice(0, 80)}", not ${AUDIT_LOG_ORIGIN}`);
  const last = s.lastCheckpoint === null ? null : decodeCheckpoint(s.lastCheckpoint);
  if (last !== null && next.size <= last.size) {
    if (next.size === last.size && bytesToHex(next.rootHash) !== bytesToHex(last.rootHash)) {
      const fork = new CustodianError('E_CHECKPOINT_FORK', `peers ${by.join(', ')} signed another tree of size ${next.size} than this signer did`, { size: next.size, peers: by });
      return ctx.refuse(peer, 'checkpoint.rejected', null, fork);
    }
    return { adopted: false, size: last.size };
  }
  if ((last?.size ?? 0) !== oldSize) throw new CustodianError('E_CHECKPOINT_PROOF_BASE', `this signer last signed size ${last?.size ?? 0}; prove consistency from there`, { size: last?.size ?? 0 });
  try {
    verifyCheckpointAdvance(last, next, proof);
  } catch (e) {
    return ctx.refuse(peer, 'checkpoint.rejected', null, e, { size: next.size, peers: by });
  }
  s.lastCheckpoint = text;
  await ctx.audit(peer, 'checkpoint.synced', null, { size: next.size, previousSize: last?.size ?? 0, peers: by });
  await ctx.persist();
  return { adopted: true, size: next.size, peers: by };
}

/**
 * Appends enclave-signed audit entries through the host and advances the
 * chain head only once the host acknowledged a durable write. Fail-closed:
 * callers release nothing whose entry did not append (E_AUDIT_UNAVAILABLE).
 *
 * Each statement carries, besides the enclave's event (kind, data), the same
 * event as the typed record auditors read (`entry`, from audit-entry-map.ts),
 * so the identity signature covers it.
 *
 * Crash recovery: if the enclave stopped after the host stored an entry but
 * before the enclave persisted its new chain head, the host answers
 * E_AUDIT_CONFLICT with the stored entry. The enclave adopts it only if it is
 * its own (its identity signature, its sequence number, its previous hash),
 * then appends after it.
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { CustodianError, isCustodianError } from '@custodian/core/errors';
import { parseJson, type Json } from '@custodian/core/canonical-json';
import { AUDIT_ENTRY_KIND, decodeAuditEntry, decodeEnclaveSigned, encodeEnclaveSigned, signStatement, statementHash, verifyStatement } from '@custodian/protocol/enclave-signed';
import type { RpcPeer } from '@custodian/protocol/frame-rpc';
import { decodeManifest, manifestHash } from '@custodian/protocol/manifest';
import type { EnclaveState } from './state.js';
import { mapAuditEvent, type AuditMapContext } from './audit-entry-map.js';

/** Most own entries adopted in one append (entries written before a crash). */
export const AUDIT_ADOPT_MAX = 8;

/** Moves the head past a stored entry if it provably is this enclave's next one. */
function adopt(state: EnclaveState, signerId: string, e: CustodianError): boolean {
  const text = e.detail['entry'];
  if (typeof text !== 'string') return false;
  try {
    const signed = decodeEnclaveSigned(parseJson(text), 'entry');
    const identityKey = ed25519.getPublicKey(state.identitySecret.expose());
    const entry = decodeAuditEntry(signed.statement);
    if (!verifyStatement(AUDIT_ENTRY_KIND, signed, identityKey) || entry.signerId !== signerId || entry.seq !== state.audit.seq || entry.prevHash !== state.audit.headHash) return false;
    state.audit = { seq: entry.seq + 1, headHash: statementHash(signed.statement) };
    return true;
  } catch {
    return false;
  }
}

/** Builds, signs and appends one entry; resolves when the host has it durably. */
export async function appendAudit(
  state: EnclaveState,
  signerId: string,
  peer: RpcPeer,
  nowMs: number,
  kind: string,
  requestId: string | null,
  data: Json,
): Promise<string> {
  const entry = mapAuditEvent(kind, requestId, data, nowMs, mapContext(state)) as unknown as Json;
  for (let attempt = 0; attempt <= AUDIT_ADOPT_MAX; attempt++) {
    const statement: Json = { signerId, seq: state.audit.seq, prevHash: state.audit.headHash, timeMs: nowMs, kind, requestId, data, entry };
    const signed = signStatement(AUDIT_ENTRY_KIND, statement, state.identitySecret.expose());
    const hash = statementHash(statement);
    try {
      const ack = (await peer.call('audit.append', { entry: encodeEnclaveSigned(signed) })) as { hash?: unknown };
      if (ack?.hash !== hash) throw new Error('acknowledgement names another entry');
    } catch (e) {
      if (isCustodianError(e, 'E_AUDIT_CONFLICT') && adopt(state, signerId, e)) continue;
      throw new CustodianError('E_AUDIT_UNAVAILABLE', `audit log did not accept entry ${kind}: ${(e as Error).message}; nothing is released`, { kind });
    }
    state.audit = { seq: state.audit.seq + 1, headHash: hash };
    return hash;
  }
  throw new CustodianError('E_AUDIT_UNAVAILABLE', `audit log holds more than ${AUDIT_ADOPT_MAX} unknown entries at this signer's head; refusing to continue`, { kind });
}

/** What the mapping may read from sealed state: the installed manifest (read lazily) and the wallets held. */
function mapContext(state: EnclaveState): AuditMapContext {
  const sm = state.signedManifest;
  const m = sm ? decodeManifest(sm.payload) : null;
  return {
    platform: m ? m.enclave.platform : null,
    manifest: sm && m ? { hash: manifestHash(sm.payload), previousHash: m.previousHash } : null,
    walletScheme: (walletId) => state.wallets.get(walletId)?.scheme ?? null,
  };
}

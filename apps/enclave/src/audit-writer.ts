/**
 * Appends enclave-signed audit entries through the host and advances the
 * chain head only once the host acknowledged a durable write. Fail-closed:
 * callers release nothing whose entry did not append (E_AUDIT_UNAVAILABLE).
 */
import { CustodianError } from '@custodian/core/errors';
import type { Json } from '@custodian/core/canonical-json';
import { AUDIT_ENTRY_KIND, encodeEnclaveSigned, signStatement, statementHash } from '@custodian/protocol/enclave-signed';
import type { RpcPeer } from '@custodian/protocol/frame-rpc';
import type { EnclaveState } from './state.js';

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
  const statement: Json = { signerId, seq: state.audit.seq, prevHash: state.audit.headHash, timeMs: nowMs, kind, requestId, data };
  const signed = signStatement(AUDIT_ENTRY_KIND, statement, state.identitySecret.expose());
  const hash = statementHash(statement);
  try {
    const ack = (await peer.call('audit.append', { entry: encodeEnclaveSigned(signed) })) as { hash?: unknown };
    if (ack?.hash !== hash) throw new Error('acknowledgement names another entry');
  } catch (e) {
    throw new CustodianError('E_AUDIT_UNAVAILABLE', `audit log did not accept entry ${kind}: ${(e as Error).message}; nothing is released`, { kind });
  }
  state.audit = { seq: state.audit.seq + 1, headHash: hash };
  return hash;
}

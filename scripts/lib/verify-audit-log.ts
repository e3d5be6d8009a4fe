/**
 * Offline check of a deployment's transparency log as an auditor would run
 * it: the checkpoint's log signature and cosignature quorum, every tile and
 * entry bundle, and every leaf's enclave signature under the attested
 * identity keys.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CustodianError } from '@custodian/core/errors';
import { parseJson } from '@custodian/core/canonical-json';
import { FileTileStorage } from '@custodian/audit/tile-storage';
import { verifyTileLog } from '@custodian/audit/tile-log-verifier';
import { decodeCheckpointPolicyDocument, LOG_POLICY_FILE_NAME } from '@custodian/audit/checkpoint-policy';
import { iterateLogEntries } from '@custodian/audit/log-entries';
import { AUDIT_ENTRY_KIND, decodeAuditEntry, decodeEnclaveSigned, verifyStatement } from '@custodian/protocol/enclave-signed';

/** Verifies the log in `dir`; returns its size and how many signers cosigned its checkpoint. */
export async function verifyAuditLog(dir: string, identityKeys: ReadonlyMap<string, Uint8Array>): Promise<{ size: number; cosigners: number }> {
  const { policy } = decodeCheckpointPolicyDocument(new Uint8Array(readFileSync(join(dir, LOG_POLICY_FILE_NAME))));
  const storage = new FileTileStorage(dir);
  const v = await verifyTileLog(storage, { policy, decodeEntries: false });
  for await (const { bytes } of iterateLogEntries(storage, v.size)) {
    const signed = decodeEnclaveSigned(parseJson(bytes), 'leaf');
    const e = decodeAuditEntry(signed.statement);
    const key = identityKeys.get(e.signerId);
    if (!key || !verifyStatement(AUDIT_ENTRY_KIND, signed, key)) throw new CustodianError('E_AUDIT_CORRUPT', `log entry ${e.signerId}#${e.seq} is not signed by that signer's attested identity`);
  }
  return { size: v.size, cosigners: v.cosigners.length };
}

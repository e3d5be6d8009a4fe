/**
 * Offline check of a deployment's transparency log as an auditor would run
 * it: the checkpoint's log signature and cosignature quorum, every tile and
 * entry bundle, and every leaf through the custody-leaf decoder — its
 * enclave signature under the attested identity keys, its typed entry, and
 * each signer's sequence and hash chain.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FileTileStorage } from '@custodian/audit/tile-storage';
import { verifyTileLog } from '@custodian/audit/tile-log-verifier';
import { decodeCheckpointPolicyDocument, LOG_POLICY_FILE_NAME } from '@custodian/audit/checkpoint-policy';
import { CustodyLogReader } from '@custodian/audit/custody-log-reader';

/** Verifies the log in `dir`; returns its size, how many signers cosigned its checkpoint, and its entries by typed kind. */
export async function verifyAuditLog(dir: string, identityKeys: ReadonlyMap<string, Uint8Array>): Promise<{ size: number; cosigners: number; entriesByKind: Readonly<Record<string, number>> }> {
  const { policy } = decodeCheckpointPolicyDocument(new Uint8Array(readFileSync(join(dir, LOG_POLICY_FILE_NAME))));
  const reader = new CustodyLogReader(identityKeys);
  const v = await verifyTileLog(new FileTileStorage(dir), { policy, readEntry: (bytes, index) => reader.read(bytes, index).entry.kind });
  return { size: v.size, cosigners: v.cosigners.length, entriesByKind: v.entriesByKind };
}

/**
 * The checkpoint policy document kept beside a log directory
 * (LOG_POLICY_FILE_NAME), so `custodian audit verify --log DIR` works with no
 * other input. It is a convenience, not a trust anchor: the CLI reports
 * `"trust": "log-directory"` when it used it.
 */
import { join } from 'node:path';
import { encodeCheckpointPolicyDocument, LOG_POLICY_FILE_NAME, type CheckpointPolicyDocument } from './checkpoint-policy.js';
import { writeFileDurable } from './durable-file.js';

/** Writes (durably) the policy document into the log directory `dir`. */
export async function writeLogPolicyDocument(dir: string, doc: CheckpointPolicyDocument): Promise<void> {
  await writeFileDurable(join(dir, LOG_POLICY_FILE_NAME), encodeCheckpointPolicyDocument(doc));
}

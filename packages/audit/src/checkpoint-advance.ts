/**
 * The append-only rule between two views of one log: a new checkpoint may
 * only extend the last one a party vouched for. Witnesses apply it before
 * cosigning; signer enclaves apply it against the last checkpoint kept in
 * their sealed state before signing a new one (rollback and fork protection).
 */
import { equalBytes } from '@custodian/core/bytes';
import { isCustodianError } from '@custodian/core/errors';
import { auditError } from './errors.js';
import type { Checkpoint } from './checkpoint.js';
import { verifyConsistency } from './consistency-proof.js';

/**
 * Throws unless `next` extends `last` append-only: E_CHECKPOINT_ORIGIN (other
 * log), E_CHECKPOINT_ROLLBACK (smaller tree), E_CHECKPOINT_FORK (same size,
 * other root), E_CHECKPOINT_INCONSISTENT (the consistency proof fails), or
 * E_PROOF_INVALID (a proof where none is due). `last` null means no earlier
 * view: anything is accepted, as from the empty tree.
 */
export function verifyCheckpointAdvance(last: Checkpoint | null, next: Checkpoint, proof: readonly Uint8Array[]): void {
  if (last === null || last.size === 0) {
    if (proof.length !== 0) throw auditError('E_PROOF_INVALID', 'a checkpoint extending the empty tree needs an empty proof');
    if (last !== null && last.origin !== next.origin) throw originError(last, next);
    return;
  }
  if (last.origin !== next.origin) throw originError(last, next);
  if (next.size < last.size) {
    throw auditError('E_CHECKPOINT_ROLLBACK', `checkpoint size ${next.size} is smaller than the last vouched-for size ${last.size}`, { size: next.size, lastSize: last.size });
  }
  if (next.size === last.size) {
    if (!equalBytes(next.rootHash, last.rootHash)) throw auditError('E_CHECKPOINT_FORK', `two checkpoints of size ${next.size} with different roots`, { size: next.size });
    if (proof.length !== 0) throw auditError('E_PROOF_INVALID', 'equal sizes need an empty proof');
    return;
  }
  try {
    verifyConsistency(last.size, next.size, last.rootHash, next.rootHash, proof);
  } catch (e) {
    if (!isCustodianError(e, 'E_PROOF_INVALID')) throw e;
    throw auditError('E_CHECKPOINT_INCONSISTENT', `checkpoint of size ${next.size} is not consistent with the last vouched-for size ${last.size}: ${e.message}`, { size: next.size, lastSize: last.size });
  }
}

function originError(last: Checkpoint, next: Checkpoint): Error {
  return auditError('E_CHECKPOINT_ORIGIN', `checkpoint is for "${next.origin.slice(0, 80)}", not "${last.origin.slice(0, 80)}"`);
}

/**
 * Building the `sign` step of the log writer: one log signature plus
 * cosignatures gathered from all cosigners in parallel (signer enclaves'
 * keys, local or remote witnesses), succeeding only with at least `quorum`
 * of them (E_CHECKPOINT_UNWITNESSED otherwise, so the writer fails closed).
 */
import { isCustodianError } from '@custodian/core/errors';
import { auditError } from './errors.js';
import { decodeCheckpoint, type Checkpoint } from './checkpoint.js';
import { addNoteSignatures, decodeNoteUnverified, signNote, type NoteSignature, type NoteSigner } from './note.js';
import { proveConsistencyFromTiles } from './tile-proofs.js';
import type { TileStorage } from './tile-storage.js';
import type { AddCheckpointRequest } from './witness.js';
import type { CheckpointSignFn } from './tile-log-writer.js';

/** Something that returns a cosignature line for a log-signed checkpoint. */
export interface Cosigner {
  readonly name: string;
  cosign(logSigned: Uint8Array, checkpoint: Checkpoint): Promise<NoteSignature>;
}

/** A cosigner holding its key locally (e.g. a signer enclave's attested cosignature key). */
export function keyCosigner(key: NoteSigner): Cosigner {
  return {
    name: key.name,
    cosign: async (logSigned) => ({ name: key.name, keyId: key.keyId, signature: await key.sign(new TextEncoder().encode(decodeNoteUnverified(logSigned).text)) }),
  };
}

/** Anything that speaks tlog-witness add-checkpoint: a local Witness or an HTTP client. */
export interface WitnessEndpoint {
  addCheckpoint(req: AddCheckpointRequest): Promise<NoteSignature>;
}

/**
 * A cosigner that drives a witness: it remembers the size the witness last
 * cosigned, sends the consistency proof from it (read from the log's tiles,
 * which are durable before signing starts), and after a 409-style
 * E_WITNESS_CONFLICT retries once from the size the witness reported.
 */
export function witnessCosigner(name: string, witness: WitnessEndpoint, storage: TileStorage): Cosigner {
  let oldSize = 0;
  const attempt = async (logSigned: Uint8Array, cp: Checkpoint): Promise<NoteSignature> => {
    const proof = oldSize === 0 || oldSize >= cp.size ? [] : await proveConsistencyFromTiles(storage, oldSize, cp.size);
    const sig = await witness.addCheckpoint({ oldSize, proof, checkpoint: logSigned });
    oldSize = cp.size;
    return sig;
  };
  return {
    name,
    cosign: async (logSigned, cp) => {
      try {
        return await attempt(logSigned, cp);
      } catch (e) {
        const size = isCustodianError(e, 'E_WITNESS_CONFLICT') ? e.detail['size'] : undefined;
        if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0 || size === oldSize) throw e;
        oldSize = size;
        return attempt(logSigned, cp);
      }
    },
  };
}

/** The writer's sign function: log signature, then ≥ quorum cosignatures (asked in parallel). */
export function makeCheckpointSigner(o: { readonly log: NoteSigner; readonly cosigners: readonly Cosigner[]; readonly quorum: number }): CheckpointSignFn {
  return async (text) => {
    const logSigned = await signNote(text, [o.log]);
    const cp = decodeCheckpoint(text);
    const results = await Promise.allSettled(o.cosigners.map((c) => c.cosign(logSigned, cp)));
    const sigs = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    if (sigs.length < o.quorum) {
      const failures = results.flatMap((r, i) => (r.status === 'rejected' ? [`${o.cosigners[i]!.name}: ${r.reason instanceof Error ? r.reason.message : String(r.reason)}`] : []));
      throw auditError('E_CHECKPOINT_UNWITNESSED', `only ${sigs.length} of the required ${o.quorum} cosignatures for size ${cp.size}`, { size: cp.size, failures });
    }
    return sigs.length === 0 ? logSigned : addNoteSignatures(logSigned, sigs);
  };
}

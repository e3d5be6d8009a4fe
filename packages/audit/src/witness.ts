/**
 * A witness (C2SP tlog-witness semantics): it cosigns a checkpoint only if
 * the log signed it and it extends, append-only, the last checkpoint this
 * witness cosigned for that origin. It refuses forks (same size, other root;
 * or a consistency proof that fails) and rollbacks (a smaller tree), and
 * keeps the offending signed checkpoint as evidence (THREATS.md F13). Its
 * state is saved durably before a cosignature is returned, so a crash can
 * never make it forget what it vouched for.
 */
import { equalBytes } from '@custodian/core/bytes';
import { isCustodianError } from '@custodian/core/errors';
import { auditError } from './errors.js';
import { decodeCheckpoint } from './checkpoint.js';
import { verifyCheckpointAdvance } from './checkpoint-advance.js';
import { decodeNoteUnverified, openNote, type NoteSignature, type NoteSigner, type NoteVerifier } from './note.js';
import { PROOF_HASHES_MAX } from './limits.js';

/** What the witness remembers per log: the last checkpoint it cosigned. */
export interface WitnessRecord {
  readonly origin: string;
  readonly size: number;
  readonly rootHash: Uint8Array;
  /** The log-signed note it cosigned (evidence of what it saw). */
  readonly note: Uint8Array;
}

/** Why a checkpoint was refused, kept with the offending signed note. */
export interface WitnessEvidence {
  readonly origin: string;
  readonly reason: 'fork' | 'rollback' | 'inconsistent';
  /** The log-signed checkpoint the witness refused. */
  readonly offending: Uint8Array;
  /** The proof that came with it (base64 lines are not needed: raw hashes). */
  readonly proof: readonly Uint8Array[];
  /** The last checkpoint the witness had cosigned. */
  readonly trusted: Uint8Array;
  readonly atMs: number;
}

/** Durable witness state; `save` resolves only when the record is durable. */
export interface WitnessStore {
  load(origin: string): Promise<WitnessRecord | null>;
  save(record: WitnessRecord): Promise<void>;
  saveEvidence(evidence: WitnessEvidence): Promise<void>;
}

/** A C2SP tlog-witness add-checkpoint request (already decoded). */
export interface AddCheckpointRequest {
  /** The size of the checkpoint the log believes this witness last cosigned. */
  readonly oldSize: number;
  /** Consistency proof from oldSize to the new checkpoint's size. */
  readonly proof: readonly Uint8Array[];
  /** The log-signed checkpoint note. */
  readonly checkpoint: Uint8Array;
}

/** Witness configuration. */
export interface WitnessOptions {
  /** The witness's cosignature key (type 0x04). */
  readonly key: NoteSigner;
  /** Logs it witnesses: origin → the log's note verifiers. */
  readonly logs: ReadonlyMap<string, readonly NoteVerifier[]>;
  readonly store: WitnessStore;
  readonly nowMs: () => number;
}

/** A witness that refuses forks and rollbacks. */
export class Witness {
  readonly #o: WitnessOptions;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(options: WitnessOptions) {
    this.#o = options;
  }

  /**
   * Checks and cosigns a checkpoint; returns the cosignature line to append
   * to the note. Refusals: E_NOTE_* (not log-signed), E_WITNESS_CONFLICT
   * (oldSize is not what the witness has; detail.size tells the log),
   * E_CHECKPOINT_ROLLBACK, E_CHECKPOINT_FORK, E_CHECKPOINT_INCONSISTENT.
   * Calls are serialised so two requests cannot race on the state.
   */
  addCheckpoint(req: AddCheckpointRequest): Promise<NoteSignature> {
    const run = this.#queue.then(() => this.#add(req));
    this.#queue = run.catch(() => undefined);
    return run;
  }

  async #add(req: AddCheckpointRequest): Promise<NoteSignature> {
    const text = decodeNoteUnverified(req.checkpoint).text;
    const origin = text.slice(0, text.indexOf('\n'));
    const verifiers = this.#o.logs.get(origin);
    if (verifiers === undefined) throw auditError('E_NOTE_UNVERIFIED', `this witness does not follow the log "${origin.slice(0, 80)}"`);
    openNote(req.checkpoint, verifiers);
    const cp = decodeCheckpoint(text);
    if (req.proof.length > PROOF_HASHES_MAX) throw auditError('E_PROOF_INVALID', 'consistency proof is too long');
    const last = await this.#o.store.load(origin);
    const lastSize = last?.size ?? 0;
    // Rollbacks and same-size forks are refused (with evidence) whatever oldSize the log claims.
    if (last !== null && cp.size < last.size) await this.#refuse('rollback', last, req, `checkpoint size ${cp.size} is smaller than the cosigned size ${last.size}`);
    if (last !== null && cp.size === last.size && !equalBytes(cp.rootHash, last.rootHash)) await this.#refuse('fork', last, req, `two checkpoints of size ${cp.size} with different roots`);
    if (req.oldSize !== lastSize) throw auditError('E_WITNESS_CONFLICT', `the witness last cosigned size ${lastSize}, not ${req.oldSize}`, { size: lastSize });
    try {
      verifyCheckpointAdvance(last === null ? null : { origin, size: last.size, rootHash: last.rootHash, extensions: [] }, cp, req.proof);
    } catch (e) {
      if (last !== null && isCustodianError(e, 'E_CHECKPOINT_FORK', 'E_CHECKPOINT_INCONSISTENT')) {
        await this.#refuse(e.code === 'E_CHECKPOINT_FORK' ? 'fork' : 'inconsistent', last, req, e.message);
      }
      throw e;
    }
    await this.#o.store.save({ origin, size: cp.size, rootHash: cp.rootHash, note: req.checkpoint });
    const signature = await this.#o.key.sign(new TextEncoder().encode(text));
    return { name: this.#o.key.name, keyId: this.#o.key.keyId, signature };
  }

  async #refuse(reason: WitnessEvidence['reason'], last: WitnessRecord, req: AddCheckpointRequest, message: string): Promise<never> {
    await this.#o.store.saveEvidence({ origin: last.origin, reason, offending: req.checkpoint, proof: req.proof, trusted: last.note, atMs: this.#o.nowMs() });
    const code = reason === 'fork' ? 'E_CHECKPOINT_FORK' : reason === 'rollback' ? 'E_CHECKPOINT_ROLLBACK' : 'E_CHECKPOINT_INCONSISTENT';
    throw auditError(code, `witness refuses to cosign: ${message}`, { origin: last.origin, cosignedSize: last.size, reason });
  }
}

/** An in-memory WitnessStore for tests and short-lived tools. */
export class MemoryWitnessStore implements WitnessStore {
  readonly records = new Map<string, WitnessRecord>();
  readonly evidence: WitnessEvidence[] = [];

  async load(origin: string): Promise<WitnessRecord | null> {
    return this.records.get(origin) ?? null;
  }
  async save(record: WitnessRecord): Promise<void> {
    this.records.set(record.origin, record);
  }
  async saveEvidence(evidence: WitnessEvidence): Promise<void> {
    this.evidence.push(evidence);
  }
}

/**
 * A signer enclave's guard around its checkpoint key (issue 6 item 4): it
 * signs or cosigns a checkpoint only if it extends, append-only, the last
 * checkpoint this key signed, and it persists the new "last signed" (in the
 * caller's sealed state) before the signature leaves. A rollback or fork is
 * refused with E_CHECKPOINT_ROLLBACK / E_CHECKPOINT_FORK /
 * E_CHECKPOINT_INCONSISTENT (THREATS.md F07, F13).
 */
import { decodeCheckpoint, type Checkpoint } from './checkpoint.js';
import { verifyCheckpointAdvance } from './checkpoint-advance.js';
import { checkNoteText, type NoteSignature, type NoteSigner } from './note.js';

/** Persists the last signed checkpoint durably (e.g. into sealed state); resolves when durable. */
export type PersistCheckpointFn = (checkpoint: Checkpoint) => Promise<void>;

/** Signs checkpoints only forward. */
export class AppendOnlySigner {
  readonly #key: NoteSigner;
  readonly #persist: PersistCheckpointFn;
  #last: Checkpoint | null;
  #queue: Promise<unknown> = Promise.resolve();

  /** `last` is the checkpoint restored from sealed state (null on first start). */
  constructor(key: NoteSigner, last: Checkpoint | null, persist: PersistCheckpointFn) {
    this.#key = key;
    this.#last = last;
    this.#persist = persist;
  }

  /** The last checkpoint this key signed. */
  get last(): Checkpoint | null {
    return this.#last;
  }

  /** Signs checkpoint `text` given the consistency proof from `last`; serialised, persisted before returning. */
  sign(text: string, proof: readonly Uint8Array[]): Promise<NoteSignature> {
    const run = this.#queue.then(async () => {
      checkNoteText(text);
      const next = decodeCheckpoint(text);
      verifyCheckpointAdvance(this.#last, next, proof);
      await this.#persist(next);
      this.#last = next;
      return { name: this.#key.name, keyId: this.#key.keyId, signature: await this.#key.sign(new TextEncoder().encode(text)) };
    });
    this.#queue = run.catch(() => undefined);
    return run;
  }
}

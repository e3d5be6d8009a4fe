/**
 * Group commit in front of a TileLogWriter: concurrent `append` calls are
 * gathered into one batch (up to `maxBatch` entries, waiting at most
 * `maxDelayMs` for company) written under one checkpoint. Each call resolves
 * with its entry's index only once the whole batch is durable and its
 * checkpoint published; if the batch fails, every call in it rejects with
 * the writer's error (E_AUDIT_UNAVAILABLE) — callers must then not release
 * anything (fail closed). The queue is bounded: beyond `maxQueued` waiting
 * entries `append` rejects at once with E_AUDIT_UNAVAILABLE (overload).
 */
import { auditError } from './errors.js';
import { encodeAuditEntry, type AuditEntry } from './entry.js';
import type { TileLogWriter } from './tile-log-writer.js';
import { APPEND_BATCH_MAX } from './limits.js';

/** Batching limits. */
export interface BatchingOptions {
  readonly maxBatch?: number;
  readonly maxDelayMs?: number;
  readonly maxQueued?: number;
}

/** Where an appended entry landed. */
export interface AppendReceipt {
  readonly index: number;
  /** The checkpoint note that first includes the entry. */
  readonly checkpoint: Uint8Array;
  readonly size: number;
}

interface Pending {
  readonly bytes: Uint8Array;
  readonly resolve: (r: AppendReceipt) => void;
  readonly reject: (e: unknown) => void;
}

/** Batches single appends into durable group commits. */
export class BatchingAppender {
  readonly #writer: TileLogWriter;
  readonly #maxBatch: number;
  readonly #maxDelayMs: number;
  readonly #maxQueued: number;
  #pending: Pending[] = [];
  #timer: NodeJS.Timeout | null = null;
  #flushing: Promise<void> | null = null;

  constructor(writer: TileLogWriter, o: BatchingOptions = {}) {
    this.#writer = writer;
    this.#maxBatch = Math.min(o.maxBatch ?? 1024, APPEND_BATCH_MAX);
    this.#maxDelayMs = o.maxDelayMs ?? 5;
    this.#maxQueued = o.maxQueued ?? 16 * APPEND_BATCH_MAX;
  }

  /** Appends a typed entry; resolves when it is durable under a published checkpoint. */
  append(entry: AuditEntry): Promise<AppendReceipt> {
    return this.appendBytes(encodeAuditEntry(entry));
  }

  /** Appends already-encoded entry bytes. */
  appendBytes(bytes: Uint8Array): Promise<AppendReceipt> {
    if (this.#pending.length >= this.#maxQueued) return Promise.reject(auditError('E_AUDIT_UNAVAILABLE', 'audit log is overloaded; retry later', { queued: this.#pending.length }));
    return new Promise<AppendReceipt>((resolve, reject) => {
      this.#pending.push({ bytes, resolve, reject });
      if (this.#pending.length >= this.#maxBatch) this.#kick();
      else this.#timer ??= setTimeout(() => this.#kick(), this.#maxDelayMs);
    });
  }

  /** Resolves once everything appended so far has been written (or failed). */
  async flush(): Promise<void> {
    while (this.#pending.length > 0 || this.#flushing !== null) {
      this.#kick();
      await this.#flushing;
    }
  }

  #kick(): void {
    if (this.#timer !== null) {
      clearTimeout(this.#timer);
      this.#timer = null;
    }
    if (this.#flushing !== null || this.#pending.length === 0) return;
    const batch = this.#pending.splice(0, this.#maxBatch);
    this.#flushing = this.#writer.appendBatch(batch.map((p) => p.bytes)).then(
      (r) => batch.forEach((p, i) => p.resolve({ index: r.firstIndex + i, checkpoint: r.checkpoint, size: r.size })),
      (e: unknown) => batch.forEach((p) => p.reject(e)),
    ).finally(() => {
      this.#flushing = null;
      if (this.#pending.length > 0) this.#kick();
    });
  }
}

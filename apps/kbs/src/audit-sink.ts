/**
 * The broker's audit output, injected: every release, refusal, measurement
 * approval, break-glass step and signer recovery is appended here, and a release happens only
 * after its entry is durable (`append` resolved). The lead wires this to the
 * transparency log (packages/audit); `MemoryAuditSink` serves tests and dev.
 */
import { open } from 'node:fs/promises';
import type { Json } from '@custodian/core/canonical-json';

/** The kinds of entry the key broker writes. */
export type KbsAuditKind =
  | 'kbs.key_released'
  | 'kbs.release_refused'
  | 'kbs.measurement_approved'
  | 'kbs.measurement_refused'
  | 'kbs.manifest_installed'
  | 'kbs.manifest_refused'
  | 'hsm.error'
  | 'hsm.policy_denied'
  | 'breakglass.requested'
  | 'breakglass.approved'
  | 'breakglass.vetoed'
  | 'breakglass.cancelled'
  | 'breakglass.executed'
  | 'breakglass.refused'
  | 'backup.recovered'
  | 'backup.recovery_refused';

/** One audit entry; `body` never carries secrets. */
export interface KbsAuditEvent {
  readonly kind: KbsAuditKind;
  readonly atMs: number;
  readonly body: { readonly [k: string]: Json };
}

/** Where audit entries go; `append` resolves only when the entry is durable. */
export interface KbsAuditSink {
  append(event: KbsAuditEvent): Promise<void>;
}

/** An in-memory sink (tests, development); `failing` makes every append fail (F01). */
export class MemoryAuditSink implements KbsAuditSink {
  readonly events: KbsAuditEvent[] = [];
  failing = false;

  async append(event: KbsAuditEvent): Promise<void> {
    if (this.failing) throw new Error('audit sink unavailable');
    this.events.push(event);
  }

  /** The entries of one kind. */
  ofKind(kind: KbsAuditKind): KbsAuditEvent[] {
    return this.events.filter((e) => e.kind === kind);
  }
}

/**
 * Appends entries as JSON lines to a file and fsyncs each one before
 * resolving — the stand-in until the transparency log is wired in.
 */
export class JsonlFileAuditSink implements KbsAuditSink {
  constructor(readonly path: string) {}

  async append(event: KbsAuditEvent): Promise<void> {
    const fh = await open(this.path, 'a', 0o600);
    try {
      await fh.appendFile(JSON.stringify(event) + '\n');
      await fh.sync();
    } finally {
      await fh.close();
    }
  }
}

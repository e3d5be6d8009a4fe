/**
 * The broker's audit output, injected: every release, refusal, measurement
 * approval, break-glass step and signer recovery is appended here, and a release happens only
 * after its entry is durable (`append` resolved). The broker's own file is a
 * hash chain signed in the root (`audit-chain.ts`); `MemoryAuditSink` serves
 * tests.
 */
import type { Json } from '@custodian/core/canonical-json';
import { isCustodianError } from '@custodian/core/errors';

/** The kinds of entry the key broker writes. */
export type KbsAuditKind =
  | 'kbs.key_released'
  | 'kbs.release_refused'
  | 'kbs.credential_issued'
  | 'kbs.credential_refused'
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
  | 'time.skew_detected'
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

/** Why an append failed, for a refusal's message: the root that signs the chain (E_HSM_…), or another typed cause. */
export function auditCause(e: unknown): string {
  if (isCustodianError(e) && e.code.startsWith('E_HSM_')) return ` (the root could not sign the entry: ${e.code})`;
  return isCustodianError(e) ? ` (${e.code})` : '';
}

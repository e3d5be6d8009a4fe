/**
 * Builds the broker's `AppraiseFn` from packages/attestation: verify the
 * evidence (hardware formats through `verifyEvidence`, `sim` through the
 * pinned sim root when — and only when — allowed), require the report data
 * to equal the binding of the KBS nonce and the enclave's ephemeral key, and
 * appraise the claims against the policy (debug off, TCB, platform rules).
 * Verifier errors become refusals with their code and words; nothing throws.
 *
 * The measurement the broker gates on is the format's primary one: Nitro
 * PCR0, SEV-SNP MEASUREMENT, TDX MRTD, CCA RIM, sim's bundle hash.
 */
import { isCustodianError } from '@custodian/core/errors';
import type { Clock } from '@custodian/core/clock';
import { detectFormat, verifyEvidence } from '@custodian/attestation/verify';
import { appraise } from '@custodian/attestation/appraisal';
import { DEFAULT_POLICY, type AppraisalPolicy } from '@custodian/attestation/policy';
import type { AttestationFormat } from '@custodian/attestation/claims';
import { verifySimEvidence } from '@custodian/attestation/sim/sim-evidence';
import { identityReportData } from '@custodian/protocol/identity-binding';
import type { AppraiseFn, AppraisalResult } from './appraisal.js';

/** The measurement that names an enclave build, per format; formats without one (TPM quotes) are refused. */
export const PRIMARY_MEASUREMENT: Readonly<Partial<Record<AttestationFormat, string>>> = Object.freeze({ nitro: 'PCR0', 'sev-snp': 'MEASUREMENT', tdx: 'MRTD', cca: 'RIM' });

/** How to appraise. */
export interface AttestationAppraiserOptions {
  readonly policy?: AppraisalPolicy;
  /** Accept `sim` evidence signed by this root (development only; B20b otherwise). */
  readonly simRootPublicKey?: Uint8Array;
  readonly clock: Clock;
  /** Accept `warning` results (TCB waivers); default false: only `affirming`. */
  readonly allowWarning?: boolean;
  /** The report-data binding; default `identityReportData(publicKey, nonce)` as the enclave attests. */
  readonly binding?: (nonce: Uint8Array, publicKey: Uint8Array) => Uint8Array;
}

function refused(reason: string, measurement = '', platform?: string): AppraisalResult {
  return { ok: false, measurement, reasons: [reason], ...(platform !== undefined ? { platform } : {}) };
}

/** The appraisal hook for `KeyBroker` built on packages/attestation. */
export function attestationAppraiser(o: AttestationAppraiserOptions): AppraiseFn {
  const policy = o.policy ?? DEFAULT_POLICY;
  const bind = o.binding ?? ((nonce: Uint8Array, key: Uint8Array) => identityReportData(key, nonce));
  return async (evidence, expected) => {
    const reportData = bind(expected.nonce, expected.publicKeyBinding);
    let format: AttestationFormat;
    try {
      format = detectFormat(evidence);
    } catch (e) {
      return refused(describe(e));
    }
    if (format === 'sim') {
      if (o.simRootPublicKey === undefined || !policy.allowSimulated) return refused('E_ATTEST_SIMULATED: simulated TEE evidence is not accepted by this key broker', '', 'sim');
      try {
        const c = verifySimEvidence(evidence, { rootPublicKey: o.simRootPublicKey, nowMs: o.clock.nowMs(), expectedReportData: reportData });
        return { ok: true, measurement: c.measurement, reasons: [], platform: 'sim' };
      } catch (e) {
        return refused(describe(e), '', 'sim');
      }
    }
    const primary = PRIMARY_MEASUREMENT[format];
    if (primary === undefined) return refused(`E_ATTEST_POLICY: the key broker releases no keys to ${format} evidence (no enclave measurement to gate on)`, '', format);
    try {
      const now = new Date(o.clock.nowMs());
      const claims = verifyEvidence(format, evidence, { now, reportData });
      const result = appraise(claims, policy, now);
      const measurement = claims.measurements[primary] ?? '';
      const ok = result.status === 'affirming' || (o.allowWarning === true && result.status === 'warning');
      const reasons = result.reasons.map((r) => `${r.code}: ${r.message}`);
      if (measurement === '') return refused(`E_ATTEST_MEASUREMENT: the evidence carries no ${primary}`, '', format);
      return { ok, measurement, reasons, platform: format };
    } catch (e) {
      return refused(describe(e), '', format);
    }
  };
}

function describe(e: unknown): string {
  return isCustodianError(e) ? `${e.code}: ${e.message}` : `E_ATTEST_FAILED: ${e instanceof Error ? e.message : String(e)}`;
}

/**
 * Appraisal: claims + policy → attestation result (affirming / warning /
 * contraindicated with reasons), in the spirit of IETF RATS AR4SI / EAR.
 * Shared by every format; the result is what the rest of Custodian consumes.
 * Fail closed: any contraindicating reason wins; `requireAffirming` turns a
 * refusal into a typed error for callers that must stop (KBS, peers).
 */
import type { AttestationClaims, AttestationFormat } from './claims.js';
import { AttestationError, type AttestationErrorCode } from './errors.js';
import { DEFAULT_PLATFORM_POLICY, DEFAULT_POLICY, type AppraisalPolicy, type PlatformPolicy } from './policy.js';
import { CLOCK_SKEW_MAX_MS } from '@custodian/core/limits';

/** AR4SI-style overall status. */
export type AppraisalStatus = 'affirming' | 'warning' | 'contraindicated';

/** One reason, with the code a refusal would carry. */
export interface AppraisalReason {
  readonly code: AttestationErrorCode;
  readonly severity: 'warning' | 'contraindicated';
  readonly message: string;
}

/**
 * AR4SI trustworthiness claims (draft-ietf-rats-ar4si §2.3): 0 no claim,
 * 2 affirming, 32 warning, 96 contraindicated.
 */
export interface TrustVector {
  readonly 'instance-identity': number;
  readonly configuration: number;
  readonly executables: number;
  readonly hardware: number;
}

/** The attestation result. */
export interface AttestationResult {
  readonly format: AttestationFormat;
  readonly status: AppraisalStatus;
  readonly trustVector: TrustVector;
  readonly reasons: readonly AppraisalReason[];
  readonly policyVersion: number;
  readonly claims: AttestationClaims;
}

/** Judges verified claims against a policy at time `now`. */
export function appraise(claims: AttestationClaims, policy: AppraisalPolicy = DEFAULT_POLICY, now: Date = new Date(NaN)): AttestationResult {
  const reasons: AppraisalReason[] = [];
  const no = (code: AttestationErrorCode, message: string): void => void reasons.push({ code, severity: 'contraindicated', message });
  const warn = (code: AttestationErrorCode, message: string): void => void reasons.push({ code, severity: 'warning', message });

  if (claims.insecure && !policy.allowSimulated) no('E_ATTEST_SIMULATED', 'simulated (development) evidence is not accepted by this policy');
  const rules: PlatformPolicy | undefined = policy.platforms === undefined ? DEFAULT_PLATFORM_POLICY : policy.platforms[claims.format];
  if (rules === undefined) no('E_ATTEST_POLICY', `the policy accepts no ${claims.format} evidence`);
  else judge(claims, rules, now, no, warn);

  const status: AppraisalStatus = reasons.some((r) => r.severity === 'contraindicated') ? 'contraindicated' : reasons.length > 0 ? 'warning' : 'affirming';
  return { format: claims.format, status, trustVector: trustVector(claims, rules, reasons), reasons, policyVersion: policy.version, claims };
}

const TV = { NONE: 0, AFFIRMING: 2, WARNING: 32, CONTRAINDICATED: 96 } as const;

function trustVector(c: AttestationClaims, rules: PlatformPolicy | undefined, reasons: readonly AppraisalReason[]): TrustVector {
  const worst = (codes: readonly AttestationErrorCode[]): number => {
    const hits = reasons.filter((r) => codes.includes(r.code));
    if (hits.some((r) => r.severity === 'contraindicated')) return TV.CONTRAINDICATED;
    return hits.length > 0 ? TV.WARNING : TV.AFFIRMING;
  };
  const judgedMeasurements = rules !== undefined && Object.keys(rules.measurements).length > 0;
  return {
    'instance-identity': c.insecure ? TV.CONTRAINDICATED : TV.AFFIRMING,
    configuration: worst(['E_ATTEST_DEBUG', 'E_ATTEST_TCB', 'E_ATTEST_POLICY', 'E_ATTEST_PLATFORM_DENIED', 'E_ATTEST_NONCE']),
    executables: judgedMeasurements ? worst(['E_ATTEST_MEASUREMENT']) : TV.NONE,
    hardware: c.insecure ? TV.CONTRAINDICATED : TV.AFFIRMING,
  };
}

type Add = (code: AttestationErrorCode, message: string) => void;

function judge(c: AttestationClaims, p: PlatformPolicy, now: Date, no: Add, warn: Add): void {
  if (c.debug && !p.allowDebug) no('E_ATTEST_DEBUG', `the ${c.format} TEE runs in debug mode`);
  if (c.format === 'sev-snp' && typeof c.platform.vmpl === 'number' && c.platform.vmpl > p.maxVmpl) {
    no('E_ATTEST_DEBUG', `the SEV-SNP report comes from VMPL ${c.platform.vmpl}, above the allowed ${p.maxVmpl}`);
  }
  if (c.format === 'sev-snp' && c.platform.migrateMa === true && !p.allowMigrationAgent) no('E_ATTEST_POLICY', 'the SEV-SNP guest policy allows a migration agent');
  if (c.format === 'tdx' && p.requireSeptVeDisable && c.platform.septVeDisable !== true) no('E_ATTEST_POLICY', 'the TD does not set SEPT_VE_DISABLE');
  const product = typeof c.platform.product === 'string' ? c.platform.product.toLowerCase() : undefined;
  if (product !== undefined && p.denyProducts.some((d) => product === d || product.startsWith(d + '-'))) {
    no('E_ATTEST_PLATFORM_DENIED', `platform ${String(c.platform.product)} is on the deny list`);
  }
  for (const [name, allowed] of Object.entries(p.measurements)) {
    const got = c.measurements[name];
    if (got === undefined) no('E_ATTEST_MEASUREMENT', `measurement ${name} is missing from the evidence`);
    else if (!allowed.includes(got)) no('E_ATTEST_MEASUREMENT', `measurement ${name} ${got.slice(0, 16)}… is not among the reference values`);
  }
  const s = c.tcb.status;
  if (s === 'Unevaluated') {
    if (p.requireTcbEvaluated) no('E_ATTEST_TCB', `the TCB could not be evaluated (${c.tcb.detail})`);
  } else if (p.tcbWarnStatuses.includes(s) && !p.tcbStatuses.includes(s)) warn('E_ATTEST_TCB', `TCB status ${s} is accepted by waiver`);
  else if (s === 'OutOfDate' && !p.tcbStatuses.includes(s) && withinGrace(c.tcb.tcbDate, p.outOfDateGraceDays, now)) {
    warn('E_ATTEST_TCB', `TCB status OutOfDate is accepted within the ${String(p.outOfDateGraceDays)}-day grace window after ${String(c.tcb.tcbDate)}`);
  }
  else if (!p.tcbStatuses.includes(s)) no('E_ATTEST_TCB', `TCB status ${s} is not accepted`);
  for (const [name, min] of Object.entries(p.minTcb)) {
    const got = c.tcb.components[name];
    if (got === undefined) no('E_ATTEST_TCB', `TCB component ${name} is not reported`);
    else if (got < min) no('E_ATTEST_TCB', `TCB component ${name} is ${got}, below the minimum ${min}`);
  }
  if (p.maxAgeSeconds !== undefined) {
    const at = c.issuedAt === undefined ? NaN : Date.parse(c.issuedAt);
    const age = now.getTime() - at;
    if (Number.isNaN(age)) no('E_ATTEST_NONCE', 'the evidence carries no time, or no verification time was given, so its age cannot be checked');
    else if (age > p.maxAgeSeconds * 1000 || age < -CLOCK_SKEW_MAX_MS) no('E_ATTEST_NONCE', `the evidence is ${Math.round(age / 1000)} s old, outside the allowed ${p.maxAgeSeconds} s`);
  }
}

/** True when tcbDate + graceDays is not before `now` (F14: a TCB recovery leaves a window to patch). */
function withinGrace(tcbDate: string | undefined, graceDays: number | undefined, now: Date): boolean {
  if (tcbDate === undefined || graceDays === undefined) return false;
  const t = Date.parse(tcbDate);
  return !Number.isNaN(t) && !Number.isNaN(now.getTime()) && t + graceDays * 86_400_000 >= now.getTime();
}

/** Throws the first contraindicating reason as an AttestationError; returns the result otherwise. */
export function requireAffirming(result: AttestationResult, allowWarning = false): AttestationResult {
  const first = result.reasons.find((r) => r.severity === 'contraindicated') ?? (allowWarning ? undefined : result.reasons[0]);
  if (first) throw new AttestationError(first.code, first.message, { step: 'appraisal', format: result.format, reasons: result.reasons.map((r) => r.message) });
  return result;
}

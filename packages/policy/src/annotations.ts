/**
 * Policy annotations: what a permit demands beyond "allowed" (issue 5 §1).
 * `@id("...")` names the policy in decisions; `@approvals("treasury:2, risk:1")`
 * demands approvals per group; `@delay("24h")` demands a time-lock;
 * `@code("E_...")` and `@reason("...")` say why a forbid refused. Unknown
 * annotations are refused so that a typo (`@approval`) cannot silently drop a
 * demand.
 */
import { CustodianError } from '@custodian/core/errors';

/** Longest time-lock a policy may demand. */
export const POLICY_DELAY_MAX_MS = 30 * 24 * 60 * 60 * 1000;
/** Most approvals a policy may demand from one group. */
export const POLICY_APPROVALS_PER_GROUP_MAX = 32;
/** Most groups one `@approvals` annotation may name. */
export const POLICY_APPROVAL_GROUPS_MAX = 16;

const KNOWN = new Set(['id', 'approvals', 'delay', 'code', 'reason', 'description']);
const ID_RE = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/;
const GROUP_RE = /^[a-z0-9][a-z0-9_-]{0,63}$/;
const CODE_RE = /^E_[A-Z0-9_]{1,60}$/;
const DELAY_RE = /^([1-9][0-9]{0,6})(s|m|h|d)$/;
const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** What one policy's annotations say. */
export interface PolicyAnnotations {
  readonly id: string;
  readonly approvals: Readonly<Record<string, number>>;
  readonly delayMs: number;
  readonly code: string | null;
  readonly reason: string | null;
}

function invalid(message: string, detail: Record<string, unknown>): never {
  throw new CustodianError('E_POLICY_INVALID', message, detail);
}

/** Reads and checks a policy's annotations; `effect` decides which are allowed. */
export function readAnnotations(raw: Readonly<Record<string, string>>, effect: 'permit' | 'forbid', where: string): PolicyAnnotations {
  for (const k of Object.keys(raw)) if (!KNOWN.has(k)) invalid(`${where}: unknown annotation @${k}`, { where, annotation: k });
  const id = raw['id'];
  if (id === undefined) invalid(`${where}: every policy needs an @id("...") annotation`, { where });
  if (!ID_RE.test(id)) invalid(`${where}: @id "${id.slice(0, 80)}" must be 1-64 letters, digits, _ . : -`, { where });
  const approvals = raw['approvals'] === undefined ? {} : parseApprovals(raw['approvals'], id);
  const delayMs = raw['delay'] === undefined ? 0 : parseDelay(raw['delay'], id);
  if (effect === 'forbid' && (raw['approvals'] !== undefined || raw['delay'] !== undefined)) {
    invalid(`policy ${id}: a forbid cannot demand approvals or a delay (forbid always wins)`, { policy: id });
  }
  const code = raw['code'] ?? null;
  if (code !== null && !CODE_RE.test(code)) invalid(`policy ${id}: @code must look like E_SOME_REASON`, { policy: id });
  const reason = raw['reason'] ?? null;
  if (reason !== null && reason.length > 256) invalid(`policy ${id}: @reason is longer than 256 characters`, { policy: id });
  return { id, approvals, delayMs, code, reason };
}

/** Parses `"treasury:2, risk:1"` into `{ treasury: 2, risk: 1 }`. */
export function parseApprovals(text: string, policy: string): Record<string, number> {
  const out: Record<string, number> = {};
  const items = text.split(',').map((s) => s.trim());
  if (items.length > POLICY_APPROVAL_GROUPS_MAX) invalid(`policy ${policy}: @approvals names more than ${POLICY_APPROVAL_GROUPS_MAX} groups`, { policy });
  for (const item of items) {
    const m = /^([^:\s]+)\s*:\s*([0-9]{1,3})$/.exec(item);
    if (!m || !GROUP_RE.test(m[1]!)) invalid(`policy ${policy}: @approvals item "${item.slice(0, 40)}" must be group:count`, { policy });
    const n = Number(m[2]);
    if (n < 1 || n > POLICY_APPROVALS_PER_GROUP_MAX) invalid(`policy ${policy}: approvals per group must be 1..${POLICY_APPROVALS_PER_GROUP_MAX}`, { policy });
    if (Object.prototype.hasOwnProperty.call(out, m[1]!)) invalid(`policy ${policy}: @approvals names group ${m[1]} twice`, { policy });
    out[m[1]!] = n;
  }
  return out;
}

/** Parses `"90s" | "15m" | "24h" | "2d"` into milliseconds. */
export function parseDelay(text: string, policy: string): number {
  const m = DELAY_RE.exec(text.trim());
  if (!m) invalid(`policy ${policy}: @delay "${text.slice(0, 40)}" must be a number and s, m, h or d (e.g. "24h")`, { policy });
  const ms = Number(m[1]) * UNIT_MS[m[2]!]!;
  if (ms > POLICY_DELAY_MAX_MS) invalid(`policy ${policy}: @delay exceeds 30 days`, { policy });
  return ms;
}

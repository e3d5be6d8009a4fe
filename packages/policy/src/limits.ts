/**
 * Spending limits as a governed document: per-transaction caps and rolling
 * window velocity limits keyed per wallet, initiator, asset or destination
 * (issue 5 §3). Amounts are in minor units of the reference currency
 * (`maxValueMinor`), in base units of one asset (`maxBaseUnits` with
 * `asset`), or counts (`maxCount`).
 */
import { CustodianError } from '@custodian/core/errors';
import { Fields } from '@custodian/core/fields';
import { parseJson } from '@custodian/core/canonical-json';
import { documentHash } from './document-hash.js';

/** Most limits in one document. */
export const LIMITS_MAX = 256;
/** Longest rolling window. */
export const VELOCITY_WINDOW_MAX_MS = 31 * 24 * 60 * 60 * 1000;

/** What a velocity limit is counted per. */
export type LimitScope = 'wallet' | 'initiator' | 'asset' | 'destination';

/** A cap on one measure; absent measures are not capped. */
export interface LimitCaps {
  readonly maxValueMinor: bigint | null;
  /** Base-unit cap; applies only to `asset` (a `chain:asset-key` id). */
  readonly maxBaseUnits: bigint | null;
  readonly asset: string | null;
  readonly maxCount: number | null;
}

/** A per-transaction limit. */
export interface TransactionLimit extends LimitCaps {
  readonly id: string;
}

/** A rolling-window limit. */
export interface VelocityLimit extends LimitCaps {
  readonly id: string;
  readonly scope: LimitScope;
  readonly windowMs: number;
}

/** The limits document. */
export interface LimitSet {
  readonly version: string;
  readonly hash: string;
  readonly perTransaction: readonly TransactionLimit[];
  readonly velocity: readonly VelocityLimit[];
}

const ID_RE = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/;

function caps(f: Fields): LimitCaps {
  const maxValueMinor = f.optRaw('maxValueMinor') === undefined ? null : f.uint('maxValueMinor');
  const maxBaseUnits = f.optRaw('maxBaseUnits') === undefined ? null : f.uint('maxBaseUnits');
  const asset = f.optStr('asset', 160) ?? null;
  const maxCount = f.optRaw('maxCount') === undefined ? null : f.int('maxCount', 0, 1_000_000);
  if ((maxBaseUnits === null) !== (asset === null)) throw new CustodianError('E_FIELD_INVALID', `${f.where}: maxBaseUnits and asset go together`);
  if (maxValueMinor === null && maxBaseUnits === null && maxCount === null) throw new CustodianError('E_FIELD_INVALID', `${f.where} caps nothing`);
  return { maxValueMinor, maxBaseUnits, asset, maxCount };
}

/** Decodes `{ version, perTransaction: [{ id, ...caps }], velocity: [{ id, scope, windowSeconds, ...caps }] }`. */
export function decodeLimitSet(bytes: Uint8Array): LimitSet {
  const f = new Fields(parseJson(bytes), 'limits');
  const version = f.str('version', 64);
  const ids = new Set<string>();
  const unique = (id: string): string => {
    if (ids.has(id)) throw new CustodianError('E_FIELD_INVALID', `limit id ${id} is used twice`);
    ids.add(id);
    return id;
  };
  const perTransaction = f.arr('perTransaction', LIMITS_MAX).map((raw, i) => {
    const l = new Fields(raw, `limits.perTransaction[${i}]`);
    const out = { id: unique(l.str('id', 64, ID_RE)), ...caps(l) };
    l.done();
    return out;
  });
  const velocity = f.arr('velocity', LIMITS_MAX).map((raw, i) => {
    const l = new Fields(raw, `limits.velocity[${i}]`);
    const id = unique(l.str('id', 64, ID_RE));
    const scope = l.str('scope', 16, /^(wallet|initiator|asset|destination)$/) as LimitScope;
    const windowMs = l.int('windowSeconds', 1, VELOCITY_WINDOW_MAX_MS / 1000) * 1000;
    const out: VelocityLimit = { id, scope, windowMs, ...caps(l) };
    l.done();
    return out;
  });
  f.done();
  const hash = documentHash({ version, perTransaction: perTransaction.map(limitJson), velocity: velocity.map(limitJson) });
  return { version, hash, perTransaction, velocity };
}

function limitJson(l: TransactionLimit | VelocityLimit): unknown {
  return { ...l, maxValueMinor: l.maxValueMinor?.toString() ?? null, maxBaseUnits: l.maxBaseUnits?.toString() ?? null };
}

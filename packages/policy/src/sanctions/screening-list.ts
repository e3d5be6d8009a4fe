/**
 * The screening list in force: sanctioned addresses from one or more sources
 * (OFAC SDN CSV, SDN advanced XML, plain per-asset lists), indexed by the
 * per-chain lookup key, identified by a hash that every decision records
 * (THREATS.md L10). Screening is a hash lookup outside Cedar.
 */
import { CustodianError } from '@custodian/core/errors';
import { listedAddressKey } from '../address-key.js';
import { documentHash } from '../document-hash.js';

/** Most addresses in one screening list. */
export const SCREENING_ENTRIES_MAX = 1_000_000;

/** One listed address and where it came from. */
export interface ScreeningEntry {
  /** The address exactly as the source wrote it. */
  readonly address: string;
  /** OFAC asset code (XBT, ETH, USDT ...). */
  readonly asset: string;
  /** The source and the place in it, e.g. `sdn.csv ent_num 31811`. */
  readonly reference: string;
}

/** A built screening list. */
export interface ScreeningList {
  readonly version: string;
  readonly hash: string;
  readonly asOfMs: number;
  readonly maxAgeMs: number;
  readonly size: number;
  /** The entries listing `key` (a lookup key from address-key.ts); empty when clean. */
  screen(key: string): readonly ScreeningEntry[];
}

/** Metadata of a list: its version, publication time and maximum age. */
export interface ScreeningListMeta {
  readonly version: string;
  readonly asOfMs: number;
  readonly maxAgeMs: number;
}

/** Indexes entries from all sources into one list. */
export function buildScreeningList(meta: ScreeningListMeta, entries: readonly ScreeningEntry[]): ScreeningList {
  if (entries.length > SCREENING_ENTRIES_MAX) throw new CustodianError('E_SCREENING_LIST_INVALID', `screening list has more than ${SCREENING_ENTRIES_MAX} entries`);
  const index = new Map<string, ScreeningEntry[]>();
  for (const e of entries) {
    const k = listedAddressKey(e.address);
    const list = index.get(k);
    if (list === undefined) index.set(k, [e]);
    else if (!list.some((x) => x.asset === e.asset && x.reference === e.reference)) list.push(e);
  }
  const rows = [...index.entries()].flatMap(([k, es]) => es.map((e) => [k, e.asset, e.reference] as const));
  rows.sort((a, b) => (a.join('\u0000') < b.join('\u0000') ? -1 : 1));
  const hash = documentHash({ version: meta.version, asOfMs: meta.asOfMs, rows });
  return { ...meta, hash, size: index.size, screen: (key) => index.get(key) ?? [] };
}

/** Throws E_SCREENING_LIST_STALE when the list is older than its maximum age at `nowMs`. */
export function assertScreeningListFresh(list: ScreeningList, nowMs: number): void {
  if (nowMs - list.asOfMs > list.maxAgeMs) {
    throw new CustodianError('E_SCREENING_LIST_STALE', `screening list ${list.version} is older than its maximum age`, { asOf: new Date(list.asOfMs).toISOString(), maxAgeMs: list.maxAgeMs });
  }
}

/**
 * Facts shared by every context derivation (transactions, typed data): the
 * Cedar records for parties and amounts, freshness of governed data, and
 * screening. Large sets stay outside Cedar (DESIGN.md).
 */
import type { CedarValueJson } from '@cedar-policy/cedar-wasm/nodejs';
import { isCustodianError } from '@custodian/core/errors';
import type { AddressBook } from './address-book.js';
import type { ChainConfig } from './chain-config.js';
import type { GuardFinding } from './decision.js';
import { assertPriceTableFresh, valueInMinor, type PriceTable } from './price-table.js';
import type { PolicyAction } from './schema.js';
import { assertScreeningListFresh, type ScreeningEntry, type ScreeningList } from './sanctions/screening-list.js';
import { listedAddressKey } from './address-key.js';
import type { Spend, VelocityLedger } from './velocity-ledger.js';

/** Address-book label that allow-lists a delegatecall target (e.g. Safe MultiSend). */
export const LABEL_DELEGATECALL_ALLOWED = 'delegatecall-allowed';
/** Address-book label that allow-lists a token spender. */
export const LABEL_SPENDER_ALLOWED = 'spender-allowed';
/** Largest value passed to Cedar as a Long (beyond it values saturate; limits use exact bigints). */
export const CEDAR_LONG_SAFE_MAX = BigInt(Number.MAX_SAFE_INTEGER);

/** The wallet a request spends from. */
export interface WalletRef {
  readonly id: string;
  readonly groups: readonly string[];
  /** Chain ids this wallet is configured for (B16). */
  readonly chainIds: readonly bigint[];
}

/** The governed data a context derivation reads. */
export interface PolicyDataRefs {
  readonly addressBook: AddressBook;
  readonly priceTable: PriceTable;
  readonly screening: ScreeningList;
}

/** What a derivation hands the engine. */
export interface PolicyFacts {
  readonly action: PolicyAction;
  readonly context: Record<string, CedarValueJson>;
  readonly findings: readonly GuardFinding[];
  /** True when policy must demand a quorum and a time-lock (B15). */
  readonly privileged: boolean;
  /** The spend to check against limits (requestId, wallet, initiator filled by the caller). */
  readonly spend: Omit<Spend, 'requestId' | 'wallet' | 'initiator'>;
}

/** A value priced in minor units of the reference currency. */
export interface Priced {
  readonly valueMinor: bigint | null;
  readonly symbol: string;
}

/** Records stale-data findings; true when the price table may be used. */
export function checkFreshness(data: PolicyDataRefs, nowMs: number, findings: GuardFinding[]): boolean {
  try {
    assertScreeningListFresh(data.screening, nowMs);
  } catch (e) {
    if (!isCustodianError(e)) throw e;
    findings.push({ code: e.code, reason: e.message });
  }
  try {
    assertPriceTableFresh(data.priceTable, nowMs);
    return true;
  } catch (e) {
    if (!isCustodianError(e)) throw e;
    findings.push({ code: e.code, reason: e.message });
    return false;
  }
}

/**
 * The screening-list entries naming a lookup key. The list indexes addresses
 * as its publisher wrote them, normalised by `listedAddressKey`; a key that
 * compares exactly on its chain (Solana base58) is looked up both as is and
 * normalised, so a listed address is never missed (a wider match only denies).
 */
export function screenKey(list: ScreeningList, key: string): readonly ScreeningEntry[] {
  const exact = list.screen(key);
  const listed = listedAddressKey(key);
  if (listed === key) return exact;
  const more = list.screen(listed).filter((e) => !exact.includes(e));
  return more.length === 0 ? exact : [...exact, ...more];
}

/** Records a finding per screening-list hit among `addresses`. */
export function screenAddresses(addresses: readonly string[], chain: ChainConfig, list: ScreeningList, findings: GuardFinding[]): void {
  for (const a of addresses) {
    for (const hit of screenKey(list, a)) {
      findings.push({ code: 'E_SANCTIONED_DESTINATION', reason: `${a} on ${chain.name} is on screening list ${list.version} (${hit.asset}, ${hit.reference})` });
    }
  }
}

/** Address-book labels of a lookup key (none when unlisted). */
export function labelsOf(book: AddressBook, chain: ChainConfig, key: string): readonly string[] {
  return book.lookup(chain.name, key)?.labels ?? [];
}

/** The Cedar `Party` record of an address. */
export function partyFacts(key: string | null, chain: ChainConfig, wallet: Pick<WalletRef, 'id'>, book: AddressBook, ledger: VelocityLedger | null, list: ScreeningList): Record<string, CedarValueJson> {
  if (key === null) return { address: '', listed: false, name: '', labels: [], firstTime: false, sanctioned: false };
  const entry = book.lookup(chain.name, key);
  return {
    address: key,
    listed: entry !== undefined,
    name: entry?.name ?? '',
    labels: [...(entry?.labels ?? [])],
    firstTime: ledger === null ? true : !ledger.hasSent(wallet.id, `${chain.name}:${key}`),
    sanctioned: screenKey(list, key).length > 0,
  };
}

/** One `Party` standing for several: listed only if all are, labels in common, flags if any. */
export function mergeParties(parties: readonly Record<string, CedarValueJson>[]): Record<string, CedarValueJson> {
  const labels = parties.map((p) => p['labels'] as string[]).reduce((a, b) => a.filter((l) => b.includes(l)));
  return {
    address: 'multiple',
    listed: parties.every((p) => p['listed'] === true),
    name: 'multiple',
    labels,
    firstTime: parties.some((p) => p['firstTime'] === true),
    sanctioned: parties.some((p) => p['sanctioned'] === true),
  };
}

/** Value in minor units of `amount` of `asset`, or null when unpriced. */
export function priceOf(table: PriceTable, chain: ChainConfig, asset: string, amount: bigint): Priced {
  if (asset === 'mixed') return { valueMinor: null, symbol: '' };
  const p = table.lookup(chain.name, asset);
  if (p === undefined) return { valueMinor: null, symbol: '' };
  return { valueMinor: valueInMinor(amount, p), symbol: p.symbol };
}

/** The Cedar `Amount` record. */
export function amountFacts(baseUnits: bigint, p: Priced): Record<string, CedarValueJson> {
  const v = p.valueMinor;
  return { baseUnits: baseUnits.toString(), valueMinor: v === null ? 0 : Number(v > CEDAR_LONG_SAFE_MAX ? CEDAR_LONG_SAFE_MAX : v), priced: v !== null };
}


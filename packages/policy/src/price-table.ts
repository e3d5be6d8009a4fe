/**
 * The price table: governed data that turns base units into minor units of
 * the reference currency (e.g. US cents). Its age is checked on every use: a
 * table older than its own maximum age refuses to price (issue 5: stale data
 * is refused, not trusted).
 */
import { CustodianError } from '@custodian/core/errors';
import { Fields } from '@custodian/core/fields';
import { parseJson } from '@custodian/core/canonical-json';
import { chainAddressKey } from './address-key.js';
import type { ChainFamilyOf } from './address-book.js';
import { documentHash } from './document-hash.js';

/** Most priced assets. */
export const PRICE_ENTRIES_MAX = 10_000;
/** Longest maximum age a price table may claim. */
export const PRICE_TABLE_MAX_AGE_LIMIT_MS = 400 * 24 * 60 * 60 * 1000;
/** Asset id of a chain's native coin. */
export const NATIVE_ASSET = 'native';

/** One price: `priceMinor` minor units per whole unit (10^decimals base units). */
export interface Price {
  readonly chain: string;
  readonly asset: string;
  readonly symbol: string;
  readonly decimals: number;
  readonly priceMinor: bigint;
}

/** A decoded price table. */
export interface PriceTable {
  readonly version: string;
  readonly hash: string;
  readonly currency: string;
  readonly asOfMs: number;
  readonly maxAgeMs: number;
  /** The price of `asset` (NATIVE_ASSET or a lookup key) on `chain`, if listed. */
  lookup(chain: string, asset: string): Price | undefined;
}

/** Throws E_PRICE_TABLE_STALE when the table is older than its maximum age at `nowMs`. */
export function assertPriceTableFresh(t: PriceTable, nowMs: number): void {
  if (nowMs - t.asOfMs > t.maxAgeMs) {
    throw new CustodianError('E_PRICE_TABLE_STALE', `price table ${t.version} is older than its maximum age`, { asOf: new Date(t.asOfMs).toISOString(), maxAgeMs: t.maxAgeMs });
  }
  if (t.asOfMs - nowMs > 5 * 60_000) throw new CustodianError('E_PRICE_TABLE_STALE', `price table ${t.version} is dated in the future`, { asOf: new Date(t.asOfMs).toISOString() });
}

/** Value of `amount` base units in minor units, rounded up (limits err on the safe side). */
export function valueInMinor(amount: bigint, price: Price): bigint {
  const scale = 10n ** BigInt(price.decimals);
  return (amount * price.priceMinor + scale - 1n) / scale;
}

function parseTime(s: string, field: string): number {
  const ms = Date.parse(s);
  if (!/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/.test(s) || Number.isNaN(ms)) throw new CustodianError('E_FIELD_INVALID', `${field} must be an ISO-8601 UTC time`, { field });
  return ms;
}

/** Decodes `{ version, currency, asOf, maxAgeSeconds, prices: [{ chain, asset, symbol, decimals, priceMinor }] }`. */
export function decodePriceTable(bytes: Uint8Array, familyOf: ChainFamilyOf = () => undefined): PriceTable {
  const f = new Fields(parseJson(bytes), 'priceTable');
  const version = f.str('version', 64);
  const currency = f.str('currency', 8, /^[A-Z]{3}$/);
  const asOfMs = parseTime(f.str('asOf', 40), 'priceTable.asOf');
  const maxAgeMs = f.int('maxAgeSeconds', 1, PRICE_TABLE_MAX_AGE_LIMIT_MS / 1000) * 1000;
  const map = new Map<string, Price>();
  for (const [i, raw] of f.arr('prices', PRICE_ENTRIES_MAX).entries()) {
    const p = new Fields(raw, `priceTable.prices[${i}]`);
    const chain = p.str('chain', 32, /^[a-z0-9-]{1,32}$/);
    const assetText = p.str('asset', 128);
    const asset = assetText === NATIVE_ASSET ? NATIVE_ASSET : chainAddressKey(familyOf(chain) ?? 'evm', assetText);
    const price: Price = { chain, asset, symbol: p.str('symbol', 16), decimals: p.int('decimals', 0, 36), priceMinor: p.uint('priceMinor', 10n ** 30n) };
    p.done();
    if (map.has(`${chain}:${asset}`)) throw new CustodianError('E_FIELD_INVALID', `priceTable lists ${chain}:${assetText} twice`);
    map.set(`${chain}:${asset}`, price);
  }
  f.done();
  const hash = documentHash({ version, currency, asOfMs, maxAgeMs, prices: [...map.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, p]) => [k, p.symbol, p.decimals, p.priceMinor.toString()]) });
  return { version, hash, currency, asOfMs, maxAgeMs, lookup: (chain, asset) => map.get(`${chain}:${asset}`) };
}

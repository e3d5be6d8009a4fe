import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import fc from 'fast-check';
import { isCustodianError } from '@custodian/core/errors';
import { REPO_ROOT } from '@custodian/core/vectors';
import { utf8 } from '@custodian/core/bytes';
import { readRulebookFiles } from './rulebook-dir.js';
import { decodeRulebook } from './rulebook.js';
import { decodeAddressBook } from './address-book.js';
import { decodePriceTable, assertPriceTableFresh } from './price-table.js';
import { decodeLimitSet } from './limits.js';

const files = readRulebookFiles(join(REPO_ROOT, 'examples/policies/default'));

test('the default rulebook loads: 20 policies, the OFAC lists, three EVM chains, two Bitcoin and two Solana', () => {
  const rb = decodeRulebook(files);
  assert.equal(rb.policySet.policies.size, 20);
  assert.equal(rb.screening.size, 641); // 654 listed + 2 from sdn.csv, minus addresses listed under several assets
  assert.deepEqual([...rb.chains.keys()], ['eth', 'sepolia', 'anvil', 'btc', 'bitcoin-regtest', 'sol', 'solana-devnet']);
  assert.equal(rb.chains.get('anvil')!.chainId, 31337n);
  assert.deepEqual(rb.chains.get('bitcoin-regtest'), { name: 'bitcoin-regtest', family: 'bitcoin', network: 'regtest', chainId: -1n, nativeSymbol: 'BTC', nativeDecimals: 8 });
  assert.deepEqual(rb.chains.get('solana-devnet'), { name: 'solana-devnet', family: 'solana', cluster: 'devnet', chainId: -1n, nativeSymbol: 'SOL', nativeDecimals: 9 });
});

test('rejects chains whose family, network or base unit is wrong', async () => {
  const { decodeChains } = await import('./chain-config.js');
  const bad = [
    { x: { family: 'doge', nativeSymbol: 'D', nativeDecimals: 8 } },
    { x: { family: 'bitcoin', network: 'signet', nativeSymbol: 'BTC', nativeDecimals: 8 } },
    { x: { family: 'bitcoin', network: 'mainnet', nativeSymbol: 'BTC', nativeDecimals: 18 } },
    { x: { family: 'solana', cluster: 'devnet', nativeSymbol: 'SOL', nativeDecimals: 6 } },
    { x: { family: 'solana', cluster: 'devnet', nativeSymbol: 'SOL', nativeDecimals: 9, chainId: 1 } },
    { x: { family: 'evm', nativeSymbol: 'ETH', nativeDecimals: 18 } },
  ];
  for (const json of bad) assert.throws(() => decodeChains(json), (e) => isCustodianError(e), JSON.stringify(json));
});

test('a Solana address-book entry is keyed exactly (base58 is case sensitive) and must be 32 bytes', () => {
  const rb = decodeRulebook(files);
  assert.equal(rb.addressBook.lookup('sol', '7q6eGvnn5yjyruqWd4gxDsQxG973SqtEutDNUeK4UsD7')?.labels[0], 'internal');
  assert.equal(rb.addressBook.lookup('sol', '7Q6eGvnn5yjyruqWd4gxDsQxG973SqtEutDNUeK4UsD7'), undefined);
  const next = new Map(files);
  const text = new TextDecoder().decode(files.get('address-book.json')!);
  next.set('address-book.json', new TextEncoder().encode(text.replace('"7q6eGvnn5yjyruqWd4gxDsQxG973SqtEutDNUeK4UsD7"', '"7q6eGvnn5yjyruqWd4gxDsQxG973SqtEutDNUeK4Us"')));
  assert.throws(() => decodeRulebook(next), (e) => isCustodianError(e, 'E_ADDRESS_INVALID'));
});

test('only typed errors escape the address book, price table and limits decoders on mutated input', () => {
  const decoders: [string, (b: Uint8Array) => unknown][] = [
    ['address-book.json', decodeAddressBook],
    ['prices.json', decodePriceTable],
    ['limits.json', decodeLimitSet],
  ];
  for (const [name, decode] of decoders) {
    const seed = new TextDecoder().decode(files.get(name)!);
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(), fc.constantFrom('"', ',', '0', 'x', '{', ']', '-', 'A', ' ', '9')), { minLength: 1, maxLength: 4 }), (edits) => {
        const chars = [...seed];
        for (const [i, c] of edits) chars[i % chars.length] = c;
        try {
          decode(utf8(chars.join('')));
        } catch (e) {
          assert.ok(isCustodianError(e), `${name}: ${String(e)}`);
        }
      }),
      { numRuns: 200 },
    );
  }
});

test('rejects an address book with a wrong EIP-55 checksum or a duplicate address', () => {
  const entry = (address: string): unknown => ({ chain: 'eth', address, name: 'x', labels: [] });
  const book = (...entries: unknown[]): Uint8Array => utf8(JSON.stringify({ version: '1', entries }));
  assert.throws(() => decodeAddressBook(book(entry('0xA238CBeb142c10Ef7Ad8442C6D1f9E89e07e7762'))), (e) => isCustodianError(e, 'E_ADDRESS_CHECKSUM'));
  assert.throws(() => decodeAddressBook(book(entry('0x1111111111111111111111111111111111111111'), entry('0x1111111111111111111111111111111111111111'))), (e) => isCustodianError(e, 'E_ADDRESS_BOOK_INVALID'));
});

test('refuses a price table older than its maximum age or dated in the future', () => {
  const t = decodePriceTable(files.get('prices.json')!);
  assertPriceTableFresh(t, t.asOfMs + 1000);
  assert.throws(() => assertPriceTableFresh(t, t.asOfMs + t.maxAgeMs + 1), (e) => isCustodianError(e, 'E_PRICE_TABLE_STALE'));
  assert.throws(() => assertPriceTableFresh(t, t.asOfMs - 3_600_000), (e) => isCustodianError(e, 'E_PRICE_TABLE_STALE'));
});

test('rejects a rulebook that names a missing file', () => {
  const next = new Map(files);
  next.delete('prices.json');
  assert.throws(() => decodeRulebook(next), (e) => isCustodianError(e, 'E_RULEBOOK_INVALID'));
});

/**
 * The address book: a governed document naming known addresses per chain,
 * with labels policies can test (`context.destination.labels`). Looked up by
 * hash outside Cedar (DESIGN.md: large sets never cross into Cedar).
 *
 * Labels with engine meaning: `delegatecall-allowed` (a Safe delegatecall
 * target such as MultiSend, THREATS.md B15) and `spender-allowed` (an ERC-20
 * spender, B17).
 */
import { CustodianError } from '@custodian/core/errors';
import { Fields } from '@custodian/core/fields';
import { parseJson } from '@custodian/core/canonical-json';
import { chainAddressKey } from './address-key.js';
import type { ChainFamily } from './chain-config.js';
import { documentHash } from './document-hash.js';

/** Most entries in an address book. */
export const ADDRESS_BOOK_ENTRIES_MAX = 250_000;
/** Largest address-book document. */
export const ADDRESS_BOOK_BYTES_MAX = 64 * 1024 * 1024;
/** Most labels on one entry. */
export const ADDRESS_LABELS_MAX = 16;

const LABEL_RE = /^[a-z0-9][a-z0-9_-]{0,63}$/;
const CHAIN_RE = /^[a-z0-9-]{1,32}$/;

/** One address-book entry. */
export interface AddressBookEntry {
  readonly chain: string;
  readonly address: string;
  readonly name: string;
  readonly labels: readonly string[];
}

/** A decoded address book with its version hash. */
export interface AddressBook {
  readonly version: string;
  readonly hash: string;
  lookup(chain: string, key: string): AddressBookEntry | undefined;
  readonly size: number;
}

/** The family of a chain name, when the rulebook configures it (keys then follow that family's rules). */
export type ChainFamilyOf = (chain: string) => ChainFamily | undefined;

/** Builds an address book from entries (already decoded); `familyOf` picks each entry's key rules (EVM rules when unknown). */
export function buildAddressBook(version: string, entries: readonly AddressBookEntry[], familyOf: ChainFamilyOf = () => undefined): AddressBook {
  if (entries.length > ADDRESS_BOOK_ENTRIES_MAX) throw new CustodianError('E_ADDRESS_BOOK_INVALID', `address book has more than ${ADDRESS_BOOK_ENTRIES_MAX} entries`);
  const map = new Map<string, AddressBookEntry>();
  for (const e of entries) {
    const k = `${e.chain}:${chainAddressKey(familyOf(e.chain) ?? 'evm', e.address)}`;
    if (map.has(k)) throw new CustodianError('E_ADDRESS_BOOK_INVALID', `address ${e.address} appears twice on ${e.chain}`, { address: e.address });
    map.set(k, e);
  }
  const hash = documentHash({ version, entries: [...map.keys()].sort().map((k) => { const e = map.get(k)!; return [k, e.name, [...e.labels].sort()]; }) });
  return { version, hash, size: map.size, lookup: (chain, key) => map.get(`${chain}:${key}`) };
}

/** Decodes an address-book JSON document: `{ version, entries: [{ chain, address, name, labels }] }`. */
export function decodeAddressBook(bytes: Uint8Array, familyOf: ChainFamilyOf = () => undefined): AddressBook {
  if (bytes.length > ADDRESS_BOOK_BYTES_MAX) throw new CustodianError('E_ADDRESS_BOOK_INVALID', `address book of ${bytes.length} bytes exceeds ${ADDRESS_BOOK_BYTES_MAX}`);
  const f = new Fields(parseJson(bytes, ADDRESS_BOOK_BYTES_MAX), 'addressBook');
  const version = f.str('version', 64);
  const entries = f.arr('entries', ADDRESS_BOOK_ENTRIES_MAX).map((raw, i) => {
    const e = new Fields(raw, `addressBook.entries[${i}]`);
    const entry: AddressBookEntry = {
      chain: e.str('chain', 32, CHAIN_RE),
      address: e.str('address', 128),
      name: e.str('name', 128),
      labels: e.arr('labels', ADDRESS_LABELS_MAX).map((l) => {
        if (typeof l !== 'string' || !LABEL_RE.test(l)) throw new CustodianError('E_FIELD_INVALID', `addressBook.entries[${i}].labels has an invalid label`);
        return l;
      }),
    };
    e.done();
    return entry;
  });
  f.done();
  return buildAddressBook(version, entries, familyOf);
}

/**
 * Plain per-asset address lists (one address per line, or a JSON array of
 * strings), as published by github.com/0xB10C/ofac-sanctioned-digital-currency-addresses
 * (`sanctioned_addresses_<ASSET>.txt|json`). Bounded before parsing.
 */
import { CustodianError } from '@custodian/core/errors';
import { parseJson } from '@custodian/core/canonical-json';
import type { ScreeningEntry } from './screening-list.js';

/** Largest plain list file accepted. */
export const PLAIN_LIST_BYTES_MAX = 16 * 1024 * 1024;
/** Most addresses in one plain list file. */
export const PLAIN_LIST_ENTRIES_MAX = 200_000;

const ADDRESS_RE = /^[A-Za-z0-9]{20,128}$/;

function invalid(message: string, detail: Record<string, unknown>): never {
  throw new CustodianError('E_SCREENING_LIST_INVALID', message, detail);
}

/** Parses a plain list of `asset` addresses; `name` names the file in references. */
export function parsePlainList(bytes: Uint8Array, asset: string, name: string): ScreeningEntry[] {
  if (bytes.length > PLAIN_LIST_BYTES_MAX) invalid(`${name} of ${bytes.length} bytes exceeds ${PLAIN_LIST_BYTES_MAX}`, { name });
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return invalid(`${name} is not UTF-8`, { name });
  }
  let addresses: string[];
  if (text.trimStart().startsWith('[')) {
    const json = parseJson(text, PLAIN_LIST_BYTES_MAX);
    if (!Array.isArray(json) || !json.every((x) => typeof x === 'string')) invalid(`${name} must be a JSON array of strings`, { name });
    addresses = json as string[];
  } else {
    addresses = text.split(/\r?\n/).map((l) => l.trim());
    while (addresses.length > 0 && addresses[addresses.length - 1] === '') addresses.pop();
  }
  if (addresses.length > PLAIN_LIST_ENTRIES_MAX) invalid(`${name} has more than ${PLAIN_LIST_ENTRIES_MAX} addresses`, { name });
  return addresses.map((address, i) => {
    if (!ADDRESS_RE.test(address)) invalid(`${name} line ${i + 1} is not an address`, { name, line: i + 1 });
    return { address, asset, reference: `${name} line ${i + 1}` };
  });
}

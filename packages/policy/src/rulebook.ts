/**
 * A rulebook: the manifest `rulebook.json` naming the policies, address book,
 * price table, limits and screening sources, decoded from a map of file name
 * to bytes (so the enclave can receive it as one sealed bundle; the CLI reads
 * it from a directory). The shipped Custodian schema is authoritative: a
 * rulebook may carry a copy for readers, which must match it byte for byte.
 */
import { CustodianError } from '@custodian/core/errors';
import { Fields } from '@custodian/core/fields';
import { parseJson, type Json } from '@custodian/core/canonical-json';
import { decodeAddressBook } from './address-book.js';
import { decodeChains, type ChainFamily } from './chain-config.js';
import type { PolicyData } from './engine.js';
import { decodeLimitSet } from './limits.js';
import { compilePolicySet } from './policy-set.js';
import { decodePriceTable } from './price-table.js';
import { CUSTODIAN_SCHEMA } from './schema.js';
import { parseSdnAdvancedXml } from './sanctions/ofac-sdn-advanced-xml.js';
import { parseSdnCsv } from './sanctions/ofac-sdn-csv.js';
import { parsePlainList } from './sanctions/plain-list.js';
import { buildScreeningList, type ScreeningEntry } from './sanctions/screening-list.js';

/** Name of the manifest file. */
export const RULEBOOK_MANIFEST = 'rulebook.json';
/** Most files a rulebook may name. */
export const RULEBOOK_FILES_MAX = 256;
/** Longest maximum age a screening list may claim. */
export const SCREENING_MAX_AGE_LIMIT_MS = 1100 * 24 * 60 * 60 * 1000;

const FILE_RE = /^(?!.*\.\.)[A-Za-z0-9_][A-Za-z0-9_./-]{0,200}$/;

/** A loaded rulebook. */
export interface Rulebook extends PolicyData {
  readonly version: string;
}

function file(files: ReadonlyMap<string, Uint8Array>, name: string): Uint8Array {
  const b = files.get(name);
  if (b === undefined) throw new CustodianError('E_RULEBOOK_INVALID', `rulebook file ${name} is missing`, { file: name });
  return b;
}

function fileName(v: Json, where: string): string {
  if (typeof v !== 'string' || !FILE_RE.test(v)) throw new CustodianError('E_RULEBOOK_INVALID', `${where} must be a relative file name`, { where });
  return v;
}

function isoTime(s: string, where: string): number {
  const ms = Date.parse(s);
  if (!/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/.test(s) || Number.isNaN(ms)) throw new CustodianError('E_FIELD_INVALID', `${where} must be an ISO-8601 UTC time`);
  return ms;
}

/** The file names a manifest refers to (so a directory reader loads only those). */
export function rulebookFileNames(manifest: Uint8Array): string[] {
  const f = new Fields(parseJson(manifest), 'rulebook');
  const names = [
    ...f.arr('policies', RULEBOOK_FILES_MAX).map((p, i) => fileName(p, `rulebook.policies[${i}]`)),
    fileName(f.raw('addressBook'), 'rulebook.addressBook'),
    fileName(f.raw('priceTable'), 'rulebook.priceTable'),
    fileName(f.raw('limits'), 'rulebook.limits'),
    ...f.obj('screening').arr('sources', RULEBOOK_FILES_MAX).map((s, i) => fileName(new Fields(s, 'source').raw('file'), `rulebook.screening.sources[${i}].file`)),
  ];
  const schema = f.optRaw('schema');
  if (schema !== undefined) names.push(fileName(schema, 'rulebook.schema'));
  return names;
}

/** Decodes and validates a whole rulebook; throws a typed error naming the first problem. */
export function decodeRulebook(files: ReadonlyMap<string, Uint8Array>): Rulebook {
  const f = new Fields(parseJson(file(files, RULEBOOK_MANIFEST)), 'rulebook');
  const version = f.str('version', 64);
  const chains = decodeChains(f.raw('chains'));
  const policyNames = f.arr('policies', RULEBOOK_FILES_MAX).map((p, i) => fileName(p, `rulebook.policies[${i}]`));
  const policySet = compilePolicySet(policyNames.map((name) => ({ name, text: new TextDecoder('utf-8', { fatal: true }).decode(file(files, name)) })));
  const familyOf = (chain: string): ChainFamily | undefined => chains.get(chain)?.family;
  const addressBook = decodeAddressBook(file(files, fileName(f.raw('addressBook'), 'rulebook.addressBook')), familyOf);
  const priceTable = decodePriceTable(file(files, fileName(f.raw('priceTable'), 'rulebook.priceTable')), familyOf);
  const limits = decodeLimitSet(file(files, fileName(f.raw('limits'), 'rulebook.limits')));
  const schema = f.optRaw('schema');
  if (schema !== undefined) {
    const text = new TextDecoder().decode(file(files, fileName(schema, 'rulebook.schema')));
    if (text !== CUSTODIAN_SCHEMA) throw new CustodianError('E_RULEBOOK_INVALID', 'the rulebook schema differs from the Custodian schema this engine ships', { file: schema });
  }
  const s = f.obj('screening');
  const meta = { version: s.str('version', 64), asOfMs: isoTime(s.str('asOf', 40), 'rulebook.screening.asOf'), maxAgeMs: s.int('maxAgeSeconds', 1, SCREENING_MAX_AGE_LIMIT_MS / 1000) * 1000 };
  const entries: ScreeningEntry[] = [];
  for (const [i, raw] of s.arr('sources', RULEBOOK_FILES_MAX).entries()) {
    const src = new Fields(raw, `rulebook.screening.sources[${i}]`);
    const name = fileName(src.raw('file'), `${src.where}.file`);
    const format = src.str('format', 32, /^(plain|ofac-sdn-csv|ofac-sdn-advanced-xml)$/);
    const asset = src.optStr('asset', 10, /^[A-Z0-9]{2,10}$/);
    src.done();
    const bytes = file(files, name);
    if (format === 'plain') {
      if (asset === undefined) throw new CustodianError('E_RULEBOOK_INVALID', `${src.where}: a plain list needs its asset`, { file: name });
      entries.push(...parsePlainList(bytes, asset, name));
    } else if (format === 'ofac-sdn-csv') entries.push(...parseSdnCsv(bytes, name));
    else entries.push(...parseSdnAdvancedXml(bytes, name));
  }
  s.done();
  f.done();
  return { version, chains, policySet, addressBook, priceTable, limits, screening: buildScreeningList(meta, entries) };
}

/**
 * OFAC `SDN_ADVANCED.xml` / `sdn_advanced.xml`: the asset is a
 * `ReferenceValueSets/FeatureTypeValues/FeatureType` whose text is
 * `Digital Currency Address - <ASSET>`; each `Feature` whose `FeatureTypeID`
 * names such a type carries the address as `VersionDetail` text (structure as
 * extracted by 0xB10C's generate-address-list.py). No official excerpt was
 * available to test against (vectors README "Not found"), so this reader is
 * deliberately narrow: it scans only these elements, bounded, and refuses a
 * file in which it finds none of the feature types.
 */
import { CustodianError } from '@custodian/core/errors';
import type { ScreeningEntry } from './screening-list.js';

/** Largest advanced XML accepted (the full file is about 100 MB). */
export const SDN_XML_BYTES_MAX = 256 * 1024 * 1024;
/** Longest single Feature element scanned. */
export const SDN_XML_FEATURE_CHARS_MAX = 64 * 1024;

const FEATURE_TYPE_RE = /<FeatureType\b([^>]*)>\s*Digital Currency Address - ([A-Z0-9]{2,10})\s*<\/FeatureType>/g;
const FEATURE_RE = /<Feature\b([^>]*)>/g;
const VERSION_DETAIL_RE = /<VersionDetail\b[^>]*>\s*([A-Za-z0-9]{20,128})\s*<\/VersionDetail>/g;

function attr(attrs: string, name: string): string | undefined {
  return new RegExp(`\\b${name}="([0-9]{1,12})"`).exec(attrs)?.[1];
}

/** Extracts the digital currency addresses of an advanced-format SDN XML file. */
export function parseSdnAdvancedXml(bytes: Uint8Array, name = 'sdn_advanced.xml'): ScreeningEntry[] {
  if (bytes.length > SDN_XML_BYTES_MAX) throw new CustodianError('E_SCREENING_LIST_INVALID', `${name} of ${bytes.length} bytes exceeds ${SDN_XML_BYTES_MAX}`, { name });
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new CustodianError('E_SCREENING_LIST_INVALID', `${name} is not UTF-8`, { name });
  }
  if (/<!DOCTYPE|<!ENTITY/i.test(text)) throw new CustodianError('E_SCREENING_LIST_INVALID', `${name} declares a DTD or entities; refused`, { name });
  const assets = new Map<string, string>();
  for (const m of text.matchAll(FEATURE_TYPE_RE)) {
    const id = attr(m[1]!, 'ID');
    if (id !== undefined) assets.set(id, m[2]!);
  }
  if (assets.size === 0) throw new CustodianError('E_SCREENING_LIST_INVALID', `${name} defines no "Digital Currency Address" feature types`, { name });
  const out: ScreeningEntry[] = [];
  for (const m of text.matchAll(FEATURE_RE)) {
    const asset = assets.get(attr(m[1]!, 'FeatureTypeID') ?? '');
    if (asset === undefined) continue;
    const start = m.index + m[0].length;
    const end = text.indexOf('</Feature>', start);
    if (end < 0 || end - start > SDN_XML_FEATURE_CHARS_MAX) throw new CustodianError('E_SCREENING_LIST_INVALID', `${name}: a Feature element is unterminated or too long`, { name, offset: m.index });
    const featureId = attr(m[1]!, 'ID') ?? '?';
    for (const d of text.slice(start, end).matchAll(VERSION_DETAIL_RE)) {
      out.push({ address: d[1]!, asset, reference: `${name} Feature ${featureId}` });
    }
  }
  return out;
}

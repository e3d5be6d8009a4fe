import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import fc from 'fast-check';
import { isCustodianError } from '@custodian/core/errors';
import { readVector, vectorPath } from '@custodian/core/vectors';
import { utf8 } from '@custodian/core/bytes';
import { parsePlainList } from './plain-list.js';
import { parseSdnCsv, parseCsvRows } from './ofac-sdn-csv.js';
import { parseSdnAdvancedXml } from './ofac-sdn-advanced-xml.js';
import { buildScreeningList, assertScreeningListFresh, type ScreeningEntry } from './screening-list.js';
import { addressKey } from '../address-key.js';

const LISTS = vectorPath('sanctions', '0xB10C-lists');
const assetFiles = readdirSync(LISTS).filter((f) => f.endsWith('.txt')).sort();
const meta = { version: 't', asOfMs: Date.parse('2024-09-27T00:35:17Z'), maxAgeMs: 86_400_000 };

function allPlain(): ScreeningEntry[] {
  return assetFiles.flatMap((f) => parsePlainList(readVector('sanctions', '0xB10C-lists', f), f.slice('sanctioned_addresses_'.length, -4), f));
}

test('parses all 17 per-asset OFAC lists: 654 addresses; the JSON form gives the same entries', () => {
  assert.equal(assetFiles.length, 17);
  const entries = allPlain();
  assert.equal(entries.length, 654);
  for (const f of assetFiles) {
    const asset = f.slice('sanctioned_addresses_'.length, -4);
    const txt = parsePlainList(readVector('sanctions', '0xB10C-lists', f), asset, 'x');
    const json = parsePlainList(readVector('sanctions', '0xB10C-lists', f.replace('.txt', '.json')), asset, 'x');
    assert.deepEqual(json, txt);
  }
  assert.equal(entries.filter((e) => e.asset === 'XBT').length, 435);
  assert.equal(entries.filter((e) => e.asset === 'ETH').length, 152);
});

test('parses the real sdn.csv excerpt: 7 rows of 12 fields, 2 XBT addresses, both also in the XBT list', () => {
  const bytes = readVector('sanctions', 'official-format', 'sdn-csv-excerpt.csv');
  const rows = parseCsvRows(new TextDecoder().decode(bytes), 100);
  assert.equal(rows.length, 7);
  assert.ok(rows.every((r) => r.length === 12));
  const entries = parseSdnCsv(bytes);
  assert.deepEqual(entries.map((e) => [e.asset, e.address]), [
    ['XBT', '17a5bpKvEp1j1Trs4qTbcNZrby53JbaS9C'],
    ['XBT', '1JPfVv5cWRLx1js9NWxg46dG2CGbeRz4th'],
  ]);
  assert.match(entries[0]!.reference, /ent_num 31811/);
  const xbt = new Set(parsePlainList(readVector('sanctions', '0xB10C-lists', 'sanctioned_addresses_XBT.txt'), 'XBT', 'x').map((e) => e.address));
  for (const e of entries) assert.ok(xbt.has(e.address));
});

test('accepts CRLF line endings in sdn.csv', () => {
  const text = new TextDecoder().decode(readVector('sanctions', 'official-format', 'sdn-csv-excerpt.csv')).replace(/\n/g, '\r\n');
  assert.equal(parseSdnCsv(utf8(text)).length, 2);
});

test('reads ETH and alt. clauses from a remarks field', () => {
  const row = '1,"X","individual","CYBER2",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,"Digital Currency Address - ETH 0x8589427373D6D84E98730D7795D8f6f8731FDA16; alt. Digital Currency Address - XBT bc1qsnzvnlz6d5d2tsfnjnhr36wqxvscqpcmz3zf3s."\n';
  const es = parseSdnCsv(utf8(row));
  assert.deepEqual(es.map((e) => e.asset), ['ETH', 'XBT']);
});

test('rejects sdn.csv rows with the wrong number of fields, unterminated quotes and bad ent_num', () => {
  for (const bad of ['1,"a",b\n', '1,"unterminated\n', 'x,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- \n', '1,"a"b,-0- \n']) {
    assert.throws(() => parseSdnCsv(utf8(bad)), (e) => isCustodianError(e, 'E_SCREENING_LIST_INVALID'), bad);
  }
});

test('rejects list files that are not UTF-8 or hold non-addresses', () => {
  assert.throws(() => parsePlainList(Uint8Array.of(0xff, 0xfe), 'ETH', 'x'), (e) => isCustodianError(e, 'E_SCREENING_LIST_INVALID'));
  assert.throws(() => parsePlainList(utf8('0xabc def\n'), 'ETH', 'x'), (e) => isCustodianError(e, 'E_SCREENING_LIST_INVALID'));
  assert.throws(() => parsePlainList(utf8('[1,2]'), 'ETH', 'x'), (e) => isCustodianError(e, 'E_SCREENING_LIST_INVALID'));
});

test('only typed errors escape the sdn.csv parser on mutated input', () => {
  const seed = new TextDecoder().decode(readVector('sanctions', 'official-format', 'sdn-csv-excerpt.csv'));
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.nat(), fc.constantFrom('"', ',', '\n', '\r', 'a', ' ', '-', '\u0000')), { maxLength: 8 }), (edits) => {
      const chars = [...seed];
      for (const [i, c] of edits) chars[i % chars.length] = c;
      try {
        parseSdnCsv(utf8(chars.join('')));
      } catch (e) {
        assert.ok(isCustodianError(e, 'E_SCREENING_LIST_INVALID'), String(e));
      }
    }),
    { numRuns: 300 },
  );
});

// Hand-written fixture following the documented SDN_ADVANCED.xml structure
// (vectors README "Not found": no official excerpt exists in the vectors).
const XML_FIXTURE = `<?xml version="1.0" encoding="utf-8"?>
<Sanctions xmlns="https://sanctionslistservice.ofac.treas.gov/api/PublicationPreview/exports/ADVANCED_XML">
<ReferenceValueSets><FeatureTypeValues>
<FeatureType ID="344" FeatureTypeGroupID="1">Digital Currency Address - XBT</FeatureType>
<FeatureType ID="345" FeatureTypeGroupID="1">Digital Currency Address - ETH</FeatureType>
<FeatureType ID="8" FeatureTypeGroupID="2">Birthdate</FeatureType>
</FeatureTypeValues></ReferenceValueSets>
<DistinctParties><DistinctParty FixedRef="1"><Profile ID="1">
<Feature ID="100" FeatureTypeID="345"><FeatureVersion ID="1" ReliabilityID="1"><VersionDetail DetailTypeID="1432">0x8589427373D6D84E98730D7795D8f6f8731FDA16</VersionDetail></FeatureVersion></Feature>
<Feature ID="101" FeatureTypeID="8"><FeatureVersion ID="2"><VersionDetail DetailTypeID="1">1996</VersionDetail></FeatureVersion></Feature>
<Feature ID="102" FeatureTypeID="344"><FeatureVersion ID="3"><VersionDetail DetailTypeID="1432">17a5bpKvEp1j1Trs4qTbcNZrby53JbaS9C</VersionDetail></FeatureVersion></Feature>
</Profile></DistinctParty></DistinctParties></Sanctions>`;

test('extracts Digital Currency Address features from SDN advanced XML (hand-written fixture)', () => {
  const es = parseSdnAdvancedXml(utf8(XML_FIXTURE));
  assert.deepEqual(es.map((e) => [e.asset, e.address, e.reference]), [
    ['ETH', '0x8589427373D6D84E98730D7795D8f6f8731FDA16', 'sdn_advanced.xml Feature 100'],
    ['XBT', '17a5bpKvEp1j1Trs4qTbcNZrby53JbaS9C', 'sdn_advanced.xml Feature 102'],
  ]);
});

test('rejects SDN XML with a DTD, without feature types, or with an unterminated feature', () => {
  assert.throws(() => parseSdnAdvancedXml(utf8('<!DOCTYPE x [<!ENTITY a "b">]>' + XML_FIXTURE)), (e) => isCustodianError(e, 'E_SCREENING_LIST_INVALID'));
  assert.throws(() => parseSdnAdvancedXml(utf8('<Sanctions/>')), (e) => isCustodianError(e, 'E_SCREENING_LIST_INVALID'));
  assert.throws(() => parseSdnAdvancedXml(utf8(XML_FIXTURE.replace(/<\/FeatureVersion><\/Feature>\n<Feature ID="101"[\s\S]*$/, ''))), (e) => isCustodianError(e, 'E_SCREENING_LIST_INVALID'));
});

test('screens EVM addresses case-insensitively, base58 exactly, and names the list entry', () => {
  const list = buildScreeningList(meta, [...allPlain(), ...parseSdnCsv(readVector('sanctions', 'official-format', 'sdn-csv-excerpt.csv'))]);
  const tornado = '0x8589427373D6D84E98730D7795D8f6f8731FDA16';
  assert.ok(list.screen(addressKey(tornado)).length > 0);
  assert.ok(list.screen(addressKey(tornado.toLowerCase())).length > 0);
  const hit = list.screen(addressKey('17a5bpKvEp1j1Trs4qTbcNZrby53JbaS9C'));
  assert.ok(hit.some((h) => /ent_num 31811/.test(h.reference)));
  assert.ok(hit.some((h) => /sanctioned_addresses_XBT.txt line/.test(h.reference)));
  assert.equal(list.screen(addressKey('17A5BPKVEP1J1TRS4QTBCNZRBY53JBAS9C')).length, 0);
  assert.equal(list.screen(addressKey('0x0000000000000000000000000000000000000001')).length, 0);
});

test('rejects a mixed-case EVM address with a wrong EIP-55 checksum and mixed-case bech32', () => {
  assert.throws(() => addressKey('0x8589427373d6D84E98730D7795D8f6f8731FDA16'), (e) => isCustodianError(e, 'E_ADDRESS_CHECKSUM'));
  assert.throws(() => addressKey('bc1Qsnzvnlz6d5d2tsfnjnhr36wqxvscqpcmz3zf3s'), (e) => isCustodianError(e, 'E_ADDRESS_INVALID'));
  assert.equal(addressKey('BC1QSNZVNLZ6D5D2TSFNJNHR36WQXVSCQPCMZ3ZF3S'), 'bc1qsnzvnlz6d5d2tsfnjnhr36wqxvscqpcmz3zf3s');
  assert.throws(() => addressKey(''), (e) => isCustodianError(e, 'E_ADDRESS_INVALID'));
  assert.throws(() => addressKey('a b'), (e) => isCustodianError(e, 'E_ADDRESS_INVALID'));
});

test('the list hash identifies the content, not the order of sources', () => {
  const a = allPlain();
  const h1 = buildScreeningList(meta, a).hash;
  const h2 = buildScreeningList(meta, [...a].reverse()).hash;
  const h3 = buildScreeningList(meta, a.slice(1)).hash;
  assert.equal(h1, h2);
  assert.notEqual(h1, h3);
});

test('refuses a screening list older than its maximum age', () => {
  const list = buildScreeningList(meta, []);
  assertScreeningListFresh(list, meta.asOfMs + 1000);
  assert.throws(() => assertScreeningListFresh(list, meta.asOfMs + meta.maxAgeMs + 1), (e) => isCustodianError(e, 'E_SCREENING_LIST_STALE'));
});

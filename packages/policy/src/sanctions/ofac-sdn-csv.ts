/**
 * OFAC `sdn.csv` (no header; 12 columns: ent_num, SDN_Name, SDN_Type, Program,
 * Title, Call_Sign, Vess_type, Tonnage, GRT, Vess_flag, Vess_owner, Remarks).
 * Null fields are the unquoted literal `-0- `. Digital currency addresses sit
 * only in Remarks, as `Digital Currency Address - <ASSET> <address>` clauses
 * (additional ones prefixed `alt. `). See ../shared/vectors/sanctions/README.md.
 */
import { CustodianError } from '@custodian/core/errors';
import type { ScreeningEntry } from './screening-list.js';

/** Largest sdn.csv accepted (the full file is about 5 MB). */
export const SDN_CSV_BYTES_MAX = 64 * 1024 * 1024;
/** Most rows accepted. */
export const SDN_CSV_ROWS_MAX = 200_000;
/** Columns of every sdn.csv row. */
export const SDN_CSV_COLUMNS = 12;

const CLAUSE_RE = /Digital Currency Address - ([A-Z0-9]{2,10}) ([A-Za-z0-9]{20,128})/g;

function invalid(message: string, detail: Record<string, unknown>): never {
  throw new CustodianError('E_SCREENING_LIST_INVALID', message, detail);
}

/** Splits CSV text into rows of fields (RFC 4180 quoting; LF or CRLF). */
export function parseCsvRows(text: string, maxRows: number): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let i = 0;
  const n = text.length;
  while (i < n) {
    let field = '';
    if (text[i] === '"') {
      i++;
      for (;;) {
        const q = text.indexOf('"', i);
        if (q < 0) invalid('unterminated quoted CSV field', { row: rows.length + 1 });
        field += text.slice(i, q);
        i = q + 1;
        if (text[i] === '"') {
          field += '"';
          i++;
        } else break;
      }
    } else {
      let j = i;
      while (j < n && text[j] !== ',' && text[j] !== '\n' && text[j] !== '\r') j++;
      field = text.slice(i, j);
      i = j;
    }
    row.push(field);
    const c = text[i];
    if (c === ',') {
      i++;
      continue;
    }
    if (c === '\r' && text[i + 1] === '\n') i += 2;
    else if (c === '\n') i++;
    else if (c !== undefined) invalid('unexpected character after a CSV field', { row: rows.length + 1 });
    rows.push(row);
    row = [];
    if (rows.length > maxRows) invalid(`CSV has more than ${maxRows} rows`, { maxRows });
  }
  if (row.length > 0) rows.push(row);
  return rows;
}

/** Extracts the digital currency addresses of an `sdn.csv` file. */
export function parseSdnCsv(bytes: Uint8Array, name = 'sdn.csv'): ScreeningEntry[] {
  if (bytes.length > SDN_CSV_BYTES_MAX) invalid(`${name} of ${bytes.length} bytes exceeds ${SDN_CSV_BYTES_MAX}`, { name });
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return invalid(`${name} is not UTF-8`, { name });
  }
  const out: ScreeningEntry[] = [];
  for (const [i, row] of parseCsvRows(text, SDN_CSV_ROWS_MAX).entries()) {
    // OFAC ends the file with a SUB (0x1A) line in some exports; skip blank rows.
    if (row.length === 1 && (row[0] === '' || row[0] === '\u001a')) continue;
    if (row.length !== SDN_CSV_COLUMNS) invalid(`${name} row ${i + 1} has ${row.length} fields, expected ${SDN_CSV_COLUMNS}`, { name, row: i + 1 });
    const entNum = row[0]!;
    if (!/^[0-9]{1,10}$/.test(entNum)) invalid(`${name} row ${i + 1} has an invalid ent_num`, { name, row: i + 1 });
    for (const m of row[11]!.matchAll(CLAUSE_RE)) {
      out.push({ address: m[2]!, asset: m[1]!, reference: `${name} ent_num ${entNum} (${row[1]!.slice(0, 80)})` });
    }
  }
  return out;
}

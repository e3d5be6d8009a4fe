/**
 * The evidence bundle as one file an auditor receives: a POSIX ustar archive
 * (readable with any `tar`) holding, in this order,
 *
 *   README.txt     how to check it (fixed text)
 *   evidence.json  the canonical bundle (evidence-bundle.ts), the thing verified
 *   report.html    the auditor's report, rendered from evidence.json
 *
 * The archive is deterministic (fixed modes, owner 0, mtime = export time), so
 * `decodeEvidenceArchive` proves it has the one spelling by re-encoding and
 * comparing bytes; together with the report being re-rendered and compared at
 * verification, any altered byte of any member is refused.
 */
import { equalBytes } from '@custodian/core/bytes';
import { evidenceError } from './evidence-errors.js';
import { EVIDENCE_BUNDLE_BYTES_MAX } from './evidence-bundle.js';
import { concatBytes } from '@custodian/core/bytes';

/** ustar block size (POSIX.1-1988). */
export const TAR_BLOCK_BYTES = 512;
/** Largest report member accepted. */
export const EVIDENCE_REPORT_BYTES_MAX = 16 * 1024 * 1024;
/** Largest archive accepted (checked before parsing). */
export const EVIDENCE_ARCHIVE_BYTES_MAX = EVIDENCE_BUNDLE_BYTES_MAX + EVIDENCE_REPORT_BYTES_MAX + 16 * TAR_BLOCK_BYTES;
/** The members, in archive order. */
export const EVIDENCE_ARCHIVE_MEMBERS = ['README.txt', 'evidence.json', 'report.html'] as const;

/** The fixed README member. */
export const EVIDENCE_ARCHIVE_README = [
  'Custodian evidence bundle',
  '',
  'evidence.json  audit entries with RFC 9162 inclusion proofs, the witnessed checkpoints,',
  '               consistency proofs, attached documents and the control mapping (docs/evidence.md)',
  'report.html    the same evidence for people: tables, charts and the verification result',
  '',
  'Check it offline, entirely:  npx custodian evidence verify THIS_FILE --policy POLICY.json [--signers SIGNERS.json]',
  'Without --policy / --signers the keys carried in the bundle are used, and the output says so.',
  '',
].join('\n');

const enc = new TextEncoder();

/** The archive bytes of a bundle's canonical JSON and its rendered report. */
export function encodeEvidenceArchive(evidenceJson: Uint8Array, reportHtml: Uint8Array, exportedAtMs: number): Uint8Array {
  const mtime = Math.floor(exportedAtMs / 1000);
  const members: [string, Uint8Array][] = [['README.txt', enc.encode(EVIDENCE_ARCHIVE_README)], ['evidence.json', evidenceJson], ['report.html', reportHtml]];
  const parts: Uint8Array[] = [];
  for (const [name, data] of members) {
    parts.push(header(name, data.length, mtime), data, new Uint8Array(padding(data.length)));
  }
  parts.push(new Uint8Array(2 * TAR_BLOCK_BYTES));
  return concatBytes(...parts);
}

/** True when `bytes` look like a ustar archive (magic at offset 257). */
export function isEvidenceArchive(bytes: Uint8Array): boolean {
  return bytes.length >= TAR_BLOCK_BYTES && new TextDecoder().decode(bytes.subarray(257, 263)) === 'ustar\0';
}

/** The one decoder of an (untrusted) archive: its members, or E_EVIDENCE_TOO_LARGE / E_EVIDENCE_MALFORMED. */
export function decodeEvidenceArchive(bytes: Uint8Array): { readonly evidenceJson: Uint8Array; readonly reportHtml: Uint8Array; readonly mtime: number } {
  if (bytes.length > EVIDENCE_ARCHIVE_BYTES_MAX) throw evidenceError('E_EVIDENCE_TOO_LARGE', `archive of ${bytes.length} bytes exceeds ${EVIDENCE_ARCHIVE_BYTES_MAX}`, { size: bytes.length });
  const found: Uint8Array[] = [];
  let off = 0;
  let mtime = 0;
  for (const name of EVIDENCE_ARCHIVE_MEMBERS) {
    if (off + TAR_BLOCK_BYTES > bytes.length) throw malformed(`archive ends before ${name}`);
    const h = bytes.subarray(off, off + TAR_BLOCK_BYTES);
    const got = field(h, 0, 100);
    if (got !== name) throw malformed(`archive member ${found.length} is "${got.slice(0, 100)}", expected ${name}`);
    const size = octal(h, 124, 12, name);
    mtime = octal(h, 136, 12, name);
    const max = name === 'report.html' ? EVIDENCE_REPORT_BYTES_MAX : EVIDENCE_BUNDLE_BYTES_MAX;
    if (size > max || off + TAR_BLOCK_BYTES + size > bytes.length) throw malformed(`archive member ${name} is too large or truncated`);
    found.push(bytes.subarray(off + TAR_BLOCK_BYTES, off + TAR_BLOCK_BYTES + size));
    off += TAR_BLOCK_BYTES + size + padding(size);
  }
  const [readme, evidenceJson, reportHtml] = found as [Uint8Array, Uint8Array, Uint8Array];
  if (!equalBytes(readme, enc.encode(EVIDENCE_ARCHIVE_README))) throw malformed('README.txt is not the fixed text');
  // One spelling: headers, padding, member order and the end blocks are exactly what the encoder writes.
  if (!equalBytes(encodeEvidenceArchive(evidenceJson, reportHtml, mtime * 1000), bytes)) throw malformed('archive is not in canonical form (headers, padding or trailing data differ)');
  return { evidenceJson, reportHtml, mtime };
}

function header(name: string, size: number, mtime: number): Uint8Array {
  const h = new Uint8Array(TAR_BLOCK_BYTES);
  put(h, 0, name);
  put(h, 100, '0000644\0');
  put(h, 108, '0000000\0');
  put(h, 116, '0000000\0');
  put(h, 124, `${size.toString(8).padStart(11, '0')}\0`);
  put(h, 136, `${mtime.toString(8).padStart(11, '0')}\0`);
  put(h, 148, '        ');
  put(h, 156, '0');
  put(h, 257, 'ustar\0');
  put(h, 263, '00');
  const sum = h.reduce((n, b) => n + b, 0);
  put(h, 148, `${sum.toString(8).padStart(6, '0')}\0 `);
  return h;
}

function put(h: Uint8Array, off: number, s: string): void {
  h.set(enc.encode(s), off);
}

function field(h: Uint8Array, off: number, len: number): string {
  const raw = h.subarray(off, off + len);
  const end = raw.indexOf(0);
  return new TextDecoder().decode(end < 0 ? raw : raw.subarray(0, end));
}

function octal(h: Uint8Array, off: number, len: number, name: string): number {
  const s = field(h, off, len);
  if (!/^[0-7]{1,11}$/.test(s)) throw malformed(`archive member ${name} has an invalid numeric field`);
  return parseInt(s, 8);
}

function padding(size: number): number {
  return (TAR_BLOCK_BYTES - (size % TAR_BLOCK_BYTES)) % TAR_BLOCK_BYTES;
}

function malformed(message: string): Error {
  return evidenceError('E_EVIDENCE_MALFORMED', message);
}

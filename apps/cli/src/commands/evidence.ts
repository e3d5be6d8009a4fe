/**
 * `custodian evidence export|verify|report`: evidence bundles for auditors
 * and regulators (docs/evidence.md), checked entirely offline.
 *
 *   custodian evidence export --log DIR|URL (--request ID | --from DATE --to DATE) --out FILE
 *                             [--trusted-checkpoint FILE] [--attach FILE]... [trust] [--json]
 *
 * The bundle is written as a ustar archive (README.txt, evidence.json,
 * report.html; evidence-archive.ts). On the custody log (enclave-signed
 * leaves) every leaf is verified while exporting and carried in the bundle;
 * the signers' identity keys come from --signers FILE or the signers document
 * kept in the log directory (reported as `"signerTrust"`).
 *
 * --attach carries a document whose SHA-256 an exported entry names (the
 * rulebook, address book, price table, screening list, attestation evidence);
 * one that no entry names is refused (E_EVIDENCE_ATTACHMENT).
 *   custodian evidence verify (--bundle FILE | FILE) [--trusted-checkpoint FILE] [--signers FILE] [trust] [--json]
 *   custodian evidence report (--bundle FILE | FILE) --out report.html [--signers FILE] [trust] [--json]
 *
 * `report` verifies the bundle first and writes the auditor's HTML report
 * (self-contained: inline CSS and SVG charts); no PDF is rendered.
 *
 * trust: --policy FILE (a checkpoint policy document), or --origin O
 * --log-key VKEY|FILE... [--witness-key VKEY|FILE...] [--quorum K]. Export
 * falls back to the policy document kept in the log directory; verify falls
 * back to the policy carried in the bundle. Both fallbacks are reported
 * (`"trust"`), because whoever wrote the directory or the bundle chose them.
 *
 * Exit codes (CONTRACTS.md): 0 verified / exported, 1 refused (the error
 * names the item and why), 2 usage, 3 a file or the log could not be read.
 */
import { existsSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { CustodianError } from '@custodian/core/errors';
import { parseJson } from '@custodian/core/canonical-json';
import {
  checkpointPolicyFromKeys, decodeCheckpointPolicyDocument, LOG_POLICY_FILE_NAME, type CheckpointPolicy, type CheckpointPolicyDocument,
} from '@custodian/audit/checkpoint-policy';
import { FileTileStorage, type TileStorage } from '@custodian/audit/tile-storage';
import { HttpTileStorage } from '@custodian/audit/http-tile-storage';
import {
  decodeEvidenceBundle, encodeEvidenceBundle, evidenceBundleDigest, EVIDENCE_ATTACHMENT_BYTES_MAX, EVIDENCE_ATTACHMENT_NAME_CHARS_MAX, EVIDENCE_BUNDLE_BYTES_MAX, type EvidenceBundle, type EvidenceSubject,
} from '@custodian/audit/evidence-bundle';
import { exportEvidenceBundle } from '@custodian/audit/evidence-export';
import { decodeEvidenceArchive, encodeEvidenceArchive, isEvidenceArchive, EVIDENCE_ARCHIVE_BYTES_MAX } from '@custodian/audit/evidence-archive';
import { renderEvidenceReport } from '@custodian/audit/evidence-report';
import { CUSTODY_SIGNERS_BYTES_MAX, CUSTODY_SIGNERS_FILE_NAME, decodeCustodySigners, signerKeysOf } from '@custodian/audit/custody-signers';
import { verifyEvidenceBundle, type EvidenceVerification } from '@custodian/audit/evidence-verify';
import { evidenceError } from '@custodian/audit/evidence-errors';
import { NOTE_BYTES_MAX } from '@custodian/audit/limits';
import { emit, emitError, parseArgs, UsageError } from '../output.js';

const USAGE = `usage: custodian evidence export --log DIR|URL (--request ID | --from DATE --to DATE) --out FILE [--trusted-checkpoint FILE] [--attach FILE]... [--signers FILE] [trust] [--json]
       custodian evidence verify (--bundle FILE | FILE) [--trusted-checkpoint FILE] [--signers FILE] [trust] [--json]
       custodian evidence report (--bundle FILE | FILE) --out report.html [--signers FILE] [trust] [--json]
trust: --policy FILE | --origin O --log-key VKEY|FILE... [--witness-key VKEY|FILE...] [--quorum K]`;

/** Largest policy document or key file read. */
const TRUST_FILE_BYTES_MAX = 256 * 1024;

const SPEC = {
  strings: ['log', 'request', 'from', 'to', 'out', 'bundle', 'trusted-checkpoint', 'policy', 'origin', 'quorum', 'signers'],
  multi: ['log-key', 'witness-key', 'attach'],
  booleans: ['json'],
};

/** Parsed options: option name → values. */
export type OptionValues = Map<string, string[]>;

/** Where the checkpoint keys came from. */
export type TrustSource = 'policy-file' | 'command-line' | 'log-directory' | 'bundle';

/** Entry point of `custodian evidence export|verify` (args after `evidence`, or including it). */
export async function evidenceCommand(args: readonly string[]): Promise<number> {
  const json = args.includes('--json');
  try {
    const [sub, ...rest] = args[0] === 'evidence' ? args.slice(1) : args;
    const opts = parseArgs(rest, SPEC);
    if (sub === 'export') {
      if (opts.positionals.length > 0) throw new UsageError(`unexpected argument ${opts.positionals[0]}\n${USAGE}`);
      return await exportCommand(opts.values, json);
    }
    if (sub === 'verify' || sub === 'report') {
      if (opts.positionals.length > 1 || (opts.positionals.length === 1 && opts.values.has('bundle'))) throw new UsageError(`give one bundle file\n${USAGE}`);
      const file = opts.positionals[0] ?? one(opts.values, 'bundle');
      if (file === undefined) throw new UsageError(`--bundle FILE is required\n${USAGE}`);
      return sub === 'verify' ? verifyCommand(file, opts.values, json) : reportCommand(file, opts.values, json);
    }
    throw new UsageError(USAGE);
  } catch (e) {
    return emitError(json, e);
  }
}

async function exportCommand(v: OptionValues, json: boolean): Promise<number> {
  const { storage, location } = openLog(v);
  const out = one(v, 'out');
  if (out === undefined) throw new UsageError(`--out FILE is required\n${USAGE}`);
  const subject = subjectOf(v);
  const { doc, trust } = trustDocument(v, location, true);
  if (doc === null) throw new UsageError(`no keys given: pass --policy FILE or --origin with --log-key\n${USAGE}`);
  const trusted = optionalFile(v, 'trusted-checkpoint', NOTE_BYTES_MAX);
  const { keys, signerTrust } = signerKeysFor(v, location, doc);
  const attachments = (v.get('attach') ?? []).map((path) => ({ name: attachmentName(path), bytes: readFile(path, EVIDENCE_ATTACHMENT_BYTES_MAX, 'attachment') }));
  const bundle = await exportEvidenceBundle(storage, {
    policy: doc, subject, nowMs: Date.now(), attachments, ...(trusted === undefined ? {} : { trustedCheckpoint: trusted }), ...(keys === undefined ? {} : { signerKeys: keys }),
  });
  const evidenceJson = encodeEvidenceBundle(bundle);
  // The report inside the archive is rendered from the bundle verified under its own keys (what `verify` re-renders).
  const bytes = encodeEvidenceArchive(evidenceJson, new TextEncoder().encode(renderEvidenceReport(bundle, verifyEvidenceBundle(bundle))), bundle.exportedAtMs);
  writeAtomically(out, bytes);
  const digest = evidenceBundleDigest(bundle);
  const size = bundle.checkpoints.map((c) => c.note.split('\n')[1]).join(', ');
  emit(json, { ok: true, out, format: 'tar', bundleDigest: digest, subject, entries: bundle.entries.length, checkpointSize: Number(size), consistencyProofs: bundle.consistency.length, bytes: bytes.length, trust, signerTrust }, [
    `wrote ${out} (tar: README.txt, evidence.json, report.html): ${bundle.entries.length} entries with inclusion proofs to the witnessed checkpoint of size ${size}` + (bundle.consistency.length > 0 ? ', and a consistency proof from the trusted checkpoint' : ''),
    keys === undefined ? '' : `every leaf verified under the signers' identity keys (${signerTrust === 'signers-file' ? '--signers' : 'signers document in the log directory'}): enclave signature, typed entry, each signer's chain`,
    `bundle digest (SHA-256 of the manifest) ${digest}: record it, or send it to the auditor separately`,
    trust === 'log-directory' ? `warning: keys taken from ${LOG_POLICY_FILE_NAME} inside the log directory` : '',
  ].filter((l) => l !== '').join('\n'));
  return 0;
}

function verifyCommand(file: string, v: OptionValues, json: boolean): number {
  const { r, trust, format } = verifyBundleFile(file, v);
  emit(json, { ok: true, bundle: file, format, ...r, trust: trust ?? 'bundle' }, verificationText(r, trust ?? 'bundle'));
  return 0;
}

function reportCommand(file: string, v: OptionValues, json: boolean): number {
  const out = one(v, 'out');
  if (out === undefined) throw new UsageError(`--out FILE is required\n${USAGE}`);
  const { bundle, r, trust } = verifyBundleFile(file, v);
  const html = new TextEncoder().encode(renderEvidenceReport(bundle, r));
  writeAtomically(out, html);
  emit(json, { ok: true, bundle: file, out, bytes: html.length, bundleDigest: r.bundleDigest, entries: r.entries, trust: trust ?? 'bundle' }, [
    `wrote ${out}: the report of the verified bundle ${r.bundleDigest} (${r.entries} entries; self-contained HTML, inline SVG charts)`,
    trust === null ? 'warning: checkpoint keys taken from the bundle itself; pass --policy or --log-key to check against keys you hold' : '',
  ].filter((l) => l !== '').join('\n'));
  return 0;
}

/**
 * Reads a bundle file (the tar archive `export` writes, or a bare
 * evidence.json) and verifies it entirely; an archive's report.html must be
 * exactly the report of its evidence.json.
 */
function verifyBundleFile(file: string, v: OptionValues): { bundle: EvidenceBundle; r: EvidenceVerification; trust: TrustSource | null; format: 'tar' | 'json' } {
  const bytes = readFile(file, EVIDENCE_ARCHIVE_BYTES_MAX, 'bundle');
  const archive = isEvidenceArchive(bytes) ? decodeEvidenceArchive(bytes) : null;
  if (archive === null && bytes.length > EVIDENCE_BUNDLE_BYTES_MAX) throw evidenceError('E_EVIDENCE_TOO_LARGE', `bundle file ${file} is larger than ${EVIDENCE_BUNDLE_BYTES_MAX} bytes`, { path: file });
  const bundle = decodeEvidenceBundle(archive === null ? bytes : archive.evidenceJson);
  const { policy, doc, trust } = trustPolicy(v, null);
  const trusted = optionalFile(v, 'trusted-checkpoint', NOTE_BYTES_MAX);
  const signersFile = one(v, 'signers');
  const signerKeys = signersFile === undefined ? undefined : signerKeysOf(decodeCustodySigners(readFile(signersFile, CUSTODY_SIGNERS_BYTES_MAX, 'signers')), doc ?? bundle.log.policy);
  const r = verifyEvidenceBundle(bundle, { ...(policy === null ? {} : { policy }), ...(trusted === undefined ? {} : { trustedCheckpoint: trusted }), ...(signerKeys === undefined ? {} : { signerKeys }) });
  if (archive !== null && new TextDecoder().decode(archive.reportHtml) !== renderEvidenceReport(bundle, verifyEvidenceBundle(bundle))) {
    throw evidenceError('E_EVIDENCE_MANIFEST_MISMATCH', 'report.html is not the report of evidence.json (altered after export)', { item: 'report.html' });
  }
  return { bundle, r, trust, format: archive === null ? 'json' : 'tar' };
}

/**
 * The signers' identity keys for a custody log: from --signers FILE, else the
 * signers document kept in the log directory (either checked against the
 * checkpoint policy `doc`); none for a log of unsigned typed entries.
 */
export function signerKeysFor(v: OptionValues, location: string, doc: CheckpointPolicyDocument): { keys: Map<string, Uint8Array> | undefined; signerTrust: 'signers-file' | 'log-directory' | null } {
  const file = one(v, 'signers');
  if (file !== undefined) return { keys: signerKeysOf(decodeCustodySigners(readFile(file, CUSTODY_SIGNERS_BYTES_MAX, 'signers')), doc), signerTrust: 'signers-file' };
  if (/^https?:\/\//.test(location)) return { keys: undefined, signerTrust: null };
  const inDir = join(location, CUSTODY_SIGNERS_FILE_NAME);
  if (!existsSync(inDir)) return { keys: undefined, signerTrust: null };
  return { keys: signerKeysOf(decodeCustodySigners(readFile(inDir, CUSTODY_SIGNERS_BYTES_MAX, 'signers')), doc), signerTrust: 'log-directory' };
}

/** The human report of a verified bundle. */
export function verificationText(r: EvidenceVerification, trust: TrustSource): string {
  const subject = r.subject.kind === 'request' ? `request ${r.subject.requestId}` : `entries from ${new Date(r.subject.fromMs).toISOString()} to ${new Date(r.subject.toMs).toISOString()}`;
  const kinds = Object.entries(r.entriesByKind).map(([k, n]) => `${k} ${n}`).join(', ');
  return [
    `ok: evidence bundle ${r.bundleDigest} verified offline`,
    `subject: ${subject} (${r.entries} entries: ${kinds}), log ${r.origin}`,
    ...(r.leaves === null ? [] : [`every entry's enclave-signed leaf verified under ${r.leaves.signerTrust === 'given-keys' ? 'the identity keys you gave' : "the identity keys carried in the bundle"} (${Object.entries(r.leaves.signers).map(([k, n]) => `${k} ${n}`).join(', ')})`]),
    ...r.checkpoints.map((c) => `checkpoint size ${c.size} root ${c.rootHash}: signed by ${c.logSigners.join(', ')}; cosigned by ${c.cosigners.join(', ') || 'nobody'} (quorum ${r.witnessQuorum})`),
    `every entry's inclusion proof verified; ${r.consistencyProofs} consistency proof(s) verified`,
    r.trustedSize === null ? 'no trusted checkpoint given: consistency with an earlier view not checked' : `consistent with the trusted checkpoint of size ${r.trustedSize}`,
    ...r.attachments.map((a) => `attachment ${a.name} (SHA-256 ${a.sha256}) is what ${a.referencedBy.map((x) => `entry ${x.index}'s ${x.field}`).join(', ')} names`),
    `objectives evidenced: ${Object.entries(r.objectives).map(([k, n]) => `${k} ${n}`).join(', ')}`,
    trust === 'bundle' ? 'warning: checkpoint keys taken from the bundle itself; pass --policy or --log-key to check against keys you hold' : '',
    'note: a bundle proves each entry is in the log; only the log itself shows nothing about the subject was left out',
  ].filter((l) => l !== '').join('\n');
}

// The file's base name in the characters a bundle allows for attachment names.
function attachmentName(path: string): string {
  const name = basename(path).replace(/[^A-Za-z0-9._-]/g, '_').replace(/^[^A-Za-z0-9]+/, '').slice(0, EVIDENCE_ATTACHMENT_NAME_CHARS_MAX);
  return name === '' ? 'attachment' : name;
}

function subjectOf(v: OptionValues): EvidenceSubject {
  const request = one(v, 'request');
  const from = one(v, 'from');
  const to = one(v, 'to');
  if (request !== undefined) {
    if (from !== undefined || to !== undefined) throw new UsageError('give either --request or --from/--to, not both');
    return { kind: 'request', requestId: request };
  }
  if (from === undefined || to === undefined) throw new UsageError(`--request ID or --from DATE --to DATE is required\n${USAGE}`);
  const fromMs = parseTime(from, '--from');
  const toMs = parseTime(to, '--to');
  if (fromMs >= toMs) throw new UsageError('--from must be before --to');
  return { kind: 'range', fromMs, toMs };
}

function parseTime(s: string, what: string): number {
  const ms = /^[0-9]{1,15}$/.test(s) ? Number(s) : Date.parse(s);
  if (!Number.isSafeInteger(ms) || ms < 0) throw new UsageError(`${what} must be an ISO date or milliseconds since the epoch`);
  return ms;
}

/** The first value of option `k`. */
export function one(v: OptionValues, k: string): string | undefined {
  return v.get(k)?.[0];
}

/** Opens `--log DIR|URL` read-only. */
export function openLog(v: OptionValues): { storage: TileStorage; location: string } {
  const log = one(v, 'log');
  if (log === undefined) throw new UsageError('--log DIR|URL is required');
  if (/^https?:\/\//.test(log)) return { storage: new HttpTileStorage(log), location: log };
  if (!existsSync(log) || !statSync(log).isDirectory()) throw new CustodianError('E_IO', `log directory ${log} does not exist`, { log });
  return { storage: new FileTileStorage(log), location: log };
}

/**
 * The checkpoint policy document from --policy or --origin/--log-key; else,
 * when `logFallback` and the log is a directory, the one kept inside it; else null.
 */
export function trustDocument(v: OptionValues, location: string | null, logFallback: boolean): { doc: CheckpointPolicyDocument | null; trust: TrustSource | null } {
  const file = one(v, 'policy');
  const logKeys = v.get('log-key') ?? [];
  if (file !== undefined) {
    if (logKeys.length > 0) throw new UsageError('give either --policy or --log-key, not both');
    return { doc: decodeCheckpointPolicyDocument(readFile(file, TRUST_FILE_BYTES_MAX, 'policy')).doc, trust: 'policy-file' };
  }
  if (logKeys.length > 0) {
    const origin = one(v, 'origin');
    if (origin === undefined) throw new UsageError('--origin is required with --log-key');
    const witnessKeys = (v.get('witness-key') ?? []).map(keyArg);
    const quorumArg = one(v, 'quorum') ?? String(witnessKeys.length);
    if (!/^[0-9]{1,2}$/.test(quorumArg)) throw new UsageError('--quorum must be a small non-negative integer');
    const doc = { origin, logKeys: logKeys.map(keyArg), witnessKeys, witnessQuorum: Number(quorumArg) };
    checkpointPolicyFromKeys(doc.origin, doc.logKeys, doc.witnessKeys, doc.witnessQuorum);
    return { doc, trust: 'command-line' };
  }
  if (!logFallback || location === null || /^https?:\/\//.test(location)) return { doc: null, trust: null };
  const inDir = join(location, LOG_POLICY_FILE_NAME);
  if (!existsSync(inDir)) return { doc: null, trust: null };
  return { doc: decodeCheckpointPolicyDocument(readFile(inDir, TRUST_FILE_BYTES_MAX, 'policy')).doc, trust: 'log-directory' };
}

/** Like `trustDocument`, as a policy. */
export function trustPolicy(v: OptionValues, location: string | null, logFallback = false): { policy: CheckpointPolicy | null; doc: CheckpointPolicyDocument | null; trust: TrustSource | null } {
  const { doc, trust } = trustDocument(v, location, logFallback);
  return { doc, trust, policy: doc === null ? null : checkpointPolicyFromKeys(doc.origin, doc.logKeys, doc.witnessKeys, doc.witnessQuorum) };
}

// A key argument is a vkey string, or a file holding one (or a JSON string).
function keyArg(arg: string): string {
  if (/^[^+\s]+\+[0-9a-f]{8}\+[A-Za-z0-9+/=]+$/.test(arg)) return arg;
  const text = new TextDecoder().decode(readFile(arg, 4096, 'key')).trim();
  if (text.startsWith('"')) {
    const parsed = parseJson(text);
    if (typeof parsed === 'string') return parsed;
  }
  return text;
}

/** Reads option `k`'s file when given (bounded). */
export function optionalFile(v: OptionValues, k: string, max: number): Uint8Array | undefined {
  const path = one(v, k);
  return path === undefined ? undefined : readFile(path, max, k);
}

/** Reads a file of at most `max` bytes: E_IO when unreadable, E_EVIDENCE_TOO_LARGE for a bundle, E_IO otherwise when too large. */
export function readFile(path: string, max: number, what: string): Uint8Array {
  let size: number;
  try {
    size = statSync(path).size;
  } catch {
    throw new CustodianError('E_IO', `cannot read ${what} file ${path}`, { path });
  }
  if (size > max) {
    if (what === 'bundle') throw evidenceError('E_EVIDENCE_TOO_LARGE', `bundle file ${path} is larger than ${max} bytes`, { path, size });
    throw new CustodianError('E_IO', `${what} file ${path} is larger than ${max} bytes`, { path });
  }
  try {
    const b = readFileSync(path);
    return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  } catch {
    throw new CustodianError('E_IO', `cannot read ${what} file ${path}`, { path });
  }
}

function writeAtomically(path: string, bytes: Uint8Array): void {
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    writeFileSync(tmp, bytes, { flag: 'w', mode: 0o644 });
    renameSync(tmp, path);
  } catch (e) {
    throw new CustodianError('E_IO', `cannot write ${path}: ${e instanceof Error ? e.message : String(e)}`, { path });
  }
}

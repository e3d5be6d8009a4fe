/**
 * `custodian audit verify|prove`: the auditor's view of the transparency log,
 * usable with no server running (CONTRACTS.md "Audit").
 *
 *   custodian audit verify --log DIR|URL [--trusted-checkpoint FILE] [--opaque-entries] [--signers FILE] [trust] [--json]
 *   custodian audit prove  --log DIR|URL --entry N [--signers FILE] [trust] [--json]
 *
 * trust: the keys a checkpoint must be signed and cosigned by. Either
 *   --policy FILE (a checkpoint policy document), or
 *   --origin O --log-key VKEY|FILE... [--witness-key VKEY|FILE...] [--quorum K];
 * without them the policy document kept in the log directory is used and the
 * output says so (`"trust": "log-directory"`), because whoever controls the
 * directory controls that file.
 *
 * The custody log (the host's, whose leaves are enclave-signed statements
 * carrying typed entries) is recognised by its signers' identity keys: from
 * --signers FILE, else the signers document kept in the log directory
 * (reported as `"signerTrust"`). Every leaf is then decoded by the one
 * custody-leaf decoder — enclave signature under its signer's key, typed
 * entry, each signer's seq/prevHash chain, identity keys attested in the log
 * agreeing with those held. Without signer keys, entries must be unsigned
 * typed entries. --opaque-entries checks a log whose entries are not
 * Custodian audit entries (any tlog-tiles log) without decoding them.
 *
 * Exit codes: 0 verified, 1 refused (the first bad index or file and the
 * reason are in the error), 2 usage, 3 the log could not be read.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { bytesToHex } from '@custodian/core/bytes';
import { CustodianError } from '@custodian/core/errors';
import { parseJson } from '@custodian/core/canonical-json';
import {
  checkpointPolicyFromKeys, decodeCheckpointPolicyDocument, verifyCheckpointNote, LOG_POLICY_FILE_NAME, type CheckpointPolicy, type CheckpointPolicyDocument,
} from '@custodian/audit/checkpoint-policy';
import { FileTileStorage, type TileStorage } from '@custodian/audit/tile-storage';
import { HttpTileStorage } from '@custodian/audit/http-tile-storage';
import { verifyTileLog } from '@custodian/audit/tile-log-verifier';
import { proveInclusionFromTiles, readEntryFromTiles } from '@custodian/audit/tile-proofs';
import { verifyInclusion } from '@custodian/audit/inclusion-proof';
import { decodeAuditEntry } from '@custodian/audit/entry';
import { encodeBase64 } from '@custodian/audit/base64';
import { NOTE_BYTES_MAX } from '@custodian/audit/limits';
import { CustodyLogReader } from '@custodian/audit/custody-log-reader';
import { decodeCustodyLeaf } from '@custodian/audit/custody-leaf';
import { emit, emitError, parseArgs, progress, UsageError } from '../output.js';
import { signerKeysFor } from './evidence.js';

const USAGE = `usage: custodian audit verify --log DIR|URL [--trusted-checkpoint FILE] [--opaque-entries] [--signers FILE] [trust] [--json]
       custodian audit prove --log DIR|URL --entry N [--signers FILE] [trust] [--json]
trust: --policy FILE | --origin O --log-key VKEY|FILE... [--witness-key VKEY|FILE...] [--quorum K]`;

/** Entries between two progress lines on stderr. */
const PROGRESS_EVERY_ENTRIES = 65_536;
/** Largest policy document or key file read. */
const TRUST_FILE_BYTES_MAX = 256 * 1024;

const SPEC = {
  strings: ['log', 'trusted-checkpoint', 'entry', 'policy', 'origin', 'quorum', 'signers'],
  multi: ['log-key', 'witness-key'],
  booleans: ['json', 'opaque-entries'],
};

/** Entry point of `custodian audit verify|prove` (args after `audit`). */
export async function auditLogCommand(args: readonly string[]): Promise<number> {
  const json = args.includes('--json');
  try {
    const [sub, ...rest] = args[0] === 'audit' ? args.slice(1) : args;
    const opts = parseArgs(rest, SPEC);
    if (opts.positionals.length > 0) throw new UsageError(`unexpected argument ${opts.positionals[0]}\n${USAGE}`);
    if (sub === 'verify') return await verify(opts.values, opts.flags, json);
    if (sub === 'prove') return await prove(opts.values, json);
    throw new UsageError(USAGE);
  } catch (e) {
    return emitError(json, e);
  }
}

type Values = Map<string, string[]>;

async function verify(v: Values, flags: ReadonlySet<string>, json: boolean): Promise<number> {
  const { storage, location } = openLog(v);
  const { policy, doc, trust } = loadPolicy(v, location);
  const opaque = flags.has('opaque-entries');
  const { keys, signerTrust } = opaque ? { keys: undefined, signerTrust: null } : signerKeysFor(v, location, doc);
  const reader = keys === undefined ? null : new CustodyLogReader(keys);
  const trustedFile = one(v, 'trusted-checkpoint');
  const trustedCheckpoint = trustedFile === undefined ? undefined : readSmallFile(trustedFile, NOTE_BYTES_MAX, 'trusted checkpoint');
  let next = PROGRESS_EVERY_ENTRIES;
  const started = Date.now();
  const r = await verifyTileLog(storage, {
    policy,
    decodeEntries: !opaque,
    ...(reader === null ? {} : { readEntry: (bytes: Uint8Array, index: number) => reader.read(bytes, index).entry.kind }),
    ...(trustedCheckpoint === undefined ? {} : { trustedCheckpoint }),
    onProgress: (checked, total) => {
      if (checked >= next || checked === total) {
        progress(`audit verify: ${checked}/${total} entries checked`);
        next = checked + PROGRESS_EVERY_ENTRIES;
      }
    },
  });
  const elapsedMs = Date.now() - started;
  const entryFormat = opaque ? 'opaque' : reader === null ? 'typed' : 'custody';
  const signers = reader === null ? null : reader.book.summary();
  const result = { ok: true, log: location, trust, entryFormat, signerTrust, ...r, ...(reader === null ? {} : { signers, statementsBySigner: reader.chains.counts(), supersededBySigner: reader.chains.superseded() }), elapsedMs };
  const kinds = Object.entries(r.entriesByKind).map(([k, n]) => `${k} ${n}`).join(', ') || 'none';
  emit(json, result, [
    `ok: ${r.size} entries of ${r.origin} verified (${r.tilesChecked} tiles, ${r.bundlesChecked} entry bundles) in ${elapsedMs} ms`,
    `root ${r.rootHash}`,
    `signed by ${r.logSigners.join(', ')}; cosigned by ${r.cosigners.join(', ') || 'nobody'} (quorum ${policy.witnessQuorum})`,
    r.trustedSize === null ? 'no trusted checkpoint given: consistency with an earlier view not checked' : `consistent with the trusted checkpoint of size ${r.trustedSize}`,
    `entries: ${kinds}`,
    reader === null ? '' : `every leaf signed by its enclave's identity key and chained: ${Object.entries(reader.chains.counts()).map(([id, n]) => `${id} ${n}`).join(', ')}`,
    signers === null ? '' : `signer keys: ${Object.entries(signers).map(([id, s]) => `${id} (${s.source === 'given' ? (signerTrust === 'signers-file' ? '--signers' : 'log directory') : 'attested in the log'}${s.attestedBy.length > 0 ? `; attested by ${s.attestedBy.join(', ')}` : ''})`).join(', ')}`,
    trust === 'log-directory' ? `warning: keys taken from ${LOG_POLICY_FILE_NAME} inside the log directory; pass --policy or --log-key to check against keys you hold` : '',
  ].filter((l) => l !== '').join('\n'));
  return 0;
}

async function prove(v: Values, json: boolean): Promise<number> {
  const { storage, location } = openLog(v);
  const { policy, doc, trust } = loadPolicy(v, location);
  const { keys } = signerKeysFor(v, location, doc);
  const entryArg = one(v, 'entry');
  if (entryArg === undefined || !/^(0|[1-9][0-9]{0,15})$/.test(entryArg)) throw new UsageError(`--entry N is required (a non-negative integer)\n${USAGE}`);
  const index = Number(entryArg);
  const note = await storage.read('checkpoint');
  if (note === null) throw new CustodianError('E_AUDIT_CORRUPT', 'the log has no checkpoint');
  const cp = verifyCheckpointNote(note, policy).checkpoint;
  if (index >= cp.size) throw new CustodianError('E_AUDIT_RANGE', `entry ${index} is not in the log (size ${cp.size})`, { index, size: cp.size });
  const { entry, leafHash } = await readEntryFromTiles(storage, index, cp.size);
  const proof = await proveInclusionFromTiles(storage, index, cp.size);
  verifyInclusion(leafHash, index, cp.size, proof, cp.rootHash); // never print a proof that does not verify
  const custody = keys === undefined ? null : decodeCustodyLeaf(entry, keys); // typed error if the leaf is not good
  const decoded = custody === null ? decodeOrNull(entry) : custody.entry;
  const result = {
    ok: true, log: location, trust, origin: cp.origin, index, size: cp.size, rootHash: bytesToHex(cp.rootHash), leafHash: bytesToHex(leafHash),
    entry: decoded, ...(custody === null ? {} : { signedBy: { signerId: custody.signerId, seq: custody.seq, event: custody.event, signatureVerified: true } }),
    entryBase64: encodeBase64(entry), proof: proof.map(bytesToHex), checkpoint: new TextDecoder().decode(note),
  };
  emit(json, result, [
    `entry ${index} of ${cp.size} in ${cp.origin}: included (proof of ${proof.length} hashes verified against the checkpoint root)`,
    `leaf ${bytesToHex(leafHash)}`,
    ...proof.map((p, i) => `proof[${i}] ${bytesToHex(p)}`),
    custody !== null ? `entry ${JSON.stringify(custody.entry)}\nsigned by ${custody.signerId} (statement #${custody.seq}, ${custody.event}); signature verified under its identity key`
      : decoded === null ? `entry (not an audit entry) ${encodeBase64(entry)}` : `entry ${new TextDecoder().decode(entry)}`,
    '', new TextDecoder().decode(note),
  ].join('\n'));
  return 0;
}

// Logs may hold entries that are not Custodian audit entries (e.g. other tlog-tiles logs).
function decodeOrNull(entry: Uint8Array): unknown {
  try {
    return decodeAuditEntry(entry);
  } catch {
    return null;
  }
}

function one(v: Values, k: string): string | undefined {
  return v.get(k)?.[0];
}

function openLog(v: Values): { storage: TileStorage; location: string } {
  const log = one(v, 'log');
  if (log === undefined) throw new UsageError(`--log DIR|URL is required\n${USAGE}`);
  if (/^https?:\/\//.test(log)) return { storage: new HttpTileStorage(log), location: log };
  if (!existsSync(log) || !statSync(log).isDirectory()) throw new CustodianError('E_IO', `log directory ${log} does not exist`, { log });
  return { storage: new FileTileStorage(log), location: log };
}

function loadPolicy(v: Values, location: string): { policy: CheckpointPolicy; doc: CheckpointPolicyDocument; trust: 'policy-file' | 'command-line' | 'log-directory' } {
  const file = one(v, 'policy');
  const logKeys = v.get('log-key') ?? [];
  if (file !== undefined) {
    if (logKeys.length > 0) throw new UsageError('give either --policy or --log-key, not both');
    return { ...decodeCheckpointPolicyDocument(readSmallFile(file, TRUST_FILE_BYTES_MAX, 'policy')), trust: 'policy-file' };
  }
  if (logKeys.length > 0) {
    const origin = one(v, 'origin');
    if (origin === undefined) throw new UsageError('--origin is required with --log-key');
    const witnesses = (v.get('witness-key') ?? []).map(keyArg);
    const quorumArg = one(v, 'quorum') ?? String(witnesses.length);
    if (!/^[0-9]{1,2}$/.test(quorumArg)) throw new UsageError('--quorum must be a small non-negative integer');
    const doc = { origin, logKeys: logKeys.map(keyArg), witnessKeys: witnesses, witnessQuorum: Number(quorumArg) };
    return { policy: checkpointPolicyFromKeys(doc.origin, doc.logKeys, doc.witnessKeys, doc.witnessQuorum), doc, trust: 'command-line' };
  }
  if (/^https?:\/\//.test(location)) throw new UsageError('for a log URL pass --policy FILE or --origin with --log-key');
  const inDir = join(location, LOG_POLICY_FILE_NAME);
  if (!existsSync(inDir)) throw new UsageError(`no keys given and ${inDir} does not exist: pass --policy FILE or --origin with --log-key`);
  progress(`warning: using the keys in ${inDir}; they come from the log directory itself`);
  return { ...decodeCheckpointPolicyDocument(readSmallFile(inDir, TRUST_FILE_BYTES_MAX, 'policy')), trust: 'log-directory' };
}

// A key argument is a vkey string, or a file holding one (or a JSON string).
function keyArg(arg: string): string {
  if (/^[^+\s]+\+[0-9a-f]{8}\+[A-Za-z0-9+/=]+$/.test(arg)) return arg;
  const text = new TextDecoder().decode(readSmallFile(arg, 4096, 'key')).trim();
  if (text.startsWith('"')) {
    const parsed = parseJson(text);
    if (typeof parsed === 'string') return parsed;
  }
  return text;
}

function readSmallFile(path: string, max: number, what: string): Uint8Array {
  let bytes: Buffer;
  try {
    if (statSync(path).size > max) throw new CustodianError('E_IO', `${what} file ${path} is larger than ${max} bytes`, { path });
    bytes = readFileSync(path);
  } catch (e) {
    if (e instanceof CustodianError) throw e;
    throw new CustodianError('E_IO', `cannot read ${what} file ${path}`, { path });
  }
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

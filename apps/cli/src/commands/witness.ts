/**
 * `custodian witness serve --data-dir D [--port N] [--name NAME] (--log-key VKEY... | --policy FILE)`:
 * an independent C2SP tlog-witness for the organisation's audit log. It keeps
 * the last checkpoint it cosigned (durably, in D), cosigns only append-only
 * extensions proven by a consistency proof, and keeps the log-signed
 * checkpoint of any fork or rollback it refused as evidence (THREATS F13).
 * HTTP: POST /add-checkpoint (c2sp.org/tlog-witness), GET /vkey.
 * Prints one JSON line `{"ready":true,"url":…,"vkey":…}` once it serves.
 */
import { createServer } from 'node:http';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Secret } from '@custodian/core/secret';
import { bytesToHex, hexToBytes } from '@custodian/core/bytes';
import { Ed25519NoteKey, NOTE_KEY_TYPE_COSIGNATURE_V1, noteVerifierFromKey } from '@custodian/audit/ed25519-note-key';
import { Witness } from '@custodian/audit/witness';
import { FileWitnessStore } from '@custodian/audit/witness-file-store';
import { ADD_CHECKPOINT_BYTES_MAX, handleAddCheckpoint } from '@custodian/audit/witness-protocol';
import { decodeCheckpointPolicyDocument } from '@custodian/audit/checkpoint-policy';
import { AUDIT_LOG_ORIGIN } from '@custodian/protocol/audit-log';
import { emitError, parseArgs, progress, UsageError } from '../output.js';

/** Loads the witness's cosignature key from D/witness-key.json, creating it on first start. */
function witnessKey(dir: string, name: string): Ed25519NoteKey {
  const path = join(dir, 'witness-key.json');
  if (!existsSync(path)) {
    mkdirSync(dir, { recursive: true });
    writeFileSync(path, JSON.stringify({ name, seed: bytesToHex(randomBytes(32)) }) + '\n', { mode: 0o600, flag: 'wx' });
  }
  const saved = JSON.parse(readFileSync(path, 'utf8')) as { name: string; seed: string };
  if (saved.name !== name) throw new UsageError(`${path} holds the key of witness "${saved.name}", not "${name}"`);
  return new Ed25519NoteKey(name, new Secret(hexToBytes(saved.seed)), NOTE_KEY_TYPE_COSIGNATURE_V1);
}

/** Runs the witness until SIGTERM/SIGINT. */
export async function witnessCommand(args: readonly string[]): Promise<number> {
  const json = args.includes('--json');
  try {
    const [sub, ...rest] = args.filter((a) => a !== '--json');
    if (sub !== 'serve') throw new UsageError('usage: custodian witness serve --data-dir D [--port N] [--name NAME] (--log-key VKEY... | --policy FILE)');
    const { values } = parseArgs(rest, { strings: ['data-dir', 'port', 'name', 'policy'], multi: ['log-key'] });
    const dir = values.get('data-dir')?.[0];
    if (!dir) throw new UsageError('--data-dir is required');
    const policyFile = values.get('policy')?.[0];
    const logKeys = policyFile ? decodeCheckpointPolicyDocument(new Uint8Array(readFileSync(policyFile))).doc.logKeys : (values.get('log-key') ?? []);
    if (logKeys.length === 0) throw new UsageError('the witness needs the log keys it follows (--log-key or --policy)');
    const key = witnessKey(dir, values.get('name')?.[0] ?? 'custodian-witness');
    const witness = new Witness({ key, logs: new Map([[AUDIT_LOG_ORIGIN, logKeys.map((k) => noteVerifierFromKey(k))]]), store: new FileWitnessStore(dir), nowMs: () => Date.now() });
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      req.on('data', (c: Buffer) => {
        size += c.length;
        if (size > ADD_CHECKPOINT_BYTES_MAX) req.destroy();
        else chunks.push(c);
      });
      req.on('end', () => {
        if (req.method === 'GET' && req.url === '/vkey') {
          res.writeHead(200, { 'content-type': 'text/plain' }).end(key.verifierKey() + '\n');
          return;
        }
        if (req.method !== 'POST' || req.url !== '/add-checkpoint') {
          res.writeHead(404).end();
          return;
        }
        handleAddCheckpoint(witness, new Uint8Array(Buffer.concat(chunks))).then(
          (r) => res.writeHead(r.status, { 'content-type': r.contentType }).end(Buffer.from(r.body)),
          () => res.writeHead(500).end(),
        );
      });
    });
    const port = Number(values.get('port')?.[0] ?? '0');
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    const addr = server.address();
    const url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : port}/`;
    progress(`witness ${key.name} for ${AUDIT_LOG_ORIGIN} at ${url} (state in ${dir})`);
    process.stdout.write(JSON.stringify({ ready: true, url, vkey: key.verifierKey() }) + '\n');
    return await new Promise<number>((resolve) => {
      const stop = (): void => void server.close(() => resolve(0));
      process.once('SIGTERM', stop);
      process.once('SIGINT', stop);
    });
  } catch (e) {
    return emitError(json, e);
  }
}

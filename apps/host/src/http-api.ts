/**
 * The host's HTTP API (node:http, JSON). Bodies are size-bounded and parsed
 * by the strict JSON decoder; errors answer `{ ok: false, error: {code,
 * message, detail} }` with the status from http-status.ts.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { CustodianError } from '@custodian/core/errors';
import { parseJson, type Json } from '@custodian/core/canonical-json';
import { hexToBytes } from '@custodian/core/bytes';
import { JSON_BYTES_MAX } from '@custodian/core/limits';
import type { CustodyService } from './custody-service.js';
import type { HostStore, WalletRow } from './store.js';
import { httpStatusFor } from './http-status.js';
import { RECOVERY_ANSWER_CIPHERTEXT_BYTES_MAX } from '@custodian/protocol/recovery-backup';

/** Reads a JSON body of at most `maxBytes` (JSON_BYTES_MAX, except a restore's, which carries the broker's answer). */
async function readBody(req: IncomingMessage, maxBytes = JSON_BYTES_MAX): Promise<Json> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > maxBytes) throw new CustodianError('E_BODY_TOO_LARGE', `request body exceeds ${maxBytes} bytes`);
    chunks.push(c as Buffer);
  }
  return parseJson(new Uint8Array(Buffer.concat(chunks)), maxBytes);
}

/** Largest restore/complete body: the broker's answer (ciphertext as hex) and the other fields. */
const RESTORE_COMPLETE_BYTES_MAX = 2 * RECOVERY_ANSWER_CIPHERTEXT_BYTES_MAX + 64 * 1024;

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** A wallet as the API shows it: a threshold wallet carries every party's statement (`statements`) and its `signers`. */
function walletView(w: WalletRow): Record<string, Json> {
  const { statement, ...rest } = w;
  if (w.scheme === 'single') return { ...rest, statement: JSON.parse(statement) as Json };
  return { ...rest, signers: w.signerId.split(','), statements: JSON.parse(statement) as Json };
}

type Route = (m: RegExpMatchArray, req: IncomingMessage, url: URL) => Promise<unknown>;

/** Creates the HTTP server (not yet listening). */
export function createHttpApi(service: CustodyService, store: HostStore): Server {
  const routes: [string, RegExp, Route][] = [
    ['GET', /^\/v1\/health$/, async () => ({ ok: true })],
    ['GET', /^\/v1\/manifest$/, async () => {
      const m = await store.latestManifest();
      if (!m) throw new CustodianError('E_NOT_FOUND', 'no manifest installed');
      return { manifestHash: m.hash, version: m.version, signedManifest: JSON.parse(m.signedManifest) as Json };
    }],
    ['POST', /^\/v1\/manifest$/, async (_m, req) => service.submitManifest(await readBody(req))],
    ['GET', /^\/v1\/signers$/, async () => store.listSigners()],
    ['GET', /^\/v1\/signers\/([a-z0-9._-]+)\/attestation$/, async (m, _r, url) => service.attestation(m[1]!, hexToBytes(url.searchParams.get('nonce') ?? '', 'nonce'))],
    ['POST', /^\/v1\/signers\/([a-z0-9._-]+)\/provision\/announce$/, async (m, req) => service.provision(m[1]!, 'announce', await readBody(req))],
    ['POST', /^\/v1\/signers\/([a-z0-9._-]+)\/provision\/share$/, async (m, req) => service.provision(m[1]!, 'share', await readBody(req))],
    ['GET', /^\/v1\/signers\/([a-z0-9._-]+)\/backup$/, async (m, _r, url) => service.backups.get(m[1]!, url.searchParams.get('backupSha256') ?? undefined)],
    ['POST', /^\/v1\/signers\/([a-z0-9._-]+)\/backup$/, async (m) => service.backups.export(m[1]!)],
    ['POST', /^\/v1\/signers\/([a-z0-9._-]+)\/restore\/prepare$/, async (m, req) => service.backups.prepare(m[1]!, await readBody(req))],
    ['POST', /^\/v1\/signers\/([a-z0-9._-]+)\/migrate$/, async (m, req) => service.migration.migrate(m[1]!, await readBody(req))],
    ['POST', /^\/v1\/signers\/([a-z0-9._-]+)\/restore\/complete$/, async (m, req) => service.backups.complete(m[1]!, await readBody(req, RESTORE_COMPLETE_BYTES_MAX))],
    ['GET', /^\/v1\/wallets$/, async () => (await store.listWallets()).map(walletView)],
    ['POST', /^\/v1\/wallets$/, async (_m, req) => service.createWallet(await readBody(req))],
    ['POST', /^\/v1\/wallets\/([a-z0-9][a-z0-9._-]{0,63})\/refresh$/, async (m, req) => service.refreshWallet(m[1]!, await readBody(req))],
    ['GET', /^\/v1\/chain\/hints$/, async (_m, _r, url) => service.chainHints(url.searchParams.get('address') ?? '')],
    ['GET', /^\/v1\/requests$/, async () => service.listRequests()],
    ['POST', /^\/v1\/requests$/, async (_m, req) => service.propose(await readBody(req))],
    ['GET', /^\/v1\/requests\/([0-9a-f]{64})$/, async (m) => service.getRequest(m[1]!)],
    ['POST', /^\/v1\/requests\/([0-9a-f]{64})\/approvals$/, async (m, req) => service.approve(m[1]!, await readBody(req))],
    ['POST', /^\/v1\/breakglass\/apply$/, async (_m, req) => service.applyBreakglass(await readBody(req))],
    ['GET', /^\/v1\/audit$/, async (_m, _r, url) => {
      const requestId = url.searchParams.get('requestId');
      const rows = await store.listAudit(requestId ? { requestId } : {});
      return rows.map((r) => ({ ...r, entry: JSON.parse(r.entry) as Json }));
    }],
  ];
  return createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const route = routes.find(([method, re]) => method === req.method && re.test(url.pathname));
    if (!route) return send(res, 404, { ok: false, error: { code: 'E_NOT_FOUND', message: `no route ${req.method} ${url.pathname}`, detail: {} } });
    route[2](url.pathname.match(route[1])!, req, url).then(
      (body) => send(res, 200, body),
      (e: unknown) => {
        const err = e instanceof CustodianError ? e.toJSON() : { code: 'E_INTERNAL', message: 'internal error', detail: {} };
        if (!(e instanceof CustodianError)) process.stderr.write(`host: internal error on ${req.method} ${url.pathname}: ${(e as Error)?.stack ?? String(e)}\n`);
        send(res, httpStatusFor(e), { ok: false, error: err });
      },
    );
  });
}

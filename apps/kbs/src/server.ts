/**
 * The key broker's HTTP interface (node:http, JSON bodies, bounded):
 *
 *   GET  /v1/health            → { ok, hsm, description, releases }
 *   POST /v1/nonce             → { nonce, expiresAtMs }
 *   POST /v1/release           { nonce, evidence, publicKey } (hex) → { ok, measurement, enc, ciphertext, credential, recoveryKey, signature }
 *   POST /v1/credential        { nonce, evidence, publicKey } (hex; publicKey the Ed25519 identity key) → { ok, credential }
 *   GET  /v1/manifest          → { manifest: signed manifest | null, version, measurements }
 *   POST /v1/manifest          signed manifest (successor of the installed one), optional `breakglassId`
 *                              (an executed change-root-quorum / upgrade-measurement request in the book
 *                              authorises it instead of the quorum) → { ok, version, measurements, breakglassId }
 *   GET  /v1/measurements      → { measurements: [record] }
 *   POST /v1/measurements      { change, signatures } → { ok, signers }
 *   GET  /v1/kbs-public-key    → { signing, recovery } (hex SEC1)
 *   GET  /v1/breakglass        → { requests: [state] }
 *   POST /v1/breakglass        event (request/approve/veto/cancel/execute), stamped with trusted time → { state }
 *   GET  /v1/breakglass/<id>/execution → { ok, execution, payload, signature } (signed by kbs-signing; executed requests only)
 *   POST /v1/recover           { nonce, evidence, publicKey, requestId, signerId, backup } → { ok, measurement, enc, ciphertext, signature }
 *
 * Refusals are `{ ok: false, error: { code, message, detail } }` with the
 * status chosen in `statusFor`, one place.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CustodianError, isCustodianError } from '@custodian/core/errors';
import { bytesToHex } from '@custodian/core/bytes';
import { parseJson, type Json } from '@custodian/core/canonical-json';
import { JSON_BYTES_MAX } from '@custodian/core/limits';
import type { RootOfTrust } from './hsm/root-of-trust.js';
import type { KeyBroker } from './key-broker.js';
import { decodeKeyReleaseRequest, KEY_RELEASE_EVIDENCE_BYTES_MAX } from '@custodian/protocol/key-release';
import { decodeSignedManifest, encodeSignedManifest, type SignedManifest } from '@custodian/protocol/manifest';
import { Fields } from '@custodian/core/fields';
import type { ManifestApprovals } from './manifest-approvals.js';
import type { Clock } from '@custodian/core/clock';
import type { BreakglassBook } from './breakglass/breakglass-book.js';
import { summary } from './breakglass/breakglass.js';
import { BREAKGLASS_ID_RE, decodeBreakglassEvent } from './breakglass/breakglass-codec.js';
import { signBreakglassExecution } from './breakglass/signed-execution.js';
import { encodeSignedBreakglassExecution } from '@custodian/protocol/breakglass-execution';
import { decodeWorkloadCredentialRequest, encodeWorkloadCredential } from '@custodian/protocol/workload-credential';
import { encodeRecoveryAnswer, RECOVERY_REQUEST_BYTES_MAX } from '@custodian/protocol/recovery-backup';
import { decodeMeasurementChangeRecord, encodeMeasurementChangeRecord, type MeasurementRegistry } from './measurement-approvals.js';

/** Largest attestation evidence accepted (packages/protocol's bound, one place). */
export const EVIDENCE_BYTES_MAX = KEY_RELEASE_EVIDENCE_BYTES_MAX;
/** Seconds a client should wait after a 503. */
export const RETRY_AFTER_S = 2;

const BAD_REQUEST = new Set(['E_KBS_REQUEST_INVALID', 'E_FIELD_INVALID', 'E_FIELD_MISSING', 'E_FIELD_UNKNOWN', 'E_HEX_INVALID', 'E_JSON_SYNTAX', 'E_JSON_DEPTH', 'E_JSON_DUPLICATE_KEY', 'E_JSON_NUMBER', 'E_HPKE_KEY_INVALID', 'E_MANIFEST_INVALID', 'E_RECOVERY_BACKUP_INVALID']);
const UNAVAILABLE = new Set(['E_KBS_BUSY', 'E_HSM_UNAVAILABLE', 'E_AUDIT_UNAVAILABLE']);

/** The HTTP status for an error code (one place). */
export function statusFor(code: string): number {
  if (BAD_REQUEST.has(code)) return 400;
  if (code === 'E_JSON_TOO_LARGE') return 413;
  if (UNAVAILABLE.has(code)) return 503;
  if (code === 'E_TIME_SKEW_DETECTED' || code === 'E_CLOCK_BACKWARDS') return 503;
  if (['E_KBS_', 'E_QUORUM', 'E_MEASUREMENT', 'E_MANIFEST', 'E_BREAKGLASS', 'E_TIMELOCK'].some((p) => code.startsWith(p))) return 403;
  return 500;
}

/** What the server serves. */
export interface KbsServerDeps {
  readonly broker: KeyBroker;
  readonly root: RootOfTrust;
  readonly measurements?: MeasurementRegistry;
  readonly manifests?: ManifestApprovals;
  readonly breakglass?: BreakglassBook;
  /** Time stamped on break-glass events (BoundedClock); required with `breakglass`. */
  readonly trustedClock?: Clock;
}

/** Creates (does not start) the HTTP server. */
export function createKbsServer(deps: KbsServerDeps): Server {
  return createServer((req, res) => {
    handle(deps, req, res).catch((e: unknown) => sendError(res, e));
  });
}

/** Starts the server on `host:port` (port 0 picks a free one) and returns its URL. */
export async function listenKbs(server: Server, host: string, port: number): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const a = server.address() as AddressInfo;
  return `http://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`;
}

/** `/v1/breakglass/<id>/execution`: the id, or null for any other path. */
const EXECUTION_PATH_RE = new RegExp(`^/v1/breakglass/(${BREAKGLASS_ID_RE.source.slice(1, -1)})/execution$`);

async function handle(deps: KbsServerDeps, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = (req.url ?? '/').split('?')[0] ?? '/';
  const route = `${req.method ?? 'GET'} ${path}`;
  const execution = req.method === 'GET' ? EXECUTION_PATH_RE.exec(path) : null;
  if (execution) return sendExecution(deps, res, execution[1]!);
  switch (route) {
    case 'GET /v1/health': {
      const h = await deps.root.health();
      return send(res, h.ok ? 200 : 503, { ok: h.ok, hsm: h.kind, description: h.description, reasons: [...h.reasons], releases: deps.broker.releaseCount });
    }
    case 'POST /v1/nonce': {
      await readBody(req);
      const n = deps.broker.issueNonce();
      return send(res, 200, { ok: true, nonce: bytesToHex(n.nonce), expiresAtMs: n.expiresAtMs });
    }
    case 'POST /v1/release': {
      let request;
      try {
        request = decodeKeyReleaseRequest(await readBody(req));
      } catch (e) {
        return await deps.broker.refuseMalformed(e);
      }
      const r = await deps.broker.release(request);
      return send(res, 200, {
        ok: true,
        measurement: r.measurement,
        enc: bytesToHex(r.enc),
        ciphertext: bytesToHex(r.ciphertext),
        credential: encodeWorkloadCredential(r.credential),
        recoveryKey: bytesToHex(r.recoveryKey),
        signature: bytesToHex(r.signature),
      });
    }
    case 'POST /v1/credential': {
      let request;
      try {
        request = decodeWorkloadCredentialRequest(await readBody(req));
      } catch (e) {
        return await deps.broker.refuseMalformedCredential(e);
      }
      const credential = await deps.broker.issueCredential(request);
      return send(res, 200, { ok: true, credential: encodeWorkloadCredential(credential) });
    }
    case 'GET /v1/manifest': {
      const chain = deps.manifests?.chain() ?? [];
      const last = chain[chain.length - 1];
      const m = deps.manifests?.current() ?? null;
      return send(res, 200, { ok: true, manifest: last ? encodeSignedManifest(last) : null, version: m?.version ?? null, measurements: [...(m?.enclave.measurements ?? [])] });
    }
    case 'POST /v1/manifest': {
      const { signed, breakglassId } = decodeManifestSubmission(await readBody(req));
      const out = await deps.broker.installManifest(signed, breakglassId === null ? undefined : { id: breakglassId, book: deps.breakglass });
      return send(res, 200, { ok: true, version: out.version, manifestHash: out.hash, measurements: [...out.measurements], changed: out.changed, breakglassId: out.breakglassId });
    }
    case 'GET /v1/measurements':
      return send(res, 200, { ok: true, measurements: (deps.measurements?.records() ?? []).map(encodeMeasurementChangeRecord) });
    case 'POST /v1/measurements': {
      const signers = await deps.broker.approveMeasurement(decodeMeasurementChangeRecord(await readBody(req)));
      return send(res, 200, { ok: true, signers: [...signers] });
    }
    case 'GET /v1/kbs-public-key':
      return send(res, 200, { ok: true, signing: bytesToHex(await deps.root.publicKey('kbs-signing')), recovery: bytesToHex(await deps.root.publicKey('recovery')) });
    case 'GET /v1/breakglass':
      return send(res, 200, { ok: true, requests: (deps.breakglass?.list() ?? []).map(summary) });
    case 'POST /v1/breakglass': {
      if (!deps.breakglass || !deps.trustedClock) throw new CustodianError('E_BREAKGLASS_NOT_CONFIGURED', 'this key broker has no break-glass configuration', {});
      const body = await readBody(req);
      const state = await deps.breakglass.submit(decodeBreakglassEvent(body, await deps.breakglass.trustedNow(deps.trustedClock)));
      return send(res, 200, { ok: true, state: summary(state) });
    }
    case 'POST /v1/recover': {
      const answer = await deps.broker.recover(() => readBody(req, RECOVERY_REQUEST_BYTES_MAX), deps.breakglass, deps.trustedClock);
      return send(res, 200, encodeRecoveryAnswer(answer));
    }
    default:
      return send(res, 404, { ok: false, error: { code: 'E_NOT_FOUND', message: `no route ${route}`, detail: {} } });
  }
}

/** `POST /v1/manifest` body: a signed manifest and, optionally, the id of the break-glass request that authorises it. */
function decodeManifestSubmission(body: Json): { signed: SignedManifest; breakglassId: string | null } {
  const f = new Fields(body, 'manifestSubmission');
  const signed = decodeSignedManifest({ payload: f.raw('payload'), signatures: f.raw('signatures') });
  const breakglassId = f.optRaw('breakglassId') === undefined ? null : f.str('breakglassId', 64, BREAKGLASS_ID_RE);
  f.done();
  return { signed, breakglassId };
}

/** The broker-signed execution of an executed request (E_BREAKGLASS_NOT_EXECUTED otherwise). */
async function sendExecution(deps: KbsServerDeps, res: ServerResponse, id: string): Promise<void> {
  if (!deps.breakglass) throw new CustodianError('E_BREAKGLASS_NOT_CONFIGURED', 'this key broker has no break-glass configuration', {});
  const signed = await signBreakglassExecution(deps.root, deps.breakglass.get(id));
  return send(res, 200, { ok: true, ...(encodeSignedBreakglassExecution(signed) as { readonly [k: string]: Json }) });
}

/** Reads a JSON body of at most `maxBytes` (JSON_BYTES_MAX, except the routes that carry a signer backup). */
async function readBody(req: IncomingMessage, maxBytes = JSON_BYTES_MAX): Promise<Json> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const b = chunk as Buffer;
    size += b.length;
    // attacker-controlled length: stop reading past the bound
    if (size > maxBytes) throw new CustodianError('E_JSON_TOO_LARGE', `request body exceeds ${maxBytes} bytes`, { maxBytes });
    chunks.push(b);
  }
  if (size === 0) return {};
  return parseJson(new Uint8Array(Buffer.concat(chunks)), maxBytes);
}

function send(res: ServerResponse, status: number, body: Json): void {
  const text = JSON.stringify(body);
  const headers: Record<string, string> = { 'content-type': 'application/json', 'cache-control': 'no-store' };
  if (status === 503) headers['retry-after'] = String(RETRY_AFTER_S);
  res.writeHead(status, headers).end(text);
}

function sendError(res: ServerResponse, e: unknown): void {
  const err = isCustodianError(e) ? e : new CustodianError('E_INTERNAL', 'internal error', {});
  if (res.headersSent) {
    res.destroy();
    return;
  }
  send(res, statusFor(err.code), { ok: false, error: err.toJSON() as unknown as Json });
}

/**
 * `custodian breakglass ...`: the member's side of break-glass (issue 7 item
 * 6, THREATS.md B33). The key broker keeps the book (quorum, time-lock on
 * trusted time, guardian veto); this command signs the members' statements
 * with their key files and relays signed executions to the host.
 *
 *   request  --kbs URL --key FILE --operator ID --id ID --action A (--payload JSON | --payload-file F)
 *   approve  --kbs URL --key FILE --operator ID --id ID [--payload JSON | --payload-file F]
 *   veto     --kbs URL --key FILE --operator ID --id ID --reason TEXT [--payload ...]
 *   cancel   --kbs URL --key FILE --operator ID --id ID
 *   execute  --kbs URL --id ID (--payload JSON | --payload-file F)
 *   show     --kbs URL --id ID
 *   list     (--data-dir DIR | --kbs URL)
 *   apply    --kbs URL --host URL --id ID
 *
 * `approve` and `veto` sign what the broker lists for the request (action,
 * payload hash), never a hash typed by hand, and show it to the operator
 * first with the listed payload (which must hash to that hash); a
 * `--payload` given to them is only compared with the listed hash.
 * `apply` fetches the broker-signed execution and posts it to the host, which
 * hands it to every signer; the signers verify the broker's signature, so the
 * CLI and the host only relay it. With `--json` the last stdout line is one
 * JSON value; `list --json` prints a JSON array of requests with their state
 * and time-lock (../shared/CONTRACTS.md "Key hierarchy").
 */
import { readFileSync } from 'node:fs';
import { CustodianError } from '@custodian/core/errors';
import { bytesToHex } from '@custodian/core/bytes';
import { canonicalJson, parseJson, type Json } from '@custodian/core/canonical-json';
import { Fields } from '@custodian/core/fields';
import { JSON_BYTES_MAX } from '@custodian/core/limits';
import { readBoundedBody } from '@custodian/audit/http-body';
import { readBreakglassFile } from '@custodian/kbs/breakglass/breakglass-book';
import { approvalStatement, BREAKGLASS_ACTIONS, BREAKGLASS_DOMAIN, cancelStatement, requestStatement, summary, vetoStatement, type BreakglassAction, type BreakglassRequest } from '@custodian/kbs/breakglass/breakglass';
import { BREAKGLASS_ID_RE, VETO_REASON_MAX } from '@custodian/kbs/breakglass/breakglass-codec';
import { MEMBER_ID_RE, signStatement } from '@custodian/kbs/quorum';
import { decodeFreezePayload, decodeRecoverSignerPayload, decodeSignedBreakglassExecution, encodeSignedBreakglassExecution, payloadHashOf, type SignedBreakglassExecution } from '@custodian/protocol/breakglass-execution';
import { HostClient } from '../host-client.js';
import { readKeyFile } from '../key-file.js';
import { emit, emitError, parseArgs, progress, UsageError } from '../output.js';

const USAGE = `usage: custodian breakglass request --kbs URL --key FILE --operator ID --id ID --action A (--payload JSON | --payload-file F) [--json]
       custodian breakglass approve --kbs URL --key FILE --operator ID --id ID [--payload JSON | --payload-file F] [--json]
       custodian breakglass veto --kbs URL --key FILE --operator ID --id ID --reason TEXT [--payload JSON | --payload-file F] [--json]
       custodian breakglass cancel --kbs URL --key FILE --operator ID --id ID [--json]
       custodian breakglass execute --kbs URL --id ID (--payload JSON | --payload-file F) [--json]
       custodian breakglass show --kbs URL --id ID [--json]
       custodian breakglass list (--data-dir DIR | --kbs URL) [--json]
       custodian breakglass apply --kbs URL --host URL --id ID [--json]`;

/** Most time one call to the key broker may take. */
export const KBS_CALL_TIMEOUT_MS = 30_000;
/** Largest broker answer read (a full book of summaries fits). */
export const KBS_RESPONSE_BYTES_MAX = 16 * 1024 * 1024;
/** Most per-signer results read from the host's answer to `apply`. */
export const APPLY_RESULTS_MAX = 256;

/** A request as the broker lists it (the fields the CLI shows and signs). */
export interface ListedRequest {
  readonly id: string;
  readonly action: BreakglassAction;
  readonly payloadHash: string;
  readonly status: string;
  readonly approvals: readonly string[];
  readonly threshold: number;
  readonly unlocksAtMs: number | null;
  /** The payload the broker lists (checked against `payloadHash`), or null when it holds none yet. */
  readonly payload: Json | null;
  readonly json: { readonly [k: string]: Json };
}

/** One signer's answer to an applied execution. */
export interface ApplyResult {
  readonly signerId: string;
  readonly ok: boolean;
  readonly code?: string;
}

type Values = Map<string, string[]>;

/** The subcommands, by name. */
const SUBCOMMANDS: Readonly<Record<string, (values: Values, json: boolean) => Promise<number>>> = {
  request: requestCmd,
  approve: approveCmd,
  veto: vetoCmd,
  cancel: cancelCmd,
  execute: executeCmd,
  show: showCmd,
  list: listCmd,
  apply: applyCmd,
};

/** Entry point of `custodian breakglass ...`. */
export async function breakglassCommand(args: readonly string[]): Promise<number> {
  const json = args.includes('--json');
  try {
    const [sub, ...rest] = args;
    const { values } = parseArgs(rest, { strings: ['kbs', 'host', 'key', 'operator', 'id', 'action', 'payload', 'payload-file', 'reason', 'data-dir'], booleans: ['json'] });
    const run = sub === undefined ? undefined : SUBCOMMANDS[sub];
    if (run === undefined) throw new UsageError(USAGE);
    return await run(values, json);
  } catch (e) {
    return emitError(json, e);
  }
}

function need(values: Values, name: string): string {
  const v = values.get(name)?.[0];
  if (v === undefined) throw new UsageError(`--${name} is required\n${USAGE}`);
  return v;
}

function requestId(values: Values): string {
  const id = need(values, 'id');
  if (!BREAKGLASS_ID_RE.test(id)) throw new UsageError(`--id must match ${String(BREAKGLASS_ID_RE)}`);
  return id;
}

/** The member signing: its id and Ed25519 secret (break-glass quorums are Ed25519). */
function member(values: Values): { id: string; sign: (body: Json) => { memberId: string; signature: string } } {
  const id = need(values, 'operator');
  if (!MEMBER_ID_RE.test(id)) throw new UsageError(`--operator must match ${String(MEMBER_ID_RE)}`);
  const key = readKeyFile(need(values, 'key'));
  if (key.alg !== 'ed25519') throw new CustodianError('E_KEY_INVALID', `break-glass statements are signed with Ed25519 keys; ${need(values, 'key')} holds a ${key.alg} key`);
  return {
    id,
    sign: (body) => {
      const s = signStatement(BREAKGLASS_DOMAIN, body, id, key.secretKey.expose());
      return { memberId: s.memberId, signature: bytesToHex(s.signature) };
    },
  };
}

/** The payload from --payload or --payload-file (bounded canonical-JSON parser), or undefined when neither is given. */
function optionalPayload(values: Values): Json | undefined {
  const inline = values.get('payload')?.[0];
  const file = values.get('payload-file')?.[0];
  if (inline !== undefined && file !== undefined) throw new UsageError('give --payload or --payload-file, not both');
  if (inline !== undefined) return parseJson(inline);
  if (file === undefined) return undefined;
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(readFileSync(file));
  } catch (e) {
    throw new CustodianError('E_IO', `cannot read payload file ${file}: ${(e as Error).message}`);
  }
  return parseJson(bytes);
}

function requiredPayload(values: Values): Json {
  const p = optionalPayload(values);
  if (p === undefined) throw new UsageError(`--payload or --payload-file is required\n${USAGE}`);
  return p;
}

/** Refuses a payload that signers would refuse for its action (before anyone signs it). */
function checkPayloadShape(action: BreakglassAction, payload: Json): void {
  if (action === 'freeze-wallet' || action === 'freeze-organisation' || action === 'unfreeze') decodeFreezePayload(action, payload);
  else if (action === 'recover-signer') decodeRecoverSignerPayload(payload);
}

async function requestCmd(values: Values, json: boolean): Promise<number> {
  const kbs = need(values, 'kbs');
  const id = requestId(values);
  const action = need(values, 'action');
  if (!(BREAKGLASS_ACTIONS as readonly string[]).includes(action)) throw new UsageError(`--action must be one of ${BREAKGLASS_ACTIONS.join(', ')}`);
  const payload = requiredPayload(values);
  checkPayloadShape(action as BreakglassAction, payload);
  const m = member(values);
  const request: BreakglassRequest = { id, action: action as BreakglassAction, payloadHash: payloadHashOf(payload), requestedBy: m.id, requestedAtMs: Date.now() };
  // The payload travels with the request (a freeze needs it at once): the broker checks it and lists it to approvers and guardians.
  const event: Json = { type: 'request', request: { ...request }, signature: m.sign(requestStatement(request)), payload };
  return report(json, await postEvent(kbs, event));
}

async function approveCmd(values: Values, json: boolean): Promise<number> {
  const kbs = need(values, 'kbs');
  const m = member(values);
  const r = await fetchRequest(kbs, requestId(values));
  // An approval counts toward the quorum: the approver sees the payload it approves, never a bare hash (B14).
  if (!comparePayload(values, r) && r.payload === null) {
    throw new CustodianError('E_BREAKGLASS_PAYLOAD_MISSING', `the key broker lists no payload for ${r.id}; give the payload you approve with --payload or --payload-file (it must hash to ${r.payloadHash})`, { payloadHash: r.payloadHash });
  }
  progress(`approving ${r.id}: action ${r.action}, payload hash ${r.payloadHash}, ${r.status}, ${r.approvals.length}/${r.threshold} approvals${lockText(r)}; ${payloadText(r)}`);
  return report(json, await postEvent(kbs, { type: 'approve', requestId: r.id, payloadHash: r.payloadHash, approval: m.sign(approvalStatement(r.id, r.action, r.payloadHash)) }));
}

async function vetoCmd(values: Values, json: boolean): Promise<number> {
  const kbs = need(values, 'kbs');
  const reason = need(values, 'reason');
  if (reason.length > VETO_REASON_MAX) throw new UsageError(`--reason is longer than ${VETO_REASON_MAX} characters`);
  const m = member(values);
  const r = await fetchRequest(kbs, requestId(values));
  comparePayload(values, r);
  progress(`vetoing ${r.id}: action ${r.action}, payload hash ${r.payloadHash}, ${r.status}${lockText(r)}; ${payloadText(r)}; reason: ${reason}`);
  return report(json, await postEvent(kbs, { type: 'veto', requestId: r.id, payloadHash: r.payloadHash, reason, guardian: m.sign(vetoStatement(r.id, r.payloadHash, reason)) }));
}

async function cancelCmd(values: Values, json: boolean): Promise<number> {
  const kbs = need(values, 'kbs');
  const id = requestId(values);
  const m = member(values);
  return report(json, await postEvent(kbs, { type: 'cancel', requestId: id, signatures: [m.sign(cancelStatement(id))] }));
}

async function executeCmd(values: Values, json: boolean): Promise<number> {
  const kbs = need(values, 'kbs');
  const id = requestId(values);
  const payload = requiredPayload(values);
  return report(json, await postEvent(kbs, { type: 'execute', requestId: id, payload }));
}

async function showCmd(values: Values, json: boolean): Promise<number> {
  const r = await fetchRequest(need(values, 'kbs'), requestId(values));
  emit(json, r.json, describe(r));
  return 0;
}

async function listCmd(values: Values, json: boolean): Promise<number> {
  const dataDir = values.get('data-dir')?.[0];
  const kbs = values.get('kbs')?.[0];
  if ((dataDir === undefined) === (kbs === undefined)) throw new UsageError(`give --data-dir or --kbs\n${USAGE}`);
  const rows = dataDir !== undefined ? readBreakglassFile(dataDir).map((s) => decodeListed(summary(s), 'breakglass')) : await fetchRequests(kbs!);
  const human = rows.length === 0 ? 'no break-glass requests' : rows.map(describe).join('\n');
  emit(json, rows.map((r) => r.json), human);
  return 0;
}

async function applyCmd(values: Values, json: boolean): Promise<number> {
  const kbs = need(values, 'kbs');
  const host = new HostClient(need(values, 'host'));
  const id = requestId(values);
  const signed = await fetchSignedExecution(kbs, id);
  progress(`delivering the execution of ${id} (${signed.execution.action}, payload hash ${signed.execution.payloadHash}) to the signers through ${host.url}`);
  const applied = decodeApplied(await host.post('/v1/breakglass/apply', encodeSignedBreakglassExecution(signed)));
  const refused = applied.filter((a) => !a.ok);
  if (applied.length === 0 || refused.length > 0) {
    if (!json) for (const a of applied) process.stdout.write(applyLine(a) + '\n');
    const who = applied.length === 0 ? 'no signer answered' : `${refused.map((a) => `${a.signerId} (${a.code ?? 'refused'})`).join(', ')} did not apply it`;
    throw new CustodianError('E_BREAKGLASS_NOT_APPLIED', `break-glass request ${id}: ${who}`, { id, applied });
  }
  emit(json, { ok: true, id, action: signed.execution.action, applied }, applied.map(applyLine).join('\n'));
  return 0;
}

/**
 * The broker-signed execution of break-glass request `id`, decoded (the
 * signers verify its signature; this only refuses an answer for another
 * request early).
 */
export async function fetchSignedExecution(kbs: string, id: string): Promise<SignedBreakglassExecution> {
  const got = new Fields(await kbsCall(kbs, 'GET', `/v1/breakglass/${encodeURIComponent(id)}/execution`), 'execution answer');
  const signed = decodeSignedBreakglassExecution({ execution: got.raw('execution'), payload: got.raw('payload'), signature: got.raw('signature') });
  if (signed.execution.id !== id) throw new CustodianError('E_KBS_RESPONSE_INVALID', `the broker answered with the execution of ${signed.execution.id}, not ${id}`);
  return signed;
}

function applyLine(a: ApplyResult): string {
  return `${a.signerId}  ${a.ok ? 'applied' : `refused ${a.code ?? ''}`}`;
}

/** Reads the host's `{ applied: [{ signerId, ok, code? }] }`; further fields are ignored (the host may add messages). */
function decodeApplied(json: Json): ApplyResult[] {
  const f = new Fields(json, 'apply answer');
  return f.arr('applied', APPLY_RESULTS_MAX).map((a, i) => {
    const af = new Fields(a, `apply answer.applied[${i}]`);
    const code = af.optStr('code', 64);
    return { signerId: af.str('signerId', 64), ok: af.bool('ok'), ...(code !== undefined ? { code } : {}) };
  });
}

/** Refuses when the operator's copy of the payload is not the one the broker lists; true when one was given (and matched). */
function comparePayload(values: Values, r: ListedRequest): boolean {
  const payload = optionalPayload(values);
  if (payload === undefined) return false;
  const hash = payloadHashOf(payload);
  if (hash !== r.payloadHash) throw new CustodianError('E_BREAKGLASS_PAYLOAD_CHANGED', `the payload given hashes to ${hash}; the broker lists ${r.payloadHash} for ${r.id}`, { listed: r.payloadHash, given: hash });
  return true;
}

function payloadText(r: ListedRequest): string {
  return r.payload === null ? 'the broker lists no payload; compare yours with --payload' : `payload ${canonicalJson(r.payload)}`;
}

function lockText(r: ListedRequest): string {
  return r.unlocksAtMs === null ? '' : `, unlocks ${new Date(r.unlocksAtMs).toISOString()}`;
}

function describe(r: ListedRequest): string {
  return `${r.id}  ${r.action}  ${r.status}  ${r.approvals.length}/${r.threshold} approvals  ${r.unlocksAtMs === null ? 'no time-lock running' : `unlocks ${new Date(r.unlocksAtMs).toISOString()}`}  payload ${r.payloadHash}`;
}

function report(json: boolean, state: ListedRequest): number {
  emit(json, { ok: true, state: state.json }, describe(state));
  return 0;
}

async function postEvent(kbs: string, event: Json): Promise<ListedRequest> {
  const f = new Fields(await kbsCall(kbs, 'POST', '/v1/breakglass', event), 'breakglass answer');
  return decodeListed(f.raw('state'), 'breakglass answer.state');
}

async function fetchRequests(kbs: string): Promise<ListedRequest[]> {
  const f = new Fields(await kbsCall(kbs, 'GET', '/v1/breakglass'), 'breakglass answer');
  return f.arr('requests', 10_000).map((j, i) => decodeListed(j, `breakglass answer.requests[${i}]`));
}

async function fetchRequest(kbs: string, id: string): Promise<ListedRequest> {
  const r = (await fetchRequests(kbs)).find((x) => x.id === id);
  if (!r) throw new CustodianError('E_BREAKGLASS_UNKNOWN', `the key broker lists no break-glass request ${id}`, { id });
  return r;
}

/**
 * Reads one request summary. Fields beyond those shown and signed are kept
 * in `json` but not checked: the broker may list more about a request.
 */
function decodeListed(json: Json, where: string): ListedRequest {
  const f = new Fields(json, where);
  const action = f.str('action', 32);
  if (!(BREAKGLASS_ACTIONS as readonly string[]).includes(action)) throw new CustodianError('E_FIELD_INVALID', `${where}.action is not a break-glass action`);
  const unlocks = f.optRaw('unlocksAtMs');
  const payloadHash = f.str('payloadHash', 64, /^[0-9a-f]{64}$/);
  // A listed payload is shown to the member who signs the hash: it must be the payload of that hash.
  const payload = f.optRaw('payload') ?? null;
  if (payload !== null && payloadHashOf(payload) !== payloadHash) throw new CustodianError('E_KBS_RESPONSE_INVALID', `${where}.payload does not hash to its payloadHash`, { payloadHash });
  return {
    id: f.str('id', 64, BREAKGLASS_ID_RE),
    action: action as BreakglassAction,
    payloadHash,
    payload,
    status: f.str('status', 16),
    approvals: f.arr('approvals', 256).map((a) => String(a)),
    threshold: f.int('threshold', 1, 256),
    unlocksAtMs: unlocks === null || unlocks === undefined ? null : f.int('unlocksAtMs'),
    json: json as { readonly [k: string]: Json },
  };
}

/** One call to the key broker: bounded answer, its typed refusals passed on, anything else E_KBS_UNAVAILABLE. */
export async function kbsCall(base: string, method: 'GET' | 'POST', path: string, body?: Json): Promise<Json> {
  let res: Response;
  try {
    res = await fetch(base.replace(/\/+$/, '') + path, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(KBS_CALL_TIMEOUT_MS),
    });
  } catch (e) {
    throw new CustodianError('E_KBS_UNAVAILABLE', `key broker at ${base} is unreachable: ${(e as Error).message}`);
  }
  const tooLarge = () => new CustodianError('E_KBS_UNAVAILABLE', `the key broker's answer exceeds ${KBS_RESPONSE_BYTES_MAX} bytes`);
  let json: Json;
  try {
    json = parseJson(await readBoundedBody(res, KBS_RESPONSE_BYTES_MAX, tooLarge), Math.max(KBS_RESPONSE_BYTES_MAX, JSON_BYTES_MAX));
  } catch (e) {
    if (e instanceof CustodianError && e.code === 'E_KBS_UNAVAILABLE') throw e;
    throw new CustodianError('E_KBS_UNAVAILABLE', `the key broker answered ${res.status} with no readable JSON`);
  }
  if (res.ok) return json;
  let err: CustodianError;
  try {
    const ef = new Fields(new Fields(json, 'answer').raw('error'), 'error');
    const detail = ef.optRaw('detail');
    err = new CustodianError(ef.str('code', 64), ef.str('message', 4000), detail && typeof detail === 'object' && !Array.isArray(detail) ? (detail as Record<string, unknown>) : {});
  } catch {
    throw new CustodianError('E_KBS_UNAVAILABLE', `the key broker answered ${res.status} without a readable error`);
  }
  throw err;
}

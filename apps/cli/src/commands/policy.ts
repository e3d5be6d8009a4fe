/**
 * `custodian policy ...`: the "what would happen" tool (issue 5 §7,
 * CONTRACTS.md "Policy").
 *
 *   custodian policy simulate --policy DIR --chain eth --tx HEX|FILE [--context FILE] [--json]
 *   custodian policy validate DIR|FILE.cedar [--json]
 *   custodian policy diff OLD_DIR NEW_DIR [--json]
 *
 * simulate decodes the raw unsigned EIP-1559 transaction itself (as the
 * enclave does), derives the context from its bytes and prints the decision.
 * A `--tx` file holding EIP-712 typed data (`eth_signTypedData_v4` JSON) is
 * decided as a signature request: permits as spends (THREATS.md B17).
 * `--context FILE` supplies what a real request carries besides the bytes:
 * `{ "now", "requestedAt", "initiator": { "id", "groups" }, "wallet": { "id",
 * "groups", "chainIds" }, "approvals": { group: n }, "intent": { "destination",
 * "amount", "asset" } }`. Exit 0 for allow and needs-approval, 1 for deny.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { CustodianError } from '@custodian/core/errors';
import { hexToBytes } from '@custodian/core/bytes';
import { RAW_TX_BYTES_MAX } from '@custodian/core/limits';
import { Fields } from '@custodian/core/fields';
import { parseJson } from '@custodian/core/canonical-json';
import { decodeSignedEip1559, decodeUnsignedEip1559, type Eip1559Tx } from '@custodian/chains/evm/eip1559';
import { loadRulebookDir } from '@custodian/policy/rulebook-dir';
import type { Rulebook } from '@custodian/policy/rulebook';
import { compilePolicySet } from '@custodian/policy/policy-set';
import { decideEvmTransaction, decideTypedData, versionsOf, type EvmTxRequest } from '@custodian/policy/engine';
import { decodeTypedData, TYPED_DATA_BYTES_MAX, type TypedData } from '@custodian/policy/typed-data';
import type { Decision } from '@custodian/policy/decision';
import type { DeclaredIntent } from '@custodian/policy/evm-context';
import { emit, emitError, EXIT_OK, EXIT_REFUSED, parseArgs, UsageError } from '../output.js';

const USAGE = `usage: custodian policy simulate --policy DIR --chain CHAIN --tx HEX|FILE [--context FILE] [--json]
       custodian policy validate DIR|FILE.cedar [--json]
       custodian policy diff OLD_DIR NEW_DIR [--json]`;

/** Largest --context file read. */
const CONTEXT_BYTES_MAX = 64 * 1024;

/** Entry point of `custodian policy ...`. */
export async function policyCommand(args: readonly string[]): Promise<number> {
  const json = args.includes('--json');
  try {
    const [sub, ...rest] = args;
    switch (sub) {
      case 'simulate':
        return simulate(rest, json);
      case 'validate':
        return validate(rest, json);
      case 'diff':
        return diff(rest, json);
      default:
        throw new UsageError(USAGE);
    }
  } catch (e) {
    return emitError(json, e);
  }
}

function simulate(args: readonly string[], json: boolean): number {
  const { values } = parseArgs(args, { strings: ['policy', 'chain', 'tx', 'context'], booleans: ['json'] });
  const need = (k: string): string => {
    const v = values.get(k)?.[0];
    if (v === undefined) throw new UsageError(`--${k} is required\n${USAGE}`);
    return v;
  };
  const rulebook = loadRulebookDir(need('policy'));
  const chain = need('chain');
  if (chain === 'btc' || chain === 'sol') throw new CustodianError('E_CHAIN_UNSUPPORTED', `policy simulation for ${chain} is not implemented yet (EVM chains only)`);
  const input = readTxOrTypedData(need('tx'));
  const ctxPath = values.get('context')?.[0];
  const tx = 'typedData' in input ? EMPTY_TX : input.tx;
  const req = requestFrom(ctxPath === undefined ? null : readContext(ctxPath), chain, tx, rulebook);
  const { decision } =
    'typedData' in input
      ? decideTypedData(rulebook, { ...req.request, typedData: input.typedData }, req.nowMs, null)
      : decideEvmTransaction(rulebook, req.request, req.nowMs, null);
  emit(json, decision, humanDecision(decision));
  return decision.decision === 'deny' ? EXIT_REFUSED : EXIT_OK;
}

function humanDecision(d: Decision): string {
  const lines = [`decision: ${d.decision}`];
  if (d.policies.length > 0) lines.push(`policies: ${d.policies.join(', ')}`);
  for (const [g, n] of Object.entries(d.missingApprovals)) lines.push(`missing approvals: ${g} ×${n}`);
  if (d.notBefore !== null) lines.push(`not before: ${d.notBefore}`);
  for (const r of d.reasons) lines.push(`  - ${r}`);
  if (d.codes.length > 0) lines.push(`codes: ${d.codes.join(', ')}`);
  lines.push(`policy set ${d.versions.policySet.slice(0, 16)}…  screening list ${d.versions.screeningList.slice(0, 16)}…`);
  return lines.join('\n');
}

/** Placeholder transaction for typed-data requests (never decided as a transaction). */
const EMPTY_TX: Eip1559Tx = { chainId: 0n, nonce: 0n, maxPriorityFeePerGas: 0n, maxFeePerGas: 0n, gasLimit: 0n, to: null, value: 0n, data: new Uint8Array(0), accessList: [] };

/** Reads `--tx`: hex on the command line, or a file holding hex, raw bytes or EIP-712 JSON. */
function readTxOrTypedData(arg: string): { tx: Eip1559Tx } | { typedData: TypedData } {
  let raw: Uint8Array;
  if (/^(0x)?[0-9a-fA-F]+$/.test(arg) && !existsSync(arg)) raw = hexToBytes(arg, '--tx');
  else {
    const size = statOrFail(arg);
    if (size > Math.max(2 * RAW_TX_BYTES_MAX + 4, TYPED_DATA_BYTES_MAX)) throw new CustodianError('E_TX_MALFORMED', `--tx file is larger than a transaction can be`);
    const bytes = new Uint8Array(readFileSync(arg));
    const text = Buffer.from(bytes).toString('latin1').trim();
    if (text.startsWith('{')) return { typedData: decodeTypedData(bytes) };
    raw = /^(0x)?[0-9a-fA-F]+$/.test(text) ? hexToBytes(text, '--tx') : bytes;
  }
  return { tx: decodeRawTx(raw) };
}

function decodeRawTx(raw: Uint8Array): Eip1559Tx {
  try {
    return decodeUnsignedEip1559(raw);
  } catch (e) {
    // A signed transaction is accepted too: policy reads the same fields.
    try {
      return decodeSignedEip1559(raw).tx;
    } catch {
      throw e;
    }
  }
}

function statOrFail(path: string): number {
  try {
    return statSync(path).size;
  } catch (e) {
    throw new CustodianError('E_IO', `cannot read ${path}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

function readContext(path: string): Fields {
  if (statOrFail(path) > CONTEXT_BYTES_MAX) throw new CustodianError('E_FIELD_INVALID', `--context file is larger than ${CONTEXT_BYTES_MAX} bytes`);
  return new Fields(parseJson(new Uint8Array(readFileSync(path)), CONTEXT_BYTES_MAX), 'context');
}

function isoMs(s: string, field: string): number {
  const ms = Date.parse(s);
  if (Number.isNaN(ms)) throw new CustodianError('E_FIELD_INVALID', `${field} must be an ISO-8601 time`);
  return ms;
}

function strings(f: Fields, k: string): string[] {
  return f.arr(k, 64).map((v) => {
    if (typeof v !== 'string' || v.length > 64) throw new CustodianError('E_FIELD_INVALID', `${f.where}.${k} must be a list of short strings`);
    return v;
  });
}

function requestFrom(c: Fields | null, chain: string, tx: Eip1559Tx, rulebook: Rulebook): { request: EvmTxRequest; nowMs: number } {
  const nowText = c?.optStr('now', 40);
  const nowMs = nowText === undefined ? Date.now() : isoMs(nowText, 'context.now');
  const reqText = c?.optStr('requestedAt', 40);
  const requestedAtMs = reqText === undefined ? nowMs : isoMs(reqText, 'context.requestedAt');
  const configured = rulebook.chains.get(chain)?.chainId;
  let initiator = { id: 'simulator', groups: ['initiators'] };
  let wallet = { id: 'simulated-wallet', groups: [] as string[], chainIds: configured === undefined ? [] : [configured] };
  const approvals: Record<string, number> = {};
  let intent: DeclaredIntent | null = null;
  if (c !== null) {
    if (c.optRaw('initiator') !== undefined) {
      const i = c.obj('initiator');
      initiator = { id: i.str('id', 64), groups: strings(i, 'groups') };
      i.done();
    }
    if (c.optRaw('wallet') !== undefined) {
      const w = c.obj('wallet');
      const chainIds = w.optRaw('chainIds') === undefined ? wallet.chainIds : w.arr('chainIds', 16).map((n) => (typeof n === 'number' && Number.isSafeInteger(n) && n > 0 ? BigInt(n) : fail('context.wallet.chainIds must hold positive integers')));
      wallet = { id: w.str('id', 64), groups: w.optRaw('groups') === undefined ? [] : strings(w, 'groups'), chainIds };
      w.done();
    }
    if (c.optRaw('approvals') !== undefined) {
      const a = c.obj('approvals');
      const raw = c.optRaw('approvals') as Record<string, unknown>;
      for (const g of Object.keys(raw)) {
        if (!/^[a-z0-9][a-z0-9_-]{0,63}$/.test(g)) fail(`context.approvals group "${g.slice(0, 40)}" is not a group name`);
        approvals[g] = a.int(g, 0, 64);
      }
      a.done();
    }
    if (c.optRaw('intent') !== undefined) {
      const i = c.obj('intent');
      const destination = i.optStr('destination', 128);
      const amount = i.optRaw('amount') === undefined ? undefined : i.uint('amount');
      const asset = i.optStr('asset', 128);
      i.done();
      intent = { ...(destination === undefined ? {} : { destination }), ...(amount === undefined ? {} : { amountBaseUnits: amount }), ...(asset === undefined ? {} : { asset }) };
    }
    c.done();
  }
  return { request: { requestId: 'simulation', chain, tx, initiator, wallet, intent, approvals, requestedAtMs }, nowMs };
}

function fail(message: string): never {
  throw new CustodianError('E_FIELD_INVALID', message);
}

function validate(args: readonly string[], json: boolean): number {
  const { positionals } = parseArgs(args, { booleans: ['json'] });
  const target = positionals[0];
  if (target === undefined || positionals.length > 1) throw new UsageError(USAGE);
  if (target.endsWith('.cedar')) {
    const set = compilePolicySet([{ name: target, text: readFileSync(target, 'utf8') }]);
    emit(json, { ok: true, policies: [...set.policies.keys()], policySet: set.hash }, `ok: ${set.policies.size} policies valid against the Custodian schema`);
    return EXIT_OK;
  }
  const rb = loadRulebookDir(target);
  const result = {
    ok: true,
    version: rb.version,
    policies: [...rb.policySet.policies.keys()],
    addressBookEntries: rb.addressBook.size,
    screeningAddresses: rb.screening.size,
    versions: versionsOf(rb),
  };
  emit(json, result, `ok: rulebook ${rb.version}: ${result.policies.length} policies, ${rb.addressBook.size} address-book entries, ${rb.screening.size} screened addresses`);
  return EXIT_OK;
}

function diff(args: readonly string[], json: boolean): number {
  const { positionals } = parseArgs(args, { booleans: ['json'] });
  if (positionals.length !== 2) throw new UsageError(USAGE);
  const [a, b] = positionals.map((p) => loadRulebookDir(p)) as [Rulebook, Rulebook];
  const pa = a.policySet.policies;
  const pb = b.policySet.policies;
  const added = [...pb.keys()].filter((id) => !pa.has(id));
  const removed = [...pa.keys()].filter((id) => !pb.has(id));
  const changed = [...pb.keys()].filter((id) => pa.has(id) && pa.get(id)!.text !== pb.get(id)!.text);
  const docs = (r: Rulebook): Record<string, string> => ({ ...versionsOf(r) });
  const da = docs(a);
  const db = docs(b);
  const documentsChanged = Object.keys(da).filter((k) => da[k] !== db[k]);
  const result = { added, removed, changed, documentsChanged, from: a.version, to: b.version };
  const human = [`${a.version} -> ${b.version}`, ...added.map((id) => `+ ${id}`), ...removed.map((id) => `- ${id}`), ...changed.map((id) => `~ ${id}`), `documents changed: ${documentsChanged.join(', ') || 'none'}`].join('\n');
  emit(json, result, human);
  return EXIT_OK;
}

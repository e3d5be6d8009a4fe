/**
 * `custodian policy ...`: the "what would happen" tool (issue 5 §7,
 * CONTRACTS.md "Policy").
 *
 *   custodian policy simulate --policy DIR --chain CHAIN (--tx HEX|FILE | --tx-base64 B64) [--context FILE]
 *       [--wallet-address BASE58 [--recent-blockhash BASE58] [--durable-nonce-account BASE58]]   (Solana chains)
 *       [--wallet-output-key HEX | --wallet-internal-key HEX]                                    (Bitcoin chains)
 *       [--json]
 *   custodian policy validate DIR|FILE.cedar [--json]
 *   custodian policy diff OLD_DIR NEW_DIR [--json]
 *
 * simulate reads the bytes as the rulebook chain's family says (`--chain` is
 * a chain name of the rulebook: `eth`, `sol`, `solana-devnet`, `btc`,
 * `bitcoin-regtest`...) and decides them with the engine the enclave runs,
 * which derives the context from the bytes alone:
 *
 * - EVM: a raw EIP-1559 transaction (unsigned or signed). A `--tx` file
 *   holding EIP-712 typed data (`eth_signTypedData_v4` JSON) is decided as a
 *   signature request: permits as spends (THREATS.md B17).
 * - Solana: a message (legacy or v0), or a serialised transaction carrying
 *   one (its signatures, often zero-filled, are ignored); the wallet is the
 *   fee payer named by `--wallet-address`. `--recent-blockhash` and
 *   `--durable-nonce-account` state what the signer expects (B19): without
 *   the latter a durable-nonce advance is refused.
 * - Bitcoin: a PSBT (BIP 174 v0) whose inputs all spend the wallet's P2TR
 *   output; the wallet is its x-only output key Q (`--wallet-output-key`), or
 *   the untweaked internal key P a FROST key generation prints
 *   (`--wallet-internal-key`, tweaked here as BIP 86: Q = P + H(P)·G).
 *
 * `--tx` is hex on the command line, or a file holding hex, base64 or the raw
 * bytes; `--tx-base64` is standard padded base64 on the command line (how
 * PSBTs and Solana transactions usually travel). Bytes that are not a
 * transaction / message / PSBT at all are a typed error (exit 1); bytes the
 * enclave would refuse to sign (another wallet's coins, an unexpected nonce
 * account) are a deny decision carrying the decoder's code, as the enclave
 * would answer.
 *
 * `--context FILE` supplies what a real request carries besides the bytes:
 * `{ "now", "requestedAt", "initiator": { "id", "groups" }, "wallet": { "id",
 * "groups", "chainIds" (EVM) | "chains" (Solana, Bitcoin: rulebook chain
 * names) }, "approvals": { group: n }, "intent": { "destination", "amount",
 * "asset" } }`. The wallet is configured for the simulated chain unless the
 * context says otherwise. Exit 0 for allow and needs-approval, 1 for deny.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { CustodianError } from '@custodian/core/errors';
import { bytesToHex, hexToBytes } from '@custodian/core/bytes';
import { decodeBase64Strict, looksLikeBase64 } from '@custodian/core/base64';
import { RAW_TX_BYTES_MAX } from '@custodian/core/limits';
import { Fields } from '@custodian/core/fields';
import { parseJson } from '@custodian/core/canonical-json';
import { decodeSignedEip1559, decodeUnsignedEip1559, type Eip1559Tx } from '@custodian/chains/evm/eip1559';
import { decodePsbt, PSBT_BYTES_MAX } from '@custodian/chains/btc/psbt';
import { taprootTweakPublicKey } from '@custodian/chains/btc/bip341';
import { encodeSegwitAddress } from '@custodian/chains/btc/segwit-address';
import { solanaAddressBytes } from '@custodian/chains/sol/base58';
import { decodeSolanaMessage, SOLANA_PACKET_BYTES_MAX } from '@custodian/chains/sol/message';
import { decodeSolanaTransaction, type SolanaTransaction } from '@custodian/chains/sol/transaction';
import { loadRulebookDir } from '@custodian/policy/rulebook-dir';
import type { Rulebook } from '@custodian/policy/rulebook';
import type { ChainConfig, ChainFamily } from '@custodian/policy/chain-config';
import { compilePolicySet } from '@custodian/policy/policy-set';
import { decideBitcoinSpend, decideEvmTransaction, decideSolanaTransaction, decideTypedData, versionsOf } from '@custodian/policy/engine';
import type { EntityRef } from '@custodian/policy/cedar-evaluate';
import type { SolanaExpectation } from '@custodian/policy/solana-context';
import { decodeTypedData, TYPED_DATA_BYTES_MAX, type TypedData } from '@custodian/policy/typed-data';
import type { Decision } from '@custodian/policy/decision';
import type { DeclaredIntent } from '@custodian/policy/evm-context';
import { emit, emitError, EXIT_OK, EXIT_REFUSED, parseArgs, UsageError } from '../output.js';

const SIMULATE_USAGE = `usage: custodian policy simulate --policy DIR --chain CHAIN (--tx HEX|FILE | --tx-base64 B64) [--context FILE] [--json]
         a Solana chain also needs --wallet-address BASE58 [--recent-blockhash BASE58] [--durable-nonce-account BASE58]
         a Bitcoin chain also needs --wallet-output-key HEX (x-only Q) or --wallet-internal-key HEX (x-only P, BIP 86)`;
const USAGE = `${SIMULATE_USAGE}
       custodian policy validate DIR|FILE.cedar [--json]
       custodian policy diff OLD_DIR NEW_DIR [--json]`;

/** Largest --context file read. */
const CONTEXT_BYTES_MAX = 64 * 1024;

/** Largest transaction bytes per family: what each decoder accepts at most. */
const TX_BYTES_MAX: Readonly<Record<ChainFamily, number>> = { evm: RAW_TX_BYTES_MAX, solana: SOLANA_PACKET_BYTES_MAX, bitcoin: PSBT_BYTES_MAX };
/** The code of bytes that are not a transaction of the family. */
const MALFORMED: Readonly<Record<ChainFamily, string>> = { evm: 'E_TX_MALFORMED', solana: 'E_SOLANA_MESSAGE_MALFORMED', bitcoin: 'E_PSBT_MALFORMED' };
/** Options that only one family reads. */
const FAMILY_OPTIONS: Readonly<Record<string, ChainFamily>> = {
  'wallet-address': 'solana',
  'recent-blockhash': 'solana',
  'durable-nonce-account': 'solana',
  'wallet-output-key': 'bitcoin',
  'wallet-internal-key': 'bitcoin',
};

const HEX_TEXT = /^(0x)?[0-9a-fA-F]+$/;

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
  const { values } = parseArgs(args, { strings: ['policy', 'chain', 'tx', 'tx-base64', 'context', ...Object.keys(FAMILY_OPTIONS)], booleans: ['json'] });
  const opt = (k: string): string | undefined => values.get(k)?.[0];
  const need = (k: string): string => {
    const v = opt(k);
    if (v === undefined) throw new UsageError(`--${k} is required\n${SIMULATE_USAGE}`);
    return v;
  };
  const txArg = opt('tx');
  const txBase64 = opt('tx-base64');
  if ((txArg === undefined) === (txBase64 === undefined)) throw new UsageError(`give the transaction with exactly one of --tx and --tx-base64\n${SIMULATE_USAGE}`);
  const chainName = need('chain');
  const rulebook = loadRulebookDir(need('policy'));
  const chain = rulebook.chains.get(chainName);
  if (chain === undefined) {
    const configured = [...rulebook.chains.keys()];
    throw new CustodianError('E_CHAIN_UNSUPPORTED', `chain ${chainName.slice(0, 32)} is not configured in rulebook ${rulebook.version} (configured: ${configured.join(', ')})`, { chain: chainName.slice(0, 32), configured });
  }
  for (const [k, family] of Object.entries(FAMILY_OPTIONS)) {
    if (values.has(k) && family !== chain.family) throw new UsageError(`--${k} applies to ${family} chains; ${chain.name} is a ${chain.family} chain\n${SIMULATE_USAGE}`);
  }
  // The wallet's key first: a usage error is reported before any file is read.
  const walletKey = chain.family === 'solana' ? solanaWalletOptions(opt, need) : chain.family === 'bitcoin' ? bitcoinWalletKey(opt('wallet-output-key'), opt('wallet-internal-key')) : null;
  const input = readTxInput(txArg, txBase64, chain.family);
  const ctxPath = opt('context');
  const sim = simContext(ctxPath === undefined ? null : readContext(ctxPath), chain);
  const common = { requestId: 'simulation', chain: chain.name, initiator: sim.initiator, approvals: sim.approvals, requestedAtMs: sim.requestedAtMs };
  const wallet = { id: sim.wallet.id, groups: sim.wallet.groups };
  const header = [`chain: ${chain.name} (${chain.family}${chain.family === 'bitcoin' ? `, ${chain.network}` : chain.family === 'solana' ? `, ${chain.cluster}` : ''})`];
  let decision: Decision;
  if ('typedData' in input) {
    header.push('read: EIP-712 typed data');
    decision = decideTypedData(rulebook, { ...common, wallet: { ...wallet, chainIds: sim.wallet.chainIds }, typedData: input.typedData }, sim.nowMs, null).decision;
  } else if (chain.family === 'evm') {
    const { tx, form } = decodeRawTx(input.bytes);
    header.push(`read: ${form} EIP-1559 transaction, ${input.bytes.length} bytes`);
    decision = decideEvmTransaction(rulebook, { ...common, tx, wallet: { ...wallet, chainIds: sim.wallet.chainIds }, intent: sim.intent }, sim.nowMs, null).decision;
  } else if (chain.family === 'solana') {
    const solana = walletKey as SolanaWalletOptions;
    const { messageBytes, form } = solanaMessageBytes(input.bytes);
    header.push(`read: Solana ${form}, ${messageBytes.length}-byte message${form === 'transaction' ? ' (its signatures are ignored)' : ''}`, `wallet: ${solana.address}`);
    decision = decideSolanaTransaction(rulebook, { ...common, messageBytes, wallet: { ...wallet, address: solana.address, chains: sim.wallet.chains }, intent: sim.intent, expect: solana.expect }, sim.nowMs, null).decision;
  } else {
    const outputKey = walletKey as Uint8Array;
    decodePsbt(input.bytes); // bytes that are no PSBT at all are a typed error, as for EVM
    header.push(`read: PSBT, ${input.bytes.length} bytes`, `wallet: output key ${bytesToHex(outputKey)} (${encodeSegwitAddress(chain.network, 1, outputKey)})`);
    decision = decideBitcoinSpend(rulebook, { ...common, psbt: input.bytes, wallet: { ...wallet, outputKey, chains: sim.wallet.chains }, intent: sim.intent }, sim.nowMs, null).decision;
  }
  emit(json, decision, [...header, humanDecision(decision)].join('\n'));
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

interface SolanaWalletOptions {
  readonly address: string;
  readonly expect: SolanaExpectation;
}

/** `--wallet-address` (required) and the optional B19 expectations of a Solana chain. */
function solanaWalletOptions(opt: (k: string) => string | undefined, need: (k: string) => string): SolanaWalletOptions {
  const address = need('wallet-address');
  solanaAddressBytes(address); // E_ADDRESS_INVALID unless 32 bytes of base58
  const blockhash = opt('recent-blockhash');
  const nonceAccount = opt('durable-nonce-account');
  return {
    address,
    expect: {
      ...(blockhash === undefined ? {} : { recentBlockhash: solanaAddressBytes(blockhash) }),
      ...(nonceAccount === undefined ? {} : { durableNonceAccount: solanaAddressBytes(nonceAccount) }),
    },
  };
}

/** The wallet's x-only P2TR output key Q, from `--wallet-output-key Q` or `--wallet-internal-key P` (BIP 86, no script tree). */
function bitcoinWalletKey(outputKeyHex: string | undefined, internalKeyHex: string | undefined): Uint8Array {
  if ((outputKeyHex === undefined) === (internalKeyHex === undefined)) throw new UsageError(`a Bitcoin chain needs exactly one of --wallet-output-key and --wallet-internal-key\n${SIMULATE_USAGE}`);
  const field = outputKeyHex === undefined ? '--wallet-internal-key' : '--wallet-output-key';
  const key = hexToBytes((outputKeyHex ?? internalKeyHex)!, field);
  if (key.length !== 32) throw new CustodianError('E_BTC_KEY', `${field} must be a 32-byte x-only key (64 hex digits), not ${key.length} bytes`);
  if (internalKeyHex !== undefined) return taprootTweakPublicKey(key);
  try {
    secp256k1.Point.fromBytes(Uint8Array.of(0x02, ...key));
  } catch {
    throw new CustodianError('E_BTC_KEY', `${field} is not an x coordinate on secp256k1`);
  }
  return key;
}

/** What `--tx` / `--tx-base64` hold: transaction bytes, or EIP-712 typed data (EVM). */
type TxInput = { readonly bytes: Uint8Array } | { readonly typedData: TypedData };

/**
 * Reads the transaction: `--tx-base64` text, `--tx` hex, or a `--tx` file
 * holding hex, base64, the raw bytes or (EVM) EIP-712 JSON. Every form is
 * bounded by the family's largest transaction before it is decoded.
 */
function readTxInput(txArg: string | undefined, txBase64: string | undefined, family: ChainFamily): TxInput {
  const max = TX_BYTES_MAX[family];
  if (txBase64 !== undefined) return { bytes: base64Bytes(txBase64, '--tx-base64', family) };
  const arg = txArg!;
  if (HEX_TEXT.test(arg) && !existsSync(arg)) return { bytes: hexBytes(arg, '--tx', family) };
  // Hex is the longest text form; a trailing newline or two is tolerated.
  const limit = Math.max(2 * max + 4, family === 'evm' ? TYPED_DATA_BYTES_MAX : 0);
  if (statOrFail(arg) > limit) throw new CustodianError(MALFORMED[family], `--tx file is larger than a ${family} transaction can be`);
  const bytes = new Uint8Array(readFileSync(arg));
  if (bytes.length > limit) throw new CustodianError(MALFORMED[family], `--tx file is larger than a ${family} transaction can be`);
  const text = Buffer.from(bytes).toString('latin1').trim();
  if (family === 'evm' && text.startsWith('{')) return { typedData: decodeTypedData(bytes) };
  if (HEX_TEXT.test(text)) return { bytes: hexBytes(text, '--tx file', family) };
  // No raw transaction of any family is all base64 characters: a Solana message or transaction starts with a
  // small count byte, a PSBT with "psbt" 0xff, an EIP-1559 transaction with 0x02.
  if (text.length > 0 && looksLikeBase64(text)) return { bytes: base64Bytes(text, '--tx file', family) };
  if (bytes.length > max) throw new CustodianError(MALFORMED[family], `--tx file holds ${bytes.length} bytes; a ${family} transaction is at most ${max}`);
  return { bytes };
}

function hexBytes(text: string, what: string, family: ChainFamily): Uint8Array {
  const max = TX_BYTES_MAX[family];
  if (text.length > 2 * max + 2) throw new CustodianError(MALFORMED[family], `${what} is longer than a ${family} transaction can be (${max} bytes)`);
  return hexToBytes(text, what);
}

/** Strict standard base64 (RFC 4648 §4, padded, canonical), bounded before it is decoded. */
function base64Bytes(text: string, what: string, family: ChainFamily): Uint8Array {
  const max = TX_BYTES_MAX[family];
  if (text.length > 4 * Math.ceil(max / 3)) throw new CustodianError(MALFORMED[family], `${what} is longer than a ${family} transaction can be (${max} bytes)`);
  return decodeBase64Strict(text, what);
}

function decodeRawTx(raw: Uint8Array): { tx: Eip1559Tx; form: 'unsigned' | 'signed' } {
  try {
    return { tx: decodeUnsignedEip1559(raw), form: 'unsigned' };
  } catch (e) {
    // A signed transaction is accepted too: policy reads the same fields.
    try {
      return { tx: decodeSignedEip1559(raw).tx, form: 'signed' };
    } catch {
      throw e;
    }
  }
}

/**
 * The message a Solana wallet signs: the bytes themselves when they are a
 * message, or the message inside a serialised transaction (`compact-u16 n ‖
 * n × 64-byte signatures ‖ message`, as wallets and RPCs pass them). Bytes
 * that read both ways are refused rather than guessed.
 */
function solanaMessageBytes(bytes: Uint8Array): { messageBytes: Uint8Array; form: 'message' | 'transaction' } {
  let messageError: unknown = null;
  try {
    decodeSolanaMessage(bytes);
  } catch (e) {
    messageError = e;
  }
  const tx = asSolanaTransaction(bytes);
  if (messageError === null && tx !== null) throw new CustodianError('E_SOLANA_MESSAGE_MALFORMED', 'the bytes read both as a message and as a transaction; pass the message alone');
  if (messageError === null) return { messageBytes: bytes, form: 'message' };
  if (tx !== null) return { messageBytes: tx.messageBytes, form: 'transaction' };
  throw messageError;
}

function asSolanaTransaction(bytes: Uint8Array): SolanaTransaction | null {
  try {
    return decodeSolanaTransaction(bytes);
  } catch {
    return null;
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

function strings(f: Fields, k: string, re?: RegExp): string[] {
  return f.arr(k, 64).map((v) => {
    if (typeof v !== 'string' || v.length > 64 || (re !== undefined && !re.test(v))) throw new CustodianError('E_FIELD_INVALID', `${f.where}.${k} must be a list of short ${re === undefined ? 'strings' : 'names'}`);
    return v;
  });
}

/** What `--context` says about a request, with the defaults filled in, for any family. */
interface SimContext {
  readonly nowMs: number;
  readonly requestedAtMs: number;
  readonly initiator: EntityRef;
  /** `chainIds` configure an EVM wallet, `chains` (rulebook names) a Solana or Bitcoin one. */
  readonly wallet: { readonly id: string; readonly groups: readonly string[]; readonly chainIds: readonly bigint[]; readonly chains: readonly string[] };
  readonly approvals: Readonly<Record<string, number>>;
  readonly intent: DeclaredIntent | null;
}

function simContext(c: Fields | null, chain: ChainConfig): SimContext {
  const nowText = c?.optStr('now', 40);
  const nowMs = nowText === undefined ? Date.now() : isoMs(nowText, 'context.now');
  const reqText = c?.optStr('requestedAt', 40);
  const requestedAtMs = reqText === undefined ? nowMs : isoMs(reqText, 'context.requestedAt');
  let initiator: EntityRef = { id: 'simulator', groups: ['initiators'] };
  // By default the wallet is configured for the simulated chain.
  let wallet = { id: 'simulated-wallet', groups: [] as readonly string[], chainIds: chain.family === 'evm' ? [chain.chainId] : [], chains: chain.family === 'evm' ? [] : [chain.name] };
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
      if (chain.family === 'evm' && w.optRaw('chains') !== undefined) fail(`context.wallet.chains configures Solana and Bitcoin wallets; an EVM wallet is configured by chainIds`);
      if (chain.family !== 'evm' && w.optRaw('chainIds') !== undefined) fail(`context.wallet.chainIds configures EVM wallets; a ${chain.family} wallet is configured by chains (rulebook chain names)`);
      const chainIds = w.optRaw('chainIds') === undefined ? wallet.chainIds : w.arr('chainIds', 16).map((n) => (typeof n === 'number' && Number.isSafeInteger(n) && n > 0 ? BigInt(n) : fail('context.wallet.chainIds must hold positive integers')));
      const chains = w.optRaw('chains') === undefined ? wallet.chains : strings(w, 'chains', /^[a-z0-9-]{1,32}$/);
      wallet = { id: w.str('id', 64), groups: w.optRaw('groups') === undefined ? [] : strings(w, 'groups'), chainIds, chains };
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
  return { nowMs, requestedAtMs, initiator, wallet, approvals, intent };
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

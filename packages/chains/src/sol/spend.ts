/**
 * What a wallet signs on Solana, checked against the signer's intent before
 * any signature (THREATS B19): the fee payer is the wallet and the wallet is
 * the only signer; every instruction is one Custodian recognises, with its
 * program ids and fixed accounts exact; no account is writable unless a
 * recognised instruction writes it (or it is the fee payer); a durable nonce
 * is used only when intended, only as the first instruction, for the named
 * nonce account and with the wallet as its authority; the blockhash is the
 * one intended when one is given. Every refusal is E_SOLANA_ACCOUNT_MISMATCH
 * with `detail.reason`; nothing is signed.
 */
import { CustodianError } from '@custodian/core/errors';
import { equalBytes } from '@custodian/core/bytes';
import { base58Encode } from './base58.js';
import { decodeSolanaInstruction, type SolanaInstructionView } from './instructions.js';
import { solanaAccountRoles, type SolanaMessage } from './message.js';

/** Lamports per signature (the base fee). */
export const SOLANA_LAMPORTS_PER_SIGNATURE = 5000n;
/** The compute unit limit when no SetComputeUnitLimit is given is per instruction; this bound is used for the fee ceiling. */
export const SOLANA_COMPUTE_UNITS_MAX = 1_400_000;
/** A compute-unit price is in micro-lamports. */
const MICRO_LAMPORTS_PER_LAMPORT = 1_000_000n;

/** What the signer expects of the message. */
export interface SolanaSpendExpectation {
  /** The wallet's Ed25519 public key: the fee payer and the only signer. */
  readonly wallet: Uint8Array;
  /** When given, the message's recent blockhash (or nonce value) must equal it. */
  readonly recentBlockhash?: Uint8Array;
  /** When given, the message must advance exactly this nonce account first; when absent, no nonce instruction is allowed. */
  readonly durableNonceAccount?: Uint8Array;
}

/** The decoded spend a policy evaluates. */
export interface SolanaSpendView {
  readonly version: 'legacy' | 0;
  readonly feePayer: string;
  readonly recentBlockhash: string;
  /** The nonce account advanced by instruction 0, or null for a blockhash transaction. */
  readonly durableNonceAccount: string | null;
  /** Every instruction but compute budget and nonce advance, in order. */
  readonly effects: readonly SolanaInstructionView[];
  readonly baseFeeLamports: bigint;
  /** ceil(price × limit / 10^6); the limit defaults to SOLANA_COMPUTE_UNITS_MAX when a price is set without one. */
  readonly priorityFeeLamportsMax: bigint;
}

function mismatch(reason: string, message: string, detail: Record<string, unknown> = {}): never {
  throw new CustodianError('E_SOLANA_ACCOUNT_MISMATCH', message, { reason, ...detail });
}

/** Checks a decoded message against the expectation and returns its view; throws E_SOLANA_ACCOUNT_MISMATCH (B19). */
export function checkSolanaSpend(m: SolanaMessage, expect: SolanaSpendExpectation): SolanaSpendView {
  const roles = solanaAccountRoles(m);
  const feePayer = m.staticAccountKeys[0]!;
  if (!equalBytes(feePayer, expect.wallet)) mismatch('fee-payer', `the fee payer is ${base58Encode(feePayer)}, not the wallet ${base58Encode(expect.wallet)}`);
  if (m.header.numRequiredSignatures !== 1) mismatch('signers', `the message needs ${m.header.numRequiredSignatures} signatures; only the wallet signs`);
  if (expect.recentBlockhash && !equalBytes(m.recentBlockhash, expect.recentBlockhash)) mismatch('blockhash', 'the recent blockhash is not the intended one');

  const decoded = m.instructions.map((_, i) => decodeSolanaInstruction(m, roles, i));
  const writable = new Set<number>([0]);
  for (const d of decoded) {
    if (d.view.kind === 'unknown') mismatch('program', `instruction ${d.index} calls ${d.programId}, which Custodian does not sign for`, { instruction: d.index, programId: d.programId });
    if (roles[m.instructions[d.index]!.programIdIndex]!.isWritable) mismatch('writable', `instruction ${d.index}: its program account is writable`, { instruction: d.index });
    for (const a of d.writableAccounts) writable.add(a);
  }
  for (const role of roles) {
    if (role.isWritable && !writable.has(role.index)) mismatch('writable', `account ${role.address ?? `${role.lookup!.table}[${role.lookup!.entry}]`} is writable but no instruction writes it`, { account: role.index });
  }

  const nonces = decoded.filter((d) => d.view.kind === 'system-advance-nonce');
  let durableNonceAccount: string | null = null;
  if (nonces.length > 0 || expect.durableNonceAccount) {
    const first = decoded[0]?.view;
    // The runtime treats a transaction as a durable-nonce one only when instruction 0 advances the nonce.
    if (!expect.durableNonceAccount) mismatch('durable-nonce', 'the message advances a durable nonce that was not intended');
    if (nonces.length !== 1 || first?.kind !== 'system-advance-nonce') mismatch('durable-nonce', 'a durable-nonce transaction advances its nonce once, as instruction 0');
    if (first.nonceAccount !== base58Encode(expect.durableNonceAccount)) mismatch('durable-nonce', `the nonce account is ${first.nonceAccount}, not the intended one`);
    if (first.authority !== base58Encode(expect.wallet)) mismatch('durable-nonce', 'the nonce authority is not the wallet');
    durableNonceAccount = first.nonceAccount;
  }

  const limit = decoded.flatMap((d) => (d.view.kind === 'compute-unit-limit' ? [d.view.units] : []));
  const price = decoded.flatMap((d) => (d.view.kind === 'compute-unit-price' ? [d.view.microLamports] : []));
  // The runtime refuses duplicate compute budget instructions; so do we, before it.
  if (limit.length > 1 || price.length > 1) mismatch('compute-budget', 'a compute budget instruction is repeated');
  const units = BigInt(Math.min(limit[0] ?? SOLANA_COMPUTE_UNITS_MAX, SOLANA_COMPUTE_UNITS_MAX));
  const priorityFeeLamportsMax = ((price[0] ?? 0n) * units + MICRO_LAMPORTS_PER_LAMPORT - 1n) / MICRO_LAMPORTS_PER_LAMPORT;

  return Object.freeze({
    version: m.version,
    feePayer: base58Encode(feePayer),
    recentBlockhash: base58Encode(m.recentBlockhash),
    durableNonceAccount,
    effects: Object.freeze(decoded.map((d) => d.view).filter((v) => v.kind !== 'compute-unit-limit' && v.kind !== 'compute-unit-price' && v.kind !== 'system-advance-nonce')),
    baseFeeLamports: SOLANA_LAMPORTS_PER_SIGNATURE * BigInt(m.header.numRequiredSignatures),
    priorityFeeLamportsMax,
  });
}

/**
 * Test support: compiles instructions into a legacy or v0 message the way
 * Solana clients do (fee payer first; signers writable, signers read-only,
 * writable, read-only; program ids read-only non-signers), and builds the
 * instructions Custodian recognises. Used by tests and the bench only.
 */
import { concatBytes, utf8 } from '@custodian/core/bytes';
import { base58Decode, solanaAddressBytes } from './base58.js';
import { encodeSolanaMessage, type AddressTableLookup, type SolanaMessage } from './message.js';
import { ASSOCIATED_TOKEN_PROGRAM_ID, COMPUTE_BUDGET_PROGRAM_ID, RECENT_BLOCKHASHES_SYSVAR_ID, SYSTEM_PROGRAM_ID, TOKEN_PROGRAM_ID } from './program-ids.js';
import { base58Encode } from './base58.js';

/** An account an instruction uses. */
export interface TestAccountMeta {
  readonly pubkey: string;
  readonly isSigner: boolean;
  readonly isWritable: boolean;
}

/** An uncompiled instruction. */
export interface TestInstruction {
  readonly programId: string;
  readonly keys: readonly TestAccountMeta[];
  readonly data: Uint8Array;
}

function u64(n: bigint): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, n, true);
  return b;
}

/** System Program Transfer. */
export function systemTransfer(from: string, to: string, lamports: bigint): TestInstruction {
  return { programId: SYSTEM_PROGRAM_ID, keys: [{ pubkey: from, isSigner: true, isWritable: true }, { pubkey: to, isSigner: false, isWritable: true }], data: concatBytes(Uint8Array.of(2, 0, 0, 0), u64(lamports)) };
}

/** System Program AdvanceNonceAccount. */
export function advanceNonce(nonce: string, authority: string, sysvar = RECENT_BLOCKHASHES_SYSVAR_ID): TestInstruction {
  return { programId: SYSTEM_PROGRAM_ID, keys: [{ pubkey: nonce, isSigner: false, isWritable: true }, { pubkey: sysvar, isSigner: false, isWritable: false }, { pubkey: authority, isSigner: true, isWritable: false }], data: Uint8Array.of(4, 0, 0, 0) };
}

/** SPL Token TransferChecked. */
export function tokenTransferChecked(source: string, mint: string, destination: string, owner: string, amount: bigint, decimals: number, programId = TOKEN_PROGRAM_ID): TestInstruction {
  return {
    programId,
    keys: [{ pubkey: source, isSigner: false, isWritable: true }, { pubkey: mint, isSigner: false, isWritable: false }, { pubkey: destination, isSigner: false, isWritable: true }, { pubkey: owner, isSigner: true, isWritable: false }],
    data: concatBytes(Uint8Array.of(12), u64(amount), Uint8Array.of(decimals)),
  };
}

/** SPL Token Transfer. */
export function tokenTransfer(source: string, destination: string, owner: string, amount: bigint, programId = TOKEN_PROGRAM_ID): TestInstruction {
  return { programId, keys: [{ pubkey: source, isSigner: false, isWritable: true }, { pubkey: destination, isSigner: false, isWritable: true }, { pubkey: owner, isSigner: true, isWritable: false }], data: concatBytes(Uint8Array.of(3), u64(amount)) };
}

/** Associated Token Account CreateIdempotent. */
export function createAta(payer: string, ata: string, wallet: string, mint: string, tokenProgram = TOKEN_PROGRAM_ID, systemProgram = SYSTEM_PROGRAM_ID): TestInstruction {
  const ro = (pubkey: string): TestAccountMeta => ({ pubkey, isSigner: false, isWritable: false });
  return { programId: ASSOCIATED_TOKEN_PROGRAM_ID, keys: [{ pubkey: payer, isSigner: true, isWritable: true }, { pubkey: ata, isSigner: false, isWritable: true }, ro(wallet), ro(mint), ro(systemProgram), ro(tokenProgram)], data: Uint8Array.of(1) };
}

/** Compute Budget SetComputeUnitPrice. */
export function computeUnitPrice(microLamports: bigint): TestInstruction {
  return { programId: COMPUTE_BUDGET_PROGRAM_ID, keys: [], data: concatBytes(Uint8Array.of(3), u64(microLamports)) };
}

/** Compiles instructions into a message; `lookups` (v0 only) move the named non-signer accounts to address tables. */
export function compileTestMessage(o: { payer: string; instructions: readonly TestInstruction[]; blockhash: string; version?: 'legacy' | 0; lookups?: readonly { table: string; writable: readonly string[]; readonly: readonly string[] }[] }): SolanaMessage {
  const metas = new Map<string, { signer: boolean; writable: boolean }>([[o.payer, { signer: true, writable: true }]]);
  const add = (k: string, signer: boolean, writable: boolean): void => {
    const m = metas.get(k) ?? { signer: false, writable: false };
    metas.set(k, { signer: m.signer || signer, writable: m.writable || writable });
  };
  for (const ix of o.instructions) {
    for (const k of ix.keys) add(k.pubkey, k.isSigner, k.isWritable);
    add(ix.programId, false, false);
  }
  const loaded = new Set((o.lookups ?? []).flatMap((l) => [...l.writable, ...l.readonly]));
  const keys = [...metas.entries()].filter(([k]) => !loaded.has(k));
  const group = (s: boolean, w: boolean): string[] => keys.filter(([k, m]) => m.signer === s && m.writable === w && k !== o.payer).map(([k]) => k);
  const ordered = [o.payer, ...group(true, true), ...group(true, false), ...group(false, true), ...group(false, false)];
  const lookups: AddressTableLookup[] = (o.lookups ?? []).map((l, t) => ({ accountKey: solanaAddressBytes(l.table), writableIndexes: l.writable.map((_, i) => i + t * 10), readonlyIndexes: l.readonly.map((_, i) => i + 100 + t * 10) }));
  const all = [...ordered, ...(o.lookups ?? []).flatMap((l) => l.writable), ...(o.lookups ?? []).flatMap((l) => l.readonly)];
  const index = (k: string): number => all.indexOf(k);
  return {
    version: o.version ?? 'legacy',
    header: { numRequiredSignatures: group(true, true).length + group(true, false).length + 1, numReadonlySignedAccounts: group(true, false).length, numReadonlyUnsignedAccounts: group(false, false).length },
    staticAccountKeys: ordered.map((k) => solanaAddressBytes(k)),
    recentBlockhash: base58Decode(o.blockhash, 32),
    instructions: o.instructions.map((ix) => ({ programIdIndex: index(ix.programId), accountIndexes: ix.keys.map((k) => index(k.pubkey)), data: ix.data })),
    addressTableLookups: lookups,
  };
}

/** Compiles and serialises. */
export function compileTestMessageBytes(o: Parameters<typeof compileTestMessage>[0]): Uint8Array {
  return encodeSolanaMessage(compileTestMessage(o));
}

/** A deterministic fake address for tests. */
export function testAddress(label: string): string {
  return base58Encode(concatBytes(utf8(label.padEnd(32, '.')).subarray(0, 32)));
}

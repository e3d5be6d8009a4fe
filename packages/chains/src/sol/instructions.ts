/**
 * The instructions Custodian recognises, decoded with their accounts checked
 * against each instruction's account list: System transfer and
 * AdvanceNonceAccount, SPL Token (and Token-2022) Transfer and
 * TransferChecked, Associated Token Account Create / CreateIdempotent, and
 * Compute Budget unit limit and price. Data lengths are exact; account lists
 * have exactly the accounts the instruction takes (no multisig signers, no
 * transfer-hook extras); a required signer or writable account that the
 * header does not make one, a fixed program/sysvar account that is another
 * key, or a recognised account loaded from an address table is refused with
 * E_SOLANA_ACCOUNT_MISMATCH (THREATS B19). Anything else is `unknown`.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { ed25519 } from '@noble/curves/ed25519.js';
import { CustodianError } from '@custodian/core/errors';
import { concatBytes, utf8 } from '@custodian/core/bytes';
import { base58Encode, solanaAddressBytes } from './base58.js';
import type { SolanaAccountRole, SolanaMessage } from './message.js';
import { ASSOCIATED_TOKEN_PROGRAM_ID, COMPUTE_BUDGET_PROGRAM_ID, RECENT_BLOCKHASHES_SYSVAR_ID, SYSTEM_PROGRAM_ID, TOKEN_2022_PROGRAM_ID, TOKEN_PROGRAM_ID } from './program-ids.js';

/** A decoded instruction (addresses base58). */
export type SolanaInstructionView =
  | { readonly kind: 'system-transfer'; readonly from: string; readonly to: string; readonly lamports: bigint }
  | { readonly kind: 'system-advance-nonce'; readonly nonceAccount: string; readonly authority: string }
  | { readonly kind: 'token-transfer'; readonly tokenProgram: string; readonly source: string; readonly destination: string; readonly owner: string; readonly amount: bigint; readonly mint: string | null; readonly decimals: number | null }
  | { readonly kind: 'ata-create'; readonly idempotent: boolean; readonly payer: string; readonly associatedAccount: string; readonly wallet: string; readonly mint: string; readonly tokenProgram: string }
  | { readonly kind: 'compute-unit-limit'; readonly units: number }
  | { readonly kind: 'compute-unit-price'; readonly microLamports: bigint }
  | { readonly kind: 'unknown'; readonly programId: string };

/** A decoded instruction with the indexes of the accounts it needs writable. */
export interface DecodedSolanaInstruction {
  readonly index: number;
  readonly programId: string;
  readonly view: SolanaInstructionView;
  /** Message account indexes this instruction writes (empty for `unknown`: it is refused anyway). */
  readonly writableAccounts: readonly number[];
}

/** What an instruction requires of one account position. */
interface AccountSpec {
  readonly name: string;
  readonly signer?: boolean;
  readonly writable?: boolean;
  /** The only key allowed here (a program or sysvar). */
  readonly fixed?: readonly string[];
}

const SYSTEM_TRANSFER = 2;
const SYSTEM_ADVANCE_NONCE = 4;
const TOKEN_TRANSFER = 3;
const TOKEN_TRANSFER_CHECKED = 12;
const ATA_CREATE = 0;
const ATA_CREATE_IDEMPOTENT = 1;
const CU_LIMIT = 2;
const CU_PRICE = 3;
const TOKEN_PROGRAMS = [TOKEN_PROGRAM_ID, TOKEN_2022_PROGRAM_ID];

function malformed(i: number, message: string): never {
  throw new CustodianError('E_SOLANA_INSTRUCTION_MALFORMED', `instruction ${i}: ${message}`, { instruction: i });
}

function mismatch(i: number, message: string, detail: Record<string, unknown> = {}): never {
  throw new CustodianError('E_SOLANA_ACCOUNT_MISMATCH', `instruction ${i}: ${message}`, { instruction: i, ...detail });
}

/** Checks the account list against `specs` and returns the addresses in order. */
function accountsOf(i: number, indexes: readonly number[], roles: readonly SolanaAccountRole[], specs: readonly AccountSpec[]): string[] {
  if (indexes.length !== specs.length) mismatch(i, `takes exactly ${specs.length} accounts, has ${indexes.length}`, { reason: 'account-count' });
  return specs.map((spec, k) => {
    const role = roles[indexes[k]!]!;
    if (role.address === null) mismatch(i, `${spec.name} is loaded from an address table; its key cannot be checked`, { reason: 'unresolved-account' });
    if (spec.signer && !role.isSigner) mismatch(i, `${spec.name} must sign`, { reason: 'signer', account: role.address });
    if (spec.writable && !role.isWritable) mismatch(i, `${spec.name} must be writable`, { reason: 'writable', account: role.address });
    if (spec.fixed && !spec.fixed.includes(role.address)) mismatch(i, `${spec.name} is ${role.address}, not ${spec.fixed.join(' or ')}`, { reason: 'spoofed-account', account: role.address });
    return role.address;
  });
}

function u64At(data: Uint8Array, off: number): bigint {
  return new DataView(data.buffer, data.byteOffset + off, 8).getBigUint64(0, true);
}

function u32At(data: Uint8Array, off: number): number {
  return new DataView(data.buffer, data.byteOffset + off, 4).getUint32(0, true);
}

/** Decodes instruction `i` of `m`, given the roles from solanaAccountRoles(m). */
export function decodeSolanaInstruction(m: SolanaMessage, roles: readonly SolanaAccountRole[], i: number): DecodedSolanaInstruction {
  const ix = m.instructions[i];
  if (!ix) throw new CustodianError('E_SOLANA_INSTRUCTION_MALFORMED', `no instruction ${i}`);
  const programId = base58Encode(m.staticAccountKeys[ix.programIdIndex]!);
  const d = ix.data;
  const at = (k: number): number => ix.accountIndexes[k]!;
  const done = (view: SolanaInstructionView, writable: readonly number[] = []): DecodedSolanaInstruction => Object.freeze({ index: i, programId, view: Object.freeze(view), writableAccounts: Object.freeze(writable.map(at)) });

  if (programId === SYSTEM_PROGRAM_ID && d.length >= 4) {
    const tag = u32At(d, 0);
    if (tag === SYSTEM_TRANSFER) {
      if (d.length !== 12) malformed(i, 'System transfer data must be 12 bytes');
      const [from, to] = accountsOf(i, ix.accountIndexes, roles, [{ name: 'from', signer: true, writable: true }, { name: 'to', writable: true }]);
      return done({ kind: 'system-transfer', from: from!, to: to!, lamports: u64At(d, 4) }, [0, 1]);
    }
    if (tag === SYSTEM_ADVANCE_NONCE) {
      if (d.length !== 4) malformed(i, 'AdvanceNonceAccount data must be 4 bytes');
      const [nonceAccount, , authority] = accountsOf(i, ix.accountIndexes, roles, [{ name: 'nonce account', writable: true }, { name: 'RecentBlockhashes sysvar', fixed: [RECENT_BLOCKHASHES_SYSVAR_ID] }, { name: 'nonce authority', signer: true }]);
      return done({ kind: 'system-advance-nonce', nonceAccount: nonceAccount!, authority: authority! }, [0]);
    }
  }
  if (TOKEN_PROGRAMS.includes(programId) && d.length >= 1) {
    if (d[0] === TOKEN_TRANSFER) {
      if (d.length !== 9) malformed(i, 'Token Transfer data must be 9 bytes');
      const [source, destination, owner] = accountsOf(i, ix.accountIndexes, roles, [{ name: 'source', writable: true }, { name: 'destination', writable: true }, { name: 'owner', signer: true }]);
      return done({ kind: 'token-transfer', tokenProgram: programId, source: source!, destination: destination!, owner: owner!, amount: u64At(d, 1), mint: null, decimals: null }, [0, 1]);
    }
    if (d[0] === TOKEN_TRANSFER_CHECKED) {
      if (d.length !== 10) malformed(i, 'Token TransferChecked data must be 10 bytes');
      const [source, mint, destination, owner] = accountsOf(i, ix.accountIndexes, roles, [{ name: 'source', writable: true }, { name: 'mint' }, { name: 'destination', writable: true }, { name: 'owner', signer: true }]);
      return done({ kind: 'token-transfer', tokenProgram: programId, source: source!, destination: destination!, owner: owner!, amount: u64At(d, 1), mint: mint!, decimals: d[9]! }, [0, 2]);
    }
  }
  if (programId === ASSOCIATED_TOKEN_PROGRAM_ID && (d.length === 0 || (d.length === 1 && (d[0] === ATA_CREATE || d[0] === ATA_CREATE_IDEMPOTENT)))) {
    const specs: AccountSpec[] = [{ name: 'funding account', signer: true, writable: true }, { name: 'associated token account', writable: true }, { name: 'wallet' }, { name: 'mint' }, { name: 'System Program', fixed: [SYSTEM_PROGRAM_ID] }, { name: 'token program', fixed: TOKEN_PROGRAMS }];
    const [payer, associatedAccount, wallet, mint, , tokenProgram] = accountsOf(i, ix.accountIndexes, roles, specs);
    const expected = associatedTokenAddress(wallet!, tokenProgram!, mint!);
    if (expected !== associatedAccount) mismatch(i, `associated token account ${associatedAccount} is not the one of wallet ${wallet} for mint ${mint} (${expected})`, { reason: 'spoofed-account', account: associatedAccount });
    return done({ kind: 'ata-create', idempotent: d[0] === ATA_CREATE_IDEMPOTENT, payer: payer!, associatedAccount: associatedAccount!, wallet: wallet!, mint: mint!, tokenProgram: tokenProgram! }, [0, 1]);
  }
  if (programId === COMPUTE_BUDGET_PROGRAM_ID && d.length >= 1 && (d[0] === CU_LIMIT || d[0] === CU_PRICE)) {
    accountsOf(i, ix.accountIndexes, roles, []);
    if (d[0] === CU_LIMIT) {
      if (d.length !== 5) malformed(i, 'SetComputeUnitLimit data must be 5 bytes');
      return done({ kind: 'compute-unit-limit', units: u32At(d, 1) });
    }
    if (d.length !== 9) malformed(i, 'SetComputeUnitPrice data must be 9 bytes');
    return done({ kind: 'compute-unit-price', microLamports: u64At(d, 1) });
  }
  return done({ kind: 'unknown', programId });
}

/** Associated token account address: the program-derived address of [wallet, token program, mint] under the ATA program. */
export function associatedTokenAddress(wallet: string, tokenProgram: string, mint: string): string {
  return findProgramAddress([solanaAddressBytes(wallet), solanaAddressBytes(tokenProgram), solanaAddressBytes(mint)], solanaAddressBytes(ASSOCIATED_TOKEN_PROGRAM_ID));
}

/** Solana find_program_address: the first bump from 255 down whose SHA-256 address is off the Ed25519 curve. */
function findProgramAddress(seeds: readonly Uint8Array[], programId: Uint8Array): string {
  const marker = utf8('ProgramDerivedAddress');
  for (let bump = 255; bump >= 0; bump--) {
    const candidate = sha256(concatBytes(...seeds, Uint8Array.of(bump), programId, marker));
    if (!isOnCurve(candidate)) return base58Encode(candidate);
  }
  throw new CustodianError('E_SOLANA_ACCOUNT_MISMATCH', 'no program-derived address exists for these seeds');
}

function isOnCurve(bytes: Uint8Array): boolean {
  try {
    // zip215: accept non-canonical y as curve25519-dalek's decompress does.
    ed25519.Point.fromBytes(bytes, true);
    return true;
  } catch {
    return false;
  }
}

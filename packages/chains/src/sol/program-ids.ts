/**
 * The Solana programs and sysvars whose instructions Custodian decodes. An
 * instruction is recognised by its program id's exact 32 bytes, never by a
 * name or a prefix (B19: a look-alike program id is just an unknown program).
 */
import { solanaAddressBytes } from './base58.js';

/** System Program. */
export const SYSTEM_PROGRAM_ID = '11111111111111111111111111111111';
/** SPL Token Program. */
export const TOKEN_PROGRAM_ID = 'TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA';
/** SPL Token-2022 Program (same Transfer/TransferChecked layout). */
export const TOKEN_2022_PROGRAM_ID = 'TokenzQdBNbLqP5VEhdkAS6EPFLC1PHnBqCXEpPxuEb';
/** SPL Associated Token Account Program. */
export const ASSOCIATED_TOKEN_PROGRAM_ID = 'ATokenGPvbdGVxr1b2hvZzsiqW5xWH25efTNsLJA8knL';
/** Compute Budget Program (unit limit and price: the priority fee). */
export const COMPUTE_BUDGET_PROGRAM_ID = 'ComputeBudget111111111111111111111111111111';
/** The RecentBlockhashes sysvar that AdvanceNonceAccount reads. */
export const RECENT_BLOCKHASHES_SYSVAR_ID = 'SysvarRecentB1ockHashes11111111111111111111';

/** Every id above (each checked at load to be a 32-byte address). */
export const KNOWN_PROGRAM_IDS: readonly string[] = Object.freeze(
  [SYSTEM_PROGRAM_ID, TOKEN_PROGRAM_ID, TOKEN_2022_PROGRAM_ID, ASSOCIATED_TOKEN_PROGRAM_ID, COMPUTE_BUDGET_PROGRAM_ID, RECENT_BLOCKHASHES_SYSVAR_ID].map((id) => {
    solanaAddressBytes(id);
    return id;
  }),
);

/**
 * B18 for Solana and Bitcoin: what the initiator declared in the signed
 * request (destination, amount, asset) compared with what the decoded bytes
 * do. The EVM version lives in evm-context.ts (its keys are EVM addresses).
 */
import { isCustodianError } from '@custodian/core/errors';
import { chainAddressKey } from './address-key.js';
import type { ChainConfig } from './chain-config.js';
import type { GuardFinding } from './decision.js';
import type { DeclaredIntent } from './evm-context.js';
import { NATIVE_ASSET } from './price-table.js';

/** What the bytes do, as lookup keys on `chain`. */
export interface DecodedIntent {
  /** Destination keys (change and self-transfers excluded). */
  readonly destinations: readonly string[];
  /** NATIVE_ASSET, a token key, or null when the asset could not be named. */
  readonly asset: string | null;
  readonly baseUnits: bigint;
}

/** Records E_INTENT_MISMATCH (or the declared value's own address error) when the declaration and the bytes differ. */
export function checkDeclaredIntent(intent: DeclaredIntent | null, decoded: DecodedIntent, chain: ChainConfig, findings: GuardFinding[]): void {
  if (intent === null) return;
  const mismatch = (what: string): void => void findings.push({ code: 'E_INTENT_MISMATCH', reason: `the request declares ${what}, but the transaction bytes say otherwise` });
  const key = (text: string, what: string): string | null => {
    try {
      return chainAddressKey(chain.family, text);
    } catch (e) {
      if (!isCustodianError(e)) throw e;
      findings.push({ code: e.code, reason: `declared ${what}: ${e.message}` });
      return null;
    }
  };
  if (intent.destination !== undefined) {
    const d = key(intent.destination, 'destination');
    if (d !== null && (decoded.destinations.length !== 1 || decoded.destinations[0] !== d)) mismatch(`destination ${intent.destination}`);
  }
  if (intent.amountBaseUnits !== undefined && intent.amountBaseUnits !== decoded.baseUnits) mismatch(`amount ${intent.amountBaseUnits} base units`);
  if (intent.asset !== undefined) {
    const a = intent.asset === NATIVE_ASSET || intent.asset === chain.nativeSymbol ? NATIVE_ASSET : key(intent.asset, 'asset');
    if (a !== null && a !== decoded.asset) mismatch(`asset ${intent.asset}`);
  }
}

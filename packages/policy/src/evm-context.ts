/**
 * The Cedar context of an EVM transaction, derived inside the enclave from
 * the decoded raw bytes only — never from the host's description (issue 5 §2)
 * — together with the integrity findings that deny whatever the policies say:
 * chain id (B16), screening hits, non-allow-listed delegatecall (B15),
 * approvals to unknown spenders (B17), declared intent vs calldata (B18).
 */
import type { Eip1559Tx } from '@custodian/chains/evm/eip1559';
import type { CedarValueJson } from '@cedar-policy/cedar-wasm/nodejs';
import { isCustodianError } from '@custodian/core/errors';
import { addressKey } from './address-key.js';
import type { ChainConfig } from './chain-config.js';
import type { GuardFinding } from './decision.js';
import { readEvmEffects, type EvmEffects } from './evm-effects.js';
import { NATIVE_ASSET } from './price-table.js';
import type { PolicyAction } from './schema.js';
import type { VelocityLedger } from './velocity-ledger.js';
import {
  amountFacts,
  CEDAR_LONG_SAFE_MAX,
  checkFreshness,
  LABEL_DELEGATECALL_ALLOWED,
  LABEL_SPENDER_ALLOWED,
  labelsOf,
  mergeParties,
  partyFacts,
  priceOf,
  screenAddresses,
  type PolicyDataRefs,
  type PolicyFacts,
  type WalletRef,
} from './context-facts.js';

const UINT256_MAX = (1n << 256n) - 1n;

/** What the initiator declared (signed request); compared with the calldata (B18). */
export interface DeclaredIntent {
  readonly destination?: string;
  readonly amountBaseUnits?: bigint;
  readonly asset?: string;
}

/** Inputs of context derivation. */
export interface EvmContextInput {
  readonly tx: Eip1559Tx;
  readonly chain: ChainConfig;
  readonly wallet: WalletRef;
  readonly initiator: string;
  readonly intent: DeclaredIntent | null;
  readonly data: PolicyDataRefs;
  readonly ledger: VelocityLedger | null;
  readonly nowMs: number;
}

/** The derived facts of an EVM transaction. */
export interface EvmFacts extends PolicyFacts {
  readonly effects: EvmEffects;
}


/** Derives the Cedar context and the integrity findings of an EVM transaction. */
export function deriveEvmContext(input: EvmContextInput): EvmFacts {
  const { tx, chain, wallet, data, nowMs } = input;
  const findings: GuardFinding[] = [];
  const fx = readEvmEffects(tx);
  const chainIdConfigured = tx.chainId === chain.chainId && wallet.chainIds.includes(tx.chainId);
  if (!chainIdConfigured) findings.push({ code: 'E_CHAIN_ID_MISMATCH', reason: `transaction chain id ${tx.chainId} is not ${chain.name} (${chain.chainId}) or not configured for wallet ${wallet.id}` });
  if (fx.malformed !== null) findings.push({ code: 'E_CALLDATA_INVALID', reason: `calldata could not be decoded: ${fx.malformed}` });
  const fresh = checkFreshness(data, nowMs, findings);
  screenAddresses(fx.addresses, chain, data.screening, findings);
  const party = (key: string | null): Record<string, CedarValueJson> => partyFacts(key, chain, wallet, data.addressBook, input.ledger, data.screening);
  const unlistedDelegatecalls = fx.delegatecalls.filter((d) => !labelsOf(data.addressBook, chain, d).includes(LABEL_DELEGATECALL_ALLOWED));
  for (const d of unlistedDelegatecalls) {
    findings.push({ code: 'E_PRIVILEGED_OPERATION', reason: `delegatecall to ${d}, which is not on the delegatecall allow-list` });
  }
  for (const a of fx.approvals) {
    if (a.amount === 0n && !a.unlimited) continue; // a revocation grants nothing
    if (labelsOf(data.addressBook, chain, a.spender).includes(LABEL_SPENDER_ALLOWED)) continue;
    findings.push(a.unlimited ? { code: 'E_UNLIMITED_APPROVAL', reason: `unlimited ${a.method} of ${a.token} to spender ${a.spender}, which is not allow-listed` } : { code: 'E_SPENDER_NOT_ALLOWLISTED', reason: `${a.method} of ${a.token} to spender ${a.spender}, which is not allow-listed` });
  }
  const action = actionOf(fx);
  const assets = [...new Set(action === 'approve-token' ? fx.approvals.map((a) => a.token) : fx.movements.map((m) => m.asset))];
  const asset = assets.length === 0 ? NATIVE_ASSET : assets.length === 1 ? assets[0]! : 'mixed';
  const baseUnits = action === 'approve-token' ? fx.approvals.reduce((n, a) => n + a.amount, 0n) : fx.movements.reduce((n, m) => n + m.amount, 0n);
  if (baseUnits > UINT256_MAX) findings.push({ code: 'E_AMOUNT_OVERFLOW', reason: 'the amounts moved add up to more than 256 bits' });
  const priced = fresh ? priceOf(data.priceTable, chain, asset, baseUnits) : { valueMinor: null, symbol: '' };
  const maxFee = tx.maxFeePerGas * tx.gasLimit;
  const fee = fresh ? priceOf(data.priceTable, chain, NATIVE_ASSET, maxFee) : { valueMinor: null, symbol: '' };
  const destinations = [...new Set(action === 'approve-token' ? fx.approvals.map((a) => a.spender) : fx.movements.map((m) => m.destination))];
  const destination = destinations.length === 0 ? party(fx.target) : destinations.length === 1 ? party(destinations[0]!) : mergeParties(destinations.map((d) => party(d)));
  checkIntent(input.intent, destinations, asset, baseUnits, chain, findings);
  const privileged = fx.privileged.length > 0 || fx.delegatecalls.length > 0;
  const context: Record<string, CedarValueJson> = {
    chain: chain.name,
    family: chain.family,
    chainId: Number(tx.chainId > CEDAR_LONG_SAFE_MAX ? CEDAR_LONG_SAFE_MAX : tx.chainId),
    chainIdConfigured,
    asset,
    assetSymbol: asset === NATIVE_ASSET ? chain.nativeSymbol : priced.symbol,
    amount: amountFacts(baseUnits, priced),
    destination,
    call: {
      kind: fx.kind,
      method: fx.method,
      known: fx.unknown.length === 0 && fx.malformed === null,
      target: party(fx.target),
      delegatecall: fx.delegatecalls.length > 0,
      delegatecallAllowed: unlistedDelegatecalls.length === 0,
      privileged,
      unlimitedApproval: fx.approvals.some((a) => a.unlimited),
      movements: fx.movements.length,
    },
    fee: amountFacts(maxFee, fee),
    initiator: input.initiator,
  };
  const spendValue = action === 'approve-token' ? 0n : baseUnits;
  const spend = { asset: `${chain.name}:${asset}`, destination: `${chain.name}:${destinations[0] ?? fx.target ?? 'none'}`, valueMinor: action === 'approve-token' ? 0n : priced.valueMinor, baseUnits: spendValue };
  return { action, context, findings, privileged, spend, effects: fx };
}

function actionOf(fx: EvmEffects): PolicyAction {
  if (fx.kind === 'create' || fx.kind === 'malformed' || fx.unknown.length > 0 || fx.privileged.length > 0 || fx.delegatecalls.length > 0) return 'contract-call';
  if (fx.approvals.length > 0) return fx.movements.length === 0 ? 'approve-token' : 'contract-call';
  return 'transfer';
}

function checkIntent(intent: DeclaredIntent | null, destinations: readonly string[], asset: string, baseUnits: bigint, chain: ChainConfig, findings: GuardFinding[]): void {
  if (intent === null) return;
  const mismatch = (what: string): void => void findings.push({ code: 'E_INTENT_MISMATCH', reason: `the request declares ${what}, but the transaction bytes say otherwise` });
  if (intent.destination !== undefined) {
    let key: string;
    try {
      key = addressKey(intent.destination);
    } catch (e) {
      if (!isCustodianError(e)) throw e;
      findings.push({ code: e.code, reason: `declared destination: ${e.message}` });
      return;
    }
    if (destinations.length !== 1 || destinations[0] !== key) mismatch(`destination ${intent.destination}`);
  }
  if (intent.amountBaseUnits !== undefined && intent.amountBaseUnits !== baseUnits) mismatch(`amount ${intent.amountBaseUnits} base units`);
  if (intent.asset !== undefined) {
    let declared: string;
    try {
      declared = intent.asset === NATIVE_ASSET || intent.asset === chain.nativeSymbol ? NATIVE_ASSET : addressKey(intent.asset);
    } catch (e) {
      if (!isCustodianError(e)) throw e;
      findings.push({ code: e.code, reason: `declared asset: ${e.message}` });
      return;
    }
    if (declared !== asset) mismatch(`asset ${intent.asset}`);
  }
}

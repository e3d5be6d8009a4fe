/**
 * The Cedar context of an EIP-712 signature request. A recognised permit is a
 * spend (THREATS.md B17) and is decided as `approve-token` with the same
 * context shape as an on-chain approval; any other typed data is
 * `sign-message`. The domain must name the wallet's chain (B16: a missing
 * chainId makes the signature replayable on every chain), and a Permit2
 * message must be addressed to the Permit2 contract.
 */
import type { CedarValueJson } from '@cedar-policy/cedar-wasm/nodejs';
import { isCustodianError } from '@custodian/core/errors';
import type { ChainConfig } from './chain-config.js';
import {
  amountFacts,
  checkFreshness,
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
import type { GuardFinding } from './decision.js';
import { PERMIT2_ADDRESS, readPermit, readUint, type Permit, type TypedData } from './typed-data.js';
import type { VelocityLedger } from './velocity-ledger.js';

/** Longest a permit may stay usable (signature deadline or allowance expiry) before it counts as open-ended. */
export const PERMIT_DEADLINE_MAX_SEC = 30n * 24n * 60n * 60n;

/** Inputs of typed-data context derivation. */
export interface TypedDataContextInput {
  readonly typedData: TypedData;
  readonly chain: ChainConfig;
  readonly wallet: WalletRef;
  readonly initiator: string;
  readonly data: PolicyDataRefs;
  readonly ledger: VelocityLedger | null;
  readonly nowMs: number;
}

/** Derives the facts of a typed-data signature request. */
export function deriveTypedDataContext(input: TypedDataContextInput): PolicyFacts {
  const { typedData: td, chain, wallet, data, nowMs } = input;
  const findings: GuardFinding[] = [];
  const chainIdConfigured = checkDomainChain(td, chain, wallet, findings);
  let permit: Permit | null = null;
  try {
    permit = readPermit(td);
  } catch (e) {
    if (!isCustodianError(e)) throw e;
    findings.push({ code: e.code, reason: `typed data looks like a permit but is malformed: ${e.message}` });
  }
  const noSpend = { asset: `${chain.name}:none`, destination: `${chain.name}:none`, valueMinor: 0n, baseUnits: 0n };
  if (permit === null) {
    return { action: 'sign-message', context: { chain: chain.name, kind: `eip712:${td.primaryType}` }, findings, privileged: false, spend: noSpend };
  }
  const fresh = checkFreshness(data, nowMs, findings);
  if (permit.kind.startsWith('permit2') && td.domain['verifyingContract'] !== undefined && String(td.domain['verifyingContract']).toLowerCase() !== PERMIT2_ADDRESS) {
    findings.push({ code: 'E_DOMAIN_MISMATCH', reason: 'a Permit2 message must be addressed to the Permit2 contract' });
  }
  const nowSec = BigInt(Math.floor(nowMs / 1000));
  for (const g of permit.grants) {
    screenAddresses([g.spender, g.token], chain, data.screening, findings);
    const allowed = labelsOf(data.addressBook, chain, g.spender).includes(LABEL_SPENDER_ALLOWED);
    if (!allowed) findings.push({ code: g.unlimited ? 'E_UNLIMITED_APPROVAL' : 'E_SPENDER_NOT_ALLOWLISTED', reason: `${permit.kind} permit of ${g.token} to spender ${g.spender}, which is not allow-listed` });
    if (g.deadlineSec > nowSec + PERMIT_DEADLINE_MAX_SEC) findings.push({ code: 'E_UNLIMITED_APPROVAL', reason: `${permit.kind} permit of ${g.token} stays usable until ${g.deadlineSec} (more than 30 days): an open-ended authorisation` });
  }
  const tokens = [...new Set(permit.grants.map((g) => g.token))];
  const asset = tokens.length === 1 ? tokens[0]! : 'mixed';
  const amount = permit.grants.reduce((n, g) => n + g.amount, 0n);
  const priced = fresh ? priceOf(data.priceTable, chain, asset, amount) : { valueMinor: null, symbol: '' };
  const party = (key: string): Record<string, CedarValueJson> => partyFacts(key, chain, wallet, data.addressBook, input.ledger, data.screening);
  const spenders = [...new Set(permit.grants.map((g) => g.spender))];
  const verifying = typeof td.domain['verifyingContract'] === 'string' ? td.domain['verifyingContract'].toLowerCase() : null;
  const context: Record<string, CedarValueJson> = {
    chain: chain.name,
    family: chain.family,
    chainId: Number(chain.chainId),
    chainIdConfigured,
    asset,
    assetSymbol: priced.symbol,
    amount: amountFacts(amount, priced),
    destination: spenders.length === 1 ? party(spenders[0]!) : mergeParties(spenders.map(party)),
    call: {
      kind: 'eip712',
      method: permit.kind,
      known: true,
      target: verifying === null ? partyFacts(null, chain, wallet, data.addressBook, input.ledger, data.screening) : party(verifying),
      delegatecall: false,
      delegatecallAllowed: true,
      privileged: false,
      unlimitedApproval: permit.grants.some((g) => g.unlimited),
      movements: 0,
    },
    fee: amountFacts(0n, { valueMinor: 0n, symbol: chain.nativeSymbol }),
    initiator: input.initiator,
  };
  return { action: 'approve-token', context, findings, privileged: false, spend: { ...noSpend, asset: `${chain.name}:${asset}`, destination: `${chain.name}:${spenders[0]!}` } };
}

function checkDomainChain(td: TypedData, chain: ChainConfig, wallet: WalletRef, findings: GuardFinding[]): boolean {
  const raw = td.domain['chainId'];
  if (raw === undefined) {
    findings.push({ code: 'E_REPLAYABLE_TX', reason: 'the EIP-712 domain has no chainId: the signature would be valid on every chain' });
    return false;
  }
  let id: bigint;
  try {
    id = readUint(raw, 'domain.chainId');
  } catch (e) {
    if (!isCustodianError(e)) throw e;
    findings.push({ code: e.code, reason: e.message });
    return false;
  }
  if (id !== chain.chainId || !wallet.chainIds.includes(id)) {
    findings.push({ code: 'E_CHAIN_ID_MISMATCH', reason: `the EIP-712 domain names chain id ${id}, not ${chain.name} (${chain.chainId}) as configured for wallet ${wallet.id}` });
    return false;
  }
  return true;
}

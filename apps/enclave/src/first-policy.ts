/**
 * The first policy, evaluated inside the enclave on the decoded transaction:
 * chain id, per-transaction amount limit, destination allowlist, and the
 * number of approvals from a named group. Issue 5 replaces it with Cedar.
 */
import { bytesTo0x } from '@custodian/core/bytes';
import type { Eip1559Tx } from '@custodian/chains/evm/eip1559';
import type { ManifestPolicy } from '@custodian/protocol/manifest';

/** Largest gas limit accepted (a block's gas target is far below). */
export const GAS_LIMIT_MAX = 30_000_000n;

/** The most a transaction can take from the wallet: value plus maxFeePerGas × gasLimit. */
export function maxTotalCostWei(tx: Eip1559Tx): bigint {
  return tx.value + tx.maxFeePerGas * tx.gasLimit;
}

/** A policy outcome with reasons an operator understands. */
export interface PolicyDecision {
  readonly decision: 'deny' | 'needs-approval' | 'allow';
  readonly code: string | null;
  readonly reasons: readonly string[];
  readonly requiredApprovals: { readonly group: string; readonly count: number };
}

/** Decides on a decoded transaction. Deny beats everything. */
export function evaluateFirstPolicy(tx: Eip1559Tx, policy: ManifestPolicy, chainId: bigint): PolicyDecision {
  const required = policy.approvals;
  const deny = (code: string, reason: string): PolicyDecision => ({ decision: 'deny', code, reasons: [reason], requiredApprovals: required });
  if (tx.chainId !== chainId) return deny('E_CHAIN_ID_MISMATCH', `transaction is for chain ${tx.chainId}, the organisation's chain is ${chainId}`);
  if (tx.to === null) return deny('E_POLICY_DENIED', 'contract creation is not allowed');
  const to = bytesTo0x(tx.to);
  if (!policy.allowlist.includes(to)) return deny('E_DESTINATION_NOT_ALLOWED', `destination ${to} is not on the allowlist`);
  if (tx.maxPriorityFeePerGas > tx.maxFeePerGas) return deny('E_FEE_INVALID', 'priority fee exceeds the maximum fee per gas');
  if (tx.gasLimit > GAS_LIMIT_MAX) return deny('E_FEE_INVALID', `gas limit ${tx.gasLimit} exceeds ${GAS_LIMIT_MAX}`);
  // Fees are value too: the limit bounds the most this transaction can take from the wallet.
  const maxCost = maxTotalCostWei(tx);
  if (maxCost > policy.maxValueWei) {
    return deny('E_AMOUNT_OVER_LIMIT', `value ${tx.value} wei plus maximum fee ${tx.maxFeePerGas * tx.gasLimit} wei exceeds the per-transaction limit of ${policy.maxValueWei} wei`);
  }
  if (tx.data.length > 0) return deny('E_POLICY_DENIED', 'contract calls are not allowed by the first policy');
  if (tx.accessList.length > 0) return deny('E_POLICY_DENIED', 'access lists are not allowed by the first policy');
  if (required.count === 0) return { decision: 'allow', code: null, reasons: ['within limits, destination allowlisted'], requiredApprovals: required };
  return { decision: 'needs-approval', code: null, reasons: [`needs ${required.count} approval(s) from group ${required.group}, initiator excluded`], requiredApprovals: required };
}

/**
 * Solana and Bitcoin spends under the first policy: refused. Its limit is in
 * wei and its allowlist holds EVM addresses, so it bounds nothing on those
 * chains; a manifest must pin a Cedar rulebook that configures them.
 */
export function evaluateFirstPolicyOtherChain(chain: 'sol' | 'btc', policy: ManifestPolicy): PolicyDecision {
  const name = chain === 'sol' ? 'Solana' : 'Bitcoin';
  return { decision: 'deny', code: 'E_POLICY_UNCONFIGURED', reasons: [`${name} spends are decided by a Cedar rulebook; the organisation's manifest pins none (its first policy limits EVM transfers only)`], requiredApprovals: policy.approvals };
}

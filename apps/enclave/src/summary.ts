/**
 * The human-readable summary of a proposed transaction, built inside the
 * enclave from the decoded raw bytes (never from the host's description) and
 * signed with the enclave identity key. Approvers sign its hash together with
 * the transaction digest (THREATS.md B14: what you see is what you sign).
 */
import { bytesTo0x } from '@custodian/core/bytes';
import type { Json } from '@custodian/core/canonical-json';
import { keccak_256 } from '@noble/hashes/sha3.js';
import type { Eip1559Tx } from '@custodian/chains/evm/eip1559';
import { toChecksumAddress } from '@custodian/chains/evm/address';
import { proposalTransfers, type DecodedProposal } from '@custodian/chains/proposal';
import { maxTotalCostWei, type PolicyDecision } from './first-policy.js';

/** Formats wei as ether with all significant decimals. */
export function formatEther(wei: bigint): string {
  return formatUnits(wei, 18);
}

/** Inputs of a summary. */
export interface SummaryInput {
  readonly requestId: string;
  readonly orgId: string;
  readonly walletId: string;
  readonly signerId: string;
  readonly from: string;
  readonly initiator: string;
  readonly tx: Eip1559Tx;
  readonly txDigest: Uint8Array;
  readonly decision: PolicyDecision;
}

/** The fields every summary starts with: what it is, for which request, from whom, built by which signer. */
function summaryHeader(i: { requestId: string; orgId: string; walletId: string; signerId: string; initiator: string }): Record<string, Json> {
  return { type: 'custodian.tx-summary.v1', requestId: i.requestId, orgId: i.orgId, walletId: i.walletId, signerId: i.signerId, initiator: i.initiator };
}

/** Builds the summary statement (deterministic in its inputs). */
export function buildSummary(i: SummaryInput): Json {
  const to = i.tx.to ? toChecksumAddress(i.tx.to) : null;
  const text =
    `Send ${formatEther(i.tx.value)} ETH (${i.tx.value} wei) from ${i.from} to ${to ?? '(contract creation)'} on chain ${i.tx.chainId}, ` +
    `account nonce ${i.tx.nonce}, gas limit ${i.tx.gasLimit}, max fee ${i.tx.maxFeePerGas} wei/gas (priority ${i.tx.maxPriorityFeePerGas}), ` +
    `at most ${formatEther(maxTotalCostWei(i.tx))} ETH in total with fees, ${i.tx.data.length} bytes of data, ${i.tx.accessList.length} access-list entries. ` +
    `Policy: ${i.decision.decision} — ${i.decision.reasons.join('; ')}.`;
  return {
    ...summaryHeader(i),
    chain: 'eth',
    chainId: i.tx.chainId.toString(),
    from: i.from,
    to,
    valueWei: i.tx.value.toString(),
    nonce: i.tx.nonce.toString(),
    gasLimit: i.tx.gasLimit.toString(),
    maxFeePerGas: i.tx.maxFeePerGas.toString(),
    maxPriorityFeePerGas: i.tx.maxPriorityFeePerGas.toString(),
    maxTotalCostWei: maxTotalCostWei(i.tx).toString(),
    accessListEntries: i.tx.accessList.length,
    dataBytes: i.tx.data.length,
    dataHash: bytesTo0x(keccak_256(i.tx.data)),
    txDigest: bytesTo0x(i.txDigest),
    policy: { decision: i.decision.decision, reasons: [...i.decision.reasons], requiredApprovals: { ...i.decision.requiredApprovals } },
    text,
  };
}

/** Formats base units with `decimals` decimals, all significant digits kept. */
export function formatUnits(amount: bigint, decimals: number): string {
  const base = 10n ** BigInt(decimals);
  const frac = (amount % base).toString().padStart(decimals, '0').replace(/0+$/, '');
  return frac ? `${amount / base}.${frac}` : `${amount / base}`;
}

/** Inputs of a Solana or Bitcoin summary. */
export interface ChainSummaryInput {
  readonly requestId: string;
  readonly orgId: string;
  readonly walletId: string;
  readonly signerId: string;
  readonly from: string;
  readonly initiator: string;
  readonly decoded: Exclude<DecodedProposal, { chain: 'eth' }>;
  readonly decision: PolicyDecision;
}

/** Builds the summary statement of a Solana or Bitcoin proposal (deterministic in its inputs). */
export function buildChainSummary(i: ChainSummaryInput): Json {
  const d = i.decoded;
  const { transfers, feeMax, other } = proposalTransfers(d);
  const unit = d.chain === 'sol' ? { native: 'SOL', base: 'lamports', decimals: 9 } : { native: 'BTC', base: 'sat', decimals: 8 };
  const amount = (asset: string, n: bigint): string => (asset === unit.native ? `${formatUnits(n, unit.decimals)} ${unit.native} (${n} ${unit.base})` : `${n} base units of ${asset}`);
  const sends = transfers.map((t) => `${amount(t.asset, t.amount)} to ${t.to}`);
  const where = d.chain === 'sol' ? `on Solana (${d.view.version === 'legacy' ? 'legacy' : 'v0'} message, blockhash ${d.view.recentBlockhash}${d.view.durableNonceAccount ? `, durable nonce ${d.view.durableNonceAccount}` : ''})` : `on Bitcoin ${d.view.network} (${d.view.inputs.length} input(s), txid ${d.view.txid})`;
  const change = d.chain === 'btc' ? d.view.outputs.filter((o) => o.toWallet).reduce((n, o) => n + o.amountSat, 0n) : 0n;
  const policy = `Policy: ${i.decision.decision} — ${i.decision.reasons.join('; ')}.`;
  const text =
    `Send ${sends.length > 0 ? sends.join(', ') : 'nothing'} from ${i.from} ${where}, ` +
    `fee at most ${amount(unit.native, feeMax)}${change > 0n ? `, change back to the wallet ${amount(unit.native, change)}` : ''}` +
    `${other.length > 0 ? `; also ${other.join('; ')}` : ''}. ${policy}`;
  return {
    ...summaryHeader(i),
    chain: d.chain,
    ...(d.chain === 'btc' ? { network: d.view.network, txid: d.view.txid, inputs: d.view.inputs.length } : {}),
    from: i.from,
    transfers: transfers.map((t) => ({ to: t.to, asset: t.asset, amount: t.amount.toString() })),
    feeMax: feeMax.toString(),
    txDigest: bytesTo0x(d.digest),
    policy: { decision: i.decision.decision, reasons: [...i.decision.reasons], requiredApprovals: { ...i.decision.requiredApprovals } },
    text,
  };
}

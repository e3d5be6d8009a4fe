/**
 * Proposals: a signing request verified from scratch inside the enclave —
 * initiator, wallet, the raw bytes per chain, the policy decision (the Cedar
 * rulebook when the manifest pins one, else the first policy) and the summary
 * approvals bind — and `tx.propose`, which audits and answers it.
 */
import { CustodianError } from '@custodian/core/errors';
import type { Json } from '@custodian/core/canonical-json';
import { Fields } from '@custodian/core/fields';
import { bytesTo0x, hexToBytes } from '@custodian/core/bytes';
import type { Eip1559Tx } from '@custodian/chains/evm/eip1559';
import type { DecodedProposal } from '@custodian/chains/proposal';
import type { Manifest, Operator } from '@custodian/protocol/manifest';
import { authenticateRequest, decodeSignedRequest, payloadHash, type SignedRequest } from '@custodian/protocol/operator-request';
import { decodeTxProposal, type TxProposalPayload } from '@custodian/protocol/payloads';
import { encodeEnclaveSigned, signStatement, statementHash, SUMMARY_KIND } from '@custodian/protocol/enclave-signed';
import type { RpcPeer } from '@custodian/protocol/frame-rpc';
import type { EnclaveContext } from './enclave-context.js';
import { REQUEST_SEEN_MAX } from './enclave-limits.js';
import type { WalletRecord } from './state.js';
import { evaluateFirstPolicy, evaluateFirstPolicyOtherChain } from './first-policy.js';
import { decodeWalletProposal, FROST_TAPROOT_NETWORK } from './wallet-proposal.js';
import type { ChainSpendInput, ProposalInput } from './cedar-policy.js';
import { fromCedar, fromFirstPolicy, type EnclaveDecision } from './enclave-decision.js';
import { buildChainSummary, buildSummary } from './summary.js';
import { checkNotFrozen } from './freeze.js';
import { overriddenDecision, overrideFor } from './policy-override.js';

/** A proposal after full verification inside the enclave. */
export interface CheckedProposal {
  readonly requestId: string;
  readonly payload: TxProposalPayload;
  readonly initiator: Operator;
  readonly wallet: WalletRecord;
  /** The raw bytes decoded for the wallet: what is signed, per chain. */
  readonly decoded: DecodedProposal;
  /** The EIP-1559 transaction (chain `eth`), null for Solana and Bitcoin. */
  readonly tx: Eip1559Tx | null;
  /** What approvals bind (see @custodian/chains/proposal). */
  readonly digest: Uint8Array;
  readonly decision: EnclaveDecision;
  /** What the Cedar policy decides on (null under the first policy). */
  readonly cedarInput: ProposalInput | null;
  readonly summary: Json;
  readonly summaryHash: string;
  /**
   * Summary hashes an approval may name: this signer's, and for a threshold
   * wallet every party's (the same statement, differing only in which
   * enclave built and signed it).
   */
  readonly summaryHashes: readonly string[];
}

/** The EIP-1559 transaction of an ECDSA wallet's proposal (the wallet-chain check made sure there is one). */
export function evmTx(p: CheckedProposal): Eip1559Tx {
  if (!p.tx) throw new CustodianError('E_SCHEME_MISMATCH', `wallet ${p.wallet.walletId} signs ${p.decoded.chain} transactions with Schnorr signatures, not EIP-1559 ones`);
  return p.tx;
}

/** Verifies a proposal from scratch: initiator, wallet, raw tx, policy, summary. */
export function checkProposal(ctx: EnclaveContext, req: SignedRequest, m: Manifest): CheckedProposal {
  const initiator = authenticateRequest(req, m, 'initiator');
  const payload = decodeTxProposal(req.payload);
  if (payload.orgId !== m.orgId) throw new CustodianError('E_ORG_MISMATCH', 'proposal is for another organisation');
  const wallet = ctx.state().wallets.get(payload.walletId);
  if (!wallet) throw new CustodianError('E_WALLET_UNKNOWN', `wallet ${payload.walletId} is not held by ${ctx.signerId}`);
  // A break-glass freeze stops proposals, signing and threshold signing sessions alike (all start here).
  checkNotFrozen(ctx, wallet.walletId);
  const raw = hexToBytes(payload.rawTx);
  const decoded = decodeWalletProposal(payload.chain, raw, wallet);
  const digest = decoded.digest;
  const tx = decoded.chain === 'eth' ? decoded.tx : null;
  const requestId = payloadHash(req.payload);
  let decision: EnclaveDecision;
  let cedarInput: ProposalInput | null = null;
  const cedar = ctx.cedar();
  if (decoded.chain !== 'eth') {
    if (cedar) {
      const now = ctx.nowMs();
      const chainName = cedar.chainNameFor(decoded.chain === 'sol' ? 'solana' : 'bitcoin', FROST_TAPROOT_NETWORK);
      const spend: ChainSpendInput = decoded.chain === 'sol' ? { family: 'solana', messageBytes: decoded.messageBytes, address: wallet.address } : { family: 'bitcoin', psbt: raw, outputKey: decoded.outputKey };
      cedarInput = { requestId, spend, chainName: chainName ?? 'unconfigured', initiator: { id: initiator.id, groups: [...initiator.groups] }, wallet: { id: wallet.walletId, groups: [] }, approvalsByGroup: {}, requestedAtMs: requestSeenAt(ctx, requestId, now) };
      decision = fromCedar(cedar.decideProposal(cedarInput, now), cedar.digest);
    } else {
      decision = fromFirstPolicy(evaluateFirstPolicyOtherChain(decoded.chain, m.policy), m);
    }
  } else if (cedar) {
    const now = ctx.nowMs();
    cedarInput = {
      requestId,
      tx: decoded.tx,
      chainName: cedar.chainNameFor(m.chainId) ?? 'unconfigured',
      initiator: { id: initiator.id, groups: [...initiator.groups] },
      wallet: { id: wallet.walletId, groups: [], chainIds: [m.chainId] },
      approvalsByGroup: {},
      requestedAtMs: requestSeenAt(ctx, requestId, now),
    };
    decision = fromCedar(cedar.decideProposal(cedarInput, now), cedar.digest);
  } else {
    decision = fromFirstPolicy(evaluateFirstPolicy(decoded.tx, m.policy, m.chainId), m);
  }
  // An applied break-glass override-policy for exactly this request and digest lifts a deny (policy-override.ts).
  decision = overriddenDecision(decision, overrideFor(ctx.state().policyOverrides, requestId, bytesTo0x(digest), ctx.nowMs()), m);
  const summaryBy = (signerId: string): Json =>
    decoded.chain === 'eth'
      ? buildSummary({ requestId, orgId: m.orgId, walletId: wallet.walletId, signerId, from: wallet.address, initiator: initiator.id, tx: decoded.tx, txDigest: digest, decision })
      : buildChainSummary({ requestId, orgId: m.orgId, walletId: wallet.walletId, signerId, from: wallet.address, initiator: initiator.id, decoded, decision });
  const summary = summaryBy(ctx.signerId);
  const summaryHash = statementHash(summary);
  const current = wallet.scheme === 'single' ? [summaryHash] : wallet.parties.map((id) => (id === ctx.signerId ? summaryHash : statementHash(summaryBy(id))));
  // Approvals name the summary the approver was shown: the one of first sight (sealed) counts as well as today's.
  const summaryHashes = [...new Set([...summarySeenFor(ctx, requestId, current), ...current])];
  return { requestId, payload, initiator, wallet, decoded, tx, digest, decision, cedarInput, summary, summaryHash, summaryHashes };
}

/** The summary hashes of `requestId` as this signer first computed them (recorded now if never; sealed with the next persist). */
function summarySeenFor(ctx: EnclaveContext, requestId: string, current: readonly string[]): readonly string[] {
  requestSeenAt(ctx, requestId, ctx.nowMs()); // kept (and pruned) together
  const seen = ctx.state().summarySeen;
  const known = seen.get(requestId);
  if (known !== undefined) return known;
  if (seen.size >= REQUEST_SEEN_MAX) seen.delete(seen.keys().next().value!);
  seen.set(requestId, [...current]);
  return current;
}

/** When this signer first saw `requestId` by its own clock (recorded now if never; sealed with the next persist). */
export function requestSeenAt(ctx: EnclaveContext, requestId: string, now: number): number {
  const seen = ctx.state().requestSeen;
  const at = seen.get(requestId);
  if (at !== undefined) return at;
  if (seen.size >= REQUEST_SEEN_MAX) seen.delete(seen.keys().next().value!);
  seen.set(requestId, now);
  return now;
}

/** `tx.propose`: the proposal checked, its decision audited, and the summary this signer signs. */
export async function propose(ctx: EnclaveContext, body: Json, peer: RpcPeer): Promise<Json> {
  const m = ctx.manifest();
  const req = decodeSignedRequest(new Fields(body, 'tx.propose').raw('request'));
  let p: CheckedProposal;
  try {
    p = checkProposal(ctx, req, m);
  } catch (e) {
    return ctx.refuse(peer, 'request.rejected', null, e, { operatorId: req.operatorId });
  }
  await ctx.audit(peer, 'request.proposed', p.requestId, { walletId: p.wallet.walletId, initiator: p.initiator.id, chain: p.decoded.chain, ...(p.tx ? { chainId: p.tx.chainId.toString() } : {}), txDigest: bytesTo0x(p.digest), summaryHash: p.summaryHash, rawTxHash: payloadHash(p.payload.rawTx) });
  const kind = p.decision.decision === 'deny' ? 'policy.denied' : 'policy.decision';
  const overridden = p.decision.overriddenBy === undefined ? {} : { overriddenBy: p.decision.overriddenBy };
  await ctx.audit(peer, kind, p.requestId, { decision: p.decision.decision, code: p.decision.code, reasons: [...p.decision.reasons], requiredApprovals: { ...p.decision.requiredApprovals }, approvalsByGroup: { ...p.decision.approvalsByGroup }, versions: p.decision.versions, ...overridden });
  await ctx.persist();
  return {
    requestId: p.requestId,
    txDigest: bytesTo0x(p.digest),
    summaryHash: p.summaryHash,
    summary: encodeEnclaveSigned(signStatement(SUMMARY_KIND, p.summary, ctx.state().identitySecret.expose())),
    decision: p.decision.decision,
    code: p.decision.code,
    reasons: [...p.decision.reasons],
  };
}

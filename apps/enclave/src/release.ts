/**
 * Releasing a signature: a signed record sealed write-ahead is audited
 * (the signing decision unless already audited, then the release) before
 * the signed transaction leaves; a request signed before is answered from
 * its record (an unaudited one is audited and released first).
 */
import type { Json } from '@custodian/core/canonical-json';
import { bytesTo0x } from '@custodian/core/bytes';
import type { RpcPeer } from '@custodian/protocol/frame-rpc';
import type { EnclaveContext } from './enclave-context.js';
import type { CheckedProposal } from './proposal.js';
import type { SignedRecord } from './state.js';
import type { CedarDecision } from './cedar-policy.js';

/** Appends the decision (unless already audited) and release entries durably, then releases the signature. */
export async function release(ctx: EnclaveContext, peer: RpcPeer, p: CheckedProposal, record: SignedRecord, approvedAudited: boolean, reserved: CedarDecision | null = null): Promise<Json> {
  // Each counted approval by operator and the hash of exactly what it signed.
  if (!approvedAudited) await ctx.audit(peer, 'sign.approved', p.requestId, { approvals: [...record.approvals], txDigest: bytesTo0x(p.digest), policy: reserved ? reserved.decision : p.decision.decision, versions: signVersions(ctx, p, reserved) });
  await ctx.audit(peer, 'signature.released', p.requestId, { txHash: record.txHash, from: p.wallet.address, walletId: p.wallet.walletId, scheme: p.wallet.scheme, chain: p.decoded.chain, txDigest: bytesTo0x(p.digest) });
  ctx.state().signed.set(p.requestId, { ...record, audited: true });
  await ctx.persist();
  return { requestId: p.requestId, signedTx: record.signedTx, txHash: record.txHash, replayed: false };
}

/**
 * A request signed before: an unaudited record is audited and released now;
 * otherwise the replay is audited and answered alike. A threshold wallet's
 * record exists only on a combiner that audited `sign.approved` at mpc.open,
 * so only its release is audited then.
 */
export async function answerSigned(ctx: EnclaveContext, peer: RpcPeer, p: CheckedProposal, done: SignedRecord): Promise<Json> {
  if (!done.audited) return release(ctx, peer, p, done, p.wallet.scheme !== 'single');
  await ctx.audit(peer, 'request.replayed', p.requestId, { txHash: done.txHash });
  await ctx.persist();
  return { requestId: p.requestId, signedTx: done.signedTx, txHash: done.txHash, replayed: true };
}

/** The version hashes a signing decision used: the reserving Cedar decision's, else the proposal decision's. */
export function signVersions(ctx: EnclaveContext, p: CheckedProposal, reserved: CedarDecision | null): Json {
  const cedar = ctx.cedar();
  if (!reserved || !cedar) return p.decision.versions;
  return { ...reserved.versions, rulebookDigest: cedar.digest, policies: [...reserved.policies] };
}

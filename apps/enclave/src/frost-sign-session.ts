/**
 * FROST signing (frost-ed25519 for Solana, frost-secp256k1-tr for taproot):
 * one FROST session per message in one relayed session; nonces sealed before
 * their commitments leave and consumed (sealed) before a share exists; the
 * combiner verifies every share, aggregates, checks the signed transaction
 * under the wallet key, and releases it write-ahead.
 */
import { CustodianError, isCustodianError } from '@custodian/core/errors';
import type { Json } from '@custodian/core/canonical-json';
import { bytesToHex } from '@custodian/core/bytes';
import { systemRandom } from '@custodian/core/clock';
import { assembleSigned } from '@custodian/chains/proposal';
import { encodeEnvelopes, type RelayedEnvelope } from '@custodian/protocol/mpc-relay';
import type { RpcPeer } from '@custodian/protocol/frame-rpc';
import { tweakKeyShare } from '@custodian/tss/frost/taproot';
import { commitNonces, signPackage } from '@custodian/tss/frost/signer';
import { aggregateSignature, createSigningPackage } from '@custodian/tss/frost/coordinator';
import type { SignatureShare, SigningCommitment } from '@custodian/tss/frost/signing-messages';
import type { EnclaveContext } from './enclave-context.js';
import type { FrostWalletRecord, SignedRecord } from './state.js';
import type { CheckedProposal } from './proposal.js';
import { FROST_TAPROOT_NETWORK } from './wallet-proposal.js';
import { openCommitments, openSignatureShares, sealFrostSigning } from './frost-mesh.js';
import { commitThreshold } from './approvals.js';
import { release } from './release.js';
import type { FrostSigning, MpcSession, SignJob } from './mpc-session.js';

/**
 * FROST signing, round one: a fresh nonce pair per message, each sealed
 * (SealedNonceStore) before its commitment leaves, to every other signer.
 */
export async function frostSignStart(ctx: EnclaveContext, x: MpcSession, wallet: FrostWalletRecord, p: CheckedProposal, key: string): Promise<Json> {
  const share = wallet.scheme === 'frost-secp256k1-tr' ? tweakKeyShare(wallet.share) : wallet.share;
  const sessionIds = p.decoded.messages.map((_, i) => `${key}/${i}`);
  const commitments: SigningCommitment[] = [];
  for (const id of sessionIds) commitments.push(await commitNonces(share, id, systemRandom, ctx.nonceStore));
  x.frostSign = { share, sessionIds, commitments, packages: null, ownShares: null };
  const out = await sealFrostSigning(await ctx.peerChannel(), x.channelSession, ctx.signerId, x.participants, { kind: 'frost/commitment', messages: commitments });
  return { sessionId: key, outbox: encodeEnvelopes(out), done: false };
}

/**
 * FROST signing, round two and aggregation. Every signer builds the signing
 * packages itself, from the commitments it received and the messages it
 * decoded from the raw bytes (no coordinator chooses what is signed, or
 * asks twice for one nonce); the spend is committed and each nonce consumed,
 * sealed, before its share leaves for the combiner. The combiner verifies
 * every share (an invalid one names its signer, audited), aggregates, checks
 * each signature under the wallet key, and releases write-ahead.
 */
export async function frostSignStep(ctx: EnclaveContext, x: MpcSession, job: SignJob, f: FrostSigning, key: string, inbox: readonly RelayedEnvelope[], peer: RpcPeer): Promise<Json> {
  const channel = await ctx.peerChannel();
  const others = x.participants.filter((id) => id !== ctx.signerId);
  const isCombiner = job.combiner === ctx.signerId;
  if (x.step === 0) {
    x.step = 1;
    const theirs = await openCommitments(channel, x.channelSession, x.map, others, f.sessionIds, inbox);
    const packages = f.sessionIds.map((id, i) => createSigningPackage(f.share.publicPackage, id, job.p.decoded.messages[i]!, [f.commitments[i]!, ...others.map((o) => theirs.get(o)![i]!)]));
    commitThreshold(ctx, job.p.requestId);
    await ctx.persist();
    const shares: SignatureShare[] = [];
    for (const pkg of packages) shares.push(await signPackage(f.share, pkg, ctx.nonceStore));
    f.packages = packages;
    if (isCombiner) {
      f.ownShares = shares;
      return { sessionId: key, outbox: [], done: false };
    }
    const out = await sealFrostSigning(channel, x.channelSession, ctx.signerId, x.participants, { kind: 'frost/signature-share', messages: shares, to: job.combiner });
    return { sessionId: key, outbox: encodeEnvelopes(out), done: true };
  }
  if (!isCombiner || x.step !== 1 || !f.packages || !f.ownShares) throw new CustodianError('E_MPC_PHASE', 'this signer does not combine this session');
  x.step = 2;
  const theirs = await openSignatureShares(channel, x.channelSession, x.map, others, f.sessionIds, inbox);
  const signatures = f.packages.map((pkg, i) => {
    try {
      return aggregateSignature(f.share.publicPackage, pkg, [f.ownShares![i]!, ...others.map((o) => theirs.get(o)![i]!)]);
    } catch (e) {
      // The tss layer names the party whose share failed; the audit names the signer.
      if (isCustodianError(e) && typeof e.detail['party'] === 'number') throw new CustodianError(e.code, e.message, { ...e.detail, culprit: String(e.detail['party']) });
      throw e;
    }
  });
  return { sessionId: key, outbox: [], done: true, result: await frostReleaseSignature(ctx, x, job.p, job.wallet as FrostWalletRecord, job.approvals, signatures, peer) };
}

/** The combining FROST signer: the signed transaction assembled (each signature checked under the wallet key), sealed write-ahead, audited, released. */
async function frostReleaseSignature(ctx: EnclaveContext, x: MpcSession, p: CheckedProposal, wallet: FrostWalletRecord, approvals: readonly string[], signatures: readonly Uint8Array[], peer: RpcPeer): Promise<Json> {
  let assembled;
  try {
    assembled = assembleSigned(p.decoded, { publicKey: wallet.publicKey, outputKey: wallet.outputKey, network: FROST_TAPROOT_NETWORK }, signatures);
  } catch (e) {
    throw new CustodianError('E_SIGNATURE_INVALID_TERMINAL', `the aggregated signature does not give a valid transaction; nothing released: ${(e as Error).message}`);
  }
  const record: SignedRecord = { signedTx: `0x${assembled.signedTxHex}`, txHash: assembled.txId, audited: false, atMs: ctx.nowMs(), approvals: [...approvals] };
  ctx.state().signed.set(p.requestId, record);
  await ctx.persist();
  const out = (await release(ctx, peer, p, record, true)) as Record<string, Json>;
  return { ...out, sessionId: bytesToHex(x.sessionId!) };
}

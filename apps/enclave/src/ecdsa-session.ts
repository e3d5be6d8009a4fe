/**
 * Threshold ECDSA (ecdsa-dkls) sessions: key generation by a keygen dealing,
 * and 2-round pre-signing then one online message per signer to the
 * combiner — the spend committed and the pre-signature sealed as used before
 * that message leaves; the combiner checks the signature against the digest
 * it computed itself and releases the signed transaction write-ahead.
 */
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { CustodianError } from '@custodian/core/errors';
import type { Json } from '@custodian/core/canonical-json';
import { bytesTo0x, bytesToHex } from '@custodian/core/bytes';
import { systemRandom } from '@custodian/core/clock';
import { encodeSignedEip1559, txHash } from '@custodian/chains/evm/eip1559';
import { addressFromPublicKey, toChecksumAddress } from '@custodian/chains/evm/address';
import type { ThresholdWalletCreatePayload } from '@custodian/protocol/payloads';
import type { RelayedEnvelope } from '@custodian/protocol/mpc-relay';
import type { RpcPeer } from '@custodian/protocol/frame-rpc';
import { EcdsaDealing } from '@custodian/tss/ecdsa/dealing';
import type { BroadcastAuthenticator } from '@custodian/tss/ecdsa/echo';
import { EcdsaPresignSession } from '@custodian/tss/ecdsa/sign';
import { pointToBytes } from '@custodian/tss/ecdsa/group';
import type { EnclaveContext } from './enclave-context.js';
import type { SignedRecord, ThresholdWalletRecord } from './state.js';
import { evmTx, type CheckedProposal } from './proposal.js';
import { commitThreshold } from './approvals.js';
import { release } from './release.js';
import { openMessages } from './mpc-mesh.js';
import { announceThresholdWallet, mpcSeal, type DkgJob, type MpcSession, type SignJob } from './mpc-session.js';

/** ECDSA key generation, round one: this party's keygen dealing. */
export async function ecdsaKeygenStart(ctx: EnclaveContext, x: MpcSession, threshold: number, self: bigint, auth: BroadcastAuthenticator, key: string): Promise<Json> {
  const ids = x.participants.map((id) => x.map.idOf(id));
  x.dealing = new EcdsaDealing({ sessionId: x.sessionId!, self, mode: 'keygen', threshold, receivers: ids, random: systemRandom, auth });
  return { sessionId: key, outbox: await mpcSeal(ctx, x, x.dealing.round1()), done: false };
}

/** ECDSA signing, round one: pre-signing over the wallet share with the signing set. */
export async function ecdsaSignStart(ctx: EnclaveContext, x: MpcSession, wallet: ThresholdWalletRecord, auth: BroadcastAuthenticator, key: string): Promise<Json> {
  x.presign = new EcdsaPresignSession(wallet.share, { sessionId: x.sessionId!, signers: x.participants.map((id) => x.map.idOf(id)), random: systemRandom, auth });
  return { sessionId: key, outbox: await mpcSeal(ctx, x, x.presign.round1()), done: false };
}

/**
 * One ECDSA step. Key generation: dealing round 2, then the share sealed and
 * the wallet statement. Signing: pre-signing round 2; then the pre-signature,
 * the spend committed and the pre-signature marked used (sealed) before the
 * online message leaves for the combiner; the combiner combines and releases.
 */
export async function ecdsaStep(ctx: EnclaveContext, x: MpcSession, job: DkgJob | SignJob, key: string, inbox: readonly RelayedEnvelope[], peer: RpcPeer): Promise<Json> {
  const self = x.map.idOf(ctx.signerId);
  const msgs = await openMessages(await ctx.peerChannel(), x.channelSession, x.map, self, inbox);
  if (job.kind === 'dkg') {
    if (x.step === 0) {
      x.step = 1;
      return { sessionId: key, outbox: await mpcSeal(ctx, x, x.dealing!.round2(msgs)), done: false };
    }
    const share = x.dealing!.finish(msgs);
    return { sessionId: key, outbox: [], done: true, result: await walletCreated(ctx, x, job.payload, job.operatorId, share, peer) };
  }
  if (x.step === 0) {
    x.step = 1;
    return { sessionId: key, outbox: await mpcSeal(ctx, x, x.presign!.round2(msgs)), done: false };
  }
  if (x.step === 1) {
    if (ctx.state().usedPresigs.has(key)) throw new CustodianError('E_PRESIGNATURE_REUSED', 'this session already released an online message');
    x.presig = x.presign!.finish(msgs);
    // The spend is committed (Cedar) and the pre-signature marked used, durably, before its online message can leave.
    commitThreshold(ctx, job.p.requestId);
    ctx.state().usedPresigs.set(key, ctx.nowMs());
    await ctx.persist();
    const combinerId = x.map.idOf(job.combiner);
    const online = x.presig.online(job.p.digest).filter((msg) => msg.to === combinerId);
    x.step = 2;
    const isCombiner = job.combiner === ctx.signerId;
    return { sessionId: key, outbox: await mpcSeal(ctx, x, online), done: !isCombiner };
  }
  if (job.combiner !== ctx.signerId || x.step !== 2) throw new CustodianError('E_MPC_PHASE', 'this signer does not combine this session');
  const sig = x.presig!.combine(msgs);
  return { sessionId: key, outbox: [], done: true, result: await releaseSignature(ctx, x, job.p, job.approvals, sig.r, sig.s, sig.recovery, peer) };
}

/** Seals a new threshold share and answers the wallet statement this signer signs. */
async function walletCreated(ctx: EnclaveContext, x: MpcSession, payload: ThresholdWalletCreatePayload, operatorId: string, share: ThresholdWalletRecord['share'], peer: RpcPeer): Promise<Json> {
  const s = ctx.state();
  if (s.wallets.has(payload.walletId)) throw new CustodianError('E_WALLET_EXISTS', `wallet ${payload.walletId} already exists`);
  const publicKey = pointToBytes(share.publicKey);
  const address = toChecksumAddress(addressFromPublicKey(publicKey));
  const record: ThresholdWalletRecord = { walletId: payload.walletId, scheme: 'ecdsa-dkls', threshold: payload.threshold, parties: [...payload.parties], share, publicKey, address };
  s.wallets.set(record.walletId, record);
  return announceThresholdWallet(ctx, x, { publicKey: bytesToHex(publicKey), address }, record, operatorId, peer);
}

/** The combining signer: the signed transaction sealed write-ahead, then audited, then released. */
async function releaseSignature(ctx: EnclaveContext, x: MpcSession, p: CheckedProposal, approvals: readonly string[], r: bigint, sv: bigint, recovery: number, peer: RpcPeer): Promise<Json> {
  // The tss layer verified (r, s) under the group key; checked again against the transaction digest this signer computed.
  const sig = new secp256k1.Signature(r, sv, recovery);
  if (!secp256k1.verify(sig.toBytes('compact'), p.digest, p.wallet.publicKey, { prehash: false, lowS: true }) || recovery > 1) {
    throw new CustodianError('E_SIGNATURE_INVALID_TERMINAL', 'the combined signature does not verify; nothing released');
  }
  const signedTx = encodeSignedEip1559(evmTx(p), { r, s: sv, yParity: recovery as 0 | 1 });
  const record: SignedRecord = { signedTx: bytesTo0x(signedTx), txHash: bytesTo0x(txHash(signedTx)), audited: false, atMs: ctx.nowMs(), approvals: [...approvals] };
  ctx.state().signed.set(p.requestId, record);
  await ctx.persist();
  const out = (await release(ctx, peer, p, record, true)) as Record<string, Json>;
  return { ...out, sessionId: bytesToHex(x.sessionId!) };
}

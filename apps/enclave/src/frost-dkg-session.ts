/**
 * FROST key generation (frost-ed25519 and frost-secp256k1-tr wallets):
 * round-one broadcasts, echoes (F05), secret shares each sealed to its
 * recipient, then the key share sealed and the wallet statement this signer
 * signs (group key, output key, chain address).
 */
import { CustodianError } from '@custodian/core/errors';
import type { Json } from '@custodian/core/canonical-json';
import { bytesToHex } from '@custodian/core/bytes';
import { systemRandom } from '@custodian/core/clock';
import { base58Encode } from '@custodian/chains/sol/base58';
import { encodeSegwitAddress } from '@custodian/chains/btc/segwit-address';
import type { FrostScheme, ThresholdWalletCreatePayload } from '@custodian/protocol/payloads';
import type { RelayedEnvelope } from '@custodian/protocol/mpc-relay';
import type { RpcPeer } from '@custodian/protocol/frame-rpc';
import type { BroadcastAuthenticator } from '@custodian/tss/ecdsa/echo';
import { dkgEcho, dkgFinish, dkgShares, dkgStart, type DkgState } from '@custodian/tss/frost/dkg';
import type { FrostKeyShare } from '@custodian/tss/frost/key-package';
import { taprootOutputKey } from '@custodian/tss/frost/taproot';
import type { EnclaveContext } from './enclave-context.js';
import type { FrostWalletRecord } from './state.js';
import { FROST_TAPROOT_NETWORK } from './wallet-proposal.js';
import { frostAuthenticator, frostParty, openEchoes, openRound1, openShares } from './frost-mesh.js';
import { announceThresholdWallet, frostSeal, type MpcSession } from './mpc-session.js';

/** FROST key generation, round one: this party's commitments, broadcast to the others. */
export async function frostDkgStart(ctx: EnclaveContext, x: MpcSession, suite: FrostScheme, threshold: number, auth: BroadcastAuthenticator, key: string): Promise<Json> {
  const parties = x.participants.map((id) => frostParty(x.map, id));
  const config = { suite, sessionId: key, threshold, parties, self: frostParty(x.map, ctx.signerId), authenticator: frostAuthenticator(auth) };
  const { state, broadcast } = dkgStart(config, systemRandom);
  x.frostDkg = state;
  return { sessionId: key, outbox: await frostSeal(ctx, x, { kind: 'frost/dkg-round1', message: broadcast }), done: false };
}

/**
 * One FROST key-generation step: round-1 broadcasts in → echo out; echoes in
 * (F05) → secret shares out (each sealed to its recipient only); shares in →
 * key share, sealed, and the signed wallet statement.
 */
export async function frostDkgStep(ctx: EnclaveContext, x: MpcSession, state: DkgState, payload: ThresholdWalletCreatePayload, operatorId: string, key: string, inbox: readonly RelayedEnvelope[], peer: RpcPeer): Promise<Json> {
  const channel = await ctx.peerChannel();
  if (x.step === 0) {
    x.step = 1;
    const echo = dkgEcho(state, await openRound1(channel, x.channelSession, x.map, inbox));
    return { sessionId: key, outbox: await frostSeal(ctx, x, { kind: 'frost/echo', message: echo }), done: false };
  }
  if (x.step === 1) {
    x.step = 2;
    const shares = dkgShares(state, await openEchoes(channel, x.channelSession, x.map, inbox));
    return { sessionId: key, outbox: await frostSeal(ctx, x, { kind: 'frost/dkg-share', messages: shares }), done: false };
  }
  if (x.step !== 2) throw new CustodianError('E_MPC_PHASE', 'this key generation has already finished');
  x.step = 3;
  const share = dkgFinish(state, await openShares(channel, x.channelSession, x.map, frostParty(x.map, ctx.signerId), inbox));
  x.frostDkg = null;
  return { sessionId: key, outbox: [], done: true, result: await frostWalletCreated(ctx, x, payload, operatorId, share, peer) };
}

/** Seals a new FROST share and answers the wallet statement this signer signs (group key, output key, chain address). */
async function frostWalletCreated(ctx: EnclaveContext, x: MpcSession, payload: ThresholdWalletCreatePayload, operatorId: string, share: FrostKeyShare, peer: RpcPeer): Promise<Json> {
  const s = ctx.state();
  if (s.wallets.has(payload.walletId)) throw new CustodianError('E_WALLET_EXISTS', `wallet ${payload.walletId} already exists`);
  if (payload.scheme === 'ecdsa-dkls' || share.suite !== payload.scheme) throw new CustodianError('E_SCHEME_MISMATCH', 'the key share is of another scheme than the wallet request');
  const publicKey = share.publicPackage.groupPublicKey.slice();
  const taproot = payload.scheme === 'frost-secp256k1-tr';
  const outputKey = taproot ? taprootOutputKey(share.publicPackage) : publicKey.slice();
  const address = taproot ? encodeSegwitAddress(FROST_TAPROOT_NETWORK, 1, outputKey) : base58Encode(publicKey);
  const record: FrostWalletRecord = { walletId: payload.walletId, scheme: payload.scheme, threshold: payload.threshold, parties: [...payload.parties], share, publicKey, outputKey, address };
  s.wallets.set(record.walletId, record);
  return announceThresholdWallet(ctx, x, { publicKey: bytesToHex(publicKey), outputKey: bytesToHex(outputKey), address, ...(taproot ? { network: FROST_TAPROOT_NETWORK } : {}) }, record, operatorId, peer);
}

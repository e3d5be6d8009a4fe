/**
 * Share refresh of a threshold wallet (see wallet-refresh.ts): `mpc.open` for
 * a refresh, its rounds (ECDSA refresh dealing, or FROST commitments, echoes
 * and sub-shares), the new share sealed as pending, every party's signed
 * confirmation and the commit; and the operations for a party that missed the
 * last round (`wallet.refresh.proof`, `.commit`, `.abort`).
 */
import { CustodianError } from '@custodian/core/errors';
import type { Json } from '@custodian/core/canonical-json';
import { Fields } from '@custodian/core/fields';
import { bytesToHex } from '@custodian/core/bytes';
import { systemRandom } from '@custodian/core/clock';
import type { Manifest } from '@custodian/protocol/manifest';
import { authenticateRequest, decodeSignedRequest, payloadHash } from '@custodian/protocol/operator-request';
import { decodeWalletRefresh, WALLET_PARTIES_MAX } from '@custodian/protocol/payloads';
import { encodeEnvelopes, type RelayedEnvelope } from '@custodian/protocol/mpc-relay';
import type { RpcPeer } from '@custodian/protocol/frame-rpc';
import { EcdsaDealing, previousKeyOf } from '@custodian/tss/ecdsa/dealing';
import type { BroadcastAuthenticator } from '@custodian/tss/ecdsa/echo';
import { pointToBytes } from '@custodian/tss/ecdsa/group';
import type { EcdsaKeyShare } from '@custodian/tss/ecdsa/key-share';
import { refreshEcho, refreshFinish, refreshStart } from '@custodian/tss/frost/refresh';
import type { FrostKeyShare } from '@custodian/tss/frost/key-package';
import type { EnclaveContext } from './enclave-context.js';
import type { FrostWalletRecord, ThresholdWalletRecord } from './state.js';
import { openMessages, PartyMap } from './mpc-mesh.js';
import { frostAuthenticator, frostParty, openEchoes, openRefreshCommits, openRefreshShares } from './frost-mesh.js';
import { ecdsaPublicDigest, frostPublicDigest, openConfirmations, sealConfirmation, signConfirmation, verifyConfirmations } from './wallet-refresh.js';
import { checkNotFrozen } from './freeze.js';
import { checkPeers, frostSeal, mpcSeal, type MpcSession, type MpcSessions, type RefreshJob, type RefreshSession } from './mpc-session.js';

/**
 * `mpc.open` for a share refresh: an admin's signed request naming a
 * threshold wallet; every party of the wallet takes part.
 */
export async function openRefresh(ctx: EnclaveContext, sessions: MpcSessions, f: Fields, m: Manifest, peer: RpcPeer): Promise<Json> {
  const req = decodeSignedRequest(f.raw('request'));
  f.done();
  let wallet: ThresholdWalletRecord | FrostWalletRecord;
  try {
    authenticateRequest(req, m, 'admin');
    const payload = decodeWalletRefresh(req.payload);
    if (payload.orgId !== m.orgId) throw new CustodianError('E_ORG_MISMATCH', 'request is for another organisation');
    const w = ctx.state().wallets.get(payload.walletId);
    if (!w) throw new CustodianError('E_WALLET_UNKNOWN', `wallet ${payload.walletId} is not held by ${ctx.signerId}`);
    if (w.scheme === 'single') throw new CustodianError('E_SCHEME_MISMATCH', `wallet ${w.walletId} is a single-key wallet: it has no shares to refresh`);
    checkNotFrozen(ctx, w.walletId);
    checkPeers(ctx, w.parties);
    wallet = w;
  } catch (e) {
    return ctx.refuse(peer, 'wallet.rejected', null, e, { operatorId: req.operatorId, op: 'refresh' });
  }
  return sessions.register({ kind: 'refresh', wallet, operatorId: req.operatorId }, payloadHash(req.payload), new PartyMap(wallet.parties), wallet.parties);
}

/**
 * Share refresh, round one: ECDSA starts the refresh dealing (same key, new
 * shares); FROST broadcasts its commitments and keeps the sub-shares to send
 * after the echoes.
 */
export async function startRefresh(ctx: EnclaveContext, x: MpcSession, w: ThresholdWalletRecord | FrostWalletRecord, self: bigint, auth: BroadcastAuthenticator, key: string): Promise<Json> {
  if (w.scheme === 'ecdsa-dkls') {
    const ids = x.participants.map((id) => x.map.idOf(id));
    x.refresh = { frost: null, own: null, digest: null };
    x.dealing = new EcdsaDealing({ sessionId: x.sessionId!, self, mode: 'refresh', threshold: w.threshold, receivers: ids, previous: previousKeyOf(w.share), share: w.share, random: systemRandom, auth });
    return { sessionId: key, outbox: await mpcSeal(ctx, x, x.dealing.round1()), done: false };
  }
  const { state, broadcast, shares } = refreshStart(w.share, key, systemRandom, frostAuthenticator(auth));
  x.refresh = { frost: { state, shares, echoes: null }, own: null, digest: null };
  return { sessionId: key, outbox: await frostSeal(ctx, x, { kind: 'frost/refresh-commit', message: broadcast }), done: false };
}

/**
 * One share-refresh step. FROST: commitments in → echo out; echoes in →
 * sub-shares out (each sealed to its recipient); sub-shares in → the new
 * share, pending. ECDSA: the refresh dealing's round 2, then its finish.
 * Then every party confirms (signed) and commits once all confirmed.
 */
export async function refreshStep(ctx: EnclaveContext, x: MpcSession, job: RefreshJob, r: RefreshSession, key: string, inbox: readonly RelayedEnvelope[], peer: RpcPeer): Promise<Json> {
  const channel = await ctx.peerChannel();
  const others = x.participants.filter((id) => id !== ctx.signerId);
  if (r.own !== null) {
    const theirs = await openConfirmations(channel, x.channelSession, others, inbox);
    const result = await commitRefresh(ctx, job.wallet.walletId, key, [r.own, ...theirs], peer);
    return { sessionId: key, outbox: [], done: true, result };
  }
  if (r.frost) {
    const fr = r.frost;
    if (x.step === 0) {
      x.step = 1;
      const echo = refreshEcho(fr.state, await openRefreshCommits(channel, x.channelSession, x.map, inbox));
      return { sessionId: key, outbox: await frostSeal(ctx, x, { kind: 'frost/echo', message: echo }), done: false };
    }
    if (x.step === 1) {
      x.step = 2;
      fr.echoes = await openEchoes(channel, x.channelSession, x.map, inbox);
      return { sessionId: key, outbox: await frostSeal(ctx, x, { kind: 'frost/refresh-share', messages: fr.shares }), done: false };
    }
    const subShares = await openRefreshShares(channel, x.channelSession, x.map, frostParty(x.map, ctx.signerId), inbox);
    const share = refreshFinish(fr.state, fr.echoes!, subShares);
    return { sessionId: key, outbox: await refreshPending(ctx, x, job.wallet as FrostWalletRecord, share), done: false };
  }
  const msgs = await openMessages(channel, x.channelSession, x.map, x.map.idOf(ctx.signerId), inbox);
  if (x.step === 0) {
    x.step = 1;
    return { sessionId: key, outbox: await mpcSeal(ctx, x, x.dealing!.round2(msgs)), done: false };
  }
  const share = x.dealing!.finish(msgs);
  return { sessionId: key, outbox: await refreshPending(ctx, x, job.wallet as ThresholdWalletRecord, share), done: false };
}

/** Seals a refreshed share as pending (same key checked) and sends this party's signed confirmation to the others. */
async function refreshPending(ctx: EnclaveContext, x: MpcSession, wallet: ThresholdWalletRecord | FrostWalletRecord, share: FrostKeyShare | EcdsaKeyShare): Promise<Json> {
  const key = bytesToHex(x.sessionId!);
  const s = ctx.state();
  const current = s.wallets.get(wallet.walletId);
  if (!current || current.scheme !== wallet.scheme) throw new CustodianError('E_WALLET_UNKNOWN', `wallet ${wallet.walletId} changed during the refresh`);
  let digest: string;
  if (current.scheme === 'ecdsa-dkls') {
    const next = share as EcdsaKeyShare;
    if (bytesToHex(pointToBytes(next.publicKey)) !== bytesToHex(current.publicKey)) throw new CustodianError('E_REFRESH_KEY_CHANGED', 'the refreshed shares are of another key; nothing is kept');
    digest = ecdsaPublicDigest(next);
    s.wallets.set(current.walletId, { ...current, pending: { sessionId: key, digest, share: next } });
  } else {
    const next = share as FrostKeyShare;
    if (bytesToHex(next.publicPackage.groupPublicKey) !== bytesToHex(current.share.publicPackage.groupPublicKey)) throw new CustodianError('E_REFRESH_KEY_CHANGED', 'the refreshed shares are of another key; nothing is kept');
    digest = frostPublicDigest(next);
    s.wallets.set(current.walletId, { ...current, pending: { sessionId: key, digest, share: next } });
  }
  await ctx.persist();
  const own = signConfirmation({ walletId: wallet.walletId, sessionId: key, signerId: ctx.signerId, digest }, s.identitySecret.expose());
  x.refresh!.own = own;
  x.refresh!.digest = digest;
  return encodeEnvelopes(await sealConfirmation(await ctx.peerChannel(), x.channelSession, ctx.signerId, x.participants, own));
}

/**
 * Swaps a wallet's pending refreshed share in, once every party's
 * confirmation of the same session and public data verifies; keeps the
 * confirmations (to hand a party that missed them). Idempotent.
 */
async function commitRefresh(ctx: EnclaveContext, walletId: string, sessionId: string, confirmations: readonly Json[], peer: RpcPeer): Promise<Json> {
  const s = ctx.state();
  const w = s.wallets.get(walletId);
  if (!w || w.scheme === 'single') throw new CustodianError('E_WALLET_UNKNOWN', `wallet ${walletId} is not a threshold wallet held by ${ctx.signerId}`);
  if (w.refresh?.sessionId === sessionId && !w.pending) return { walletId, sessionId, committed: true, already: true };
  if (!w.pending || w.pending.sessionId !== sessionId) throw new CustodianError('E_REFRESH_UNKNOWN', `wallet ${walletId} has no pending refresh from session ${sessionId.slice(0, 16)}…`, { walletId });
  verifyConfirmations({ walletId, sessionId, digest: w.pending.digest, parties: w.parties }, confirmations, (id) => (id === ctx.signerId ? ctx.identityKey() : s.peers.get(id)?.identityKey));
  const refresh = { sessionId, confirmations: [...confirmations] };
  if (w.scheme === 'ecdsa-dkls') s.wallets.set(walletId, { ...w, share: w.pending.share, pending: null, refresh });
  else s.wallets.set(walletId, { ...w, share: w.pending.share, pending: null, refresh });
  await ctx.audit(peer, 'wallet.refreshed', null, { walletId, sessionId, digest: w.pending.digest, parties: [...w.parties] });
  await ctx.persist();
  return { walletId, sessionId, committed: true, already: false };
}

/** `wallet.refresh.proof`: the confirmations of the wallet's last committed refresh (public). */
export async function refreshProof(ctx: EnclaveContext, body: Json): Promise<Json> {
  const f = new Fields(body, 'wallet.refresh.proof');
  const walletId = f.str('walletId', 64);
  f.done();
  const w = ctx.state().wallets.get(walletId);
  if (!w || w.scheme === 'single') throw new CustodianError('E_WALLET_UNKNOWN', `wallet ${walletId} is not a threshold wallet held by ${ctx.signerId}`);
  return { walletId, refresh: w.refresh ? { sessionId: w.refresh.sessionId, confirmations: [...w.refresh.confirmations] } : null, pending: w.pending ? w.pending.sessionId : null };
}

/** `wallet.refresh.commit`: commits a pending refresh with every party's confirmation (a party that missed the last round). */
export async function refreshCommitOp(ctx: EnclaveContext, body: Json, peer: RpcPeer): Promise<Json> {
  const f = new Fields(body, 'wallet.refresh.commit');
  const walletId = f.str('walletId', 64);
  const sessionId = f.str('sessionId', 64, /^[0-9a-f]{64}$/);
  const confirmations = f.arr('confirmations', WALLET_PARTIES_MAX);
  f.done();
  try {
    return await commitRefresh(ctx, walletId, sessionId, confirmations, peer);
  } catch (e) {
    return ctx.refuse(peer, 'wallet.rejected', null, e, { walletId, op: 'refresh.commit' });
  }
}

/**
 * `wallet.refresh.abort`: drops a pending refreshed share that no party
 * committed (the host found no confirmations anywhere). Were another party
 * to have committed after all, this signer's share no longer matches and
 * its signature shares fail verification — blamed and excluded, never a
 * wrong signature.
 */
export async function refreshAbortOp(ctx: EnclaveContext, body: Json, peer: RpcPeer): Promise<Json> {
  const f = new Fields(body, 'wallet.refresh.abort');
  const walletId = f.str('walletId', 64);
  const sessionId = f.str('sessionId', 64, /^[0-9a-f]{64}$/);
  f.done();
  const s = ctx.state();
  const w = s.wallets.get(walletId);
  if (!w || w.scheme === 'single' || !w.pending || w.pending.sessionId !== sessionId) return { walletId, aborted: false };
  s.wallets.set(walletId, { ...w, pending: null });
  await ctx.audit(peer, 'wallet.refresh_dropped', null, { walletId, sessionId });
  await ctx.persist();
  return { walletId, aborted: true };
}

/**
 * Threshold sessions as operations: `mpc.open` (what a session is for — key
 * generation, a signing with its approvals, or a share refresh — checked and
 * answered with this signer's contribution), `mpc.start` (the session id from
 * every contribution, round one), `mpc.step` (the next round, per protocol)
 * and `mpc.abort`. The protocols' rounds live in ecdsa-session.ts,
 * frost-dkg-session.ts, frost-sign-session.ts and refresh-session.ts.
 */
import { CustodianError } from '@custodian/core/errors';
import type { Json } from '@custodian/core/canonical-json';
import { Fields } from '@custodian/core/fields';
import { bytesTo0x, bytesToHex } from '@custodian/core/bytes';
import type { Manifest } from '@custodian/protocol/manifest';
import { authenticateRequest, decodeSignedRequest, payloadHash } from '@custodian/protocol/operator-request';
import { decodeWalletCreate, WALLET_PARTIES_MAX, type ThresholdWalletCreatePayload } from '@custodian/protocol/payloads';
import { decodeEnvelopes, mpcChannelSession, mpcSessionId } from '@custodian/protocol/mpc-relay';
import type { RpcPeer } from '@custodian/protocol/frame-rpc';
import type { EnclaveContext } from './enclave-context.js';
import { APPROVALS_PER_REQUEST_MAX, MPC_RESERVATION_TTL_MS } from './enclave-limits.js';
import type { FrostWalletRecord, ThresholdWalletRecord } from './state.js';
import { checkProposal, type CheckedProposal } from './proposal.js';
import { consume, countApprovals, releaseReservation } from './approvals.js';
import { answerSigned, signVersions } from './release.js';
import { identityAuthenticator, PartyMap } from './mpc-mesh.js';
import { checkPeers, type MpcJob, type MpcSessions } from './mpc-session.js';
import { ecdsaKeygenStart, ecdsaSignStart, ecdsaStep } from './ecdsa-session.js';
import { frostDkgStart, frostDkgStep } from './frost-dkg-session.js';
import { frostSignStart, frostSignStep } from './frost-sign-session.js';
import { openRefresh, refreshStep, startRefresh } from './refresh-session.js';
import { checkNotFrozen } from './freeze.js';

/** A threshold wallet with a refreshed share not yet committed signs nothing (the host commits or drops it first). */
function pendingRefresh(w: ThresholdWalletRecord | FrostWalletRecord): CustodianError {
  return new CustodianError('E_REFRESH_PENDING', `wallet ${w.walletId} has a share refresh pending (session ${w.pending!.sessionId.slice(0, 16)}…); it signs again once the refresh is committed or dropped`, { walletId: w.walletId, sessionId: w.pending!.sessionId, retryable: true });
}

/**
 * `mpc.open`: verifies what a threshold session is for — an admin's
 * threshold wallet request naming this signer, a signing request on a
 * threshold wallet with its approvals (the same checks as tx.sign), after
 * which `sign.approved` is audited and the approval nonces consumed, or an
 * admin's share refresh request — and answers this signer's fresh
 * contribution to the session id.
 */
export async function mpcOpen(ctx: EnclaveContext, sessions: MpcSessions, body: Json, peer: RpcPeer): Promise<Json> {
  const m = ctx.manifest();
  const f = new Fields(body, 'mpc.open');
  const kind = f.str('kind', 8);
  if (kind === 'dkg') return openDkg(ctx, sessions, f, m, peer);
  if (kind === 'sign') return openSign(ctx, sessions, f, m, peer);
  if (kind === 'refresh') return openRefresh(ctx, sessions, f, m, peer);
  throw new CustodianError('E_FIELD_INVALID', `unknown threshold session kind ${kind.slice(0, 16)}`);
}

async function openDkg(ctx: EnclaveContext, sessions: MpcSessions, f: Fields, m: Manifest, peer: RpcPeer): Promise<Json> {
  const req = decodeSignedRequest(f.raw('request'));
  f.done();
  let payload: ThresholdWalletCreatePayload;
  try {
    authenticateRequest(req, m, 'admin');
    const decoded = decodeWalletCreate(req.payload);
    if (decoded.orgId !== m.orgId) throw new CustodianError('E_ORG_MISMATCH', 'request is for another organisation');
    checkNotFrozen(ctx, null);
    if (decoded.scheme === 'single') throw new CustodianError('E_SCHEME_MISMATCH', `a ${decoded.scheme} wallet is not created in a threshold session`);
    payload = decoded;
    if (!payload.parties.includes(ctx.signerId)) throw new CustodianError('E_WRONG_SIGNER', `wallet ${payload.walletId} does not name ${ctx.signerId} as a party`);
    if (ctx.state().wallets.has(payload.walletId)) throw new CustodianError('E_WALLET_EXISTS', `wallet ${payload.walletId} already exists`);
    checkPeers(ctx, payload.parties);
  } catch (e) {
    return ctx.refuse(peer, 'wallet.rejected', null, e, { operatorId: req.operatorId });
  }
  return sessions.register({ kind: 'dkg', payload, operatorId: req.operatorId }, payloadHash(req.payload), new PartyMap(payload.parties), payload.parties);
}

async function openSign(ctx: EnclaveContext, sessions: MpcSessions, f: Fields, m: Manifest, peer: RpcPeer): Promise<Json> {
  const proposal = decodeSignedRequest(f.raw('proposal'), 'proposal');
  const approvals = f.arr('approvals', APPROVALS_PER_REQUEST_MAX).map((x) => decodeSignedRequest(x, 'approval'));
  const signers = f.arr('signers', WALLET_PARTIES_MAX).map((x, i) => {
    if (typeof x !== 'string' || x.length === 0 || x.length > 64) throw new CustodianError('E_FIELD_INVALID', `mpc.open.signers[${i}] must be a signer id of 1 to 64 characters`, { field: `mpc.open.signers[${i}]` });
    return x;
  });
  const combiner = f.str('combiner', 64);
  f.done();
  let p: CheckedProposal;
  let wallet: ThresholdWalletRecord | FrostWalletRecord;
  let participants: string[];
  try {
    p = checkProposal(ctx, proposal, m);
    if (p.wallet.scheme === 'single') throw new CustodianError('E_SCHEME_MISMATCH', `wallet ${p.wallet.walletId} is a ${p.wallet.scheme} wallet, not a threshold wallet`);
    if (p.wallet.pending) throw pendingRefresh(p.wallet);
    wallet = p.wallet;
    participants = wallet.parties.filter((id) => signers.includes(id));
    if (participants.length !== signers.length || new Set(signers).size !== signers.length) throw new CustodianError('E_PARTY_UNKNOWN', 'the signing set names signers that are not parties of this wallet');
    if (participants.length !== wallet.threshold) throw new CustodianError('E_MPC_SHAPE', `wallet ${wallet.walletId} signs with exactly ${wallet.threshold} signers`, { signers: participants.length });
    if (!participants.includes(ctx.signerId) || !participants.includes(combiner)) throw new CustodianError('E_PARTY_UNKNOWN', 'this signer and the combiner must be in the signing set');
    checkPeers(ctx, participants);
  } catch (e) {
    return ctx.refuse(peer, 'sign.refused', null, e, { operatorId: proposal.operatorId });
  }
  const done = ctx.state().signed.get(p.requestId);
  if (done) return { signed: await answerSigned(ctx, peer, p, done) };
  const retry = ctx.state().mpcApproved.has(p.requestId);
  const tally = await countApprovals(ctx, peer, p, m, approvals, retry, MPC_RESERVATION_TTL_MS);
  try {
    // This signer's own decision, audited before it contributes anything to a signature.
    await ctx.audit(peer, 'sign.approved', p.requestId, { approvals: [...tally.refs], txDigest: bytesTo0x(p.digest), policy: tally.reserved ? tally.reserved.decision : p.decision.decision, versions: signVersions(ctx, p, tally.reserved), scheme: wallet.scheme, signers: participants, combiner });
    consume(ctx, tally);
    ctx.state().mpcApproved.set(p.requestId, ctx.nowMs());
    await ctx.persist();
  } catch (e) {
    if (tally.reserved && !retry) releaseReservation(ctx, p.requestId);
    throw e;
  }
  return sessions.register({ kind: 'sign', p, wallet, combiner, approvals: tally.refs }, p.requestId, new PartyMap(wallet.parties), participants);
}

/** `mpc.start`: fixes the session id from every participant's contribution and runs round 1. */
export async function mpcStart(ctx: EnclaveContext, sessions: MpcSessions, body: Json, peer: RpcPeer): Promise<Json> {
  const f = new Fields(body, 'mpc.start');
  const nonce = f.str('nonce', 64, /^[0-9a-f]{64}$/);
  const contributions = f.arr('contributions', WALLET_PARTIES_MAX).map((c, i) => {
    const g = new Fields(c, `contributions[${i}]`);
    const x = { signerId: g.str('signerId', 64), nonce: g.str('nonce', 64, /^[0-9a-f]{64}$/) };
    g.done();
    return x;
  });
  f.done();
  const x = sessions.takeOpened(nonce);
  if (!x) throw new CustodianError('E_SESSION_UNKNOWN', 'no threshold session was opened with this contribution (it ended, expired or this signer restarted)');
  return sessions.run(x, peer, async () => {
    checkJobNotFrozen(ctx, x.job);
    if (contributions.length !== x.participants.length || contributions.some((c, i) => c.signerId !== x.participants[i])) {
      throw new CustodianError('E_SESSION_MISMATCH', 'the contributions do not name exactly the session participants, in order');
    }
    if (contributions.find((c) => c.signerId === ctx.signerId)!.nonce !== nonce) throw new CustodianError('E_SESSION_MISMATCH', "the contributions carry another contribution for this signer");
    x.sessionId = mpcSessionId(x.job.kind, x.requestHash, contributions);
    x.channelSession = mpcChannelSession(x.sessionId);
    const key = bytesToHex(x.sessionId);
    sessions.startRunning(key, x);
    const self = x.map.idOf(ctx.signerId);
    const auth = identityAuthenticator(x.map, ctx.state().identitySecret.expose(), (id) => (id === ctx.signerId ? ctx.identityKey() : ctx.state().peers.get(id)?.identityKey));
    if (x.job.kind === 'dkg' && x.job.payload.scheme !== 'ecdsa-dkls') return frostDkgStart(ctx, x, x.job.payload.scheme, x.job.payload.threshold, auth, key);
    if (x.job.kind === 'dkg') return ecdsaKeygenStart(ctx, x, x.job.payload.threshold, self, auth, key);
    if (x.job.kind === 'refresh') return startRefresh(ctx, x, x.job.wallet, self, auth, key);
    if (x.job.wallet.scheme !== 'ecdsa-dkls') return frostSignStart(ctx, x, x.job.wallet, x.job.p, key);
    return ecdsaSignStart(ctx, x, x.job.wallet, auth, key);
  });
}

/** `mpc.step`: the next round on the inbound sealed messages of the previous one. */
export async function mpcStep(ctx: EnclaveContext, sessions: MpcSessions, body: Json, peer: RpcPeer): Promise<Json> {
  const f = new Fields(body, 'mpc.step');
  const key = f.str('sessionId', 64, /^[0-9a-f]{64}$/);
  const inbox = decodeEnvelopes(f.raw('inbox'), 'mpc.step.inbox');
  f.done();
  const x = sessions.running(key);
  if (!x) throw new CustodianError('E_SESSION_UNKNOWN', 'no such threshold session runs here (it ended, was aborted, or this signer restarted)');
  return sessions.run(x, peer, async () => {
    checkJobNotFrozen(ctx, x.job);
    const job = x.job;
    if (job.kind === 'dkg' && job.payload.scheme !== 'ecdsa-dkls') {
      if (!x.frostDkg) throw new CustodianError('E_MPC_PHASE', 'this key generation has already finished');
      return frostDkgStep(ctx, x, x.frostDkg, job.payload, job.operatorId, key, inbox, peer);
    }
    if (job.kind === 'sign' && x.frostSign) return frostSignStep(ctx, x, job, x.frostSign, key, inbox, peer);
    if (job.kind === 'refresh') return refreshStep(ctx, x, job, x.refresh!, key, inbox, peer);
    return ecdsaStep(ctx, x, job, key, inbox, peer);
  });
}

/**
 * A session opened before a break-glass freeze goes no further: every round
 * checks it again (key generation: the organisation; signing and refresh:
 * the organisation and the wallet).
 */
function checkJobNotFrozen(ctx: EnclaveContext, job: MpcJob): void {
  checkNotFrozen(ctx, job.kind === 'dkg' ? null : job.wallet.walletId);
}

/** `mpc.abort`: the host gives up on a session (a participant is down); audited. */
export async function mpcAbortOp(ctx: EnclaveContext, sessions: MpcSessions, body: Json, peer: RpcPeer): Promise<Json> {
  const f = new Fields(body, 'mpc.abort');
  const key = f.str('key', 64, /^[0-9a-f]{64}$/);
  f.done();
  const x = sessions.abort(key);
  if (!x) return { aborted: false };
  await ctx.audit(peer, 'mpc.aborted', x.job.kind === 'sign' ? x.job.p.requestId : null, { kind: x.job.kind, walletId: x.job.kind === 'dkg' ? x.job.payload.walletId : x.job.wallet.walletId, sessionId: x.sessionId ? bytesToHex(x.sessionId) : null, code: 'E_MPC_ABORTED', reason: 'the host ended the session' });
  await ctx.persist();
  return { aborted: true };
}

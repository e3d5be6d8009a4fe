/**
 * The signer enclave as an explicit phase machine (QuorumOS style):
 * BOOT → AWAITING_MANIFEST → READY, or ERROR. Every operation runs one at a
 * time (a single queue), re-verifies everything it is handed, audits its
 * decision through the host and persists sealed state before it answers.
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { CustodianError, isCustodianError } from '@custodian/core/errors';
import type { Json } from '@custodian/core/canonical-json';
import { Fields } from '@custodian/core/fields';
import { bytesTo0x, bytesToHex } from '@custodian/core/bytes';
import { Secret } from '@custodian/core/secret';
import { CLOCK_SKEW_MAX_MS } from '@custodian/core/limits';
import { encodeSignedEip1559, txHash } from '@custodian/chains/evm/eip1559';
import { addressFromPublicKey, toChecksumAddress } from '@custodian/chains/evm/address';
import { decodeManifest, manifestHash, type Manifest } from '@custodian/protocol/manifest';
import { authenticateRequest, decodeSignedRequest, payloadHash } from '@custodian/protocol/operator-request';
import { decodeWalletCreate, WALLET_PARTIES_MAX, type ThresholdWalletCreatePayload } from '@custodian/protocol/payloads';
import { identityReportData } from '@custodian/protocol/identity-binding';
import { encodeEnclaveSigned, signStatement } from '@custodian/protocol/enclave-signed';
import { PeerChannel } from '@custodian/protocol/hpke/peer-channel';
import { derivePeerKeyPair } from '@custodian/protocol/hpke/peer-key';
import type { PeerKeyPair } from '@custodian/protocol/hpke/peer-suite';
import { decodeEnvelopes, mpcChannelSession, mpcSessionId, PEER_KEY_KIND } from '@custodian/protocol/mpc-relay';
import { systemRandom } from '@custodian/core/clock';
import { EcdsaDealing } from '@custodian/tss/ecdsa/dealing';
import { EcdsaPresignSession } from '@custodian/tss/ecdsa/sign';
import { pointToBytes } from '@custodian/tss/ecdsa/group';
import type { RpcPeer } from '@custodian/protocol/frame-rpc';
import { NOTE_KEYS_KIND } from '@custodian/protocol/audit-log';
import type { Platform } from './platform.js';
import { seal, SEALED_STATE_PLAINTEXT_MAX, unseal } from './sealed-state.js';
import { decodeState, encodeState, initialState, type EnclaveState, type FrostWalletRecord, type SignedRecord, type ThresholdWalletRecord } from './state.js';
import { identityAuthenticator, openMessages, PartyMap } from './mpc-mesh.js';
import { SealedNonceStore } from './sealed-nonce-store.js';
import type { CedarPolicy } from './cedar-policy.js';
import { appendAudit } from './audit-writer.js';
import type { EnclaveContext } from './enclave-context.js';
import { APPROVALS_PER_REQUEST_MAX, MPC_RESERVATION_TTL_MS } from './enclave-limits.js';
import { checkProposal, evmTx, propose, type CheckedProposal } from './proposal.js';
import { checkApprovalOp, commitThreshold, consume, countApprovals, releaseReservation } from './approvals.js';
import { answerSigned, release, signVersions } from './release.js';
import { createWallet, sign } from './single-wallet.js';
import { installManifest, loadSealedCedar } from './manifest-ops.js';
import { installPeers } from './peers-ops.js';
import { auditCosignKey, auditLogKey, signCheckpoint } from './checkpoint-ops.js';
import { frostDkgStart, frostDkgStep } from './frost-dkg-session.js';
import { frostSignStart, frostSignStep } from './frost-sign-session.js';
import { openRefresh, refreshAbortOp, refreshCommitOp, refreshProof, refreshStep, startRefresh } from './refresh-session.js';
import { checkPeers, mpcSeal, MpcSessions, type MpcSession } from './mpc-session.js';

/** The enclave's phases. */
export type Phase = 'BOOT' | 'AWAITING_MANIFEST' | 'READY' | 'ERROR';

export { APPROVALS_PER_REQUEST_MAX, MPC_SESSIONS_MAX, MPC_SESSION_TTL_MS, SIGN_RESERVATION_TTL_MS, MPC_RESERVATION_TTL_MS, REQUEST_SEEN_TTL_MS, REQUEST_SEEN_MAX } from './enclave-limits.js';


/** A threshold wallet with a refreshed share not yet committed signs nothing (the host commits or drops it first). */
function pendingRefresh(w: ThresholdWalletRecord | FrostWalletRecord): CustodianError {
  return new CustodianError('E_REFRESH_PENDING', `wallet ${w.walletId} has a share refresh pending (session ${w.pending!.sessionId.slice(0, 16)}…); it signs again once the refresh is committed or dropped`, { walletId: w.walletId, sessionId: w.pending!.sessionId, retryable: true });
}

export class Enclave {
  #phase: Phase = 'BOOT';
  #state: EnclaveState | null = null;
  #sealingKey: Secret<Uint8Array> | null = null;
  #queue: Promise<unknown> = Promise.resolve();
  #checkpointQueue: Promise<unknown> = Promise.resolve();
  #persistQueue: Promise<unknown> = Promise.resolve();
  /** Refusals already written to the audit log (so the catch-all does not write them twice). */
  readonly #audited = new WeakSet<object>();
  #peerKeyPair: PeerKeyPair | null = null;
  #channel: PeerChannel | null = null;
  /** Threshold sessions opened (by contribution) and running (by session id), in memory only. */
  readonly #mpc: MpcSessions;
  /** The Cedar rulebook and spending ledger, when the installed manifest pins a rulebook. */
  #cedar: CedarPolicy | null = null;
  /** FROST signing nonces, kept in sealed state: sealed before a commitment leaves, consumed (sealed) before a share exists. */
  readonly #nonceStore = new SealedNonceStore(() => this.#s(), () => this.#persist(), () => this.platform.nowMs());
  /** What the operation modules may use of this enclave (see enclave-context.ts). */
  readonly #ctx: EnclaveContext;

  constructor(
    private readonly platform: Platform,
    readonly signerId: string,
  ) {
    this.#ctx = this.#context();
    this.#mpc = new MpcSessions(this.#ctx);
  }

  #context(): EnclaveContext {
    return {
      signerId: this.signerId,
      state: () => this.#s(),
      manifest: () => this.#manifest(),
      cedar: () => this.#cedar,
      nowMs: () => this.platform.nowMs(),
      attest: (reportData) => this.platform.attest(reportData),
      identityKey: () => this.identityKey(),
      persist: () => this.#persist(),
      audit: (peer, kind, requestId, data) => this.#audit(peer, kind, requestId, data),
      refuse: (peer, kind, requestId, e, extra) => this.#refuse(peer, kind, requestId, e, extra),
      wasAudited: (e) => this.#audited.has(e),
      peerChannel: () => this.#peerChannel(),
      openChannel: () => this.#channel,
      peersChanged: () => {
        this.#channel = null;
      },
      manifestInstalled: (cedar) => {
        this.#cedar = cedar;
        this.#phase = 'READY';
      },
      nonceStore: this.#nonceStore,
    };
  }

  get phase(): Phase {
    return this.#phase;
  }

  /** Unseals existing state or creates a fresh identity. */
  async boot(): Promise<void> {
    try {
      this.#sealingKey = new Secret(await this.platform.sealingKey());
      const blob = await this.platform.loadSealed();
      const counter = await this.platform.readCounter();
      if (blob) {
        const { version, plaintext } = unseal(this.#sealingKey.expose(), this.signerId, blob);
        // F07: a blob older than the monotonic counter was rolled back by the host.
        if (version < counter) throw new CustodianError('E_STATE_ROLLBACK_DETECTED', `sealed state version ${version} is older than the platform counter ${counter}: refusing to run on rolled-back state`, { version: String(version), counter: String(counter) });
        this.#state = decodeState(plaintext, version);
        if (version > counter) await this.platform.advanceCounter(version);
        this.#cedar = loadSealedCedar(this.#state);
        if (this.#state.peerSeed === null) {
          // State sealed before peer channels existed: the channel key is made once and sealed.
          this.#state.peerSeed = new Secret(ed25519.utils.randomSecretKey());
          await this.#persist();
        }
      } else {
        if (counter > 0n) throw new CustodianError('E_STATE_ROLLBACK_DETECTED', `sealed state is missing although the platform counter is at ${counter}`, { counter: String(counter) });
        this.#state = initialState(ed25519.utils.randomSecretKey(), ed25519.utils.randomSecretKey(), ed25519.utils.randomSecretKey(), ed25519.utils.randomSecretKey());
        await this.#persist();
      }
      this.#phase = this.#state.signedManifest ? 'READY' : 'AWAITING_MANIFEST';
    } catch (e) {
      this.#phase = 'ERROR';
      throw e;
    }
  }

  /** The identity public key (Ed25519) that evidence binds. */
  identityKey(): Uint8Array {
    return ed25519.getPublicKey(this.#s().identitySecret.expose());
  }

  /**
   * Entry point for host calls: one operation at a time, except checkpoint
   * signing, which runs beside them — an operation waiting for its audit
   * entry to be logged needs checkpoints signed meanwhile (their own queue).
   */
  handle(op: string, body: Json, peer: RpcPeer): Promise<Json> {
    if (op === 'checkpoint.sign') {
      const cp = this.#checkpointQueue.then(() => this.#signCheckpoint(body));
      this.#checkpointQueue = cp.catch(() => undefined);
      return cp;
    }
    const run = this.#queue.then(() => this.#dispatch(op, body, peer));
    this.#queue = run.catch(() => undefined);
    return run;
  }

  async #dispatch(op: string, body: Json, peer: RpcPeer): Promise<Json> {
    if (this.#phase === 'ERROR' || this.#phase === 'BOOT') throw new CustodianError('E_SIGNER_NOT_READY', `signer is in phase ${this.#phase}`);
    try {
      this.#checkClock();
      return await this.#route(op, body, peer);
    } catch (e) {
      // Every refusal is audited: those not audited where they happened (malformed input,
      // a clock gone back, an unknown operation) are recorded here, once.
      if (isCustodianError(e) && !this.#audited.has(e) && op !== 'hello' && e.code !== 'E_AUDIT_UNAVAILABLE') {
        this.#audited.add(e);
        await this.#audit(peer, e.code === 'E_TIME_SKEW_DETECTED' ? 'time.skew_detected' : 'input.rejected', null, { op: op.slice(0, 64), code: e.code, reason: e.message }).then(
          () => this.#persist(),
          () => undefined,
        );
      }
      throw e;
    }
  }

  #route(op: string, body: Json, peer: RpcPeer): Promise<Json> {
    switch (op) {
      case 'hello':
        return this.#hello(body);
      case 'manifest.install':
        return installManifest(this.#ctx, body, peer);
      case 'peers.install':
        return installPeers(this.#ctx, body, peer);
      case 'wallet.create':
        return createWallet(this.#ctx, body, peer);
      case 'tx.propose':
        return propose(this.#ctx, body, peer);
      case 'approval.check':
        return checkApprovalOp(this.#ctx, body, peer);
      case 'tx.sign':
        return sign(this.#ctx, body, peer);
      case 'mpc.open':
        return this.#mpcOpen(body, peer);
      case 'mpc.start':
        return this.#mpcStart(body, peer);
      case 'mpc.step':
        return this.#mpcStep(body, peer);
      case 'wallet.refresh.proof':
        return refreshProof(this.#ctx, body);
      case 'wallet.refresh.commit':
        return refreshCommitOp(this.#ctx, body, peer);
      case 'wallet.refresh.abort':
        return refreshAbortOp(this.#ctx, body, peer);
      case 'mpc.abort':
        return this.#mpcAbortOp(body, peer);
      default:
        throw new CustodianError('E_UNKNOWN_OP', `unknown operation ${op.slice(0, 64)}`);
    }
  }

  /**
   * F08 (interim, until trusted time): the clock may not go back more than the
   * tolerated skew before the latest time this signer has seen, so expired
   * approvals cannot be revived by turning the host's clock back.
   */
  #checkClock(): void {
    const s = this.#s();
    const now = this.platform.nowMs();
    if (now < s.timeFloorMs - CLOCK_SKEW_MAX_MS) {
      throw new CustodianError('E_TIME_SKEW_DETECTED', `the clock reads ${new Date(now).toISOString()}, before time this signer has already seen (${new Date(s.timeFloorMs).toISOString()})`, { nowMs: now, floorMs: s.timeFloorMs });
    }
    s.timeFloorMs = Math.max(s.timeFloorMs, now);
  }

  async #signCheckpoint(body: Json): Promise<Json> {
    if (this.#phase === 'ERROR' || this.#phase === 'BOOT') throw new CustodianError('E_SIGNER_NOT_READY', `signer is in phase ${this.#phase}`);
    return signCheckpoint(this.#ctx, body);
  }

  #s(): EnclaveState {
    if (!this.#state) throw new CustodianError('E_SIGNER_NOT_READY', 'signer has no state');
    return this.#state;
  }

  #manifest(): Manifest {
    const sm = this.#s().signedManifest;
    if (!sm || this.#phase !== 'READY') throw new CustodianError('E_NO_MANIFEST', 'no organisation manifest is installed on this signer');
    return decodeManifest(sm.payload);
  }

  /** Seals and stores the state; serialised, since checkpoint signing persists beside operations. */
  #persist(): Promise<void> {
    const run = this.#persistQueue.then(() => this.#persistNow());
    this.#persistQueue = run.catch(() => undefined);
    return run;
  }

  async #persistNow(): Promise<void> {
    const s = this.#s();
    s.version += 1n;
    s.velocityLedger = this.#cedar ? this.#cedar.ledgerToJson() : null;
    const plaintext = encodeState(s);
    // Refuse to write a state the next boot could not read back (unseal bounds the blob's size).
    if (plaintext.length > SEALED_STATE_PLAINTEXT_MAX) throw new CustodianError('E_SEALED_STATE_TOO_LARGE', `sealed state of ${plaintext.length} bytes would exceed ${SEALED_STATE_PLAINTEXT_MAX}`);
    // Blob first, then the counter: a crash in between leaves a blob newer than the counter, which boot accepts.
    await this.platform.storeSealed(seal(this.#sealingKey!.expose(), this.signerId, s.version, plaintext));
    await this.platform.advanceCounter(s.version);
  }

  async #audit(peer: RpcPeer, kind: string, requestId: string | null, data: Json): Promise<void> {
    await appendAudit(this.#s(), this.signerId, peer, this.platform.nowMs(), kind, requestId, data);
  }

  /** Audits a refusal, persists the chain head, and rethrows it. */
  async #refuse(peer: RpcPeer, kind: string, requestId: string | null, e: unknown, extra: Record<string, Json> = {}): Promise<never> {
    if (isCustodianError(e)) {
      this.#audited.add(e);
      await this.#audit(peer, kind, requestId, { code: e.code, reason: e.message, ...extra });
      await this.#persist();
    }
    throw e;
  }

  async #hello(body: Json): Promise<Json> {
    const f = new Fields(body, 'hello');
    const nonce = f.hex('nonce', 32);
    f.done();
    const identityKey = this.identityKey();
    const evidence = await this.platform.attest(identityReportData(identityKey, nonce));
    const s = this.#s();
    const sm = s.signedManifest;
    const keys = { signerId: this.signerId, log: auditLogKey(this.#ctx).verifierKey(), cosign: auditCosignKey(this.#ctx).verifierKey() };
    return {
      signerId: this.signerId,
      phase: this.#phase,
      identityKey: bytesToHex(identityKey),
      evidence: bytesToHex(evidence),
      manifestHash: sm ? manifestHash(sm.payload) : null,
      noteKeys: encodeEnclaveSigned(signStatement(NOTE_KEYS_KIND, keys, s.identitySecret.expose())),
      peerKey: encodeEnclaveSigned(signStatement(PEER_KEY_KIND, { signerId: this.signerId, peerKey: bytesToHex((await this.#peerKeys()).publicKey) }, s.identitySecret.expose())),
    };
  }

  /** This signer's HPKE peer-channel key pair (derived from its sealed seed). */
  async #peerKeys(): Promise<PeerKeyPair> {
    if (!this.#peerKeyPair) {
      const seed = this.#s().peerSeed;
      if (!seed) throw new CustodianError('E_SIGNER_NOT_READY', 'no peer-channel key');
      this.#peerKeyPair = await derivePeerKeyPair(seed);
    }
    return this.#peerKeyPair;
  }

  /** The peer channel to every verified peer that published a channel key (rebuilt when peers change). */
  async #peerChannel(): Promise<PeerChannel> {
    if (!this.#channel) {
      const peers = new Map<string, Uint8Array>();
      for (const [id, p] of this.#s().peers) if (p.peerKey) peers.set(id, p.peerKey);
      this.#channel = new PeerChannel({ self: this.signerId, keyPair: await this.#peerKeys(), peers });
    }
    return this.#channel;
  }



  // ---- threshold sessions (ecdsa-dkls): the host relays sealed messages between signers ----

  /**
   * `mpc.open`: verifies what a threshold session is for — an admin's
   * ecdsa-dkls wallet request naming this signer, or a signing request on an
   * ecdsa-dkls wallet with its approvals (the same checks as tx.sign), after
   * which `sign.approved` is audited and the approval nonces consumed — and
   * answers this signer's fresh contribution to the session id.
   */
  async #mpcOpen(body: Json, peer: RpcPeer): Promise<Json> {
    const m = this.#manifest();
    const f = new Fields(body, 'mpc.open');
    const kind = f.str('kind', 8);
    if (kind === 'dkg') return this.#mpcOpenDkg(f, m, peer);
    if (kind === 'sign') return this.#mpcOpenSign(f, m, peer);
    if (kind === 'refresh') return openRefresh(this.#ctx, this.#mpc, f, m, peer);
    throw new CustodianError('E_FIELD_INVALID', `unknown threshold session kind ${kind.slice(0, 16)}`);
  }

  async #mpcOpenDkg(f: Fields, m: Manifest, peer: RpcPeer): Promise<Json> {
    const req = decodeSignedRequest(f.raw('request'));
    f.done();
    let payload: ThresholdWalletCreatePayload;
    try {
      authenticateRequest(req, m, 'admin');
      const decoded = decodeWalletCreate(req.payload);
      if (decoded.orgId !== m.orgId) throw new CustodianError('E_ORG_MISMATCH', 'request is for another organisation');
      if (decoded.scheme === 'single') throw new CustodianError('E_SCHEME_MISMATCH', `a ${decoded.scheme} wallet is not created in a threshold session`);
      payload = decoded;
      if (!payload.parties.includes(this.signerId)) throw new CustodianError('E_WRONG_SIGNER', `wallet ${payload.walletId} does not name ${this.signerId} as a party`);
      if (this.#s().wallets.has(payload.walletId)) throw new CustodianError('E_WALLET_EXISTS', `wallet ${payload.walletId} already exists`);
      checkPeers(this.#ctx, payload.parties);
    } catch (e) {
      return this.#refuse(peer, 'wallet.rejected', null, e, { operatorId: req.operatorId });
    }
    return this.#mpc.register({ kind: 'dkg', payload, operatorId: req.operatorId }, payloadHash(req.payload), new PartyMap(payload.parties), payload.parties);
  }

  async #mpcOpenSign(f: Fields, m: Manifest, peer: RpcPeer): Promise<Json> {
    const proposal = decodeSignedRequest(f.raw('proposal'), 'proposal');
    const approvals = f.arr('approvals', APPROVALS_PER_REQUEST_MAX).map((x) => decodeSignedRequest(x, 'approval'));
    const signers = f.arr('signers', WALLET_PARTIES_MAX).map((x) => (typeof x === 'string' ? x : ''));
    const combiner = f.str('combiner', 64);
    f.done();
    let p: CheckedProposal;
    let wallet: ThresholdWalletRecord | FrostWalletRecord;
    let participants: string[];
    try {
      p = checkProposal(this.#ctx, proposal, m);
      if (p.wallet.scheme === 'single') throw new CustodianError('E_SCHEME_MISMATCH', `wallet ${p.wallet.walletId} is a ${p.wallet.scheme} wallet, not a threshold wallet`);
      if (p.wallet.pending) throw pendingRefresh(p.wallet);
      wallet = p.wallet;
      participants = wallet.parties.filter((id) => signers.includes(id));
      if (participants.length !== signers.length || new Set(signers).size !== signers.length) throw new CustodianError('E_PARTY_UNKNOWN', 'the signing set names signers that are not parties of this wallet');
      if (participants.length !== wallet.threshold) throw new CustodianError('E_MPC_SHAPE', `wallet ${wallet.walletId} signs with exactly ${wallet.threshold} signers`, { signers: participants.length });
      if (!participants.includes(this.signerId) || !participants.includes(combiner)) throw new CustodianError('E_PARTY_UNKNOWN', 'this signer and the combiner must be in the signing set');
      checkPeers(this.#ctx, participants);
    } catch (e) {
      return this.#refuse(peer, 'sign.refused', null, e, { operatorId: proposal.operatorId });
    }
    const done = this.#s().signed.get(p.requestId);
    if (done) return { signed: await answerSigned(this.#ctx, peer, p, done) };
    const retry = this.#s().mpcApproved.has(p.requestId);
    const tally = await countApprovals(this.#ctx, peer, p, m, approvals, retry, MPC_RESERVATION_TTL_MS);
    try {
      // This signer's own decision, audited before it contributes anything to a signature.
      await this.#audit(peer, 'sign.approved', p.requestId, { approvals: [...tally.refs], txDigest: bytesTo0x(p.digest), policy: tally.reserved ? tally.reserved.decision : p.decision.decision, versions: signVersions(this.#ctx, p, tally.reserved), scheme: wallet.scheme, signers: participants, combiner });
      consume(this.#ctx, tally);
      this.#s().mpcApproved.set(p.requestId, this.platform.nowMs());
      await this.#persist();
    } catch (e) {
      if (tally.reserved && !retry) releaseReservation(this.#ctx, p.requestId);
      throw e;
    }
    return this.#mpc.register({ kind: 'sign', p, wallet, combiner, approvals: tally.refs }, p.requestId, new PartyMap(wallet.parties), participants);
  }

  /** `mpc.start`: fixes the session id from every participant's contribution and runs round 1. */
  async #mpcStart(body: Json, peer: RpcPeer): Promise<Json> {
    const f = new Fields(body, 'mpc.start');
    const nonce = f.str('nonce', 64, /^[0-9a-f]{64}$/);
    const contributions = f.arr('contributions', WALLET_PARTIES_MAX).map((c, i) => {
      const g = new Fields(c, `contributions[${i}]`);
      const x = { signerId: g.str('signerId', 64), nonce: g.str('nonce', 64, /^[0-9a-f]{64}$/) };
      g.done();
      return x;
    });
    f.done();
    const x = this.#mpc.takeOpened(nonce);
    if (!x) throw new CustodianError('E_SESSION_UNKNOWN', 'no threshold session was opened with this contribution (it ended, expired or this signer restarted)');
    return this.#mpc.run(x, peer, async () => {
      if (contributions.length !== x.participants.length || contributions.some((c, i) => c.signerId !== x.participants[i])) {
        throw new CustodianError('E_SESSION_MISMATCH', 'the contributions do not name exactly the session participants, in order');
      }
      if (contributions.find((c) => c.signerId === this.signerId)!.nonce !== nonce) throw new CustodianError('E_SESSION_MISMATCH', "the contributions carry another contribution for this signer");
      x.sessionId = mpcSessionId(x.job.kind, x.requestHash, contributions);
      x.channelSession = mpcChannelSession(x.sessionId);
      const key = bytesToHex(x.sessionId);
      this.#mpc.startRunning(key, x);
      const self = x.map.idOf(this.signerId);
      const auth = identityAuthenticator(x.map, this.#s().identitySecret.expose(), (id) => (id === this.signerId ? this.identityKey() : this.#s().peers.get(id)?.identityKey));
      if (x.job.kind === 'dkg' && x.job.payload.scheme !== 'ecdsa-dkls') return frostDkgStart(this.#ctx, x, x.job.payload.scheme, x.job.payload.threshold, auth, key);
      if (x.job.kind === 'dkg') {
        const ids = x.participants.map((id) => x.map.idOf(id));
        x.dealing = new EcdsaDealing({ sessionId: x.sessionId, self, mode: 'keygen', threshold: x.job.payload.threshold, receivers: ids, random: systemRandom, auth });
        return { sessionId: key, outbox: await mpcSeal(this.#ctx, x, x.dealing.round1()), done: false };
      }
      if (x.job.kind === 'refresh') return startRefresh(this.#ctx, x, x.job.wallet, self, auth, key);
      if (x.job.wallet.scheme !== 'ecdsa-dkls') return frostSignStart(this.#ctx, x, x.job.wallet, x.job.p, key);
      x.presign = new EcdsaPresignSession(x.job.wallet.share, { sessionId: x.sessionId, signers: x.participants.map((id) => x.map.idOf(id)), random: systemRandom, auth });
      return { sessionId: key, outbox: await mpcSeal(this.#ctx, x, x.presign.round1()), done: false };
    });
  }

  /** `mpc.step`: the next round on the inbound sealed messages of the previous one. */
  async #mpcStep(body: Json, peer: RpcPeer): Promise<Json> {
    const f = new Fields(body, 'mpc.step');
    const key = f.str('sessionId', 64, /^[0-9a-f]{64}$/);
    const inbox = decodeEnvelopes(f.raw('inbox'), 'mpc.step.inbox');
    f.done();
    const x = this.#mpc.running(key);
    if (!x) throw new CustodianError('E_SESSION_UNKNOWN', 'no such threshold session runs here (it ended, was aborted, or this signer restarted)');
    return this.#mpc.run(x, peer, async () => {
      const job = x.job;
      if (job.kind === 'dkg' && job.payload.scheme !== 'ecdsa-dkls') {
        if (!x.frostDkg) throw new CustodianError('E_MPC_PHASE', 'this key generation has already finished');
        return frostDkgStep(this.#ctx, x, x.frostDkg, job.payload, job.operatorId, key, inbox, peer);
      }
      if (job.kind === 'sign' && x.frostSign) return frostSignStep(this.#ctx, x, job, x.frostSign, key, inbox, peer);
      if (job.kind === 'refresh') return refreshStep(this.#ctx, x, job, x.refresh!, key, inbox, peer);
      const self = x.map.idOf(this.signerId);
      const msgs = await openMessages(await this.#peerChannel(), x.channelSession, x.map, self, inbox);
      if (job.kind === 'dkg') {
        if (x.step === 0) {
          x.step = 1;
          return { sessionId: key, outbox: await mpcSeal(this.#ctx, x, x.dealing!.round2(msgs)), done: false };
        }
        const share = x.dealing!.finish(msgs);
        return { sessionId: key, outbox: [], done: true, result: await this.#mpcWalletCreated(x, job.payload, job.operatorId, share, peer) };
      }
      if (x.step === 0) {
        x.step = 1;
        return { sessionId: key, outbox: await mpcSeal(this.#ctx, x, x.presign!.round2(msgs)), done: false };
      }
      if (x.step === 1) {
        if (this.#s().usedPresigs.has(key)) throw new CustodianError('E_PRESIGNATURE_REUSED', 'this session already released an online message');
        x.presig = x.presign!.finish(msgs);
        // The spend is committed (Cedar) and the pre-signature marked used, durably, before its online message can leave.
        commitThreshold(this.#ctx, job.p.requestId);
        this.#s().usedPresigs.set(key, this.platform.nowMs());
        await this.#persist();
        const combinerId = x.map.idOf(job.combiner);
        const online = x.presig.online(job.p.digest).filter((msg) => msg.to === combinerId);
        x.step = 2;
        const isCombiner = job.combiner === this.signerId;
        return { sessionId: key, outbox: await mpcSeal(this.#ctx, x, online), done: !isCombiner };
      }
      if (job.combiner !== this.signerId || x.step !== 2) throw new CustodianError('E_MPC_PHASE', 'this signer does not combine this session');
      const sig = x.presig!.combine(msgs);
      return { sessionId: key, outbox: [], done: true, result: await this.#mpcReleaseSignature(x, job.p, job.approvals, sig.r, sig.s, sig.recovery, peer) };
    });
  }

  /** `mpc.abort`: the host gives up on a session (a participant is down); audited. */
  async #mpcAbortOp(body: Json, peer: RpcPeer): Promise<Json> {
    const f = new Fields(body, 'mpc.abort');
    const key = f.str('key', 64, /^[0-9a-f]{64}$/);
    f.done();
    const x = this.#mpc.abort(key);
    if (!x) return { aborted: false };
    await this.#audit(peer, 'mpc.aborted', x.job.kind === 'sign' ? x.job.p.requestId : null, { kind: x.job.kind, walletId: x.job.kind === 'dkg' ? x.job.payload.walletId : x.job.wallet.walletId, sessionId: x.sessionId ? bytesToHex(x.sessionId) : null, code: 'E_MPC_ABORTED', reason: 'the host ended the session' });
    await this.#persist();
    return { aborted: true };
  }

  /** Seals a new threshold share and answers the wallet statement this signer signs. */
  async #mpcWalletCreated(x: MpcSession, payload: ThresholdWalletCreatePayload, operatorId: string, share: ThresholdWalletRecord['share'], peer: RpcPeer): Promise<Json> {
    const s = this.#s();
    if (s.wallets.has(payload.walletId)) throw new CustodianError('E_WALLET_EXISTS', `wallet ${payload.walletId} already exists`);
    const publicKey = pointToBytes(share.publicKey);
    const address = toChecksumAddress(addressFromPublicKey(publicKey));
    const record: ThresholdWalletRecord = { walletId: payload.walletId, scheme: 'ecdsa-dkls', threshold: payload.threshold, parties: [...payload.parties], share, publicKey, address };
    s.wallets.set(record.walletId, record);
    const m = this.#manifest();
    const statement = {
      walletId: record.walletId,
      scheme: record.scheme,
      signerId: this.signerId,
      publicKey: bytesToHex(publicKey),
      address,
      orgId: m.orgId,
      manifestHash: manifestHash(s.signedManifest!.payload),
      threshold: record.threshold,
      parties: [...record.parties],
    };
    await this.#audit(peer, 'wallet.created', null, { ...statement, requestedBy: operatorId, sessionId: bytesToHex(x.sessionId!) });
    await this.#persist();
    return encodeEnclaveSigned(signStatement('wallet.v1', statement, s.identitySecret.expose()));
  }

  /** The combining signer: the signed transaction sealed write-ahead, then audited, then released. */
  async #mpcReleaseSignature(x: MpcSession, p: CheckedProposal, approvals: readonly string[], r: bigint, sv: bigint, recovery: number, peer: RpcPeer): Promise<Json> {
    // The tss layer verified (r, s) under the group key; checked again against the transaction digest this signer computed.
    const sig = new secp256k1.Signature(r, sv, recovery);
    if (!secp256k1.verify(sig.toBytes('compact'), p.digest, p.wallet.publicKey, { prehash: false, lowS: true }) || recovery > 1) {
      throw new CustodianError('E_SIGNATURE_INVALID_TERMINAL', 'the combined signature does not verify; nothing released');
    }
    const signedTx = encodeSignedEip1559(evmTx(p), { r, s: sv, yParity: recovery as 0 | 1 });
    const record: SignedRecord = { signedTx: bytesTo0x(signedTx), txHash: bytesTo0x(txHash(signedTx)), audited: false, atMs: this.platform.nowMs(), approvals: [...approvals] };
    this.#s().signed.set(p.requestId, record);
    await this.#persist();
    const out = (await release(this.#ctx, peer, p, record, true)) as Record<string, Json>;
    return { ...out, sessionId: bytesToHex(x.sessionId!) };
  }
}

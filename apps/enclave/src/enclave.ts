/**
 * The signer enclave as an explicit phase machine (QuorumOS style):
 * BOOT → AWAITING_MANIFEST → READY, or ERROR. Every operation runs one at a
 * time (a single queue), re-verifies everything it is handed, audits its
 * decision through the host and persists sealed state before it answers.
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { CustodianError, isCustodianError } from '@custodian/core/errors';
import type { Json } from '@custodian/core/canonical-json';
import { Fields } from '@custodian/core/fields';
import { bytesToHex, utf8 } from '@custodian/core/bytes';
import { Secret } from '@custodian/core/secret';
import { CLOCK_SKEW_MAX_MS } from '@custodian/core/limits';
import { decodeManifest, manifestHash, type Manifest } from '@custodian/protocol/manifest';
import { identityReportData } from '@custodian/protocol/identity-binding';
import { encodeEnclaveSigned, signStatement } from '@custodian/protocol/enclave-signed';
import { PeerChannel } from '@custodian/protocol/hpke/peer-channel';
import { derivePeerKeyPair } from '@custodian/protocol/hpke/peer-key';
import type { PeerKeyPair } from '@custodian/protocol/hpke/peer-suite';
import { PEER_KEY_KIND } from '@custodian/protocol/mpc-relay';
import type { RpcPeer } from '@custodian/protocol/frame-rpc';
import { NOTE_KEYS_KIND } from '@custodian/protocol/audit-log';
import type { Platform } from './platform.js';
import { seal, SEALED_STATE_PLAINTEXT_MAX, unseal } from './sealed-state.js';
import { decodeState, encodeState, initialState, type EnclaveState } from './state.js';
import { SealedNonceStore } from './sealed-nonce-store.js';
import type { CedarPolicy } from './cedar-policy.js';
import { appendAudit } from './audit-writer.js';
import type { EnclaveContext } from './enclave-context.js';
import { propose } from './proposal.js';
import { checkApprovalOp } from './approvals.js';
import { createWallet, sign } from './single-wallet.js';
import { installManifest, loadSealedCedar } from './manifest-ops.js';
import { installPeers } from './peers-ops.js';
import { auditCosignKey, auditLogKey, signCheckpoint, syncCheckpoint } from './checkpoint-ops.js';
import { mpcAbortOp, mpcOpen, mpcStart, mpcStep } from './mpc-ops.js';
import { refreshAbortOp, refreshCommitOp, refreshProof } from './refresh-session.js';
import { MpcSessions } from './mpc-session.js';
import { ProvisioningSessions, provisionAnnounce, provisionShare } from './provisioning-ops.js';
import { applyBreakglass } from './breakglass-ops.js';
import { completeRestore, confirmRestore, exportBackup, prepareRestore, RestoreSlot } from './backup-ops.js';
import { WorkloadIdentity } from './workload-identity.js';
import { confirmMigration, exportMigration, importMigration, MIGRATION_UNAUDITED_OPS, MigrationSlot, offerMigration, prepareMigration } from './migrate-ops.js';

/** HKDF salt of keys derived from the sealing key (`EnclaveContext.sealingDerivedKey`). */
export const SEALING_DERIVED_SALT = 'custodian/enclave/sealing-derived/v1';

/** The enclave's phases. */
export type Phase = 'BOOT' | 'AWAITING_MANIFEST' | 'READY' | 'ERROR';

/** The limits, exported from here as before the operations moved to their own modules. */
export { APPROVALS_PER_REQUEST_MAX, MPC_SESSIONS_MAX, MPC_SESSION_TTL_MS, SIGN_RESERVATION_TTL_MS, MPC_RESERVATION_TTL_MS, REQUEST_SEEN_TTL_MS, REQUEST_SEEN_MAX } from './enclave-limits.js';

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
  /** A restore from backup waiting for the key broker's answer (memory only). */
  readonly #restore = new RestoreSlot();
  /** A state migration's offer, preparation or unconfirmed import (memory only; migrate-ops.ts). */
  readonly #migration = new MigrationSlot();
  /** Quorum-provisioning share collections in progress, in memory only (a restart restarts collection). */
  readonly #provisioning = new ProvisioningSessions();
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

  /** The context the operation modules get: closures over this enclave's private fields. */
  #context(): EnclaveContext {
    return {
      signerId: this.signerId,
      state: () => this.#s(),
      manifest: () => this.#manifest(),
      cedar: () => this.#cedar,
      nowMs: () => this.platform.nowMs(),
      attest: (reportData) => this.platform.attest(reportData),
      keyBroker: () => this.platform.keyBroker(),
      sealingDerivedKey: (label) => {
        if (!this.#sealingKey) throw new CustodianError('E_SIGNER_NOT_READY', 'no sealing key yet');
        return hkdf(sha256, this.#sealingKey.expose(), utf8(SEALING_DERIVED_SALT), utf8(label), 32);
      },
      kbsChannel: () => this.platform.kbsChannel(),
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
      replaceState: (next) => {
        next.version = this.#s().version;
        next.peerSeed ??= new Secret(ed25519.utils.randomSecretKey());
        this.#state = next;
        this.#cedar = loadSealedCedar(next);
        this.#peerKeyPair = null;
        this.#channel = null;
        this.#phase = next.signedManifest ? 'READY' : 'AWAITING_MANIFEST';
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
    // A restored state serves nothing until its restore is audited (backup-ops.ts).
    if (this.#restore.unconfirmed && op !== 'hello' && op !== 'backup.restore.confirm') throw new CustodianError('E_RESTORE_UNCONFIRMED', 'this signer was restored from backup and waits for backup.restore.confirm');
    // So does a migrated state until its move is audited; a retired build serves nothing but hello, and
    // writes nothing to its chain (the next position is the new build's: migrate-ops.ts).
    if (this.#migration.unconfirmed && op !== 'hello' && op !== 'state.migrate.confirm') throw new CustodianError('E_MIGRATION_UNCONFIRMED', 'this signer took a migrated state and waits for state.migrate.confirm');
    this.#refuseIfRetired(op);
    try {
      this.#checkClock();
      return await this.#route(op, body, peer);
    } catch (e) {
      // Every refusal is audited: those not audited where they happened (malformed input,
      // a clock gone back, an unknown operation) are recorded here, once. Not a restore's:
      // a pristine signer has no chain of its own to write to (backup-ops.ts).
      if (isCustodianError(e) && !this.#audited.has(e) && op !== 'hello' && !op.startsWith('backup.restore.') && !MIGRATION_UNAUDITED_OPS.has(op) && e.code !== 'E_AUDIT_UNAVAILABLE') {
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
      case 'checkpoint.sync':
        return syncCheckpoint(this.#ctx, body, peer);
      case 'wallet.create':
        return createWallet(this.#ctx, body, peer);
      case 'tx.propose':
        return propose(this.#ctx, body, peer);
      case 'approval.check':
        return checkApprovalOp(this.#ctx, body, peer);
      case 'tx.sign':
        return sign(this.#ctx, body, peer);
      case 'mpc.open':
        return mpcOpen(this.#ctx, this.#mpc, body, peer);
      case 'mpc.start':
        return mpcStart(this.#ctx, this.#mpc, body, peer);
      case 'mpc.step':
        return mpcStep(this.#ctx, this.#mpc, body, peer);
      case 'wallet.refresh.proof':
        return refreshProof(this.#ctx, body);
      case 'wallet.refresh.commit':
        return refreshCommitOp(this.#ctx, body, peer);
      case 'wallet.refresh.abort':
        return refreshAbortOp(this.#ctx, body, peer);
      case 'mpc.abort':
        return mpcAbortOp(this.#ctx, this.#mpc, body, peer);
      case 'provision.announce':
        return provisionAnnounce(this.#ctx, this.#provisioning, body, peer);
      case 'provision.share':
        return provisionShare(this.#ctx, this.#provisioning, body, peer);
      case 'breakglass.apply':
        return applyBreakglass(this.#ctx, body, peer);
      case 'backup.export':
        return exportBackup(this.#ctx, body, peer);
      case 'backup.restore.prepare':
        return prepareRestore(this.#ctx, this.#restore, body);
      case 'backup.restore.complete':
        return completeRestore(this.#ctx, this.#restore, body);
      case 'backup.restore.confirm':
        return confirmRestore(this.#ctx, this.#restore, body, peer);
      case 'state.migrate.offer':
        return Promise.resolve(offerMigration(this.#ctx, this.#migration, body));
      case 'state.migrate.prepare':
        return prepareMigration(this.#ctx, this.#migration, body);
      case 'state.migrate.export':
        return exportMigration(this.#ctx, this.#migration, body, peer);
      case 'state.migrate.import':
        return importMigration(this.#ctx, this.#migration, body);
      case 'state.migrate.confirm':
        return confirmMigration(this.#ctx, this.#migration, body, peer);
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

  /** `checkpoint.sign` (its own queue), served once booted. */
  async #signCheckpoint(body: Json): Promise<Json> {
    if (this.#phase === 'ERROR' || this.#phase === 'BOOT') throw new CustodianError('E_SIGNER_NOT_READY', `signer is in phase ${this.#phase}`);
    if (this.#restore.unconfirmed) throw new CustodianError('E_RESTORE_UNCONFIRMED', 'this signer was restored from backup and waits for backup.restore.confirm');
    if (this.#migration.unconfirmed) throw new CustodianError('E_MIGRATION_UNCONFIRMED', 'this signer took a migrated state and waits for state.migrate.confirm');
    this.#refuseIfRetired('checkpoint.sign');
    return signCheckpoint(this.#ctx, body);
  }

  /**
   * A build that handed its state to a newer one (sealed `retired`) refuses
   * everything but `hello`: its shares, identity and log keys now serve in
   * the new build, and a signature or an audit entry from here would fork.
   */
  #refuseIfRetired(op: string): void {
    const retired = this.#state?.retired;
    if (retired && op !== 'hello') {
      throw new CustodianError('E_SIGNER_RETIRED', `this signer build handed its state to measurement ${retired.toMeasurement.slice(0, 16)}… on ${new Date(retired.atMs).toISOString()}; it serves nothing again`, { toMeasurement: retired.toMeasurement });
    }
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

  /** This signer's workload credential from the key broker, in memory (made on first `hello`). */
  #workloadIdentity: WorkloadIdentity | null = null;

  async #hello(body: Json): Promise<Json> {
    const f = new Fields(body, 'hello');
    const nonce = f.hex('nonce', 32);
    f.done();
    const identityKey = this.identityKey();
    // With a key broker: the credential naming this identity key, obtained or renewed when due (null without one).
    this.#workloadIdentity ??= new WorkloadIdentity(this.platform);
    const credential = await this.#workloadIdentity.current(identityKey);
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
      credential: credential.credential,
      ...(credential.credential === null && credential.error !== null ? { credentialError: credential.error } : {}),
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
}

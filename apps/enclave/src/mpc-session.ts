/**
 * Threshold sessions: what one is for and the state it keeps between steps
 * (in memory only: a crash aborts it and the host starts a new one), the
 * bookkeeping of opened and running sessions (bounded, expiring), the round
 * runner that ends a failed session and audits its culprit, and the sealing
 * of a round's messages for the host's relay.
 */
import { CustodianError, isCustodianError } from '@custodian/core/errors';
import type { Json } from '@custodian/core/canonical-json';
import { bytesToHex } from '@custodian/core/bytes';
import { systemRandom } from '@custodian/core/clock';
import { encodeEnvelopes, MPC_NONCE_BYTES } from '@custodian/protocol/mpc-relay';
import { manifestHash } from '@custodian/protocol/manifest';
import { encodeEnclaveSigned, signStatement } from '@custodian/protocol/enclave-signed';
import type { ThresholdWalletCreatePayload } from '@custodian/protocol/payloads';
import type { RpcPeer } from '@custodian/protocol/frame-rpc';
import type { EcdsaDealing } from '@custodian/tss/ecdsa/dealing';
import type { EcdsaPresignSession, EcdsaPresignature } from '@custodian/tss/ecdsa/sign';
import type { EcdsaMessage } from '@custodian/tss/ecdsa/message';
import type { RefreshShareMessage, RefreshState } from '@custodian/tss/frost/refresh';
import type { EchoMessage } from '@custodian/tss/frost/echo';
import type { DkgState } from '@custodian/tss/frost/dkg';
import type { FrostKeyShare } from '@custodian/tss/frost/key-package';
import type { SignatureShare, SigningCommitment, SigningPackage } from '@custodian/tss/frost/signing-messages';
import type { EnclaveContext } from './enclave-context.js';
import { MPC_SESSION_TTL_MS, MPC_SESSIONS_MAX } from './enclave-limits.js';
import type { CheckedProposal } from './proposal.js';
import type { FrostWalletRecord, ThresholdWalletRecord } from './state.js';
import { sealMessages, type PartyMap } from './mpc-mesh.js';
import { sealFrost, type FrostDkgOutbound } from './frost-mesh.js';

/** What a threshold session is for. */
export type MpcJob =
  | { readonly kind: 'dkg'; readonly payload: ThresholdWalletCreatePayload; readonly operatorId: string }
  | { readonly kind: 'sign'; readonly p: CheckedProposal; readonly wallet: ThresholdWalletRecord | FrostWalletRecord; readonly combiner: string; readonly approvals: readonly string[] }
  | { readonly kind: 'refresh'; readonly wallet: ThresholdWalletRecord | FrostWalletRecord; readonly operatorId: string };

/** A share refresh in progress (see wallet-refresh.ts). */
export interface RefreshSession {
  /** FROST: the refresh state, the sub-shares to send after the echoes, the echoes received. */
  frost: { readonly state: RefreshState; readonly shares: readonly RefreshShareMessage[]; echoes: EchoMessage[] | null } | null;
  /** This party's signed confirmation, once its new share is pending. */
  own: Json | null;
  digest: string | null;
}

/**
 * A FROST signing in progress: one FROST session per message (a taproot
 * spend signs every input), all in one relayed session.
 */
export interface FrostSigning {
  /** The share that signs: the wallet's, or for taproot the BIP 341-tweaked one. */
  readonly share: FrostKeyShare;
  /** One FROST session id per message: `<session>/<index>`. */
  readonly sessionIds: readonly string[];
  /** This signer's round-one commitments, per message. */
  readonly commitments: readonly SigningCommitment[];
  /** The signing packages this signer built and signed (the combiner aggregates over them). */
  packages: readonly SigningPackage[] | null;
  /** The combiner's own signature shares, per message. */
  ownShares: readonly SignatureShare[] | null;
}

/**
 * One threshold session, in memory only: a crash aborts it and the host
 * starts a new one, with fresh contributions and so a fresh session id.
 */
export interface MpcSession {
  readonly job: MpcJob;
  /** This signer's fresh contribution to the session id (hex). */
  readonly nonce: string;
  readonly requestHash: string;
  readonly map: PartyMap;
  /** The signers taking part, in party order. */
  readonly participants: readonly string[];
  readonly createdAtMs: number;
  sessionId: Uint8Array | null;
  channelSession: string;
  step: number;
  dealing: EcdsaDealing | null;
  presign: EcdsaPresignSession | null;
  presig: EcdsaPresignature | null;
  /** FROST key generation state (frost-* wallets), between steps. */
  frostDkg: DkgState | null;
  /** FROST signing state (frost-* wallets), between steps. */
  frostSign: FrostSigning | null;
  /** Share refresh state, between steps. */
  refresh: RefreshSession | null;
}

/** A session for a threshold wallet's key generation, signing, or share refresh. */
export type DkgJob = Extract<MpcJob, { kind: 'dkg' }>;
export type SignJob = Extract<MpcJob, { kind: 'sign' }>;
export type RefreshJob = Extract<MpcJob, { kind: 'refresh' }>;

/** The threshold sessions opened (by contribution) and running (by session id) on this signer. */
export class MpcSessions {
  readonly #opened = new Map<string, MpcSession>();
  readonly #running = new Map<string, MpcSession>();

  constructor(private readonly ctx: EnclaveContext) {}

  /** Drops sessions past their time and refuses a new one beyond the bound. */
  #makeRoom(): void {
    const now = this.ctx.nowMs();
    for (const map of [this.#opened, this.#running]) {
      for (const [k, x] of map) if (x.createdAtMs < now - MPC_SESSION_TTL_MS) this.#drop(x, k, map);
    }
    if (this.#opened.size + this.#running.size >= MPC_SESSIONS_MAX) throw new CustodianError('E_MPC_BUSY', `this signer already runs ${MPC_SESSIONS_MAX} threshold sessions`);
  }

  #drop(x: MpcSession, key: string, map: Map<string, MpcSession>): void {
    map.delete(key);
    if (x.sessionId) this.ctx.openChannel()?.closeSession(x.channelSession);
  }

  /** Opens a session for `job`; answers this signer's fresh contribution to the session id. */
  register(job: MpcJob, requestHash: string, map: PartyMap, participants: readonly string[]): Json {
    this.#makeRoom();
    const nonce = bytesToHex(systemRandom.bytes(MPC_NONCE_BYTES));
    this.#opened.set(nonce, { job, nonce, requestHash, map, participants, createdAtMs: this.ctx.nowMs(), sessionId: null, channelSession: '', step: 0, dealing: null, presign: null, presig: null, frostDkg: null, frostSign: null, refresh: null });
    return { nonce, participants: [...participants] };
  }

  /** The session opened with this contribution, no longer opened (undefined if none). */
  takeOpened(nonce: string): MpcSession | undefined {
    const x = this.#opened.get(nonce);
    if (x) this.#opened.delete(nonce);
    return x;
  }

  /** Marks a started session running under its session id (refuses one that already runs). */
  startRunning(key: string, x: MpcSession): void {
    if (this.#running.has(key)) throw new CustodianError('E_SESSION_REUSED', 'this session already runs');
    this.#running.set(key, x);
  }

  /** The running session with this id (undefined if none). */
  running(key: string): MpcSession | undefined {
    return this.#running.get(key);
  }

  /** Drops the running (or else opened) session under `key`; answers it, or null if there is none. */
  abort(key: string): MpcSession | null {
    const x = this.#running.get(key) ?? this.#opened.get(key);
    if (!x) return null;
    this.#drop(x, key, this.#running.has(key) ? this.#running : this.#opened);
    return x;
  }

  /** Runs one round; on any failure the session ends, the failure (and its culprit) is audited, and the share's status is sealed. */
  async run(x: MpcSession, peer: RpcPeer, fn: () => Promise<Json>): Promise<Json> {
    try {
      const out = (await fn()) as Record<string, Json>;
      if (out['done'] === true) this.#drop(x, bytesToHex(x.sessionId!), this.#running);
      return out;
    } catch (e) {
      if (x.sessionId) this.#drop(x, bytesToHex(x.sessionId), this.#running);
      if (!isCustodianError(e) || this.ctx.wasAudited(e)) throw e;
      const culprit = typeof e.detail['culprit'] === 'string' ? culpritName(x.map, e.detail['culprit']) : null;
      const requestId = x.job.kind === 'sign' ? x.job.p.requestId : null;
      const walletId = x.job.kind === 'dkg' ? x.job.payload.walletId : x.job.wallet.walletId;
      return this.ctx.refuse(peer, 'mpc.aborted', requestId, e, { kind: x.job.kind, walletId, sessionId: x.sessionId ? bytesToHex(x.sessionId) : null, culprit, peer: typeof e.detail['peer'] === 'string' ? e.detail['peer'] : null });
    }
  }
}

/** A culprit named by party id (the tss layer) or by signer id (the channel). */
function culpritName(map: PartyMap, culprit: string): string {
  if (!/^[0-9]{1,5}$/.test(culprit)) return culprit.slice(0, 64);
  try {
    return map.signerOf(BigInt(culprit));
  } catch {
    return `party-${culprit}`;
  }
}

/** Checks that every other participant is a verified peer with an attested channel key. */
export function checkPeers(ctx: EnclaveContext, participants: readonly string[]): void {
  for (const id of participants) {
    if (id === ctx.signerId) continue;
    if (!ctx.state().peers.get(id)?.peerKey) throw new CustodianError('E_PEER_UNKNOWN', `${id} is not a verified peer with an attested channel key`, { peer: id });
  }
}

/** Seals a round's messages, each to its recipient's channel key, for the relay. */
export async function mpcSeal(ctx: EnclaveContext, x: MpcSession, msgs: readonly EcdsaMessage[]): Promise<Json> {
  return encodeEnvelopes(await sealMessages(await ctx.peerChannel(), x.channelSession, x.map, msgs));
}

/** Seals a FROST step's messages for the relay. */
export async function frostSeal(ctx: EnclaveContext, x: MpcSession, out: FrostDkgOutbound): Promise<Json> {
  return encodeEnvelopes(await sealFrost(await ctx.peerChannel(), x.channelSession, x.map, ctx.signerId, x.participants, out));
}

/**
 * Audits a new threshold wallet, seals the state holding its share and
 * answers the wallet statement this signer signs (ecdsa-dkls and FROST key
 * generation alike): the statement names the organisation, the installed
 * manifest, the threshold and the parties besides the scheme's keys.
 */
export async function announceThresholdWallet(ctx: EnclaveContext, x: MpcSession, keys: Record<string, Json>, record: { walletId: string; scheme: string; threshold: number; parties: readonly string[] }, operatorId: string, peer: RpcPeer): Promise<Json> {
  const s = ctx.state();
  const statement = {
    walletId: record.walletId,
    scheme: record.scheme,
    signerId: ctx.signerId,
    ...keys,
    orgId: ctx.manifest().orgId,
    manifestHash: manifestHash(s.signedManifest!.payload),
    threshold: record.threshold,
    parties: [...record.parties],
  };
  await ctx.audit(peer, 'wallet.created', null, { ...statement, requestedBy: operatorId, sessionId: bytesToHex(x.sessionId!) });
  await ctx.persist();
  return encodeEnclaveSigned(signStatement('wallet.v1', statement, s.identitySecret.expose()));
}

/**
 * Distributed key generation, key refresh and resharing as one dealing
 * protocol (Feldman VSS with a Schnorr proof of knowledge of every dealer's
 * constant term, then echo-broadcast agreement) that also runs the DKLs23
 * pairwise setup: base OTs in both directions between every two members of
 * the resulting committee.
 *
 *   keygen:  every member deals a random constant; public key Σ C_{k,0}.
 *   refresh: every member deals constant 0 (C_{k,0} omitted, implicitly the
 *            identity); new share = old share + Σ f_k(i); same public key.
 *   reshare: a qualified set of old members deals λ_k·p(k) (checked against
 *            λ_k·P_k); the new committee and threshold may differ; same key.
 *
 * Rounds: round1() → messages to every other receiver; receivers call
 * round2(inbound) → echo messages; finish(inbound) → the key share.
 */
import type { Random } from '@custodian/core/clock';
import { Secret } from '@custodian/core/secret';
import { blame, fail, withCulprit } from './errors.js';
import { Point, mod, mulBase, pointToBytes, publicTable, randomScalar, type Point as PointT } from './group.js';
import { collectRound, checkSessionId, type EcdsaMessage } from './message.js';
import { checkThreshold, lagrangeAtZero, normalizePartyId, normalizePartyIds, partyIdBytes } from './party-id.js';
import { evalCommitments, evalPolynomial, randomPolynomial, verifyShare } from './feldman.js';
import { proveDlog, verifyDlog, type SchnorrProof } from './schnorr-pok.js';
import { baseOtReceiverFinish, baseOtReceiverStart, baseOtSenderFinish, baseOtSenderStart, type BaseOtReceiverState, type BaseOtSenderState } from './base-ot.js';
import { hashTranscript } from './transcript.js';
import { OT_BASE_COUNT, POINT_BYTES } from './limits.js';
import { Reader, Writer } from './wire.js';
import type { EcdsaKeyShare, PairSetup } from './key-share.js';
import { BroadcastBook, type BroadcastAuthenticator } from './echo.js';
import { ROT_REVERSE_BATCH, extensionMessageBytes, rotReverseFinish, rotReverseStart, type CotReceiverSetup, type CotSenderSetup } from './ot-extension.js';

/** Which dealing to run. */
export type DealingMode = 'keygen' | 'refresh' | 'reshare';

/** Public data of the key being refreshed or reshared. */
export interface PreviousKey {
  readonly threshold: number;
  readonly parties: readonly bigint[];
  readonly publicKey: PointT;
  readonly publicShares: ReadonlyMap<bigint, PointT>;
}

/** The public data of a key share, as a refresh or reshare needs it. */
export function previousKeyOf(share: EcdsaKeyShare): PreviousKey {
  return { threshold: share.threshold, parties: share.parties, publicKey: share.publicKey, publicShares: share.publicShares };
}

/** Configuration of one party's run of the dealing protocol. */
export interface DealingConfig {
  readonly sessionId: Uint8Array;
  readonly self: bigint | number;
  readonly mode: DealingMode;
  /** Threshold of the resulting key. */
  readonly threshold: number;
  /** The resulting committee. */
  readonly receivers: readonly (bigint | number)[];
  /** Reshare only: the old members who deal (at least the old threshold). Otherwise the receivers deal. */
  readonly dealers?: readonly (bigint | number)[];
  /** Refresh and reshare: the key's public data (every party must hold the same). */
  readonly previous?: PreviousKey;
  /** Refresh and reshare: this party's current share, when it deals. */
  readonly share?: EcdsaKeyShare;
  readonly random: Random;
  /** Identity-key signatures on dealer broadcasts: equivocation then convicts (echo.ts). */
  readonly auth?: BroadcastAuthenticator;
}

interface Dealt {
  readonly commitments: PointT[];
  readonly proof: SchnorrProof | undefined;
  readonly broadcast: Uint8Array;
}

/** 'aborted': a round threw; the session is dead (no retry with other messages: selective-failure probing). */
type Phase = 'new' | 'round1' | 'round2' | 'done' | 'aborted';

/** One party's state machine for keygen, refresh or reshare. */
export class EcdsaDealing {
  readonly #c: DealingConfig;
  readonly #self: bigint;
  readonly #receivers: bigint[];
  readonly #dealers: bigint[];
  #phase: Phase = 'new';
  #poly: bigint[] | undefined;
  #dealt: Dealt | undefined;
  readonly #otSenders = new Map<bigint, BaseOtSenderState>();
  readonly #otReceivers = new Map<bigint, BaseOtReceiverState>();
  #dealings = new Map<bigint, Dealt>();
  readonly #aliceSetups = new Map<bigint, CotSenderSetup>();
  readonly #bobSetups = new Map<bigint, CotReceiverSetup>();
  readonly #reverseMessages = new Map<bigint, Uint8Array>();
  #ownShare = 0n;
  readonly #book: BroadcastBook;

  constructor(config: DealingConfig) {
    checkSessionId(config.sessionId);
    this.#c = config;
    this.#self = normalizePartyId(config.self);
    this.#receivers = normalizePartyIds(config.receivers, 'receivers');
    checkThreshold(config.threshold, this.#receivers.length);
    if (config.mode === 'reshare') {
      this.#dealers = normalizePartyIds(config.dealers ?? [], 'dealers');
    } else {
      if (config.dealers !== undefined) fail('E_MPC_SHAPE', 'only a reshare names its dealers');
      this.#dealers = this.#receivers;
    }
    this.#checkPrevious();
    this.#book = new BroadcastBook(config.sessionId, 'dkg', 1, this.#dealers, config.auth);
    if (!this.#isDealer() && !this.#isReceiver()) fail('E_PARTY_UNKNOWN', 'this party neither deals nor receives');
  }

  #checkPrevious(): void {
    const { mode, previous, share } = this.#c;
    if (mode === 'keygen') {
      if (previous !== undefined || share !== undefined) fail('E_MPC_SHAPE', 'a key generation takes no previous key');
      return;
    }
    if (previous === undefined) fail('E_MPC_SHAPE', `a ${mode} needs the previous key's public data`);
    const oldParties = new Set(previous.parties);
    if (mode === 'refresh') {
      if (this.#receivers.length !== previous.parties.length || this.#receivers.some((p) => !oldParties.has(p))) fail('E_MPC_SHAPE', 'a refresh keeps the committee');
      if (this.#c.threshold !== previous.threshold) fail('E_THRESHOLD_INVALID', 'a refresh keeps the threshold');
    }
    if (this.#dealers.some((d) => !oldParties.has(d))) fail('E_PARTY_UNKNOWN', 'every dealer must hold a share of the previous key');
    if (this.#dealers.length < previous.threshold) fail('E_THRESHOLD_INVALID', `at least ${previous.threshold} old members must deal`);
    if (this.#isDealer()) {
      if (share === undefined) fail('E_MPC_SHAPE', 'a dealer needs its current share');
      assertOwnShare(share, this.#self, previous);
    }
  }

  /** This party's id. */
  get self(): bigint {
    return this.#self;
  }

  /** True when this party is in the resulting committee (runs round2 and finish). */
  get isReceiver(): boolean {
    return this.#receivers.includes(this.#self);
  }

  #isDealer(): boolean {
    return this.#dealers.includes(this.#self);
  }

  #isReceiver(): boolean {
    return this.isReceiver;
  }

  #peersOf(): bigint[] {
    return [...new Set([...this.#dealers, ...this.#receivers])].filter((p) => p !== this.#self).sort((a, b) => (a < b ? -1 : 1));
  }

  /** Context of the pair's one base-OT batch (ordered by id, whoever plays which role). */
  #otContext(peer: bigint, purpose: 'base-ot' | 'reverse'): Uint8Array {
    const [lo, hi] = this.#self < peer ? [this.#self, peer] : [peer, this.#self];
    return hashTranscript(`custodian/ecdsa/dkg/${purpose}/v1`, this.#c.sessionId, partyIdBytes(lo), partyIdBytes(hi));
  }

  /**
   * One base-OT batch per pair (docs/decisions/ecdsa-ot.md): one party is
   * the base-OT receiver (Alice towards the other), the other the sender
   * (Bob); the other direction is then made by one OT extension.
   */
  #startBaseOts(peer: bigint): Uint8Array {
    if (this.#isBaseReceiver(peer)) {
      const choices = Array.from(this.#c.random.bytes(OT_BASE_COUNT), (b) => b & 1);
      const r = baseOtReceiverStart(this.#otContext(peer, 'base-ot'), choices, this.#c.random);
      this.#otReceivers.set(peer, r);
      return r.message;
    }
    const s = baseOtSenderStart(this.#c.random);
    this.#otSenders.set(peer, s.state);
    return s.message;
  }

  #commitmentCount(): number {
    return this.#c.mode === 'refresh' ? this.#c.threshold - 1 : this.#c.threshold;
  }

  /** Round 1: commitments, proof and shares (dealers); base-OT messages (receivers). */
  round1(): EcdsaMessage[] {
    if (this.#phase !== 'new') fail('E_MPC_PHASE', 'round1 was already run');
    this.#phase = 'aborted';
    if (this.#isDealer()) this.#deal();
    const signature = this.#dealt === undefined ? new Uint8Array(0) : this.#book.own(this.#self, this.#dealt.broadcast);
    const out: EcdsaMessage[] = [];
    for (const j of this.#receivers) {
      if (j === this.#self) continue;
      const w = new Writer();
      if (this.#dealt !== undefined && this.#poly !== undefined) w.fixed(this.#dealt.broadcast).fixed(signature).scalar(evalPolynomial(this.#poly, j));
      if (this.#isReceiver()) w.fixed(this.#startBaseOts(j));
      out.push({ sessionId: this.#c.sessionId, protocol: 'dkg', round: 1, from: this.#self, to: j, body: w.bytes() });
    }
    this.#phase = this.#isReceiver() ? 'round1' : 'done';
    return out;
  }

  #deal(): void {
    const { mode, threshold, random, sessionId } = this.#c;
    let constant = 0n;
    if (mode === 'keygen') constant = randomScalar(random);
    if (mode === 'reshare') constant = lagrangeAtZero(this.#self, this.#dealers) * this.#c.share!.secret.expose().share;
    this.#poly = randomPolynomial(constant, threshold, random);
    const commitments = this.#poly.map((a) => mulBase(a));
    const sent = mode === 'refresh' ? commitments.slice(1) : commitments;
    const w = new Writer().count(sent.length);
    for (const C of sent) w.point(C);
    let proof: SchnorrProof | undefined;
    if (mode !== 'refresh') {
      proof = proveDlog(sessionId, this.#self, this.#poly[0]!, random);
      w.point(proof.R).scalar(proof.z);
    }
    this.#dealt = { commitments, proof, broadcast: w.bytes() };
  }

  /** Round 2 (receivers): checks every dealing and finishes the base OTs; returns echo messages. */
  round2(inbound: readonly EcdsaMessage[]): EcdsaMessage[] {
    if (this.#phase !== 'round1' || !this.#isReceiver()) fail('E_MPC_PHASE', 'round2 runs once, after round1, on receivers only');
    this.#phase = 'aborted';
    const bodies = collectRound(inbound, { sessionId: this.#c.sessionId, protocol: 'dkg', round: 1, self: this.#self, peers: this.#peersOf() });
    let ownShare = 0n;
    for (const [from, body] of bodies) {
      const rd = new Reader(body, `dkg round 1 from ${from}`);
      try {
        if (this.#dealers.includes(from)) {
          const dealt = this.#readDealing(from, rd);
          this.#book.receive(from, dealt.broadcast, rd);
          const share = rd.scalar('share');
          if (!verifyShare(dealt.commitments, this.#self, share)) blame('E_DKG_SHARE_INVALID', from, 'sent a share that does not match its commitments');
          ownShare += share;
          this.#dealings.set(from, dealt);
        }
        if (this.#receivers.includes(from)) this.#finishBaseOts(from, rd);
        rd.end();
      } catch (e) {
        throw withCulprit(e, from);
      }
    }
    if (this.#dealt !== undefined && this.#poly !== undefined) {
      this.#dealings.set(this.#self, this.#dealt);
      ownShare += evalPolynomial(this.#poly, this.#self);
    }
    this.#checkConstants();
    this.#ownShare = ownShare;
    this.#phase = 'round2';
    const echo = this.#book.echo();
    return this.#receivers
      .filter((j) => j !== this.#self)
      .map((j) => {
        const body = new Writer().fixed(echo).fixed(this.#reverseMessages.get(j) ?? new Uint8Array(0)).bytes();
        return { sessionId: this.#c.sessionId, protocol: 'dkg' as const, round: 2, from: this.#self, to: j, body };
      });
  }

  #readDealing(from: bigint, rd: Reader): Dealt {
    const n = this.#commitmentCount();
    const raw = new Writer();
    rd.count('commitments', n);
    raw.count(n);
    const sent: PointT[] = [];
    for (let k = 0; k < n; k++) {
      const C = rd.point(`commitments[${k}]`);
      sent.push(C);
      raw.point(C);
    }
    let proof: SchnorrProof | undefined;
    let commitments = sent;
    if (this.#c.mode === 'refresh') {
      commitments = [Point.ZERO, ...sent];
    } else {
      proof = { R: rd.point('proof.R'), z: rd.scalar('proof.z') };
      raw.point(proof.R).scalar(proof.z);
      if (!verifyDlog(this.#c.sessionId, from, sent[0]!, proof)) blame('E_DKG_POK_INVALID', from, 'sent an invalid proof of knowledge of its constant term');
    }
    return { commitments, proof, broadcast: raw.bytes() };
  }

  /**
   * The base-OT sender does most of the public-key work, so the role
   * alternates: the lower id receives when the ids' sum is odd, the higher id
   * otherwise. Every party then sends in about half of its pairs.
   */
  #isBaseReceiver(peer: bigint): boolean {
    const lowerIsReceiver = (this.#self + peer) % 2n === 1n;
    return this.#self < peer ? lowerIsReceiver : !lowerIsReceiver;
  }

  /** Round 2 side of the pair's base OTs; the base-OT sender also reverses the batch for the other direction. */
  #finishBaseOts(peer: bigint, rd: Reader): void {
    if (this.#isBaseReceiver(peer)) {
      const B = rd.fixed(POINT_BYTES, 'baseOt.B');
      const r = this.#otReceivers.get(peer)!;
      this.#aliceSetups.set(peer, { delta: r.choices, seeds: baseOtReceiverFinish(this.#otContext(peer, 'base-ot'), r, B) });
      return;
    }
    const receiverMsg = rd.fixed(2 + OT_BASE_COUNT * 2 * POINT_BYTES, 'baseOt.receiver');
    const { k0, k1 } = baseOtSenderFinish(this.#otContext(peer, 'base-ot'), this.#otSenders.get(peer)!, receiverMsg);
    const bob = { seeds0: k0, seeds1: k1 };
    const rev = rotReverseStart(bob, this.#otContext(peer, 'reverse'), this.#c.random);
    this.#bobSetups.set(peer, bob);
    this.#aliceSetups.set(peer, rev.reversed);
    this.#reverseMessages.set(peer, rev.message);
  }

  /** B28 and reshare checks on the constant-term commitments. */
  #checkConstants(): void {
    const { mode, previous } = this.#c;
    if (mode === 'keygen') {
      const seen = new Map<string, bigint>();
      for (const d of this.#dealers) {
        const C0 = this.#dealings.get(d)!.commitments[0]!;
        const neg = seen.get(pointToBytes(C0.negate()).toString());
        if (neg !== undefined) blame('E_DKG_POK_INVALID', d, `its constant commitment cancels party ${neg}'s (rogue key)`);
        seen.set(pointToBytes(C0).toString(), d);
      }
    }
    if (mode === 'reshare' && previous !== undefined) {
      for (const d of this.#dealers) {
        const expected = previous.publicShares.get(d)!.multiplyUnsafe(lagrangeAtZero(d, this.#dealers));
        if (!this.#dealings.get(d)!.commitments[0]!.equals(expected)) blame('E_DKG_PUBLIC_KEY_MISMATCH', d, 'dealt a constant that is not its share of the key');
      }
    }
  }

  #assemble(ownShare: bigint, pairs: Map<bigint, PairSetup>): EcdsaKeyShare {
    const { mode, previous, threshold } = this.#c;
    const summed: PointT[] = [];
    for (let k = 0; k < threshold; k++) {
      let acc: PointT = Point.ZERO;
      for (const d of this.#dealers) acc = acc.add(this.#dealings.get(d)!.commitments[k]!);
      summed.push(acc);
    }
    let publicKey = summed[0]!;
    let share = ownShare;
    const publicShares = new Map<bigint, PointT>();
    for (const j of this.#receivers) {
      let P = evalCommitments(summed, j);
      if (mode === 'refresh') P = P.add(previous!.publicShares.get(j)!);
      publicShares.set(j, P);
    }
    if (mode === 'refresh') {
      publicKey = previous!.publicKey;
      share += this.#c.share!.secret.expose().share;
    }
    if (publicKey.is0()) fail('E_DKG_POK_INVALID', 'the dealt public key is the identity');
    if (previous !== undefined && !publicKey.equals(previous.publicKey)) fail('E_DKG_PUBLIC_KEY_MISMATCH', 'the dealt key differs from the previous public key');
    const mine = mulBase(share);
    if (!mine.equals(publicShares.get(this.#self)!)) fail('E_DKG_SHARE_INVALID', 'own share does not match the public shares');
    publicTable(publicKey); // every signature is verified against it (sign.ts): build its table once, now
    return {
      id: this.#self,
      threshold,
      parties: this.#receivers,
      publicKey,
      publicShares,
      secret: new Secret({ share: mod(share), pairs }),
      status: { frozen: false, excluded: new Set<bigint>() },
    };
  }

  /** Finish (receivers): compares the echoes (F05) and returns the key share. */
  finish(inbound: readonly EcdsaMessage[]): EcdsaKeyShare {
    if (this.#phase !== 'round2') fail('E_MPC_PHASE', 'finish runs once, after round2');
    this.#phase = 'aborted';
    const peers = this.#receivers.filter((j) => j !== this.#self);
    const bodies = collectRound(inbound, { sessionId: this.#c.sessionId, protocol: 'dkg', round: 2, self: this.#self, peers });
    const pairs = new Map<bigint, PairSetup>();
    for (const [from, body] of bodies) {
      try {
        const rd = new Reader(body, `dkg round 2 from ${from}`);
        this.#book.check(rd, from, this.#self);
        if (this.#isBaseReceiver(from)) {
          const reverse = rd.fixed(extensionMessageBytes(ROT_REVERSE_BATCH), 'reverse');
          this.#bobSetups.set(from, rotReverseFinish(this.#aliceSetups.get(from)!, this.#otContext(from, 'reverse'), reverse));
        }
        rd.end();
      } catch (e) {
        throw withCulprit(e, from);
      }
      pairs.set(from, { alice: this.#aliceSetups.get(from)!, bob: this.#bobSetups.get(from)! });
    }
    this.#phase = 'done';
    return this.#assemble(this.#ownShare, pairs);
  }
}

function assertOwnShare(share: EcdsaKeyShare, self: bigint, previous: PreviousKey): void {
  if (share.id !== self) fail('E_MPC_SHAPE', 'the share belongs to another party');
  if (!share.publicKey.equals(previous.publicKey)) fail('E_DKG_PUBLIC_KEY_MISMATCH', 'the share belongs to another key');
  if (!mulBase(share.secret.expose().share).equals(previous.publicShares.get(self) ?? Point.ZERO)) fail('E_DKG_SHARE_INVALID', 'own share does not match its public share');
}


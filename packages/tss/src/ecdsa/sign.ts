/**
 * DKLs23 three-round threshold ECDSA signing ("Threshold ECDSA in Three
 * Rounds", Protocol 3.6), split into a message-independent pre-signing part
 * (rounds 1 and 2) and a one-round online part.
 *
 * Every signer i in the signing set S samples an instance key r_i and an
 * inversion mask φ_i; sk_i = λ_i(S)·p(i). For every peer j two RVOLE
 * instances run: i as Alice with input (r_i, sk_i) against j's random input
 * χ_{j,i}, and i as Bob. Bob's input is fixed to φ by ψ = φ − χ, so that
 *   u = Σ u_i = r·φ,  v = Σ v_i = sk·φ,  R = Σ R_i = r·G,
 * and s = Σ w_i / Σ u_i with w_i = H(m)·φ_i + r_x·v_i. Alice's inputs are tied
 * to R_j and pk_j = λ_j·P_j by the checks χ·R_j − Γ^u = d^u·G and
 * χ·pk_j − Γ^v = d^v·G.
 *
 *   round 1: Com(R_i), RVOLE first message as Bob               (to each j)
 *   round 2: echo of all commitments (signed when an authenticator is given), decommitment of R_i,
 *            RVOLE answer as Alice, Γ^u, Γ^v, ψ_{i,j}            (to each j)
 *   → pre-signature (R, u_i, v_i, φ_i); message independent
 *   round 3 (online): u_i, w_i                                   (to each j)
 *   → s = Σw/Σu, verified as an ECDSA signature under the group key (one
 *     check, (h/s)·G + (r/s)·pk = R, on cached fixed-base tables of G and pk), then
 *     low-S normalised with the recovery id read off R; a failed verification
 *     freezes the key (F06, CVE-2023-33242).
 *
 * Departure: no F_Zero re-randomisation of sk_i (docs/decisions/ecdsa-dkls23.md).
 */
import type { Random } from '@custodian/core/clock';
import { equalBytes } from '@custodian/core/bytes';
import { CustodianError } from '@custodian/core/errors';
import { blame, fail, withCulprit } from './errors.js';
import { Point, Q, bytesToBig, inv, mod, mulBase, mulPoint, pointToBytes, generatorTable, publicTable, randomScalar, writeScalar, type Point as PointT } from './group.js';
import { checkSessionId, collectRound, type EcdsaMessage } from './message.js';
import { lagrangeAtZero, normalizePartyIds, partyIdBytes } from './party-id.js';
import { hashTranscript } from './transcript.js';
import { Reader, Writer } from './wire.js';
import { RVOLE_ALICE_MESSAGE_BYTES, RVOLE_BOB_MESSAGE_BYTES, rvoleAliceRespond, rvoleBobFinish, rvoleBobStart, type RvoleBobState } from './rvole.js';
import { BroadcastBook, type BroadcastAuthenticator } from './echo.js';
import { assertNotFrozen, assertPeersUsable, type EcdsaKeyShare } from './key-share.js';
import { FastPoint } from './curve.js';

/** Configuration of one signing session. */
export interface SignConfig {
  /** Fresh, unique per signing session, agreed by all signers. */
  readonly sessionId: Uint8Array;
  /** The signing set: exactly `threshold` committee members, including this party. */
  readonly signers: readonly (bigint | number)[];
  readonly random: Random;
  /** Identity-key signatures on broadcast values: equivocation then convicts (echo.ts). */
  readonly auth?: BroadcastAuthenticator;
}

/** A verified secp256k1 ECDSA signature. */
export interface EcdsaSignature {
  readonly r: bigint;
  /** Low-S normalised. */
  readonly s: bigint;
  /** Recovery id (bit 0: parity of R.y after normalisation; bit 1: R.x ≥ q). */
  readonly recovery: number;
  /** 64-byte r ‖ s. */
  readonly compact: Uint8Array;
}

/** 'aborted': a round threw; the session is dead (no retry with other messages: selective-failure probing). */
type Phase = 'new' | 'round1' | 'round2' | 'done' | 'aborted';

interface Peer {
  readonly id: bigint;
  /** λ_j·P_j: the peer's additive share of the public key. */
  readonly pk: PointT;
  bob?: RvoleBobState;
  com?: Uint8Array;
  cu?: bigint;
  cv?: bigint;
}

const COM_BYTES = 32;
/**
 * Codes after which the pairwise OT setup with the culprit is no longer
 * trusted: a failed KOS check (we are Alice) may have taught the peer bits of
 * our long-term Δ. Failures on Bob's side only concern his per-session β.
 */
const OT_FAILURES: ReadonlySet<string> = new Set(['E_MPC_OT_CHECK_FAILED']);
const SALT_BYTES = 32;

/** The message-independent part of signing, for one party. */
export class EcdsaPresignSession {
  readonly #share: EcdsaKeyShare;
  readonly #sid: Uint8Array;
  readonly #random: Random;
  readonly #signers: bigint[];
  readonly #peers = new Map<bigint, Peer>();
  readonly #self: bigint;
  #phase: Phase = 'new';
  #r = 0n;
  #phi = 0n;
  #sk = 0n;
  #R: PointT = Point.ZERO;
  #salt: Uint8Array = new Uint8Array(0);
  #com: Uint8Array = new Uint8Array(0);
  readonly #book: BroadcastBook;

  constructor(share: EcdsaKeyShare, config: SignConfig) {
    assertNotFrozen(share);
    checkSessionId(config.sessionId);
    this.#share = share;
    this.#sid = config.sessionId;
    this.#random = config.random;
    this.#self = share.id;
    this.#signers = normalizePartyIds(config.signers, 'signers');
    if (this.#signers.length !== share.threshold) fail('E_MPC_SHAPE', `signing needs exactly ${share.threshold} signers`, { signers: this.#signers.length });
    for (const j of this.#signers) {
      if (!share.parties.includes(j)) fail('E_PARTY_UNKNOWN', `signer ${j} is not in the committee`, { party: j.toString() });
    }
    if (!this.#signers.includes(this.#self)) fail('E_PARTY_UNKNOWN', 'this party is not in the signing set');
    assertPeersUsable(share, this.#signers);
    this.#book = new BroadcastBook(this.#sid, 'sign', 1, this.#signers, config.auth);
    for (const j of this.#signers) {
      if (j === this.#self) continue;
      // Public values: variable-time multiplication is fine here.
      this.#peers.set(j, { id: j, pk: share.publicShares.get(j)!.multiplyUnsafe(lagrangeAtZero(j, this.#signers)) });
    }
  }

  #pairContext(alice: bigint, bob: bigint): Uint8Array {
    return hashTranscript('custodian/ecdsa/sign/pair/v1', this.#sid, pointToBytes(this.#share.publicKey), partyIdBytes(alice), partyIdBytes(bob));
  }

  #commit(party: bigint, R: Uint8Array, salt: Uint8Array): Uint8Array {
    return hashTranscript('custodian/ecdsa/sign/commit/v1', this.#sid, partyIdBytes(party), R, salt);
  }

  /** A failed KOS check burns the pair's setup (selective abort on Δ); returns `e`. */
  #burnOnOtFailure(e: unknown, peer: bigint): unknown {
    if (e instanceof CustodianError && OT_FAILURES.has(e.code)) this.#share.status.excluded.add(peer);
    return e;
  }

  #msg(round: number, to: bigint, body: Uint8Array): EcdsaMessage {
    return { sessionId: this.#sid, protocol: 'sign', round, from: this.#self, to, body };
  }

  /** Round 1: commitment to R_i and, towards every peer, the RVOLE first message as Bob. */
  round1(): EcdsaMessage[] {
    if (this.#phase !== 'new') fail('E_MPC_PHASE', 'round1 was already run');
    assertNotFrozen(this.#share);
    this.#phase = 'aborted';
    const secret = this.#share.secret.expose();
    this.#r = randomScalar(this.#random);
    this.#phi = randomScalar(this.#random);
    this.#sk = mod(lagrangeAtZero(this.#self, this.#signers) * secret.share);
    this.#R = mulBase(this.#r);
    this.#salt = this.#random.bytes(SALT_BYTES);
    this.#com = this.#commit(this.#self, pointToBytes(this.#R), this.#salt);
    const comSignature = this.#book.own(this.#self, this.#com);
    const out: EcdsaMessage[] = [];
    for (const peer of this.#peers.values()) {
      const bob = rvoleBobStart(secret.pairs.get(peer.id)!.bob, this.#pairContext(peer.id, this.#self), this.#random);
      peer.bob = bob.state;
      out.push(this.#msg(1, peer.id, new Writer().fixed(this.#com).fixed(comSignature).fixed(bob.message).bytes()));
    }
    this.#phase = 'round1';
    return out;
  }

  /** Round 2: echo of the commitments, decommitment, RVOLE answers as Alice, Γ values and ψ. */
  round2(inbound: readonly EcdsaMessage[]): EcdsaMessage[] {
    if (this.#phase !== 'round1') fail('E_MPC_PHASE', 'round2 runs once, after round1');
    this.#phase = 'aborted';
    const bodies = collectRound(inbound, { sessionId: this.#sid, protocol: 'sign', round: 1, self: this.#self, peers: [...this.#peers.keys()] });
    const secret = this.#share.secret.expose();
    const answers = new Map<bigint, Uint8Array>();
    for (const [from, body] of bodies) {
      const peer = this.#peers.get(from)!;
      try {
        const rd = new Reader(body, `sign round 1 from ${from}`);
        peer.com = rd.fixed(COM_BYTES, 'commitment');
        this.#book.receive(from, peer.com, rd);
        const bobMessage = rd.fixed(RVOLE_BOB_MESSAGE_BYTES, 'rvole');
        rd.end();
        const { c, message } = rvoleAliceRespond(secret.pairs.get(from)!.alice, this.#pairContext(this.#self, from), bobMessage, [this.#r, this.#sk], this.#random);
        peer.cu = c[0]!;
        peer.cv = c[1]!;
        answers.set(from, message);
      } catch (e) {
        throw this.#burnOnOtFailure(withCulprit(e, from), from);
      }
    }
    this.#phase = 'round2';
    const echoBytes = this.#book.echo();
    return [...this.#peers.values()].map((peer) => {
      const w = new Writer().fixed(echoBytes).point(this.#R).fixed(this.#salt).fixed(answers.get(peer.id)!);
      w.point(mulBase(peer.cu!)).point(mulBase(peer.cv!)).scalar(mod(this.#phi - peer.bob!.b));
      return this.#msg(2, peer.id, w.bytes());
    });
  }

  /** Ends pre-signing: checks every peer's round-2 message and returns the pre-signature. */
  finish(inbound: readonly EcdsaMessage[]): EcdsaPresignature {
    if (this.#phase !== 'round2') fail('E_MPC_PHASE', 'finish runs once, after round2');
    this.#phase = 'aborted';
    const bodies = collectRound(inbound, { sessionId: this.#sid, protocol: 'sign', round: 2, self: this.#self, peers: [...this.#peers.keys()] });
    let R = this.#R;
    let u = mod(this.#r * this.#phi);
    let v = mod(this.#sk * this.#phi);
    for (const [from, body] of bodies) {
      const peer = this.#peers.get(from)!;
      try {
        const rd = new Reader(body, `sign round 2 from ${from}`);
        this.#book.check(rd, from, this.#self);
        const Rj = rd.point('R');
        if (!equalBytes(this.#commit(from, pointToBytes(Rj), rd.fixed(SALT_BYTES, 'salt')), peer.com!)) {
          blame('E_MPC_COMMITMENT_INVALID', from, 'opened its commitment to a different R');
        }
        const d = rvoleBobFinish(peer.bob!, rd.fixed(RVOLE_ALICE_MESSAGE_BYTES, 'rvole'));
        const gammaU = rd.point('gammaU');
        const gammaV = rd.point('gammaV');
        const psi = rd.scalar('psi');
        rd.end();
        const chi = peer.bob!.b;
        if (!mulPoint(Rj, chi).subtract(gammaU).equals(mulBase(d[0]!))) blame('E_MPC_PROOF_INVALID', from, 'its multiplication input does not match its R');
        if (!mulPoint(peer.pk, chi).subtract(gammaV).equals(mulBase(d[1]!))) blame('E_MPC_PROOF_INVALID', from, 'its multiplication input does not match its key share');
        R = R.add(Rj);
        u = mod(u + peer.cu! + this.#r * psi + d[0]!);
        v = mod(v + peer.cv! + this.#sk * psi + d[1]!);
      } catch (e) {
        throw this.#burnOnOtFailure(withCulprit(e, from), from);
      }
    }
    this.#phase = 'done';
    if (R.is0()) fail('E_MPC_PROOF_INVALID', 'the combined instance key is the identity');
    return new EcdsaPresignature(this.#share, this.#sid, this.#signers, R, u, v, this.#phi);
  }
}

/** A one-use pre-signature: R is fixed; the message enters only in the online round. */
export class EcdsaPresignature {
  readonly #share: EcdsaKeyShare;
  readonly #u: bigint;
  readonly #v: bigint;
  readonly #phi: bigint;
  #digest: Uint8Array | undefined;
  #w = 0n;
  #used = false;
  #combined = false;
  /** R's affine coordinates (r = x mod q), message-independent, so computed when pre-signing ends. */
  readonly #affine: { x: bigint; y: bigint };

  /** Built by EcdsaPresignSession.finish. */
  constructor(share: EcdsaKeyShare, readonly sessionId: Uint8Array, readonly signers: readonly bigint[], readonly R: PointT, u: bigint, v: bigint, phi: bigint) {
    this.#share = share;
    this.#u = u;
    this.#v = v;
    this.#phi = phi;
    this.#affine = R.toAffine();
  }

  /** r = R.x mod q. */
  get r(): bigint {
    return mod(this.#affine.x);
  }

  /** Online round: this party's (u_i, w_i) for `digest` (32 bytes, e.g. SHA-256 of the message). Usable once. */
  online(digest: Uint8Array): EcdsaMessage[] {
    assertNotFrozen(this.#share);
    if (this.#used) fail('E_PRESIGNATURE_REUSED', 'this pre-signature was already used; a second use would leak the key');
    if (!(digest instanceof Uint8Array) || digest.length !== 32) fail('E_MPC_SHAPE', 'the digest must be 32 bytes');
    this.#used = true;
    this.#digest = Uint8Array.from(digest);
    this.#w = mod(bytesToBig(digest) * this.#phi + this.r * this.#v);
    const body = new Writer().scalar(this.#u).scalar(this.#w).bytes();
    return this.signers
      .filter((j) => j !== this.#share.id)
      .map((j) => ({ sessionId: this.sessionId, protocol: 'sign' as const, round: 3, from: this.#share.id, to: j, body }));
  }

  /** Combines everyone's (u_j, w_j) into a signature that verifies, or freezes the key (F06). */
  combine(inbound: readonly EcdsaMessage[]): EcdsaSignature {
    if (this.#digest === undefined || this.#combined) fail('E_MPC_PHASE', 'combine runs once, after online');
    assertNotFrozen(this.#share);
    this.#combined = true;
    const peers = this.signers.filter((j) => j !== this.#share.id);
    const bodies = collectRound(inbound, { sessionId: this.sessionId, protocol: 'sign', round: 3, self: this.#share.id, peers });
    let u = this.#u;
    let w = this.#w;
    for (const [from, body] of bodies) {
      try {
        const rd = new Reader(body, `sign round 3 from ${from}`);
        u = mod(u + rd.scalar('u'));
        w = mod(w + rd.scalar('w'));
        rd.end();
      } catch (e) {
        throw withCulprit(e, from);
      }
    }
    return finalizeSignature(this.#share, this.#affine, u, w, this.#digest);
  }
}

/**
 * s = w/u, checked as an ECDSA signature on `digest` under the group key, then
 * low-S normalised; failure is terminal (F06).
 *
 * Verification is ECDSA's own equation, evaluated once: R' = (h/s)·G + (r/s)·pk
 * in variable time (all inputs public) on cached fixed-base tables of G and
 * pk (curve.ts PublicTable), and R' must equal R itself (not only in x), which
 * implies r = R'.x mod q. Public-key recovery then needs no second check: the
 * recovery id is R's y parity (flipped when s is negated for low S, since
 * (−s)·(−R) = s·R) and whether R.x overflowed q, so recovering from (r, s, id)
 * rebuilds ±R and returns pk by the same equation (docs/decisions/ecdsa-dkls23.md).
 */
function finalizeSignature(share: EcdsaKeyShare, affine: { x: bigint; y: bigint }, u: bigint, w: bigint, digest: Uint8Array): EcdsaSignature {
  const { x, y } = affine;
  const r = mod(x);
  let s = 0n;
  let ok = false;
  if (r !== 0n && u !== 0n && w !== 0n) {
    // One inversion for both s = w/u and 1/s = u/w.
    const t = inv(u * w);
    s = mod(w * w * t);
    const sInv = mod(u * u * t);
    const h = mod(bytesToBig(digest));
    const expected = generatorTable().addProduct(publicTable(share.publicKey).addProduct(FastPoint.ZERO, mod(r * sInv)), mod(h * sInv));
    ok = expected.equals(FastPoint.fromAffine(affine));
  }
  if (!ok) {
    share.status.frozen = true;
    fail('E_SIGNATURE_INVALID_TERMINAL', 'the combined signature does not verify; the key is frozen until a quorum-approved refresh or re-key (no retry)');
  }
  let recovery = (y & 1n) === 1n ? 1 : 0;
  if (x >= Q) recovery |= 2;
  if (s > Q >> 1n) {
    s = Q - s;
    recovery ^= 1;
  }
  const compact = new Uint8Array(64);
  writeScalar(compact, 0, r);
  writeScalar(compact, 32, s);
  return { r, s, recovery, compact };
}

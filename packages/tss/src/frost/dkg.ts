/**
 * Distributed key generation with no trusted dealer, orchestrated around the
 * library's frost-rs compatible DKG (Pedersen/Feldman with proofs of
 * knowledge). A party runs four pure steps and never sees the whole key:
 *
 *   dkgStart  → broadcast DkgRound1Message (commitments + PoK)
 *   dkgEcho   → check every received round-1 message, broadcast an EchoMessage
 *   dkgShares → check the echoes (F05), send one DkgShareMessage per peer (secret: seal with HPKE)
 *   dkgFinish → check each received share (culprit named), derive the key share
 *
 * Checks, in order, each naming the culprit: session (L08), shape (B31,
 * E_MPC_SHAPE), identifiers (B29), elements (identity / encodings), proof of
 * knowledge and rogue keys (B28, E_DKG_POK_INVALID), equivocation (F05),
 * shares against commitments (E_DKG_SHARE_INVALID).
 */
import type { DKG_Round1, DKG_Round2, DKG_Secret, Key } from '@noble/curves/abstract/frost.js';
import type { Random } from '@custodian/core/clock';
import { Secret } from '@custodian/core/secret';
import { broadcastSignedBytes, type BroadcastAuthenticator } from './broadcast-auth.js';
import { checkEchoes, createEcho, type EchoMessage } from './echo.js';
import { frostError } from './errors.js';
import { fromLibraryKey, type FrostKeyShare } from './key-package.js';
import { FROST_PARTIES_MAX, FROST_THRESHOLD_MIN } from './limits.js';
import { libraryIdentifier, parseCommittee, parsePartyId, type PartyId } from './party-id.js';
import { findBadProofs } from './pok-probe.js';
import { checkSessionId } from './signing-messages.js';
import { frostSuite, libraryRng, type FrostSuiteId } from './suite.js';
import { untweakDkgShare } from './taproot.js';
import { transcriptDigest } from './transcript.js';

/** The parameters every party of one DKG agrees on, plus who we are. */
export interface DkgConfig {
  readonly suite: FrostSuiteId;
  readonly sessionId: string;
  readonly threshold: number;
  readonly parties: readonly PartyId[];
  readonly self: PartyId;
  /** Signs our broadcasts and checks peers' (F05 attribution); optional. */
  readonly authenticator?: BroadcastAuthenticator;
}

/** DKG round 1 broadcast: the Feldman commitment (length t) and the PoK of its constant term. */
export interface DkgRound1Message {
  readonly sessionId: string;
  readonly from: PartyId;
  readonly commitment: readonly Uint8Array[];
  readonly proofOfKnowledge: Uint8Array;
  /** The sender's signature over the message digest, when broadcasts are signed. */
  readonly signature?: Uint8Array;
}

/** DKG round 2 point-to-point message: a secret share for one peer; seal it to the peer (HPKE). */
export interface DkgShareMessage {
  readonly sessionId: string;
  readonly from: PartyId;
  readonly to: PartyId;
  readonly signingShare: Secret<Uint8Array>;
}

/** A party's DKG state between steps (secret: keep it in the enclave or seal it). */
export interface DkgState {
  readonly config: DkgConfig;
  readonly own: DkgRound1Message;
  readonly received: ReadonlyMap<PartyId, DkgRound1Message>;
  readonly digests: ReadonlyMap<PartyId, string>;
  readonly signatures: ReadonlyMap<PartyId, Uint8Array>;
  readonly secret: Secret<DKG_Secret>;
  /** Our round-2 shares, computed while checking round 1 and released only after the echo check. */
  outgoing: Secret<Record<string, DKG_Round2>> | undefined;
  step: 'round1' | 'echoed' | 'shared' | 'done';
}

const ROUND1 = 'dkg-round1';
/** Length of a serialised proof of knowledge R ‖ z per suite (BIP340-style x-only R for taproot). */
const PROOF_BYTES: Readonly<Record<FrostSuiteId, number>> = { 'frost-ed25519': 64, 'frost-secp256k1': 65, 'frost-secp256k1-tr': 64 };

/** Validates a DKG configuration (suite, session, 2 ≤ t ≤ n ≤ max, committee, self in it). */
export function checkDkgConfig(config: DkgConfig): DkgConfig {
  const suite = frostSuite(config.suite);
  checkSessionId(config.sessionId);
  const parties = parseCommittee(config.parties, suite.group.Fn.ORDER);
  const self = parsePartyId(config.self, suite.group.Fn.ORDER, 'self');
  if (!parties.includes(self)) throw frostError('E_PARTY_ID_INVALID', 'this party is not in the committee', { party: self });
  if (!Number.isSafeInteger(config.threshold) || config.threshold < FROST_THRESHOLD_MIN || config.threshold > parties.length || parties.length > FROST_PARTIES_MAX) {
    throw frostError('E_MPC_SHAPE', `threshold must satisfy ${FROST_THRESHOLD_MIN} ≤ t ≤ n`, { threshold: config.threshold, parties: parties.length });
  }
  const base = { suite: config.suite, sessionId: config.sessionId, threshold: config.threshold, parties, self };
  return Object.freeze(config.authenticator === undefined ? base : { ...base, authenticator: config.authenticator });
}

/** Step 1: samples our polynomial (injected randomness) and returns our round-1 broadcast. */
export function dkgStart(config: DkgConfig, random: Random): { state: DkgState; broadcast: DkgRound1Message } {
  const cfg = checkDkgConfig(config);
  const suite = frostSuite(cfg.suite);
  const r1 = suite.frost.DKG.round1(libraryIdentifier(suite, cfg.self), { min: cfg.threshold, max: cfg.parties.length }, undefined, libraryRng(random));
  return startFrom(cfg, r1.secret, r1.public);
}

/**
 * Rebuilds step-1 state from known coefficients and their proof of knowledge
 * (a sealed snapshot, or test vectors): coefficient 0 is the party's secret.
 * A wrong proof is caught by every peer (B28).
 */
export function restoreDkgState(config: DkgConfig, coefficients: Secret<readonly bigint[]>, proofOfKnowledge: Uint8Array): { state: DkgState; broadcast: DkgRound1Message } {
  const cfg = checkDkgConfig(config);
  const { group } = frostSuite(cfg.suite);
  const coeffs = [...coefficients.expose()];
  if (coeffs.length !== cfg.threshold) throw frostError('E_MPC_SHAPE', `expected ${cfg.threshold} coefficients`, { count: coeffs.length });
  const commitment = coeffs.map((c) => Uint8Array.from(group.encodeElement(group.base.multiply(c))));
  const secret: DKG_Secret = { identifier: BigInt(cfg.self), coefficients: coeffs, commitment, signers: { min: cfg.threshold, max: cfg.parties.length }, step: 1 };
  const suite = frostSuite(cfg.suite);
  return startFrom(cfg, secret, { identifier: libraryIdentifier(suite, cfg.self), commitment, proofOfKnowledge: Uint8Array.from(proofOfKnowledge) });
}

function startFrom(cfg: DkgConfig, secret: DKG_Secret, pub: DKG_Round1): { state: DkgState; broadcast: DkgRound1Message } {
  const unsigned: DkgRound1Message = { sessionId: cfg.sessionId, from: cfg.self, commitment: Object.freeze(pub.commitment.map((c) => c.slice())), proofOfKnowledge: pub.proofOfKnowledge.slice() };
  const digest = round1Digest(unsigned);
  const signature = cfg.authenticator?.sign(broadcastSignedBytes(digest));
  const own: DkgRound1Message = Object.freeze(signature === undefined ? unsigned : { ...unsigned, signature });
  const signatures = new Map<PartyId, Uint8Array>(signature === undefined ? [] : [[cfg.self, signature]]);
  const state: DkgState = { config: cfg, own, received: new Map(), digests: new Map([[cfg.self, digest]]), signatures, secret: new Secret(secret), outgoing: undefined, step: 'round1' };
  return { state, broadcast: own };
}

/** Step 2: checks the n−1 round-1 messages (each culprit named) and returns our echo of them. */
export function dkgEcho(state: DkgState, messages: readonly DkgRound1Message[]): EchoMessage {
  if (state.step !== 'round1') throw frostError('E_MPC_SHAPE', 'DKG echo step run out of order', { step: state.step });
  const { config: cfg } = state;
  if (messages.length !== cfg.parties.length - 1) {
    throw frostError('E_MPC_SHAPE', `expected ${cfg.parties.length - 1} round-1 messages, got ${messages.length}`, { sessionId: cfg.sessionId });
  }
  const received = new Map<PartyId, DkgRound1Message>();
  for (const m of messages) {
    checkRound1Message(cfg, m, received);
    received.set(m.from, m);
  }
  // B28 and element checks: the library's DKG round 2 validates every
  // package (encodings, identity, subgroup, PoK) and computes our shares; the
  // shares stay here until the echo check passes. On failure, name the culprits.
  const suite = frostSuite(cfg.suite);
  const list = [...received.values()];
  let outgoing: Record<string, DKG_Round2>;
  try {
    outgoing = suite.frost.DKG.round2(state.secret.expose(), list.map((m) => toLibraryRound1(cfg, m)));
  } catch {
    throw round1Culprits(cfg, list);
  }
  state.outgoing = new Secret(outgoing);
  checkRogueKeys(cfg, [state.own, ...received.values()]);
  const digests = new Map(state.digests);
  const signatures = new Map(state.signatures);
  for (const [p, m] of received) {
    digests.set(p, round1Digest(m));
    if (m.signature !== undefined) signatures.set(p, m.signature);
  }
  Object.assign(state, { received, digests, signatures });
  state.step = 'echoed';
  return createEcho(cfg.sessionId, ROUND1, cfg.self, digests, cfg.authenticator === undefined ? undefined : signatures);
}

/** Step 3: checks the echoes (F05) and returns one secret share message per peer. */
export function dkgShares(state: DkgState, echoes: readonly EchoMessage[]): DkgShareMessage[] {
  if (state.step !== 'echoed') throw frostError('E_MPC_SHAPE', 'DKG share step run out of order', { step: state.step });
  const { config: cfg } = state;
  const view = cfg.authenticator === undefined ? { digests: state.digests } : { digests: state.digests, signatures: state.signatures, authenticator: cfg.authenticator };
  checkEchoes(cfg.sessionId, ROUND1, cfg.self, cfg.parties, view, echoes);
  const suite = frostSuite(cfg.suite);
  const out = state.outgoing?.expose();
  if (out === undefined) throw new Error('DKG state lost its round-2 shares');
  state.step = 'shared';
  return cfg.parties
    .filter((p) => p !== cfg.self)
    .map((to) => {
      const pkg = out[libraryIdentifier(suite, to)];
      if (pkg === undefined) throw new Error('library produced no share for a committee member');
      return Object.freeze({ sessionId: cfg.sessionId, from: cfg.self, to, signingShare: new Secret(pkg.signingShare.slice()) });
    });
}

/** Step 4: checks each received share against its sender's commitment and derives our key share. */
export function dkgFinish(state: DkgState, shares: readonly DkgShareMessage[]): FrostKeyShare {
  if (state.step !== 'shared') throw frostError('E_MPC_SHAPE', 'DKG finish step run out of order', { step: state.step });
  const { config: cfg } = state;
  const suite = frostSuite(cfg.suite);
  if (shares.length !== cfg.parties.length - 1) throw frostError('E_MPC_SHAPE', `expected ${cfg.parties.length - 1} shares, got ${shares.length}`, { sessionId: cfg.sessionId });
  const seen = new Set<number>();
  for (const s of shares) {
    if (s.sessionId !== cfg.sessionId) throw frostError('E_SESSION_MISMATCH', 'share belongs to another session', { sessionId: cfg.sessionId, party: s.from });
    if (s.to !== cfg.self) throw frostError('E_PARTY_ID_INVALID', 'share addressed to another party', { sessionId: cfg.sessionId, party: s.from });
    const sender = state.received.get(s.from);
    if (sender === undefined || seen.has(s.from)) throw frostError('E_PARTY_ID_INVALID', `unexpected share from party ${s.from}`, { sessionId: cfg.sessionId, party: s.from });
    seen.add(s.from);
    try {
      suite.group.decodeScalar(s.signingShare.expose(), 'signingShare');
    } catch {
      throw frostError('E_DKG_SHARE_INVALID', `party ${s.from} sent a malformed share`, { sessionId: cfg.sessionId, party: s.from });
    }
  }
  const round1 = [...state.received.values()].map((m) => toLibraryRound1(cfg, m));
  const round2 = shares.map((s) => ({ identifier: libraryIdentifier(suite, s.from), signingShare: Uint8Array.from(s.signingShare.expose()) }));
  let key: Key;
  try {
    // The library checks every share against its sender's commitment (vss_verify).
    key = suite.frost.DKG.round3(state.secret.expose(), round1, round2);
  } catch {
    // Name the sender(s) whose share fails vss_verify.
    for (const s of shares) checkShareAgainstCommitment(cfg, state.received.get(s.from)!, s);
    throw frostError('E_DKG_SHARE_INVALID', 'the DKG shares were refused', { sessionId: cfg.sessionId });
  }
  suite.frost.DKG.clean(state.secret.expose());
  state.step = 'done';
  let share = fromLibraryKey(cfg.suite, cfg.self, cfg.parties, key);
  key.secret.signingShare.fill(0);
  for (const r of round2) r.signingShare.fill(0);
  if (cfg.suite === 'frost-secp256k1-tr') share = untweakDkgShare(share, internalKey(cfg, [state.own, ...state.received.values()]));
  return share;
}

function checkRound1Message(cfg: DkgConfig, m: DkgRound1Message, received: ReadonlyMap<PartyId, DkgRound1Message>): void {
  const suite = frostSuite(cfg.suite);
  if (m.sessionId !== cfg.sessionId) throw frostError('E_SESSION_MISMATCH', 'round-1 message belongs to another session', { sessionId: cfg.sessionId, party: m.from });
  const from = parsePartyId(m.from, suite.group.Fn.ORDER, 'from');
  if (!cfg.parties.includes(from) || from === cfg.self || received.has(from)) {
    throw frostError('E_PARTY_ID_INVALID', `unexpected round-1 message from party ${from}`, { sessionId: cfg.sessionId, party: from });
  }
  if (cfg.authenticator !== undefined && (m.signature === undefined || !cfg.authenticator.verify(from, broadcastSignedBytes(round1Digest(m)), m.signature))) {
    throw frostError('E_BROADCAST_SIGNATURE_INVALID', `party ${from}'s round-1 message is not signed by it`, { sessionId: cfg.sessionId, party: from });
  }
  if (!(m.proofOfKnowledge instanceof Uint8Array) || m.proofOfKnowledge.length !== PROOF_BYTES[cfg.suite]) {
    // B31: an empty (or truncated) proof is a shape error, before any verification.
    throw frostError('E_MPC_SHAPE', `party ${from} sent a proof of knowledge of the wrong length`, { sessionId: cfg.sessionId, party: from });
  }
  if (!Array.isArray(m.commitment) || m.commitment.length !== cfg.threshold) {
    // B31: a longer vector would silently raise the threshold; a shorter one lower it.
    throw frostError('E_MPC_SHAPE', `party ${from} sent ${Array.isArray(m.commitment) ? m.commitment.length : 'no'} commitments, expected ${cfg.threshold}`, { sessionId: cfg.sessionId, party: from });
  }
}

// B28: a constant-term commitment that cancels another party's (C_j = −C_i), or
// a group key that is the identity, is refused even if its PoK checked out.
function checkRogueKeys(cfg: DkgConfig, all: readonly DkgRound1Message[]): void {
  const { group } = frostSuite(cfg.suite);
  const sorted = [...all].sort((a, b) => a.from - b.from);
  const points = sorted.map((m) => group.decodeElement(m.commitment[0]!, `party ${m.from} commitment[0]`));
  for (let i = 0; i < points.length; i++) {
    for (let j = 0; j < i; j++) {
      if (points[i]!.add(points[j]!).is0() || points[i]!.equals(points[j]!)) {
        throw frostError('E_DKG_POK_INVALID', `party ${sorted[i]!.from} copied or cancelled party ${sorted[j]!.from}'s commitment`, { sessionId: cfg.sessionId, party: sorted[i]!.from });
      }
    }
  }
  if (points.reduce((a, p) => a.add(p), group.zero).is0()) throw frostError('E_DKG_POK_INVALID', 'the group key would be the identity', { sessionId: cfg.sessionId });
}

// Called only after the library refused the batch: find and name each culprit.
function round1Culprits(cfg: DkgConfig, list: readonly DkgRound1Message[]): Error {
  const suite = frostSuite(cfg.suite);
  for (const m of list) m.commitment.forEach((c, i) => suite.group.decodeElement(c, `party ${m.from} commitment[${i}]`));
  const bad = findBadProofs(suite, cfg.threshold, list.map((m) => toLibraryRound1(cfg, m)), false);
  const parties = bad.map((i) => list[i]!.from);
  if (parties.length === 0) return frostError('E_DKG_POK_INVALID', 'the round-1 messages were refused', { sessionId: cfg.sessionId });
  return frostError('E_DKG_POK_INVALID', `party ${parties.join(', ')} sent an invalid proof of knowledge`, { sessionId: cfg.sessionId, party: parties[0], parties });
}

function checkShareAgainstCommitment(cfg: DkgConfig, sender: DkgRound1Message, s: DkgShareMessage): void {
  const suite = frostSuite(cfg.suite);
  const bad = frostError('E_DKG_SHARE_INVALID', `party ${s.from} sent a share that does not match its commitment`, { sessionId: cfg.sessionId, party: s.from });
  const bytes = s.signingShare.expose();
  try {
    suite.group.decodeScalar(bytes, 'signingShare');
  } catch {
    throw bad;
  }
  try {
    // RFC 9591 App. C.2 vss_verify, the library's implementation.
    suite.frost.validateSecret(
      { identifier: libraryIdentifier(suite, cfg.self), signingShare: Uint8Array.from(bytes) },
      { signers: { min: cfg.threshold, max: cfg.parties.length }, commitments: sender.commitment.map((c) => Uint8Array.from(c)), verifyingShares: {} },
    );
  } catch {
    throw bad;
  }
}

function toLibraryRound1(cfg: DkgConfig, m: DkgRound1Message): DKG_Round1 {
  const suite = frostSuite(cfg.suite);
  return { identifier: libraryIdentifier(suite, m.from), commitment: m.commitment.map((c) => Uint8Array.from(c)), proofOfKnowledge: Uint8Array.from(m.proofOfKnowledge) };
}

function round1Digest(m: DkgRound1Message): string {
  return transcriptDigest(ROUND1, [m.sessionId, m.from, m.commitment, m.proofOfKnowledge]);
}

function internalKey(cfg: DkgConfig, all: readonly DkgRound1Message[]): Uint8Array {
  const { group } = frostSuite(cfg.suite);
  return group.encodeElement(all.reduce((acc, m) => acc.add(group.decodeElement(m.commitment[0]!, 'commitment[0]')), group.zero));
}

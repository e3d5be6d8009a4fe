/**
 * Resharing to a new committee (another threshold, other parties — the path
 * for enclave upgrades), keeping the group public key (Desmedt–Jajodia /
 * Wong et al. redistribution). Ours, on the library's arithmetic.
 *
 * Each dealer i of an old signing set S (|S| ≥ t_old) turns its share into an
 * additive share w_i = λ_i^S · s_i and deals it with a fresh polynomial of
 * degree t_new−1. Anyone can check a dealer publicly: its commitment to
 * w_i must equal λ_i^S · Y_i (Y_i its old verifying share), so a dealer that
 * lies about its share is named (E_RESHARE_INVALID). Each new party adds its
 * sub-shares; the new commitment is the sum of the dealers' commitments.
 *
 *   reshareDeal   (old party)  → broadcast ReshareCommitMessage + one ReshareShareMessage per new party
 *   reshareEcho   (new party)  → check the dealers' broadcasts, echo them to the other new parties
 *   reshareFinish (new party)  → check echoes (F05) and sub-shares, return the new key share
 */
import type { Random } from '@custodian/core/clock';
import { Secret } from '@custodian/core/secret';
import { broadcastSignedBytes, type BroadcastAuthenticator } from './broadcast-auth.js';
import { checkEchoes, createEcho, type EchoMessage } from './echo.js';
import { frostError } from './errors.js';
import { publicPackageFromCommitments, validateKeyShare, type FrostKeyShare, type FrostPublicKeyPackage } from './key-package.js';
import { FROST_THRESHOLD_MIN } from './limits.js';
import { parseCommittee, type PartyId } from './party-id.js';
import { evaluateCommitment, evaluatePolynomial, lagrangeAtZero } from './polynomial.js';
import { checkSessionId } from './signing-messages.js';
import { frostSuite, libraryRng } from './suite.js';
import { transcriptDigest } from './transcript.js';

/** What every old and new party of one reshare agrees on. */
export interface ReshareConfig {
  readonly sessionId: string;
  /** The old key's public package. */
  readonly oldPackage: FrostPublicKeyPackage;
  /** The old parties that deal (at least the old threshold). */
  readonly dealers: readonly PartyId[];
  readonly newParties: readonly PartyId[];
  readonly newThreshold: number;
}

/** A dealer's broadcast: commitment (length t_new) to its resharing polynomial. */
export interface ReshareCommitMessage {
  readonly sessionId: string;
  readonly from: PartyId;
  readonly commitment: readonly Uint8Array[];
  /** The dealer's signature over the message digest, when broadcasts are signed. */
  readonly signature?: Uint8Array;
}

/** A dealer's sub-share for one new party (secret: seal it to that party). */
export interface ReshareShareMessage {
  readonly sessionId: string;
  readonly from: PartyId;
  readonly to: PartyId;
  readonly subShare: Secret<Uint8Array>;
}

/** A new party's state between echo and finish. */
export interface ReshareReceiverState {
  readonly config: ReshareConfig;
  readonly self: PartyId;
  readonly received: ReadonlyMap<PartyId, ReshareCommitMessage>;
  readonly digests: ReadonlyMap<PartyId, string>;
  readonly signatures: ReadonlyMap<PartyId, Uint8Array>;
  readonly authenticator?: BroadcastAuthenticator;
  step: 'echoed' | 'done';
}

const ROUND = 'reshare';

/** Validates a reshare configuration; dealers and new parties sorted and distinct. */
export function checkReshareConfig(config: ReshareConfig): ReshareConfig {
  checkSessionId(config.sessionId);
  const old = config.oldPackage;
  const q = frostSuite(old.suite).group.Fn.ORDER;
  const dealers = parseCommittee(config.dealers, q, 'dealers');
  const newParties = parseCommittee(config.newParties, q, 'newParties');
  for (const d of dealers) if (!old.parties.includes(d)) throw frostError('E_PARTY_ID_INVALID', `dealer ${d} is not in the old committee`, { party: d });
  if (dealers.length < old.threshold) throw frostError('E_MPC_SHAPE', `resharing needs at least ${old.threshold} dealers`, { dealers: dealers.length });
  if (!Number.isSafeInteger(config.newThreshold) || config.newThreshold < FROST_THRESHOLD_MIN || config.newThreshold > newParties.length) {
    throw frostError('E_MPC_SHAPE', `new threshold must satisfy ${FROST_THRESHOLD_MIN} ≤ t ≤ n`, { threshold: config.newThreshold, parties: newParties.length });
  }
  return Object.freeze({ sessionId: config.sessionId, oldPackage: old, dealers, newParties, newThreshold: config.newThreshold });
}

/** Old party: deals its Lagrange-weighted share to the new committee; signs the broadcast when given an authenticator. */
export function reshareDeal(config: ReshareConfig, share: FrostKeyShare, random: Random, authenticator?: BroadcastAuthenticator): { broadcast: ReshareCommitMessage; shares: ReshareShareMessage[] } {
  const cfg = checkReshareConfig(config);
  validateKeyShare(share);
  if (!cfg.dealers.includes(share.party)) throw frostError('E_PARTY_ID_INVALID', 'this party is not a dealer', { party: share.party });
  if (Buffer.compare(share.publicPackage.groupPublicKey, cfg.oldPackage.groupPublicKey) !== 0) throw frostError('E_RESHARE_INVALID', 'share belongs to another key', { party: share.party });
  const { group } = frostSuite(share.suite);
  const rng = libraryRng(random);
  const lambda = lagrangeAtZero(group, cfg.dealers.map(BigInt), BigInt(share.party));
  const w = group.Fn.mul(lambda, group.decodeScalar(share.signingShare.expose(), 'signingShare'));
  const coefficients = [w, ...Array.from({ length: cfg.newThreshold - 1 }, () => group.randomScalar(rng))];
  const commitment = coefficients.map((a) => group.encodeElement(group.base.multiply(a)));
  const shares = cfg.newParties.map((to) => Object.freeze({ sessionId: cfg.sessionId, from: share.party, to, subShare: new Secret(group.encodeScalar(evaluatePolynomial(group, coefficients, BigInt(to)))) }));
  coefficients.fill(0n);
  const unsigned: ReshareCommitMessage = { sessionId: cfg.sessionId, from: share.party, commitment: Object.freeze(commitment) };
  const signature = authenticator?.sign(broadcastSignedBytes(digest(unsigned)));
  return { broadcast: Object.freeze(signature === undefined ? unsigned : { ...unsigned, signature }), shares };
}

/** New party: checks every dealer's broadcast (and signature, given an authenticator) against the old public package; returns its echo. */
export function reshareEcho(config: ReshareConfig, self: PartyId, broadcasts: readonly ReshareCommitMessage[], authenticator?: BroadcastAuthenticator): { state: ReshareReceiverState; echo: EchoMessage } {
  const cfg = checkReshareConfig(config);
  if (!cfg.newParties.includes(self)) throw frostError('E_PARTY_ID_INVALID', 'this party is not in the new committee', { party: self });
  const old = cfg.oldPackage;
  const { group } = frostSuite(old.suite);
  if (broadcasts.length !== cfg.dealers.length) throw frostError('E_MPC_SHAPE', `expected ${cfg.dealers.length} dealer broadcasts, got ${broadcasts.length}`, { sessionId: cfg.sessionId });
  const received = new Map<PartyId, ReshareCommitMessage>();
  let sum = group.zero;
  for (const m of broadcasts) {
    if (m.sessionId !== cfg.sessionId) throw frostError('E_SESSION_MISMATCH', 'dealer broadcast belongs to another session', { sessionId: cfg.sessionId, party: m.from });
    if (!cfg.dealers.includes(m.from) || received.has(m.from)) throw frostError('E_PARTY_ID_INVALID', `unexpected dealer broadcast from party ${m.from}`, { sessionId: cfg.sessionId, party: m.from });
    if (authenticator !== undefined && (m.signature === undefined || !authenticator.verify(m.from, broadcastSignedBytes(digest(m)), m.signature))) {
      throw frostError('E_BROADCAST_SIGNATURE_INVALID', `dealer ${m.from}'s broadcast is not signed by it`, { sessionId: cfg.sessionId, party: m.from });
    }
    if (!Array.isArray(m.commitment) || m.commitment.length !== cfg.newThreshold) {
      throw frostError('E_MPC_SHAPE', `dealer ${m.from} sent ${Array.isArray(m.commitment) ? m.commitment.length : 'no'} commitments, expected ${cfg.newThreshold}`, { sessionId: cfg.sessionId, party: m.from });
    }
    const points = m.commitment.map((c, i) => group.decodeElement(c, `dealer ${m.from} commitment[${i}]`));
    // The dealer's constant term must be λ_i·Y_i: it dealt its real share, nothing else.
    const Y = group.decodeElement(old.verifyingShares.get(m.from) ?? new Uint8Array(0), `verifyingShares[${m.from}]`);
    const lambda = lagrangeAtZero(group, cfg.dealers.map(BigInt), BigInt(m.from));
    if (!points[0]!.equals(Y.multiplyUnsafe(lambda))) throw frostError('E_RESHARE_INVALID', `dealer ${m.from} did not deal its own share`, { sessionId: cfg.sessionId, party: m.from });
    sum = sum.add(points[0]!);
    received.set(m.from, m);
  }
  if (!sum.equals(group.decodeElement(old.groupPublicKey, 'groupPublicKey'))) throw frostError('E_RESHARE_INVALID', 'dealt shares do not add up to the group key', { sessionId: cfg.sessionId });
  const digests = new Map<PartyId, string>();
  const signatures = new Map<PartyId, Uint8Array>();
  for (const [p, m] of received) {
    digests.set(p, digest(m));
    if (m.signature !== undefined) signatures.set(p, m.signature);
  }
  const state: ReshareReceiverState = { config: cfg, self, received, digests, signatures, ...(authenticator === undefined ? {} : { authenticator }), step: 'echoed' };
  return { state, echo: createEcho(cfg.sessionId, ROUND, self, digests, authenticator === undefined ? undefined : signatures) };
}

/** New party: checks the other new parties' echoes and its sub-shares; returns its new key share. */
export function reshareFinish(state: ReshareReceiverState, echoes: readonly EchoMessage[], shares: readonly ReshareShareMessage[]): FrostKeyShare {
  if (state.step !== 'echoed') throw frostError('E_MPC_SHAPE', 'reshare finish step run out of order', { step: state.step });
  const { config: cfg, self } = state;
  const old = cfg.oldPackage;
  const { group } = frostSuite(old.suite);
  // Echo among the new committee, about the dealers' broadcasts.
  checkEchoes(cfg.sessionId, ROUND, self, cfg.newParties, state.authenticator === undefined ? { digests: state.digests } : { digests: state.digests, signatures: state.signatures, authenticator: state.authenticator }, echoes, cfg.dealers);
  if (shares.length !== cfg.dealers.length) throw frostError('E_MPC_SHAPE', `expected ${cfg.dealers.length} sub-shares, got ${shares.length}`, { sessionId: cfg.sessionId });
  let s = group.Fn.ZERO;
  const seen = new Set<number>();
  for (const m of shares) {
    if (m.sessionId !== cfg.sessionId) throw frostError('E_SESSION_MISMATCH', 'sub-share belongs to another session', { sessionId: cfg.sessionId, party: m.from });
    const dealer = state.received.get(m.from);
    if (dealer === undefined || m.to !== self || seen.has(m.from)) throw frostError('E_PARTY_ID_INVALID', `unexpected sub-share from party ${m.from}`, { sessionId: cfg.sessionId, party: m.from });
    seen.add(m.from);
    let v: bigint;
    try {
      v = group.decodeScalar(m.subShare.expose(), 'subShare');
    } catch {
      throw frostError('E_RESHARE_INVALID', `dealer ${m.from} sent a malformed sub-share`, { sessionId: cfg.sessionId, party: m.from });
    }
    const expected = evaluateCommitment(group, dealer.commitment.map((c) => group.decodeElement(c, 'commitment')), BigInt(self));
    if (!group.mulBase(v).equals(expected)) throw frostError('E_RESHARE_INVALID', `dealer ${m.from} sent a sub-share that does not match its commitment`, { sessionId: cfg.sessionId, party: m.from });
    s = group.Fn.add(s, v);
  }
  const commitments = Array.from({ length: cfg.newThreshold }, (_, k) =>
    group.encodeElement([...state.received.values()].reduce((a, m) => a.add(group.decodeElement(m.commitment[k]!, 'commitment')), group.zero)),
  );
  const publicPackage = publicPackageFromCommitments(old.suite, cfg.newParties, commitments);
  if (Buffer.compare(publicPackage.groupPublicKey, old.groupPublicKey) !== 0) throw new Error('reshare changed the group key despite checked dealers');
  const share: FrostKeyShare = Object.freeze({ suite: old.suite, party: self, publicPackage, signingShare: new Secret(group.encodeScalar(s)) });
  validateKeyShare(share);
  state.step = 'done';
  return share;
}

function digest(m: ReshareCommitMessage): string {
  return transcriptDigest(ROUND, [m.sessionId, m.from, m.commitment]);
}

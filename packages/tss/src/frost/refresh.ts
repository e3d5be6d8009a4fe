/**
 * Proactive share refresh (Herzberg et al., as in frost-rs `refresh`): every
 * party deals a random polynomial with constant term zero; each party adds
 * the sub-shares it receives to its share. The group key and every other
 * public property stay the same; old shares become useless together with new
 * ones. Ours, on the library's arithmetic. Steps (pure):
 *
 *   refreshStart  → broadcast RefreshCommitMessage + one RefreshShareMessage per peer (secret: seal with HPKE)
 *   refreshEcho   → check the n−1 broadcasts, return an EchoMessage
 *   refreshFinish → check echoes (F05) and sub-shares (culprit named), return the new key share
 *
 * The zero constant term is structural: the commitment carries only the
 * coefficients 1..t−1, so a sub-share from a polynomial whose constant is not
 * zero cannot match it and is refused with E_REFRESH_NOT_ZERO.
 */
import type { Random } from '@custodian/core/clock';
import { Secret } from '@custodian/core/secret';
import { broadcastSignedBytes, type BroadcastAuthenticator } from './broadcast-auth.js';
import { checkEchoes, createEcho, type EchoMessage } from './echo.js';
import { frostError } from './errors.js';
import { publicPackageFromCommitments, validateKeyShare, type FrostKeyShare } from './key-package.js';
import type { PartyId } from './party-id.js';
import type { GroupElement } from './group.js';
import { evaluateCommitment, evaluatePolynomial } from './polynomial.js';
import { checkSessionId } from './signing-messages.js';
import { frostSuite, libraryRng } from './suite.js';
import { transcriptDigest } from './transcript.js';

/** Refresh broadcast: commitments to coefficients 1..t−1 of a zero-constant polynomial. */
export interface RefreshCommitMessage {
  readonly sessionId: string;
  readonly from: PartyId;
  readonly commitment: readonly Uint8Array[];
  /** The sender's signature over the message digest, when broadcasts are signed. */
  readonly signature?: Uint8Array;
}

/** Refresh point-to-point message: the sender's polynomial evaluated at the receiver (secret). */
export interface RefreshShareMessage {
  readonly sessionId: string;
  readonly from: PartyId;
  readonly to: PartyId;
  readonly delta: Secret<Uint8Array>;
}

/** A party's refresh state between steps (secret). */
export interface RefreshState {
  readonly sessionId: string;
  readonly share: FrostKeyShare;
  readonly own: RefreshCommitMessage;
  readonly ownDelta: Secret<bigint>;
  received: ReadonlyMap<PartyId, RefreshCommitMessage>;
  digests: ReadonlyMap<PartyId, string>;
  signatures: ReadonlyMap<PartyId, Uint8Array>;
  readonly authenticator?: BroadcastAuthenticator;
  step: 'started' | 'echoed' | 'done';
}

const ROUND = 'refresh';

/** Step 1: deals a zero-constant polynomial over the committee; signs the broadcast when given an authenticator. */
export function refreshStart(share: FrostKeyShare, sessionId: string, random: Random, authenticator?: BroadcastAuthenticator): { state: RefreshState; broadcast: RefreshCommitMessage; shares: RefreshShareMessage[] } {
  checkSessionId(sessionId);
  validateKeyShare(share);
  const { group } = frostSuite(share.suite);
  const t = share.publicPackage.threshold;
  const rng = libraryRng(random);
  const coefficients = [group.Fn.ZERO, ...Array.from({ length: t - 1 }, () => group.randomScalar(rng))];
  const commitment = coefficients.slice(1).map((a) => group.encodeElement(group.base.multiply(a)));
  const unsigned: RefreshCommitMessage = { sessionId, from: share.party, commitment: Object.freeze(commitment) };
  const ownDigest = digest(unsigned);
  const signature = authenticator?.sign(broadcastSignedBytes(ownDigest));
  const broadcast: RefreshCommitMessage = Object.freeze(signature === undefined ? unsigned : { ...unsigned, signature });
  const shares = share.publicPackage.parties
    .filter((p) => p !== share.party)
    .map((to) => Object.freeze({ sessionId, from: share.party, to, delta: new Secret(group.encodeScalar(evaluatePolynomial(group, coefficients, BigInt(to)))) }));
  const ownDelta = new Secret(evaluatePolynomial(group, coefficients, BigInt(share.party)));
  coefficients.fill(0n);
  const state: RefreshState = {
    sessionId,
    share,
    own: broadcast,
    ownDelta,
    received: new Map(),
    digests: new Map([[share.party, ownDigest]]),
    signatures: new Map(signature === undefined ? [] : [[share.party, signature]]),
    ...(authenticator === undefined ? {} : { authenticator }),
    step: 'started',
  };
  return { state, broadcast, shares };
}

/** Step 2: checks the other parties' refresh broadcasts (session, membership, shape, elements) and returns our echo. */
export function refreshEcho(state: RefreshState, broadcasts: readonly RefreshCommitMessage[]): EchoMessage {
  if (state.step !== 'started') throw frostError('E_MPC_SHAPE', 'refresh echo step run out of order', { step: state.step });
  const pkg = state.share.publicPackage;
  const { group } = frostSuite(pkg.suite);
  if (broadcasts.length !== pkg.parties.length - 1) throw frostError('E_MPC_SHAPE', `expected ${pkg.parties.length - 1} refresh broadcasts, got ${broadcasts.length}`, { sessionId: state.sessionId });
  const received = new Map<PartyId, RefreshCommitMessage>();
  for (const m of broadcasts) {
    if (m.sessionId !== state.sessionId) throw frostError('E_SESSION_MISMATCH', 'refresh broadcast belongs to another session', { sessionId: state.sessionId, party: m.from });
    if (!pkg.parties.includes(m.from) || m.from === state.share.party || received.has(m.from)) throw frostError('E_PARTY_ID_INVALID', `unexpected refresh broadcast from party ${m.from}`, { sessionId: state.sessionId, party: m.from });
    if (state.authenticator !== undefined && (m.signature === undefined || !state.authenticator.verify(m.from, broadcastSignedBytes(digest(m)), m.signature))) {
      throw frostError('E_BROADCAST_SIGNATURE_INVALID', `party ${m.from}'s refresh broadcast is not signed by it`, { sessionId: state.sessionId, party: m.from });
    }
    if (!Array.isArray(m.commitment) || m.commitment.length !== pkg.threshold - 1) {
      throw frostError('E_MPC_SHAPE', `party ${m.from} sent ${Array.isArray(m.commitment) ? m.commitment.length : 'no'} refresh commitments, expected ${pkg.threshold - 1}`, { sessionId: state.sessionId, party: m.from });
    }
    m.commitment.forEach((c, i) => group.decodeElement(c, `party ${m.from} refresh commitment[${i + 1}]`));
    received.set(m.from, m);
  }
  const digests = new Map(state.digests);
  const signatures = new Map(state.signatures);
  for (const [p, m] of received) {
    digests.set(p, digest(m));
    if (m.signature !== undefined) signatures.set(p, m.signature);
  }
  state.received = received;
  state.digests = digests;
  state.signatures = signatures;
  state.step = 'echoed';
  return createEcho(state.sessionId, ROUND, state.share.party, digests, state.authenticator === undefined ? undefined : signatures);
}

/** Step 3: checks echoes and sub-shares; returns the refreshed key share (same group key). */
export function refreshFinish(state: RefreshState, echoes: readonly EchoMessage[], shares: readonly RefreshShareMessage[]): FrostKeyShare {
  if (state.step !== 'echoed') throw frostError('E_MPC_SHAPE', 'refresh finish step run out of order', { step: state.step });
  const { share, sessionId } = state;
  const pkg = share.publicPackage;
  const { group } = frostSuite(pkg.suite);
  checkEchoes(sessionId, ROUND, share.party, pkg.parties, state.authenticator === undefined ? { digests: state.digests } : { digests: state.digests, signatures: state.signatures, authenticator: state.authenticator }, echoes);
  if (shares.length !== pkg.parties.length - 1) throw frostError('E_MPC_SHAPE', `expected ${pkg.parties.length - 1} refresh shares, got ${shares.length}`, { sessionId });
  let sum = state.ownDelta.expose();
  const seen = new Set<number>();
  for (const m of shares) {
    if (m.sessionId !== sessionId) throw frostError('E_SESSION_MISMATCH', 'refresh share belongs to another session', { sessionId, party: m.from });
    const sender = state.received.get(m.from);
    if (sender === undefined || m.to !== share.party || seen.has(m.from)) throw frostError('E_PARTY_ID_INVALID', `unexpected refresh share from party ${m.from}`, { sessionId, party: m.from });
    seen.add(m.from);
    let delta: bigint;
    try {
      delta = group.decodeScalar(m.delta.expose(), 'delta');
    } catch {
      throw frostError('E_REFRESH_NOT_ZERO', `party ${m.from} sent a malformed refresh share`, { sessionId, party: m.from });
    }
    const expected = evaluateCommitment(group, [group.zero, ...decode(group, sender)], BigInt(share.party));
    if (!group.mulBase(delta).equals(expected)) {
      throw frostError('E_REFRESH_NOT_ZERO', `party ${m.from} sent a refresh share off its zero-constant polynomial`, { sessionId, party: m.from });
    }
    sum = group.Fn.add(sum, delta);
  }
  // New group polynomial commitment: C'_0 = C_0 (unchanged key), C'_k = C_k + Σ_i R_ik.
  const all = [state.own, ...state.received.values()];
  const commitments = pkg.commitments.map((c, k) => {
    if (k === 0) return c.slice();
    const acc = all.reduce((a, m) => a.add(group.decodeElement(m.commitment[k - 1]!, 'refresh commitment')), group.decodeElement(c, `commitments[${k}]`));
    return group.encodeElement(acc);
  });
  const publicPackage = publicPackageFromCommitments(pkg.suite, pkg.parties, commitments);
  const oldShare = group.decodeScalar(share.signingShare.expose(), 'signingShare');
  const refreshed: FrostKeyShare = Object.freeze({ suite: share.suite, party: share.party, publicPackage, signingShare: new Secret(group.encodeScalar(group.Fn.add(oldShare, sum))) });
  validateKeyShare(refreshed);
  state.step = 'done';
  return refreshed;
}

function decode(group: ReturnType<typeof frostSuite>['group'], m: RefreshCommitMessage): GroupElement[] {
  return m.commitment.map((c, i) => group.decodeElement(c, `party ${m.from} refresh commitment[${i + 1}]`));
}

function digest(m: RefreshCommitMessage): string {
  return transcriptDigest(ROUND, [m.sessionId, m.from, m.commitment]);
}

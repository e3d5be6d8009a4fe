/**
 * Echo broadcast (THREATS.md F05): after a broadcast round every party sends
 * every other party the digest of each broadcast message it received (and,
 * with a BroadcastAuthenticator, the sender's signature over it). When the
 * digests for one sender differ between recipients the session aborts with
 * E_BROADCAST_EQUIVOCATION: with signatures, naming the sender only when it
 * provably signed two different messages (both kept as evidence), and naming
 * a reporter that forwards an unsigned digest (E_ECHO_FORGED); without
 * signatures the sender is named as the suspect, `attributable: false`.
 * Pure functions.
 */
import { bytesToHex } from '@custodian/core/bytes';
import { broadcastSignedBytes, type BroadcastAuthenticator } from './broadcast-auth.js';
import { frostError } from './errors.js';
import type { PartyId } from './party-id.js';

/** One party's view of a broadcast round: the digest (and signature) it received from each sender, its own included. */
export interface EchoMessage {
  readonly sessionId: string;
  /** Which broadcast round this echoes (e.g. `dkg-round1`, `refresh`). */
  readonly round: string;
  readonly from: PartyId;
  readonly digests: Readonly<Record<number, string>>;
  /** Senders' signatures over their digests, when broadcasts are signed. */
  readonly signatures?: Readonly<Record<number, Uint8Array>>;
}

/** Builds this party's echo from the digests (and signatures) it holds. */
export function createEcho(sessionId: string, round: string, from: PartyId, digests: ReadonlyMap<PartyId, string>, signatures?: ReadonlyMap<PartyId, Uint8Array>): EchoMessage {
  const out: Record<number, string> = {};
  for (const [p, d] of [...digests].sort((a, b) => a[0] - b[0])) out[p] = d;
  if (signatures === undefined) return Object.freeze({ sessionId, round, from, digests: Object.freeze(out) });
  const sigs: Record<number, Uint8Array> = {};
  for (const [p, s] of [...signatures].sort((a, b) => a[0] - b[0])) sigs[p] = s;
  return Object.freeze({ sessionId, round, from, digests: Object.freeze(out), signatures: Object.freeze(sigs) });
}

/** Our own view for `checkEchoes`: digests, and the verified signatures when broadcasts are signed. */
export interface EchoView {
  readonly digests: ReadonlyMap<PartyId, string>;
  readonly signatures?: ReadonlyMap<PartyId, Uint8Array>;
  readonly authenticator?: BroadcastAuthenticator;
}

/**
 * Compares the echoes of the n−1 other parties of `committee` with our own
 * view of the broadcasts of `senders` (the committee itself, or the dealers
 * of a reshare). Throws E_MPC_SHAPE for a missing, extra or duplicate echo,
 * E_SESSION_MISMATCH for another session's echo, E_ECHO_FORGED naming a
 * reporter whose differing digest carries no valid sender signature, and
 * E_BROADCAST_EQUIVOCATION naming the sender (detail: evidence).
 */
export function checkEchoes(
  sessionId: string,
  round: string,
  self: PartyId,
  committee: readonly PartyId[],
  mine: EchoView,
  echoes: readonly EchoMessage[],
  senders: readonly PartyId[] = committee,
): void {
  if (echoes.length !== committee.length - 1) {
    throw frostError('E_MPC_SHAPE', `expected ${committee.length - 1} echoes, got ${echoes.length}`, { sessionId, round });
  }
  const seen = new Set<number>();
  for (const e of echoes) {
    if (e.sessionId !== sessionId || e.round !== round) throw frostError('E_SESSION_MISMATCH', 'echo belongs to another session or round', { sessionId, party: e.from });
    if (!committee.includes(e.from) || e.from === self || seen.has(e.from)) throw frostError('E_PARTY_ID_INVALID', `unexpected echo from party ${e.from}`, { sessionId, party: e.from });
    seen.add(e.from);
    const keys = Object.keys(e.digests);
    if (keys.length !== senders.length) throw frostError('E_MPC_SHAPE', `echo from party ${e.from} covers ${keys.length} senders, expected ${senders.length}`, { sessionId, party: e.from });
  }
  for (const sender of senders) {
    const own = mine.digests.get(sender);
    if (own === undefined) throw new Error('our own echo view lacks a sender');
    for (const e of echoes) {
      const theirs = e.digests[sender];
      if (theirs === own) continue;
      blame(sessionId, round, self, sender, own, e, theirs, mine);
    }
  }
}

function blame(sessionId: string, round: string, self: PartyId, sender: PartyId, own: string, e: EchoMessage, theirs: string | undefined, mine: EchoView): never {
  const auth = mine.authenticator;
  const ownSig = mine.signatures?.get(sender);
  if (auth === undefined || ownSig === undefined) {
    throw frostError('E_BROADCAST_EQUIVOCATION', `party ${sender} sent different ${round} messages to different parties (unsigned broadcasts: suspect, not proven)`, {
      sessionId,
      round,
      party: sender,
      attributable: false,
      evidence: [
        { reporter: self, digest: own },
        { reporter: e.from, digest: theirs ?? null },
      ],
    });
  }
  const theirSig = e.signatures?.[sender];
  if (theirs === undefined || theirSig === undefined || sender === e.from || !auth.verify(sender, broadcastSignedBytes(theirs), theirSig)) {
    // The reporter forwarded a digest the sender never signed: the reporter lied.
    throw frostError('E_ECHO_FORGED', `party ${e.from} echoed a ${round} message that party ${sender} never signed`, { sessionId, round, party: e.from, about: sender });
  }
  throw frostError('E_BROADCAST_EQUIVOCATION', `party ${sender} signed two different ${round} messages`, {
    sessionId,
    round,
    party: sender,
    attributable: true,
    evidence: [
      { reporter: self, digest: own, signature: bytesToHex(ownSig) },
      { reporter: e.from, digest: theirs, signature: bytesToHex(theirSig) },
    ],
  });
}

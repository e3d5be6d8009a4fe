/**
 * Echo broadcast (THREATS.md F05): after a broadcast round every party sends
 * every other party the digest of each broadcast message it received. A
 * sender whose message digests differ between recipients equivocated: the
 * session aborts with E_BROADCAST_EQUIVOCATION naming it. Pure functions.
 */
import { frostError } from './errors.js';
import type { PartyId } from './party-id.js';

/** One party's view of a broadcast round: the digest it received from each sender (its own included). */
export interface EchoMessage {
  readonly sessionId: string;
  /** Which broadcast round this echoes (e.g. `dkg-round1`, `refresh`). */
  readonly round: string;
  readonly from: PartyId;
  readonly digests: Readonly<Record<number, string>>;
}

/** Builds this party's echo from the digests it computed. */
export function createEcho(sessionId: string, round: string, from: PartyId, digests: ReadonlyMap<PartyId, string>): EchoMessage {
  const out: Record<number, string> = {};
  for (const [p, d] of [...digests].sort((a, b) => a[0] - b[0])) out[p] = d;
  return Object.freeze({ sessionId, round, from, digests: Object.freeze(out) });
}

/**
 * Compares the echoes of the n−1 other parties of `committee` with our own
 * view of the broadcasts of `senders` (the committee itself, or the dealers of a reshare). Throws
 * E_MPC_SHAPE for a missing, extra or duplicate echo, E_SESSION_MISMATCH for
 * another session's echo, and E_BROADCAST_EQUIVOCATION naming the sender whose
 * digests differ (detail carries every reporter's digest as evidence).
 */
export function checkEchoes(
  sessionId: string,
  round: string,
  self: PartyId,
  committee: readonly PartyId[],
  mine: ReadonlyMap<PartyId, string>,
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
    const own = mine.get(sender);
    const views = echoes.map((e) => ({ reporter: e.from, digest: e.digests[sender] }));
    if (own === undefined || views.some((v) => v.digest !== own)) {
      throw frostError('E_BROADCAST_EQUIVOCATION', `party ${sender} sent different ${round} messages to different parties`, {
        sessionId,
        round,
        party: sender,
        evidence: [{ reporter: self, digest: own ?? null }, ...views.map((v) => ({ reporter: v.reporter, digest: v.digest ?? null }))],
      });
    }
  }
}

/**
 * A robust signing coordinator (THREATS.md F04, ROAST-style): it picks t
 * signers, runs the two rounds, and when a signer is silent or sends an
 * invalid share it names it, excludes it and retries with another t-subset
 * under a fresh session id. Each attempt excludes at least one party, so at
 * most n−t+1 sessions run; with fewer than t responsive honest signers it
 * stops with E_QUORUM_UNAVAILABLE and nothing is signed. The transport is
 * injected: the lead wires it to the relay; tests wire it to local signers.
 */
import { CustodianError } from '@custodian/core/errors';
import { aggregateSignature, createSigningPackage, verifySignatureShare } from './coordinator.js';
import { frostError } from './errors.js';
import type { FrostPublicKeyPackage } from './key-package.js';
import type { PartyId } from './party-id.js';
import type { SignatureShare, SigningCommitment, SigningPackage } from './signing-messages.js';

/** How the coordinator reaches signers; a rejected promise (e.g. a timeout) means the signer is unresponsive. */
export interface SigningTransport {
  /** Asks `party` for a round-one commitment for `sessionId`. */
  commit(party: PartyId, sessionId: string): Promise<SigningCommitment>;
  /** Sends `party` the round-two package and awaits its signature share. */
  sign(party: PartyId, signing: SigningPackage): Promise<SignatureShare>;
}

/** Why a signer was excluded (for the audit log: `signer.unresponsive` / `mpc.blame`). */
export interface SignerBlame {
  readonly party: PartyId;
  readonly sessionId: string;
  readonly reason: 'unresponsive' | 'invalid-commitment' | 'invalid-share';
  readonly code: string;
}

/** The outcome of a robust signing run. */
export interface RobustSigningResult {
  readonly signature: Uint8Array;
  readonly signers: readonly PartyId[];
  readonly sessionId: string;
  readonly sessions: number;
  readonly blamed: readonly SignerBlame[];
}

/** Options of `signRobustly`. */
export interface RobustSigningOptions {
  readonly publicPackage: FrostPublicKeyPackage;
  readonly message: Uint8Array;
  readonly transport: SigningTransport;
  /** Returns a fresh, unique session id for attempt `attempt` (0-based). */
  readonly sessionIdFor: (attempt: number) => string;
  /** Preferred order of signers; defaults to the committee order. */
  readonly candidates?: readonly PartyId[];
}

/** Runs signing attempts until one succeeds or fewer than t candidates remain. */
export async function signRobustly(options: RobustSigningOptions): Promise<RobustSigningResult> {
  const { publicPackage: pkg, transport } = options;
  const available = [...(options.candidates ?? pkg.parties)].filter((p) => pkg.parties.includes(p));
  const blamed: SignerBlame[] = [];
  const maxSessions = pkg.parties.length - pkg.threshold + 1;
  for (let attempt = 0; attempt < maxSessions; attempt++) {
    if (available.length < pkg.threshold) break;
    const chosen = available.slice(0, pkg.threshold);
    const sessionId = options.sessionIdFor(attempt);
    const failed = await runAttempt(pkg, options.message, transport, sessionId, chosen);
    if ('signature' in failed) {
      return Object.freeze({ signature: failed.signature, signers: chosen, sessionId, sessions: attempt + 1, blamed: Object.freeze(blamed) });
    }
    for (const b of failed.blame) {
      blamed.push(b);
      const i = available.indexOf(b.party);
      if (i >= 0) available.splice(i, 1);
    }
  }
  throw frostError('E_QUORUM_UNAVAILABLE', `fewer than ${pkg.threshold} responsive honest signers; nothing was signed`, {
    threshold: pkg.threshold,
    blamed: blamed.map((b) => ({ party: b.party, reason: b.reason, sessionId: b.sessionId })),
  });
}

async function runAttempt(
  pkg: FrostPublicKeyPackage,
  message: Uint8Array,
  transport: SigningTransport,
  sessionId: string,
  chosen: readonly PartyId[],
): Promise<{ signature: Uint8Array } | { blame: SignerBlame[] }> {
  const blame: SignerBlame[] = [];
  const commitments: SigningCommitment[] = [];
  const round1 = await Promise.allSettled(chosen.map((p) => transport.commit(p, sessionId)));
  round1.forEach((r, i) => {
    const party = chosen[i]!;
    if (r.status === 'rejected') blame.push({ party, sessionId, reason: 'unresponsive', code: codeOf(r.reason, 'E_SIGNER_UNRESPONSIVE') });
    else if (r.value.party !== party || r.value.sessionId !== sessionId) blame.push({ party, sessionId, reason: 'invalid-commitment', code: 'E_SESSION_MISMATCH' });
    else commitments.push(r.value);
  });
  if (blame.length > 0) return { blame };
  let signing: SigningPackage;
  try {
    signing = createSigningPackage(pkg, sessionId, message, commitments);
  } catch (e) {
    const party = e instanceof CustodianError && typeof e.detail['party'] === 'number' ? (e.detail['party'] as PartyId) : undefined;
    if (party === undefined) throw e;
    return { blame: [{ party, sessionId, reason: 'invalid-commitment', code: codeOf(e, 'E_FROST_ELEMENT_INVALID') }] };
  }
  const round2 = await Promise.allSettled(chosen.map((p) => transport.sign(p, signing)));
  const shares: SignatureShare[] = [];
  round2.forEach((r, i) => {
    const party = chosen[i]!;
    if (r.status === 'rejected') return void blame.push({ party, sessionId, reason: 'unresponsive', code: codeOf(r.reason, 'E_SIGNER_UNRESPONSIVE') });
    try {
      if (r.value.party !== party) throw frostError('E_SIGNER_NOT_IN_SET', 'share answered by another party', { party });
      verifySignatureShare(pkg, signing, r.value);
      shares.push(r.value);
    } catch (e) {
      blame.push({ party, sessionId, reason: 'invalid-share', code: codeOf(e, 'E_SIGNATURE_SHARE_INVALID') });
    }
  });
  if (blame.length > 0) return { blame };
  return { signature: aggregateSignature(pkg, signing, shares) };
}

function codeOf(e: unknown, fallback: string): string {
  return e instanceof CustodianError ? e.code : fallback;
}

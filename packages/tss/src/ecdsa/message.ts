/**
 * The envelope of every protocol message and the round collector. The relay
 * moves envelopes; a party accepts a round only when it holds exactly one
 * message from every expected peer, each for this session, protocol and round
 * (E_SESSION_MISMATCH names the sender of a replay from another session,
 * L08), addressed to it, from a known party (E_PARTY_UNKNOWN), and nothing
 * more or less (E_MPC_SHAPE, B31).
 */
import { bytesToHex, equalBytes } from '@custodian/core/bytes';
import { blame, fail } from './errors.js';
import { SESSION_ID_BYTES } from './limits.js';

/** The protocols that exchange messages. */
export type EcdsaProtocol = 'dkg' | 'sign';

/** One point-to-point protocol message (broadcast values are sent to each peer and echo-checked). */
export interface EcdsaMessage {
  readonly sessionId: Uint8Array;
  readonly protocol: EcdsaProtocol;
  readonly round: number;
  readonly from: bigint;
  readonly to: bigint;
  readonly body: Uint8Array;
}

/** What a party expects for one round. */
export interface RoundExpectation {
  readonly sessionId: Uint8Array;
  readonly protocol: EcdsaProtocol;
  readonly round: number;
  readonly self: bigint;
  readonly peers: readonly bigint[];
}

/** Checks a session id's shape. */
export function checkSessionId(sessionId: Uint8Array): void {
  if (!(sessionId instanceof Uint8Array) || sessionId.length !== SESSION_ID_BYTES) {
    fail('E_MPC_SHAPE', `session id must be ${SESSION_ID_BYTES} bytes`);
  }
}

/** Validates one round's inbound messages; returns the bodies keyed by sender. */
export function collectRound(inbound: readonly EcdsaMessage[], exp: RoundExpectation): Map<bigint, Uint8Array> {
  const peers = new Set(exp.peers);
  const out = new Map<bigint, Uint8Array>();
  for (const m of inbound) {
    if (!peers.has(m.from)) fail('E_PARTY_UNKNOWN', `a message claims to come from party ${String(m.from)}, which is not in this session`, { from: String(m.from) });
    if (!equalBytes(m.sessionId, exp.sessionId) || m.protocol !== exp.protocol) {
      blame('E_SESSION_MISMATCH', m.from, 'sent a message for another session', { expected: bytesToHex(exp.sessionId), actual: bytesToHex(m.sessionId) });
    }
    if (m.round !== exp.round) blame('E_SESSION_MISMATCH', m.from, `sent a round ${m.round} message where round ${exp.round} is expected`);
    if (m.to !== exp.self) blame('E_SESSION_MISMATCH', m.from, 'sent a message addressed to another party', { to: String(m.to) });
    if (out.has(m.from)) blame('E_MPC_SHAPE', m.from, 'sent two messages for one round');
    out.set(m.from, m.body);
  }
  if (out.size !== peers.size) {
    fail('E_MPC_SHAPE', `round ${exp.round} needs one message from each of ${peers.size} peers, got ${out.size}`, {
      missing: exp.peers.filter((p) => !out.has(p)).map(String),
    });
  }
  return out;
}

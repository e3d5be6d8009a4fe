/**
 * Names and shapes of the threshold messages the host relays between signer
 * enclaves. Every protocol message travels inside an HPKE peer-channel
 * envelope sealed to the recipient's attested channel key
 * (hpke/peer-channel.ts); the host sees only the envelope's routing header
 * and ciphertext.
 *
 * Each enclave publishes its channel key in a `peer-key.v1` statement signed
 * by its attested identity key (`hello.peerKey`, beside its note keys), and
 * accepts a peer's key only from a peer whose evidence it verified in
 * `peers.install` (each peer entry carries that statement as `peerKey`).
 *
 * Host → each participant (enclave operations):
 *   mpc.open  { kind: 'dkg', request }                           key generation (admin's ecdsa-dkls wallet request)
 *   mpc.open  { kind: 'sign', proposal, approvals, signers, combiner }
 *             → { nonce, participants }  (or { signed } for a request already signed)
 *   mpc.start { nonce, contributions: [{ signerId, nonce }] in party order }
 *             → { sessionId, outbox: [{ to, envelope }], done }
 *   mpc.step  { sessionId, inbox: [{ to, envelope }] }
 *             → { sessionId, outbox, done, result? }  (dkg: the signed wallet.v1
 *               statement; sign, combiner only: { requestId, signedTx, txHash })
 *   mpc.abort { key: nonce or sessionId } → { aborted }
 * Keygen takes start + 2 steps; signing start + 2 steps (+1 at the combiner).
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { CustodianError } from '@custodian/core/errors';
import { canonicalJsonBytes, type Json } from '@custodian/core/canonical-json';
import { Fields } from '@custodian/core/fields';
import { bytesToHex } from '@custodian/core/bytes';
import { decodePeerEnvelope } from './hpke/peer-envelope.js';

/** Statement kind binding a signer's HPKE peer-channel key to its identity key. */
export const PEER_KEY_KIND = 'peer-key.v1';
/** The threshold protocols a session runs. */
export const MPC_KINDS = ['dkg', 'sign', 'refresh'] as const;
/** A session's protocol. */
export type MpcKind = (typeof MPC_KINDS)[number];
/** Most envelopes one `mpc.step` carries in or out (one per peer). */
export const MPC_ENVELOPES_MAX = 16;
/** Longest envelope text (canonical JSON of the HPKE envelope). */
export const MPC_ENVELOPE_CHARS_MAX = 3 * 1024 * 1024;
/** Bytes of a participant's session-id contribution. */
export const MPC_NONCE_BYTES = 32;

/** One sealed message on its way to `to`. */
export interface RelayedEnvelope {
  readonly to: string;
  readonly envelope: string;
}

/**
 * The session id every participant derives alike: the hash of the protocol,
 * the request it serves and every participant's fresh contribution, in
 * participant order. A participant whose own contribution is fresh knows the
 * session is new, whatever the others (or the host) chose.
 */
export function mpcSessionId(kind: MpcKind, requestHash: string, contributions: readonly { signerId: string; nonce: string }[]): Uint8Array {
  return sha256(canonicalJsonBytes({ domain: 'custodian/mpc-session/v1', kind, request: requestHash, contributions: contributions.map((c) => [c.signerId, c.nonce]) }));
}

/** The peer-channel session name of an MPC session (printable, as the channel requires). */
export function mpcChannelSession(sessionId: Uint8Array): string {
  return `mpc-${bytesToHex(sessionId)}`;
}

/** Encodes a relayed envelope list. */
export function encodeEnvelopes(list: readonly RelayedEnvelope[]): Json {
  return list.map((e) => ({ to: e.to, envelope: e.envelope }));
}

/** Decodes a relayed envelope list (untrusted); `to` is taken from the envelope's own header. */
export function decodeEnvelopes(json: Json, where: string): RelayedEnvelope[] {
  if (!Array.isArray(json) || json.length > MPC_ENVELOPES_MAX) throw new CustodianError('E_FIELD_INVALID', `${where} must be a list of at most ${MPC_ENVELOPES_MAX} envelopes`);
  return json.map((x, i) => {
    const f = new Fields(x, `${where}[${i}]`);
    const to = f.str('to', 64);
    const envelope = f.str('envelope', MPC_ENVELOPE_CHARS_MAX);
    f.done();
    if (envelopeHeader(envelope).to !== to) throw new CustodianError('E_FIELD_INVALID', `${where}[${i}] is routed to another signer than its envelope names`);
    return { to, envelope };
  });
}

/** The routing header of an envelope text (what the relay may read): sender, recipient, channel session, sequence. */
export function envelopeHeader(envelope: string): { from: string; to: string; sessionId: string; seq: number } {
  const e = decodePeerEnvelope(new TextEncoder().encode(envelope));
  return { from: e.from, to: e.to, sessionId: e.sessionId, seq: e.seq };
}

/**
 * An end-to-end encrypted, authenticated channel between enclaves over an
 * untrusted relay (DESIGN.md: the host sees ciphertext only). Each message is
 * one HPKE single-shot seal in Auth mode (RFC 9180 §5.1.3) from the sender's
 * static channel key to the recipient's, with the routed header (session,
 * sender, recipient, sequence number, enc) as associated data. The receiver
 * accepts per (session, sender) only strictly increasing sequence numbers, so
 * a replayed, reordered or tampered message is rejected.
 */
import { CustodianError } from '@custodian/core/errors';
import { bytesToHex } from '@custodian/core/bytes';
import { importPeerPublicKey } from './peer-key.js';
import { PEER_SUITE_NAME, peerSuite, type PeerKeyPair } from './peer-suite.js';
import { decodePeerEnvelope, encodePeerEnvelope, envelopeAad, isPeerName, PEER_ENVELOPE_VERSION, PEER_PLAINTEXT_BYTES_MAX, PEER_SEQ_MAX, type PeerEnvelope } from './peer-envelope.js';

/** HPKE `info`: the channel's domain tag (identities are bound through the AAD and the Auth-mode keys). */
export const PEER_CHANNEL_INFO = new TextEncoder().encode('custodian/peer-channel/v1');

/** A message that opened: who sent it, for which session, at which position, and its plaintext. */
export interface OpenedPeerMessage {
  readonly from: string;
  readonly sessionId: string;
  readonly seq: number;
  readonly plaintext: Uint8Array;
}

/** Options of a PeerChannel. */
export interface PeerChannelOptions {
  /** Our name (e.g. the enclave id the manifest lists). */
  readonly self: string;
  /** Our static channel key pair. */
  readonly keyPair: PeerKeyPair;
  /** The peers we talk to and their attested channel public keys. */
  readonly peers: ReadonlyMap<string, Uint8Array>;
}

/** The replay-relevant state of a channel, for sealing across restarts (sequence numbers only, no keys). */
export interface PeerChannelState {
  readonly sent: readonly (readonly [string, number])[];
  readonly accepted: readonly (readonly [string, number])[];
  readonly closed: readonly string[];
}

/** Most sessions whose counters one channel keeps. */
export const PEER_SESSIONS_MAX = 100_000;

/**
 * One enclave's end of the peer channels to all its peers. State: outgoing
 * and highest-accepted sequence numbers per (session, peer), and closed
 * sessions. Seal `exportState()` with the enclave's state and pass it back
 * on restart, or a restarted receiver would accept replays of messages of a
 * still-open session.
 */
export class PeerChannel {
  readonly #opts: PeerChannelOptions;
  readonly #sent = new Map<string, number>();
  readonly #accepted = new Map<string, number>();
  readonly #closed = new Set<string>();

  constructor(opts: PeerChannelOptions) {
    if (!isPeerName(opts.self)) throw new CustodianError('E_PEER_KEY_INVALID', 'invalid channel name');
    for (const name of opts.peers.keys()) if (!isPeerName(name) || name === opts.self) throw new CustodianError('E_PEER_KEY_INVALID', `invalid peer name ${JSON.stringify(name)}`);
    this.#opts = opts;
  }

  /** A channel restored from sealed state (see exportState). */
  static restore(opts: PeerChannelOptions, state: PeerChannelState): PeerChannel {
    const c = new PeerChannel(opts);
    if (state.sent.length + state.accepted.length + state.closed.length > 3 * PEER_SESSIONS_MAX) throw new CustodianError('E_PEER_STATE_INVALID', 'peer channel state is too large');
    for (const [k, n] of state.sent) c.#sent.set(k, n);
    for (const [k, n] of state.accepted) c.#accepted.set(k, n);
    for (const s of state.closed) c.#closed.add(s);
    return c;
  }

  /** The sequence-number state to seal across restarts. */
  exportState(): PeerChannelState {
    return { sent: [...this.#sent], accepted: [...this.#accepted], closed: [...this.#closed] };
  }

  /** Ends a session: its counters are dropped and any later message for it is refused (E_SESSION_CLOSED). */
  closeSession(sessionId: string): void {
    if (this.#closed.size >= PEER_SESSIONS_MAX) throw new CustodianError('E_PEER_STATE_INVALID', 'too many closed sessions remembered');
    this.#closed.add(sessionId);
    for (const m of [this.#sent, this.#accepted]) for (const k of [...m.keys()]) if (k.startsWith(`${sessionId}\n`)) m.delete(k);
  }

  /** Seals `plaintext` to peer `to` within `sessionId`; returns the envelope bytes to hand to the relay. */
  async seal(to: string, sessionId: string, plaintext: Uint8Array): Promise<Uint8Array> {
    const peerKey = this.#opts.peers.get(to);
    if (peerKey === undefined) throw new CustodianError('E_PEER_UNKNOWN', `no channel key for peer ${JSON.stringify(to)}`, { peer: to });
    if (!isPeerName(sessionId)) throw new CustodianError('E_SESSION_MISMATCH', 'invalid session id');
    if (plaintext.length > PEER_PLAINTEXT_BYTES_MAX) throw new CustodianError('E_PEER_MESSAGE_INVALID', 'peer message is too large', { bytes: plaintext.length });
    if (this.#closed.has(sessionId)) throw new CustodianError('E_SESSION_CLOSED', 'session is closed', { sessionId });
    const slot = `${sessionId}\n${to}`;
    const seq = this.#sent.get(slot) ?? 0;
    if (seq >= PEER_SEQ_MAX) throw new CustodianError('E_PEER_MESSAGE_INVALID', 'sequence numbers exhausted; start a new session');
    if (!this.#sent.has(slot) && this.#sent.size >= PEER_SESSIONS_MAX) throw new CustodianError('E_PEER_STATE_INVALID', 'too many open peer sessions; close finished ones');
    const sender = await peerSuite.createSenderContext({ recipientPublicKey: await importPeerPublicKey(peerKey), senderKey: this.#opts.keyPair.keyPair.expose(), info: PEER_CHANNEL_INFO });
    const header = { v: PEER_ENVELOPE_VERSION, suite: PEER_SUITE_NAME, sessionId, from: this.#opts.self, to, seq, enc: new Uint8Array(sender.enc) };
    const ct = new Uint8Array(await sender.seal(plaintext.slice(), envelopeAad(header)));
    this.#sent.set(slot, seq + 1);
    return encodePeerEnvelope({ ...header, ct });
  }

  /**
   * Opens envelope bytes from the relay. Refuses (typed errors): a malformed
   * envelope (E_PEER_MESSAGE_INVALID), one for someone else or from an unknown
   * peer (E_PEER_UNKNOWN), another session when `expectedSessionId` is given
   * (E_SESSION_MISMATCH), a failed authentication or decryption — tampering, a
   * forged sender (E_PEER_AUTH_FAILED) — and a replayed or reordered one (E_PEER_REPLAY).
   */
  async open(bytes: Uint8Array, expectedSessionId?: string): Promise<OpenedPeerMessage> {
    const env = decodePeerEnvelope(bytes);
    if (env.to !== this.#opts.self) throw new CustodianError('E_PEER_UNKNOWN', 'message is addressed to another enclave', { to: env.to });
    const senderKey = this.#opts.peers.get(env.from);
    if (senderKey === undefined) throw new CustodianError('E_PEER_UNKNOWN', `message from unknown peer ${JSON.stringify(env.from)}`, { peer: env.from });
    if (expectedSessionId !== undefined && env.sessionId !== expectedSessionId) {
      throw new CustodianError('E_SESSION_MISMATCH', 'message belongs to another session', { sessionId: expectedSessionId, other: env.sessionId, peer: env.from });
    }
    if (this.#closed.has(env.sessionId)) throw new CustodianError('E_SESSION_CLOSED', 'message for a closed session', { sessionId: env.sessionId, peer: env.from });
    const slot = `${env.sessionId}\n${env.from}`;
    const last = this.#accepted.get(slot);
    if (last !== undefined && env.seq <= last) throw new CustodianError('E_PEER_REPLAY', 'replayed or reordered peer message', { peer: env.from, sessionId: env.sessionId, seq: env.seq, last });
    const plaintext = await this.#decrypt(env, senderKey);
    if (last === undefined && this.#accepted.size >= PEER_SESSIONS_MAX) throw new CustodianError('E_PEER_STATE_INVALID', 'too many open peer sessions; close finished ones');
    this.#accepted.set(slot, env.seq);
    return Object.freeze({ from: env.from, sessionId: env.sessionId, seq: env.seq, plaintext });
  }

  async #decrypt(env: PeerEnvelope, senderKey: Uint8Array): Promise<Uint8Array> {
    try {
      const recipient = await peerSuite.createRecipientContext({
        recipientKey: this.#opts.keyPair.keyPair.expose(),
        enc: env.enc.slice(),
        senderPublicKey: await importPeerPublicKey(senderKey),
        info: PEER_CHANNEL_INFO,
      });
      return new Uint8Array(await recipient.open(env.ct.slice(), envelopeAad(env)));
    } catch {
      throw new CustodianError('E_PEER_AUTH_FAILED', 'peer message failed authentication (tampered, or not from the claimed sender)', { peer: env.from, sessionId: env.sessionId, enc: bytesToHex(env.enc) });
    }
  }
}

/**
 * Echo broadcast (F05). Values meant for everyone travel point to point, so
 * in the next round every party echoes what it received from each sender and
 * compares the echoes with its own copies.
 *
 * With a BroadcastAuthenticator (the parties' attested identity keys), every
 * broadcast is signed by its sender and echoed in full with that signature:
 * a mismatch then carries two different statements validly signed by the same
 * sender for the same session and round, which convicts that sender
 * (`detail.culprit`, both signed copies in `detail.evidence`); an echo whose
 * signature does not verify convicts the echoer. Nobody honest is blamed.
 *
 * Without one, echoes are digests and a mismatch about a third party only
 * names two suspects (`detail.suspects`: the sender or the echoer lies); the
 * culprit is named only when the echo concerns our own broadcast or the
 * echoer's own (then the echoer contradicts itself).
 */
import { bytesToHex, equalBytes } from '@custodian/core/bytes';
import { blame, fail } from './errors.js';
import { hashTranscript } from './transcript.js';
import { partyIdBytes } from './party-id.js';
import { Writer, type Reader } from './wire.js';
import type { EcdsaProtocol } from './message.js';

/** Bytes of an identity-key signature (BIP340 Schnorr or Ed25519). */
export const BROADCAST_SIGNATURE_BYTES = 64;
/** Longest broadcast part that an authenticated echo may carry. */
const BROADCAST_BYTES_MAX = 4096;

/** The parties' identity keys, injected by the enclave (never the host). */
export interface BroadcastAuthenticator {
  /** Signs `statement` with this party's identity key; 64 bytes. */
  sign(statement: Uint8Array): Uint8Array;
  /** True when `signature` is `party`'s signature on `statement`. */
  verify(party: bigint, statement: Uint8Array, signature: Uint8Array): boolean;
}

interface Entry {
  readonly broadcast: Uint8Array;
  readonly signature: Uint8Array;
}

/** Every sender's broadcast of one round, as this party received it. */
export class BroadcastBook {
  readonly #entries = new Map<bigint, Entry>();

  constructor(
    readonly sessionId: Uint8Array,
    readonly protocol: EcdsaProtocol,
    readonly round: number,
    readonly senders: readonly bigint[],
    readonly auth: BroadcastAuthenticator | undefined,
  ) {}

  #statement(sender: bigint, broadcast: Uint8Array): Uint8Array {
    return hashTranscript('custodian/ecdsa/broadcast/v1', this.sessionId, new Uint8Array([this.protocol === 'dkg' ? 0 : 1, this.round]), partyIdBytes(sender), broadcast);
  }

  /** Records our own broadcast; returns the bytes that follow it on the wire (its signature, or nothing). */
  own(self: bigint, broadcast: Uint8Array): Uint8Array {
    const signature = this.auth === undefined ? new Uint8Array(0) : this.auth.sign(this.#statement(self, broadcast));
    if (this.auth !== undefined && signature.length !== BROADCAST_SIGNATURE_BYTES) fail('E_MPC_SHAPE', 'the authenticator must return 64-byte signatures');
    this.#entries.set(self, { broadcast, signature });
    return signature;
  }

  /** Reads and checks the signature that follows `sender`'s broadcast, and records both. */
  receive(sender: bigint, broadcast: Uint8Array, rd: Reader): void {
    let signature: Uint8Array = new Uint8Array(0);
    if (this.auth !== undefined) {
      signature = rd.fixed(BROADCAST_SIGNATURE_BYTES, 'broadcastSignature');
      if (!this.auth.verify(sender, this.#statement(sender, broadcast), signature)) blame('E_BROADCAST_SIGNATURE_INVALID', sender, 'signed its broadcast with a signature that does not verify');
    }
    this.#entries.set(sender, { broadcast, signature });
  }

  #digest(sender: bigint, broadcast: Uint8Array): Uint8Array {
    return hashTranscript('custodian/ecdsa/echo/v1', this.sessionId, partyIdBytes(sender), broadcast);
  }

  /** The echo body: every sender's broadcast (signed, in full) or its digest, in `senders` order. */
  echo(): Uint8Array {
    const w = new Writer().count(this.senders.length);
    for (const s of this.senders) {
      const e = this.#entries.get(s)!;
      if (this.auth === undefined) w.fixed(this.#digest(s, e.broadcast));
      else w.count(e.broadcast.length).fixed(e.broadcast).fixed(e.signature);
    }
    return w.bytes();
  }

  /** Reads `from`'s echo and compares it with our copies (E_BROADCAST_EQUIVOCATION on a mismatch). */
  check(rd: Reader, from: bigint, self: bigint): void {
    rd.count('echo', this.senders.length);
    for (const s of this.senders) {
      const mine = this.#entries.get(s)!;
      if (this.auth === undefined) {
        if (!equalBytes(rd.fixed(32, 'echo'), this.#digest(s, mine.broadcast))) this.#unsignedMismatch(s, from, self);
        continue;
      }
      const len = rd.u16('echo.length');
      if (len > BROADCAST_BYTES_MAX) blame('E_MPC_SHAPE', from, 'echoed a broadcast that is too long');
      const theirs = { broadcast: rd.fixed(len, 'echo.broadcast'), signature: rd.fixed(BROADCAST_SIGNATURE_BYTES, 'echo.signature') };
      if (equalBytes(theirs.broadcast, mine.broadcast)) continue;
      if (!this.auth.verify(s, this.#statement(s, theirs.broadcast), theirs.signature)) {
        blame('E_BROADCAST_EQUIVOCATION', from, `echoed a broadcast of party ${s} that party ${s} never signed`, { sender: s.toString(), reportedBy: from.toString() });
      }
      blame('E_BROADCAST_EQUIVOCATION', s, `signed two different broadcasts for one round (to us and to party ${from})`, {
        sender: s.toString(),
        reportedBy: from.toString(),
        evidence: [mine, theirs].map((e) => ({ broadcast: bytesToHex(e.broadcast), signature: bytesToHex(e.signature) })),
      });
    }
  }

  #unsignedMismatch(sender: bigint, from: bigint, self: bigint): never {
    const detail = { sender: sender.toString(), reportedBy: from.toString() };
    if (sender === self || sender === from) blame('E_BROADCAST_EQUIVOCATION', from, `reports a broadcast of party ${sender} that differs from the one we know`, detail);
    return fail('E_BROADCAST_EQUIVOCATION', `party ${sender}'s broadcast differs between what we received and what party ${from} received; one of them is lying`, {
      ...detail,
      suspects: [sender.toString(), from.toString()],
    });
  }
}

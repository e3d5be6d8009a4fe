/**
 * How a signer's threshold-ECDSA messages cross the untrusted host: each
 * EcdsaMessage is sealed with the HPKE peer channel to the recipient's
 * attested channel key, and an opened envelope is accepted only when the
 * authenticated sender is the party the message claims to come from, it is
 * addressed to us, and it belongs to this session. Broadcasts are signed with
 * the enclaves' attested identity keys (echo.ts BroadcastAuthenticator).
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { CustodianError } from '@custodian/core/errors';
import { concatBytes, utf8 } from '@custodian/core/bytes';
import type { PeerChannel } from '@custodian/protocol/hpke/peer-channel';
import type { RelayedEnvelope } from '@custodian/protocol/mpc-relay';
import { decodeEcdsaMessage, encodeEcdsaMessage } from '@custodian/tss/ecdsa/message-codec';
import type { EcdsaMessage } from '@custodian/tss/ecdsa/message';
import type { BroadcastAuthenticator } from '@custodian/tss/ecdsa/echo';

const BROADCAST_DOMAIN = utf8('custodian/enclave/mpc-broadcast.v1\n');

/** The signer ids of a session's parties: party id i is `parties[i - 1]`. */
export class PartyMap {
  constructor(readonly parties: readonly string[]) {}

  /** The signer id of party `id` (E_PARTY_UNKNOWN when there is none). */
  signerOf(id: bigint): string {
    const s = this.parties[Number(id) - 1];
    if (id < 1n || s === undefined) throw new CustodianError('E_PARTY_UNKNOWN', `party ${id} is not in this wallet`, { party: id.toString() });
    return s;
  }

  /** The party id of `signerId` (E_PARTY_UNKNOWN when it is not a party). */
  idOf(signerId: string): bigint {
    const i = this.parties.indexOf(signerId);
    if (i < 0) throw new CustodianError('E_PARTY_UNKNOWN', `${signerId} is not a party of this wallet`, { signerId });
    return BigInt(i + 1);
  }
}

/** Seals each message to its recipient's channel key. */
export async function sealMessages(channel: PeerChannel, session: string, map: PartyMap, messages: readonly EcdsaMessage[]): Promise<RelayedEnvelope[]> {
  const out: RelayedEnvelope[] = [];
  for (const m of messages) {
    const to = map.signerOf(m.to);
    out.push({ to, envelope: new TextDecoder().decode(await channel.seal(to, session, encodeEcdsaMessage(m))) });
  }
  return out;
}

/**
 * Opens every envelope of an inbox: the channel refuses tampering, forged
 * senders, replays and other sessions; then the message inside must claim the
 * authenticated sender as its `from` and us as its `to`.
 */
export async function openMessages(channel: PeerChannel, session: string, map: PartyMap, self: bigint, inbox: readonly RelayedEnvelope[]): Promise<EcdsaMessage[]> {
  const out: EcdsaMessage[] = [];
  for (const e of inbox) {
    const opened = await channel.open(utf8(e.envelope), session);
    const m = decodeEcdsaMessage(opened.plaintext);
    if (map.signerOf(m.from) !== opened.from) throw new CustodianError('E_PEER_AUTH_FAILED', `${opened.from} sent a message claiming to come from party ${m.from}`, { culprit: opened.from });
    if (m.to !== self) throw new CustodianError('E_SESSION_MISMATCH', `${opened.from} sent a message for party ${m.to}`, { culprit: opened.from });
    out.push(m);
  }
  return out;
}

/** Broadcast signatures under the parties' attested identity keys (our secret; peers' verified keys). */
export function identityAuthenticator(map: PartyMap, identitySecret: Uint8Array, keyOf: (signerId: string) => Uint8Array | undefined): BroadcastAuthenticator {
  return {
    sign: (statement) => ed25519.sign(concatBytes(BROADCAST_DOMAIN, statement), identitySecret),
    verify: (party, statement, signature) => {
      try {
        const key = keyOf(map.signerOf(party));
        return key !== undefined && ed25519.verify(signature, concatBytes(BROADCAST_DOMAIN, statement), key, { zip215: false });
      } catch {
        return false;
      }
    },
  };
}

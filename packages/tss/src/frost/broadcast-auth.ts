/**
 * Transferable authentication of broadcast messages, injected by the caller
 * (the enclave signs with its attested identity key and verifies peers'
 * signatures against their attested keys). With it, an echo mismatch is
 * attributable (THREATS.md F05): two validly signed, different messages from
 * one sender prove that sender equivocated; a reported digest without a valid
 * signature proves the reporter lied. Without it, a mismatch aborts the
 * session but names only a suspect.
 */
import { utf8 } from '@custodian/core/bytes';
import type { PartyId } from './party-id.js';

/** Signs our broadcasts and verifies other parties' broadcast signatures. */
export interface BroadcastAuthenticator {
  /** Signs `message` with our identity key. */
  sign(message: Uint8Array): Uint8Array;
  /** Verifies `signature` by `party` over `message`; false for anything invalid. */
  verify(party: PartyId, message: Uint8Array, signature: Uint8Array): boolean;
}

/** The bytes a broadcast signature covers: a domain tag and the message's transcript digest. */
export function broadcastSignedBytes(digest: string): Uint8Array {
  return utf8(`custodian/frost/broadcast/v1\n${digest}`);
}

/**
 * Wire form of an EcdsaMessage for the host relay (inside the HPKE envelope):
 *
 *   version (1) ‖ protocol (1: 0 = dkg, 1 = sign) ‖ round (1) ‖ from (2) ‖
 *   to (2) ‖ sessionId (32) ‖ body length (4) ‖ body
 *
 * The decoder bounds the size first and refuses anything but this exact shape
 * (E_MPC_SHAPE) or a bad party id (E_PARTY_ID_INVALID).
 */
import { concatBytes } from '@custodian/core/bytes';
import { fail } from './errors.js';
import { MESSAGE_BODY_BYTES_MAX, SESSION_ID_BYTES } from './limits.js';
import { normalizePartyId, partyIdBytes } from './party-id.js';
import type { EcdsaMessage, EcdsaProtocol } from './message.js';

const VERSION = 1;
const HEADER_BYTES = 1 + 1 + 1 + 2 + 2 + SESSION_ID_BYTES + 4;
const PROTOCOLS: readonly EcdsaProtocol[] = ['dkg', 'sign'];
/** Highest round number any protocol here uses. */
const ROUND_MAX = 3;

/** Encodes a message for the relay. */
export function encodeEcdsaMessage(m: EcdsaMessage): Uint8Array {
  const head = new Uint8Array(HEADER_BYTES);
  const view = new DataView(head.buffer);
  head[0] = VERSION;
  head[1] = PROTOCOLS.indexOf(m.protocol);
  head[2] = m.round;
  head.set(partyIdBytes(m.from), 3);
  head.set(partyIdBytes(m.to), 5);
  head.set(m.sessionId, 7);
  view.setUint32(7 + SESSION_ID_BYTES, m.body.length);
  return concatBytes(head, m.body);
}

/** Decodes a relayed message (untrusted bytes). */
export function decodeEcdsaMessage(bytes: Uint8Array): EcdsaMessage {
  if (bytes.length < HEADER_BYTES || bytes.length > HEADER_BYTES + MESSAGE_BODY_BYTES_MAX) fail('E_MPC_SHAPE', 'protocol message has an impossible size', { length: bytes.length });
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes[0] !== VERSION) fail('E_MPC_SHAPE', 'unknown protocol message version', { version: bytes[0] });
  const protocol = PROTOCOLS[bytes[1]!];
  if (protocol === undefined) fail('E_MPC_SHAPE', 'unknown protocol', { protocol: bytes[1] });
  const round = bytes[2]!;
  if (round < 1 || round > ROUND_MAX) fail('E_MPC_SHAPE', 'round out of range', { round });
  const from = normalizePartyId(view.getUint16(3));
  const to = normalizePartyId(view.getUint16(5));
  const sessionId = bytes.slice(7, 7 + SESSION_ID_BYTES);
  const len = view.getUint32(7 + SESSION_ID_BYTES);
  if (len !== bytes.length - HEADER_BYTES) fail('E_MPC_SHAPE', 'protocol message length field does not match', { length: len });
  return { sessionId, protocol, round, from, to, body: bytes.slice(HEADER_BYTES) };
}

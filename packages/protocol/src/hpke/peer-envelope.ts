/**
 * The wire form of one peer-channel message: a canonical JSON object whose
 * header (everything but `ct`) is the AEAD associated data, so the host can
 * route it but cannot change who it is from, to, for which session or at
 * which sequence number without the open failing.
 */
import { bytesToHex, utf8 } from '@custodian/core/bytes';
import { canonicalJsonBytes, isCanonicalJson, parseJson } from '@custodian/core/canonical-json';
import { CustodianError } from '@custodian/core/errors';
import { Fields } from '@custodian/core/fields';
import { FRAME_BYTES_MAX } from '@custodian/core/limits';
import { PEER_SUITE_NAME } from './peer-suite.js';

/** Envelope format version. */
export const PEER_ENVELOPE_VERSION = 1;
/** Longest peer name (an enclave id) or session id, in characters. */
export const PEER_NAME_CHARS_MAX = 128;
/** Largest plaintext one envelope carries. */
export const PEER_PLAINTEXT_BYTES_MAX = 1024 * 1024;
/** Largest sequence number; a channel that reaches it must start a new session. */
export const PEER_SEQ_MAX = Number.MAX_SAFE_INTEGER;

const NAME_RE = /^[\x21-\x7e]+$/;

/** The routed, authenticated header of a peer message. */
export interface PeerEnvelopeHeader {
  readonly v: number;
  readonly suite: string;
  readonly sessionId: string;
  readonly from: string;
  readonly to: string;
  readonly seq: number;
  /** HPKE encapsulated key (32 bytes for X25519). */
  readonly enc: Uint8Array;
}

/** A header plus the HPKE ciphertext. */
export interface PeerEnvelope extends PeerEnvelopeHeader {
  readonly ct: Uint8Array;
}

/** The AEAD associated data for a header: its canonical JSON bytes under a domain tag. */
export function envelopeAad(h: PeerEnvelopeHeader): Uint8Array {
  return canonicalJsonBytes({ domain: 'custodian/peer-channel/v1', v: h.v, suite: h.suite, sessionId: h.sessionId, from: h.from, to: h.to, seq: h.seq, enc: bytesToHex(h.enc) });
}

/** Encodes an envelope as canonical JSON bytes. */
export function encodePeerEnvelope(e: PeerEnvelope): Uint8Array {
  return canonicalJsonBytes({ v: e.v, suite: e.suite, sessionId: e.sessionId, from: e.from, to: e.to, seq: e.seq, enc: bytesToHex(e.enc), ct: bytesToHex(e.ct) });
}

/** Decodes an envelope: size, then canonical JSON, then fields; throws E_PEER_MESSAGE_INVALID (or a field error). */
export function decodePeerEnvelope(bytes: Uint8Array): PeerEnvelope {
  if (bytes.length > FRAME_BYTES_MAX) throw new CustodianError('E_PEER_MESSAGE_INVALID', 'peer message is too large', { bytes: bytes.length });
  const json = parseJson(bytes, FRAME_BYTES_MAX);
  if (!isCanonicalJson(bytes)) throw new CustodianError('E_PEER_MESSAGE_INVALID', 'peer message is not canonical JSON');
  const f = new Fields(json, 'peerMessage');
  const v = f.int('v', PEER_ENVELOPE_VERSION, PEER_ENVELOPE_VERSION);
  const suite = f.str('suite', 128);
  if (suite !== PEER_SUITE_NAME) throw new CustodianError('E_PEER_MESSAGE_INVALID', 'unsupported peer channel suite', { suite });
  const env: PeerEnvelope = Object.freeze({
    v,
    suite,
    sessionId: f.str('sessionId', PEER_NAME_CHARS_MAX, NAME_RE),
    from: f.str('from', PEER_NAME_CHARS_MAX, NAME_RE),
    to: f.str('to', PEER_NAME_CHARS_MAX, NAME_RE),
    seq: f.int('seq', 0, PEER_SEQ_MAX),
    enc: f.hex('enc', 32),
    ct: f.hex('ct', undefined, PEER_PLAINTEXT_BYTES_MAX + 16),
  });
  f.done();
  return env;
}

/** True when `s` is a valid peer name or session id. */
export function isPeerName(s: string): boolean {
  return s.length > 0 && s.length <= PEER_NAME_CHARS_MAX && NAME_RE.test(s) && utf8(s).length === s.length;
}

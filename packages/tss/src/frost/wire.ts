/**
 * Wire codecs for every FROST protocol message: canonical JSON (bytes as
 * lower-case hex), one decoder per message that checks size, then canonical
 * form, then shape and fields, and returns a typed value or a typed error
 * (STYLE.md "parse, don't validate"). Semantic checks (elements on the curve,
 * PoKs, shares) stay in the protocol steps. Messages carrying secret shares
 * are encoded only for sealing to one peer (HPKE peer channel), never for the host.
 */
import { bytesToHex } from '@custodian/core/bytes';
import { canonicalJsonBytes, isCanonicalJson, parseJson, type Json } from '@custodian/core/canonical-json';
import { CustodianError } from '@custodian/core/errors';
import { Fields } from '@custodian/core/fields';
import { FRAME_BYTES_MAX } from '@custodian/core/limits';
import { Secret } from '@custodian/core/secret';
import type { DkgRound1Message, DkgShareMessage } from './dkg.js';
import type { EchoMessage } from './echo.js';
import { FROST_MESSAGE_BYTES_MAX, FROST_PARTIES_MAX, FROST_PARTY_ID_MAX, FROST_SESSION_ID_CHARS_MAX } from './limits.js';
import type { PartyId } from './party-id.js';
import type { RefreshCommitMessage, RefreshShareMessage } from './refresh.js';
import type { ReshareCommitMessage, ReshareShareMessage } from './reshare.js';
import type { SignatureShare, SigningCommitment, SigningPackage } from './signing-messages.js';

/** The message kinds on the wire. */
export type FrostWireKind =
  | 'frost/dkg-round1'
  | 'frost/echo'
  | 'frost/dkg-share'
  | 'frost/commitment'
  | 'frost/signing-package'
  | 'frost/signature-share'
  | 'frost/refresh-commit'
  | 'frost/refresh-share'
  | 'frost/reshare-commit'
  | 'frost/reshare-share';

/** Longest serialised group element (SEC1 compressed). */
const ELEMENT_BYTES_MAX = 33;
/** Serialised scalar length of every supported suite. */
const SCALAR_BYTES = 32;
/** Longest serialised proof of knowledge (R ‖ z). */
const PROOF_BYTES_MAX = 65;
/** Longest broadcast signature (the caller's identity signature scheme, e.g. Ed25519 64 bytes, DER ECDSA ≤ 72). */
const SIGNATURE_BYTES_MAX = 128;
/** Longest transcript digest (SHA-256 hex). */
const DIGEST_RE = /^[0-9a-f]{64}$/;
const SESSION_RE = /^[\x21-\x7e]+$/;

const hex = (b: Uint8Array): string => bytesToHex(b);

/** Encodes a public FROST message (any kind but the share messages) as canonical JSON bytes. */
export function encodeFrostMessage(
  kind: 'frost/dkg-round1' | 'frost/echo' | 'frost/commitment' | 'frost/signing-package' | 'frost/signature-share' | 'frost/refresh-commit' | 'frost/reshare-commit',
  m: DkgRound1Message | EchoMessage | SigningCommitment | SigningPackage | SignatureShare | RefreshCommitMessage | ReshareCommitMessage,
): Uint8Array {
  return canonicalJsonBytes({ kind, ...toJson(m) });
}

/** Encodes a secret-share message for sealing to its recipient; the result is secret. */
export function encodeShareForSealing(kind: 'frost/dkg-share' | 'frost/refresh-share' | 'frost/reshare-share', m: DkgShareMessage | RefreshShareMessage | ReshareShareMessage): Secret<Uint8Array> {
  const secret = 'signingShare' in m ? m.signingShare : 'delta' in m ? m.delta : m.subShare;
  return new Secret(canonicalJsonBytes({ kind, sessionId: m.sessionId, from: m.from, to: m.to, share: hex(secret.expose()) }));
}

function toJson(m: object): Record<string, Json> {
  const out: Record<string, Json> = {};
  for (const [k, v] of Object.entries(m)) out[k] = value(v);
  return out;
}

function value(v: unknown): Json {
  if (v instanceof Uint8Array) return hex(v);
  if (Array.isArray(v)) return v.map(value);
  if (typeof v === 'object' && v !== null) return toJson(v);
  return v as Json;
}

/** Decodes any public FROST message; throws E_FROST_MESSAGE_INVALID or a field error. */
export function decodeFrostMessage(bytes: Uint8Array):
  | { kind: 'frost/dkg-round1'; message: DkgRound1Message }
  | { kind: 'frost/echo'; message: EchoMessage }
  | { kind: 'frost/commitment'; message: SigningCommitment }
  | { kind: 'frost/signing-package'; message: SigningPackage }
  | { kind: 'frost/signature-share'; message: SignatureShare }
  | { kind: 'frost/refresh-commit'; message: RefreshCommitMessage }
  | { kind: 'frost/reshare-commit'; message: ReshareCommitMessage } {
  const f = open(bytes);
  const kind = f.str('kind', 40);
  const sessionId = f.str('sessionId', FROST_SESSION_ID_CHARS_MAX, SESSION_RE);
  switch (kind) {
    case 'frost/dkg-round1': {
      const base = { sessionId, from: party(f, 'from'), commitment: elements(f, 'commitment'), proofOfKnowledge: f.hex('proofOfKnowledge', undefined, PROOF_BYTES_MAX) };
      const signature = f.optRaw('signature') === undefined ? undefined : f.hex('signature', undefined, SIGNATURE_BYTES_MAX);
      return done(f, { kind, message: signature === undefined ? base : { ...base, signature } });
    }
    case 'frost/echo': {
      const base = { sessionId, round: f.str('round', 32, /^[a-z0-9-]+$/), from: party(f, 'from'), digests: digests(f.raw('digests')) };
      const raw = f.optRaw('signatures');
      return done(f, { kind, message: raw === undefined ? base : { ...base, signatures: signatures(raw) } });
    }
    case 'frost/commitment': {
      const message = { sessionId, party: party(f, 'party'), hiding: f.hex('hiding', undefined, ELEMENT_BYTES_MAX), binding: f.hex('binding', undefined, ELEMENT_BYTES_MAX) };
      return done(f, { kind, message });
    }
    case 'frost/signing-package': {
      const message = {
        sessionId,
        message: f.hex('message', undefined, FROST_MESSAGE_BYTES_MAX),
        commitments: f.arr('commitments', FROST_PARTIES_MAX).map((c, i) => {
          const g = new Fields(c, `commitments[${i}]`);
          const out = { sessionId: g.str('sessionId', FROST_SESSION_ID_CHARS_MAX, SESSION_RE), party: party(g, 'party'), hiding: g.hex('hiding', undefined, ELEMENT_BYTES_MAX), binding: g.hex('binding', undefined, ELEMENT_BYTES_MAX) };
          g.done();
          return out;
        }),
      };
      return done(f, { kind, message });
    }
    case 'frost/signature-share': {
      const message = { sessionId, party: party(f, 'party'), share: f.hex('share', SCALAR_BYTES) };
      return done(f, { kind, message });
    }
    case 'frost/refresh-commit':
    case 'frost/reshare-commit': {
      const base = { sessionId, from: party(f, 'from'), commitment: elements(f, 'commitment') };
      const signature = f.optRaw('signature') === undefined ? undefined : f.hex('signature', undefined, SIGNATURE_BYTES_MAX);
      const message = signature === undefined ? base : { ...base, signature };
      return kind === 'frost/refresh-commit' ? done(f, { kind, message }) : done(f, { kind, message });
    }
    default:
      throw new CustodianError('E_FROST_MESSAGE_INVALID', `unknown FROST message kind ${JSON.stringify(kind)}`, { kind });
  }
}

/** Decodes an opened (unsealed) share message of the expected kind; the share stays secret. */
export function decodeShareMessage(bytes: Uint8Array, kind: 'frost/dkg-share' | 'frost/refresh-share' | 'frost/reshare-share'): { sessionId: string; from: PartyId; to: PartyId; share: Secret<Uint8Array> } {
  const f = open(bytes);
  if (f.str('kind', 40) !== kind) throw new CustodianError('E_FROST_MESSAGE_INVALID', `expected a ${kind} message`, { kind });
  const out = { sessionId: f.str('sessionId', FROST_SESSION_ID_CHARS_MAX, SESSION_RE), from: party(f, 'from'), to: party(f, 'to'), share: new Secret(f.hex('share', SCALAR_BYTES)) };
  f.done();
  return out;
}

/** Builds the protocol-step input from a decoded dkg-share message. */
export function toDkgShareMessage(d: ReturnType<typeof decodeShareMessage>): DkgShareMessage {
  return { sessionId: d.sessionId, from: d.from, to: d.to, signingShare: d.share };
}

/** Builds the protocol-step input from a decoded refresh-share message. */
export function toRefreshShareMessage(d: ReturnType<typeof decodeShareMessage>): RefreshShareMessage {
  return { sessionId: d.sessionId, from: d.from, to: d.to, delta: d.share };
}

/** Builds the protocol-step input from a decoded reshare-share message. */
export function toReshareShareMessage(d: ReturnType<typeof decodeShareMessage>): ReshareShareMessage {
  return { sessionId: d.sessionId, from: d.from, to: d.to, subShare: d.share };
}

function open(bytes: Uint8Array): Fields {
  if (!(bytes instanceof Uint8Array) || bytes.length > FRAME_BYTES_MAX) throw new CustodianError('E_FROST_MESSAGE_INVALID', 'FROST message is too large');
  const json = parseJson(bytes, FRAME_BYTES_MAX);
  if (!isCanonicalJson(bytes)) throw new CustodianError('E_FROST_MESSAGE_INVALID', 'FROST message is not canonical JSON');
  return new Fields(json, 'frostMessage');
}

function done<T>(f: Fields, v: T): T {
  f.done();
  return v;
}

// B29 at the input boundary: identifiers are integers 1..FROST_PARTY_ID_MAX.
function party(f: Fields, k: string): PartyId {
  try {
    return f.int(k, 1, FROST_PARTY_ID_MAX) as PartyId;
  } catch (e) {
    throw new CustodianError('E_PARTY_ID_INVALID', `${f.where}.${k} is not a valid party identifier`, { field: k, cause: e instanceof CustodianError ? e.code : 'unknown' });
  }
}

function elements(f: Fields, k: string): Uint8Array[] {
  return f.arr(k, FROST_PARTIES_MAX).map((v, i) => {
    if (typeof v !== 'string' || !/^([0-9a-f]{2}){1,33}$/.test(v)) throw new CustodianError('E_FIELD_INVALID', `${f.where}.${k}[${i}] must be a hex group element`, { field: `${k}[${i}]` });
    return new Uint8Array(Buffer.from(v, 'hex'));
  });
}

function digests(v: Json): Readonly<Record<number, string>> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new CustodianError('E_FIELD_INVALID', 'frostMessage.digests must be an object');
  const entries = Object.entries(v);
  if (entries.length > FROST_PARTIES_MAX) throw new CustodianError('E_MPC_SHAPE', 'too many echo digests');
  const out: Record<number, string> = {};
  for (const [k, d] of entries) {
    if (!/^[1-9][0-9]{0,4}$/.test(k) || Number(k) > FROST_PARTY_ID_MAX) throw new CustodianError('E_PARTY_ID_INVALID', 'echo digest keyed by an invalid party', { field: k });
    if (typeof d !== 'string' || !DIGEST_RE.test(d)) throw new CustodianError('E_FIELD_INVALID', 'echo digest must be 64 lower-case hex characters', { field: k });
    out[Number(k)] = d;
  }
  return Object.freeze(out);
}

function signatures(v: Json): Readonly<Record<number, Uint8Array>> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new CustodianError('E_FIELD_INVALID', 'frostMessage.signatures must be an object');
  const entries = Object.entries(v);
  if (entries.length > FROST_PARTIES_MAX) throw new CustodianError('E_MPC_SHAPE', 'too many echo signatures');
  const out: Record<number, Uint8Array> = {};
  for (const [k, sig] of entries) {
    if (!/^[1-9][0-9]{0,4}$/.test(k) || Number(k) > FROST_PARTY_ID_MAX) throw new CustodianError('E_PARTY_ID_INVALID', 'echo signature keyed by an invalid party', { field: k });
    if (typeof sig !== 'string' || !/^([0-9a-f]{2}){1,128}$/.test(sig)) throw new CustodianError('E_FIELD_INVALID', 'echo signature must be lower-case hex', { field: k });
    out[Number(k)] = new Uint8Array(Buffer.from(sig, 'hex'));
  }
  return Object.freeze(out);
}

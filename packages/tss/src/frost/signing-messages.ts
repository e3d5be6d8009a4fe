/**
 * The messages of a FROST signing session (RFC 9591 §5) and their checks.
 * Every message carries the session identifier so that a message from one
 * session cannot be used in another (THREATS.md L08, E_SESSION_MISMATCH).
 */
import type { NonceCommitments } from '@noble/curves/abstract/frost.js';
import { frostError } from './errors.js';
import type { FrostPublicKeyPackage } from './key-package.js';
import { libraryIdentifier, type PartyId } from './party-id.js';
import { FROST_MESSAGE_BYTES_MAX, FROST_SESSION_ID_CHARS_MAX } from './limits.js';
import { frostSuite } from './suite.js';

/** Round one output of one signer (RFC 9591 §5.1 commit): public. */
export interface SigningCommitment {
  readonly sessionId: string;
  readonly party: PartyId;
  /** hiding_nonce_commitment, SerializeElement form. */
  readonly hiding: Uint8Array;
  /** binding_nonce_commitment, SerializeElement form. */
  readonly binding: Uint8Array;
}

/** What the coordinator sends each chosen signer for round two (RFC 9591 §5.2 inputs). */
export interface SigningPackage {
  readonly sessionId: string;
  readonly message: Uint8Array;
  /** commitment_list: one entry per signer, sorted by party. */
  readonly commitments: readonly SigningCommitment[];
}

/** Round two output of one signer (RFC 9591 §5.2 sig_share): public. */
export interface SignatureShare {
  readonly sessionId: string;
  readonly party: PartyId;
  readonly share: Uint8Array;
}

/** Checks a session identifier's shape; throws E_SESSION_MISMATCH for an empty or oversized one. */
export function checkSessionId(sessionId: unknown): string {
  if (typeof sessionId !== 'string' || sessionId.length === 0 || sessionId.length > FROST_SESSION_ID_CHARS_MAX || !/^[\x21-\x7e]+$/.test(sessionId)) {
    throw frostError('E_SESSION_MISMATCH', `session id must be 1..${FROST_SESSION_ID_CHARS_MAX} printable ASCII characters`);
  }
  return sessionId;
}

/**
 * Validates a signing package against the key: session ids (L08), signer set
 * size t..n (B31), members of the committee and distinct (B29, E_SIGNER_NOT_IN_SET),
 * elements decodable and not the identity. Returns the package sorted by party.
 */
export function validateSigningPackage(pkg: FrostPublicKeyPackage, signing: SigningPackage): SigningPackage {
  const sessionId = checkSessionId(signing.sessionId);
  if (!(signing.message instanceof Uint8Array) || signing.message.length > FROST_MESSAGE_BYTES_MAX) {
    throw frostError('E_MPC_SHAPE', `message must be at most ${FROST_MESSAGE_BYTES_MAX} bytes`, { sessionId });
  }
  const list = signing.commitments;
  if (!Array.isArray(list) || list.length < pkg.threshold || list.length > pkg.parties.length) {
    throw frostError('E_MPC_SHAPE', `a signing package needs ${pkg.threshold}..${pkg.parties.length} commitments`, { sessionId, count: Array.isArray(list) ? list.length : null });
  }
  const { group } = frostSuite(pkg.suite);
  const seen = new Set<number>();
  for (const c of list) {
    if (c.sessionId !== sessionId) throw frostError('E_SESSION_MISMATCH', 'a commitment belongs to another session', { sessionId, party: c.party, other: c.sessionId });
    if (!pkg.parties.includes(c.party)) throw frostError('E_SIGNER_NOT_IN_SET', `party ${c.party} is not in the committee`, { sessionId, party: c.party });
    if (seen.has(c.party)) throw frostError('E_PARTY_ID_INVALID', `party ${c.party} appears twice in the signing set`, { sessionId, party: c.party });
    seen.add(c.party);
    for (const [name, bytes] of [['hiding', c.hiding], ['binding', c.binding]] as const) {
      try {
        group.decodeElement(bytes, `commitments[${c.party}].${name}`);
      } catch (e) {
        // Name the signer so that a robust coordinator can exclude it.
        throw frostError('E_FROST_ELEMENT_INVALID', `party ${c.party} sent an invalid ${name} commitment`, { sessionId, party: c.party, reason: e instanceof Error ? e.message : 'invalid' });
      }
    }
  }
  return Object.freeze({ sessionId, message: signing.message, commitments: Object.freeze([...list].sort((a, b) => a.party - b.party)) });
}

/** The library's commitment_list for a (validated) signing package. */
export function toLibraryCommitments(pkg: FrostPublicKeyPackage, signing: SigningPackage): NonceCommitments[] {
  const suite = frostSuite(pkg.suite);
  return signing.commitments.map((c) => ({ identifier: libraryIdentifier(suite, c.party), hiding: Uint8Array.from(c.hiding), binding: Uint8Array.from(c.binding) }));
}

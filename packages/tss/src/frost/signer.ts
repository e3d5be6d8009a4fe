/**
 * The signer's side of FROST signing (RFC 9591 §5.1–5.2) as two functions
 * that take and return messages. Nonces come from injected randomness, go
 * into the caller's NonceStore before the commitment is returned, and are
 * consumed in the store before the signature share is returned (B30).
 */
import { sha256 } from '@noble/hashes/sha2.js';
import type { Random } from '@custodian/core/clock';
import { bytesToHex, concatBytes, utf8 } from '@custodian/core/bytes';
import { Secret } from '@custodian/core/secret';
import { frostError } from './errors.js';
import { toLibraryPublic, toLibrarySecret, type FrostKeyShare } from './key-package.js';
import type { NonceStore } from './nonce-store.js';
import { checkSessionId, toLibraryCommitments, validateSigningPackage, type SignatureShare, type SigningCommitment, type SigningPackage } from './signing-messages.js';
import { frostSuite, libraryRng } from './suite.js';

const NONCE_KEY_DOMAIN = utf8('custodian/frost/nonce-key/v1');

/** The store key of a commitment pair: H(domain ‖ suite ‖ group key ‖ party ‖ hiding ‖ binding). */
export function nonceKey(share: FrostKeyShare, hiding: Uint8Array, binding: Uint8Array): string {
  const head = utf8(`${share.suite}\n${share.party}\n`);
  return bytesToHex(sha256(concatBytes(NONCE_KEY_DOMAIN, head, share.publicPackage.groupPublicKey, hiding, binding)));
}

/** RFC 9591 §5.1 commit: makes a fresh nonce pair, records it durably, returns the public commitment. */
export async function commitNonces(share: FrostKeyShare, sessionId: string, random: Random, store: NonceStore): Promise<SigningCommitment> {
  checkSessionId(sessionId);
  const suite = frostSuite(share.suite);
  const secret = toLibrarySecret(share);
  try {
    const { nonces, commitments } = suite.frost.commit(secret, libraryRng(random));
    const key = nonceKey(share, commitments.hiding, commitments.binding);
    await store.reserve(key, { sessionId, nonces: new Secret({ hiding: nonces.hiding, binding: nonces.binding }) });
    return Object.freeze({ sessionId, party: share.party, hiding: commitments.hiding, binding: commitments.binding });
  } finally {
    secret.signingShare.fill(0);
  }
}

/**
 * RFC 9591 §5.2 sign: checks the package (L08, B29, B31), finds this signer's
 * nonces, consumes them in the store and only then computes and returns the
 * signature share. A consumed nonce gives E_NONCE_REUSED, one never made here
 * E_NONCE_UNKNOWN, one made for another session E_SESSION_MISMATCH.
 */
export async function signPackage(share: FrostKeyShare, signing: SigningPackage, store: NonceStore): Promise<SignatureShare> {
  const pkg = validateSigningPackage(share.publicPackage, signing);
  const mine = pkg.commitments.find((c) => c.party === share.party);
  if (mine === undefined) throw frostError('E_SIGNER_NOT_IN_SET', 'this signer is not in the signing set', { sessionId: pkg.sessionId, party: share.party });
  const key = nonceKey(share, mine.hiding, mine.binding);
  const before = await store.lookup(key);
  if (before.state === 'unknown') throw frostError('E_NONCE_UNKNOWN', 'the commitment was not made by this signer', { sessionId: pkg.sessionId, party: share.party });
  if (before.state === 'consumed') throw nonceReused(pkg.sessionId, share);
  if (before.record.sessionId !== pkg.sessionId) {
    throw frostError('E_SESSION_MISMATCH', 'the commitment was made for another session', { sessionId: pkg.sessionId, party: share.party });
  }
  // B30: consumed durably before any share exists.
  const taken = await store.consume(key);
  if (taken.state !== 'fresh') throw nonceReused(pkg.sessionId, share);
  const suite = frostSuite(share.suite);
  const secret = toLibrarySecret(share);
  const stored = taken.record.nonces.expose();
  const nonces = { hiding: Uint8Array.from(stored.hiding), binding: Uint8Array.from(stored.binding) };
  taken.record.nonces.zeroise();
  stored.hiding.fill(0);
  stored.binding.fill(0);
  try {
    const z = suite.frost.signShare(secret, toLibraryPublic(share.publicPackage), nonces, toLibraryCommitments(share.publicPackage, pkg), pkg.message);
    return Object.freeze({ sessionId: pkg.sessionId, party: share.party, share: z });
  } catch (e) {
    throw frostError('E_FROST_ELEMENT_INVALID', 'the signing package was refused by FROST', { sessionId: pkg.sessionId, party: share.party, reason: e instanceof Error ? e.message : 'unknown' });
  } finally {
    secret.signingShare.fill(0);
    nonces.hiding.fill(0);
    nonces.binding.fill(0);
  }
}

function nonceReused(sessionId: string, share: FrostKeyShare): Error {
  return frostError('E_NONCE_REUSED', 'this nonce was already used; the signer refuses to sign with it again', { sessionId, party: share.party });
}

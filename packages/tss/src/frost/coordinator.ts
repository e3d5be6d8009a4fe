/**
 * The coordinator's side of FROST signing (RFC 9591 §5.3–5.4): build the
 * signing package, verify each signature share (so an invalid share names its
 * signer), aggregate, and check the result with the plain verifier before
 * returning it (fail closed).
 */
import { frostError } from './errors.js';
import { toLibraryPublic, verifierKeyOf, type FrostPublicKeyPackage } from './key-package.js';
import { libraryIdentifier } from './party-id.js';
import { checkSessionId, toLibraryCommitments, validateSigningPackage, type SignatureShare, type SigningCommitment, type SigningPackage } from './signing-messages.js';
import { frostSuite } from './suite.js';

/** Builds and validates the round-two package from the chosen signers' commitments. */
export function createSigningPackage(pkg: FrostPublicKeyPackage, sessionId: string, message: Uint8Array, commitments: readonly SigningCommitment[]): SigningPackage {
  return validateSigningPackage(pkg, { sessionId: checkSessionId(sessionId), message: message.slice(), commitments });
}

/**
 * RFC 9591 §5.4 verify_signature_share. Throws E_SESSION_MISMATCH for a share
 * of another session, E_SIGNER_NOT_IN_SET for a party outside the signing set,
 * E_SIGNATURE_SHARE_INVALID (naming the party) for a share that does not verify.
 */
export function verifySignatureShare(pkg: FrostPublicKeyPackage, signing: SigningPackage, share: SignatureShare): void {
  if (share.sessionId !== signing.sessionId) {
    throw frostError('E_SESSION_MISMATCH', 'signature share belongs to another session', { sessionId: signing.sessionId, party: share.party, other: share.sessionId });
  }
  if (!signing.commitments.some((c) => c.party === share.party)) {
    throw frostError('E_SIGNER_NOT_IN_SET', `party ${share.party} is not in this signing set`, { sessionId: signing.sessionId, party: share.party });
  }
  const suite = frostSuite(pkg.suite);
  suite.group.decodeScalar(share.share, `signatureShare[${share.party}]`);
  let ok: boolean;
  try {
    ok = suite.frost.verifyShare(toLibraryPublic(pkg), toLibraryCommitments(pkg, signing), signing.message, libraryIdentifier(suite, share.party), Uint8Array.from(share.share));
  } catch {
    ok = false;
  }
  if (!ok) throw frostError('E_SIGNATURE_SHARE_INVALID', `party ${share.party} sent an invalid signature share`, { sessionId: signing.sessionId, party: share.party });
}

/** RFC 9591 §5.3 aggregate after verifying every share; the signature is checked by the plain verifier before it is returned. */
export function aggregateSignature(pkg: FrostPublicKeyPackage, signing: SigningPackage, shares: readonly SignatureShare[]): Uint8Array {
  const valid = validateSigningPackage(pkg, signing);
  if (shares.length !== valid.commitments.length) {
    throw frostError('E_MPC_SHAPE', `expected ${valid.commitments.length} signature shares, got ${shares.length}`, { sessionId: valid.sessionId });
  }
  const suite = frostSuite(pkg.suite);
  const byId: Record<string, Uint8Array> = {};
  for (const s of shares) {
    verifySignatureShare(pkg, valid, s);
    const id = libraryIdentifier(suite, s.party);
    if (id in byId) throw frostError('E_PARTY_ID_INVALID', `two signature shares from party ${s.party}`, { sessionId: valid.sessionId, party: s.party });
    byId[id] = Uint8Array.from(s.share);
  }
  const signature = suite.frost.aggregate(toLibraryPublic(pkg), toLibraryCommitments(pkg, valid), valid.message, byId);
  if (!suite.verifyPlain(signature, valid.message, verifierKeyOf(pkg))) {
    // Every share verified, so this is a broken invariant, not bad input.
    throw new Error('aggregated FROST signature failed plain verification');
  }
  return signature;
}

/**
 * Key material after DKG, refresh or reshare. Public and secret material have
 * different types (STYLE.md): `FrostPublicKeyPackage` may go anywhere, the
 * signing share lives only inside a `Secret` in `FrostKeyShare`.
 */
import type { FrostPublic, FrostSecret, Key } from '@noble/curves/abstract/frost.js';
import { Secret } from '@custodian/core/secret';
import { frostError } from './errors.js';
import { evaluateCommitment } from './polynomial.js';
import { libraryIdentifier, type PartyId } from './party-id.js';
import { frostSuite, type FrostSuiteId } from './suite.js';

/** The public side of a threshold key, identical at every party. */
export interface FrostPublicKeyPackage {
  readonly suite: FrostSuiteId;
  /** t: the number of signers needed. */
  readonly threshold: number;
  /** The committee, sorted. */
  readonly parties: readonly PartyId[];
  /** RFC 9591 group public key, SerializeElement form (32 bytes Ed25519, 33 bytes SEC1 compressed). */
  readonly groupPublicKey: Uint8Array;
  /** Feldman VSS commitment of the group polynomial (length t; index 0 is the group key). */
  readonly commitments: readonly Uint8Array[];
  /** Each party's verifying share (its signing share times the generator). */
  readonly verifyingShares: ReadonlyMap<PartyId, Uint8Array>;
}

/** One party's share of a threshold key: the public package plus its secret signing share. */
export interface FrostKeyShare {
  readonly suite: FrostSuiteId;
  readonly party: PartyId;
  readonly publicPackage: FrostPublicKeyPackage;
  /** RFC 9591 `sk_i`, SerializeScalar form. */
  readonly signingShare: Secret<Uint8Array>;
}

/** The library's FrostPublic for our public package. */
export function toLibraryPublic(pkg: FrostPublicKeyPackage): FrostPublic {
  const suite = frostSuite(pkg.suite);
  const verifyingShares: Record<string, Uint8Array<ArrayBuffer>> = {};
  for (const [p, v] of pkg.verifyingShares) verifyingShares[libraryIdentifier(suite, p)] = Uint8Array.from(v);
  return { signers: { min: pkg.threshold, max: pkg.parties.length }, commitments: pkg.commitments.map((c) => Uint8Array.from(c)), verifyingShares };
}

/** The library's FrostSecret for a share; the caller owns the returned copy and must drop it after use. */
export function toLibrarySecret(share: FrostKeyShare): FrostSecret {
  const suite = frostSuite(share.suite);
  return { identifier: libraryIdentifier(suite, share.party), signingShare: Uint8Array.from(share.signingShare.expose()) };
}

/** Builds a public package from a group polynomial commitment, deriving every verifying share. */
export function publicPackageFromCommitments(suiteId: FrostSuiteId, parties: readonly PartyId[], commitments: readonly Uint8Array[]): FrostPublicKeyPackage {
  const { group } = frostSuite(suiteId);
  const points = commitments.map((c, i) => group.decodeElement(c, `commitments[${i}]`));
  const verifyingShares = new Map<PartyId, Uint8Array>();
  for (const p of parties) verifyingShares.set(p, group.encodeElement(evaluateCommitment(group, points, BigInt(p))));
  const groupPublicKey = commitments[0];
  if (groupPublicKey === undefined) throw frostError('E_MPC_SHAPE', 'empty commitment vector');
  return Object.freeze({
    suite: suiteId,
    threshold: commitments.length,
    parties: Object.freeze([...parties].sort((a, b) => a - b)),
    groupPublicKey: groupPublicKey.slice(),
    commitments: Object.freeze(commitments.map((c) => c.slice())),
    verifyingShares,
  });
}

/** Converts the library's DKG output into our types, checking it against the committee. */
export function fromLibraryKey(suiteId: FrostSuiteId, party: PartyId, parties: readonly PartyId[], key: Key): FrostKeyShare {
  const suite = frostSuite(suiteId);
  const pkg = publicPackageFromCommitments(suiteId, parties, key.public.commitments);
  for (const p of parties) {
    const lib = key.public.verifyingShares[libraryIdentifier(suite, p)];
    const ours = pkg.verifyingShares.get(p);
    if (lib === undefined || ours === undefined || Buffer.compare(lib, ours) !== 0) {
      throw frostError('E_DKG_SHARE_INVALID', 'verifying shares disagree with the group commitment', { party: p });
    }
  }
  if (key.secret.identifier !== libraryIdentifier(suite, party)) throw frostError('E_PARTY_ID_INVALID', 'key package belongs to another party', { party });
  return Object.freeze({ suite: suiteId, party, publicPackage: pkg, signingShare: new Secret(key.secret.signingShare.slice()) });
}

/** Checks that a share matches its public package (RFC 9591 App. C.2 vss_verify); throws E_DKG_SHARE_INVALID. */
export function validateKeyShare(share: FrostKeyShare): void {
  const suite = frostSuite(share.suite);
  const secret = toLibrarySecret(share);
  try {
    suite.frost.validateSecret(secret, toLibraryPublic(share.publicPackage));
  } catch {
    throw frostError('E_DKG_SHARE_INVALID', 'signing share does not match the public key package', { party: share.party });
  } finally {
    secret.signingShare.fill(0);
  }
}

/** The key a plain verifier checks group signatures under (x-only for taproot). */
export function verifierKeyOf(pkg: FrostPublicKeyPackage): Uint8Array {
  return frostSuite(pkg.suite).verifierKey(pkg.groupPublicKey);
}

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
  return freezePackage(suiteId, parties, commitments, verifyingShares);
}

/** Assembles a public package from commitments and verifying shares already derived from them (each checked to be a valid element). */
export function assemblePublicPackage(suiteId: FrostSuiteId, parties: readonly PartyId[], commitments: readonly Uint8Array[], verifyingShares: ReadonlyMap<PartyId, Uint8Array>): FrostPublicKeyPackage {
  const { group } = frostSuite(suiteId);
  commitments.forEach((c, i) => group.decodeElement(c, `commitments[${i}]`));
  const shares = new Map<PartyId, Uint8Array>();
  for (const p of parties) {
    const v = verifyingShares.get(p);
    if (v === undefined) throw frostError('E_MPC_SHAPE', `no verifying share for party ${p}`, { party: p });
    group.decodeElement(v, `verifyingShares[${p}]`);
    shares.set(p, v.slice());
  }
  return freezePackage(suiteId, parties, commitments, shares);
}

// The package both constructors return, around verifying shares they own (copies of every commitment, parties sorted).
function freezePackage(suiteId: FrostSuiteId, parties: readonly PartyId[], commitments: readonly Uint8Array[], verifyingShares: Map<PartyId, Uint8Array>): FrostPublicKeyPackage {
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

/** Converts the library's DKG output into our types (the library derived the verifying shares from the commitments). */
export function fromLibraryKey(suiteId: FrostSuiteId, party: PartyId, parties: readonly PartyId[], key: Key): FrostKeyShare {
  const suite = frostSuite(suiteId);
  const lib = new Map<PartyId, Uint8Array>();
  for (const p of parties) {
    const v = key.public.verifyingShares[libraryIdentifier(suite, p)];
    if (v !== undefined) lib.set(p, v);
  }
  if (Object.keys(key.public.verifyingShares).length !== parties.length) throw frostError('E_MPC_SHAPE', 'DKG output covers another committee');
  const pkg = assemblePublicPackage(suiteId, parties, key.public.commitments, lib);
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

/**
 * BIP340/BIP341 key handling for the FROST(secp256k1, SHA-256)-TR suite:
 * even-y normalisation and the TapTweak, on the library's arithmetic. Our
 * stored key is the untweaked internal key P (even y); `tweakKeyShare` gives
 * the share that signs for the P2TR output key Q = P + tG (BIP341
 * taproot_tweak_pubkey), as frost-rs does for key-path spends.
 */
import { schnorr } from '@noble/curves/secp256k1.js';
import { Secret } from '@custodian/core/secret';
import { frostError } from './errors.js';
import { hasEvenY, secp256k1Group } from './group.js';
import { assemblePublicPackage, publicPackageFromCommitments, type FrostKeyShare, type FrostPublicKeyPackage } from './key-package.js';
import type { PartyId } from './party-id.js';

/** BIP341 tweak t = int(hash_TapTweak(x(P) ‖ merkleRoot)); an empty root is the BIP86 key-path-only tweak. */
export function taprootTweakScalar(internalKey: Uint8Array, merkleRoot: Uint8Array): bigint {
  const x = internalKey.length === 33 ? internalKey.subarray(1) : internalKey;
  if (x.length !== 32) throw frostError('E_FROST_ELEMENT_INVALID', 'internal key must be x-only or compressed');
  if (merkleRoot.length !== 0 && merkleRoot.length !== 32) throw frostError('E_MPC_SHAPE', 'merkle root must be empty or 32 bytes');
  const h = schnorr.utils.taggedHash('TapTweak', x, merkleRoot);
  const t = secp256k1Group.Fn.fromBytes(h, true);
  // BIP341: "if t >= SECP256K1_ORDER: raise ValueError".
  if (!secp256k1Group.Fn.isValid(t)) throw frostError('E_FROST_ELEMENT_INVALID', 'TapTweak hash is not a valid scalar');
  return t;
}

/** Normalises a TR key share so that its group key has even y (negating every share when it has not). */
export function evenYKeyShare(share: FrostKeyShare): FrostKeyShare {
  assertTaproot(share.publicPackage);
  if (hasEvenY(share.publicPackage.groupPublicKey)) return share;
  const G = secp256k1Group;
  const commitments = share.publicPackage.commitments.map((c, i) => G.encodeElement(G.decodeElement(c, `commitments[${i}]`).negate()));
  const s = G.decodeScalar(share.signingShare.expose(), 'signingShare');
  return rebuild(share, commitments, G.Fn.neg(s));
}

/** The share that signs for the BIP341 output key Q = P + t·G (P even-y); `merkleRoot` empty for key-path-only (BIP86). */
export function tweakKeyShare(share: FrostKeyShare, merkleRoot: Uint8Array = new Uint8Array(0)): FrostKeyShare {
  const even = evenYKeyShare(share);
  const G = secp256k1Group;
  const t = taprootTweakScalar(even.publicPackage.groupPublicKey, merkleRoot);
  const commitments: Uint8Array[] = even.publicPackage.commitments.map((c) => c.slice());
  commitments[0] = G.encodeElement(G.decodeElement(commitments[0]!, 'commitments[0]').add(G.base.multiply(t)));
  const s = G.decodeScalar(even.signingShare.expose(), 'signingShare');
  return rebuild(even, commitments, G.Fn.add(s, t));
}

/** The BIP341 output key Q (x-only, 32 bytes) for an internal key package. */
export function taprootOutputKey(pkg: FrostPublicKeyPackage, merkleRoot: Uint8Array = new Uint8Array(0)): Uint8Array {
  assertTaproot(pkg);
  const G = secp256k1Group;
  let P = G.decodeElement(pkg.groupPublicKey, 'groupPublicKey');
  if (!hasEvenY(pkg.groupPublicKey)) P = P.negate();
  const Q = P.add(G.base.multiply(taprootTweakScalar(pkg.groupPublicKey, merkleRoot)));
  return G.encodeElement(Q).slice(1);
}

/**
 * Undoes the library's automatic BIP86 tweak of schnorr_FROST DKG output so
 * that we store the internal key: `internalKey` is Σ of every party's
 * commitment[0] from the DKG transcript.
 */
export function untweakDkgShare(tweaked: FrostKeyShare, internalKey: Uint8Array): FrostKeyShare {
  const G = secp256k1Group;
  let P = G.decodeElement(internalKey, 'internalKey');
  if (!hasEvenY(internalKey)) P = P.negate();
  const t = taprootTweakScalar(internalKey, new Uint8Array(0));
  // The library adds t·G to the even-y internal key (and to every verifying
  // share) and does not normalise Q afterwards: subtract it again.
  const tG = G.base.multiply(t);
  const pkg = tweaked.publicPackage;
  const base = G.decodeElement(pkg.commitments[0]!, 'commitments[0]').subtract(tG);
  if (!base.equals(P)) throw frostError('E_DKG_SHARE_INVALID', 'DKG output does not match the transcript’s internal key');
  const commitments = [G.encodeElement(base), ...pkg.commitments.slice(1)];
  const verifyingShares = new Map<PartyId, Uint8Array>();
  for (const [p, v] of pkg.verifyingShares) verifyingShares.set(p, G.encodeElement(G.decodeElement(v, `verifyingShares[${p}]`).subtract(tG)));
  const s = G.decodeScalar(tweaked.signingShare.expose(), 'signingShare');
  const publicPackage = assemblePublicPackage(tweaked.suite, pkg.parties, commitments, verifyingShares);
  return Object.freeze({ suite: tweaked.suite, party: tweaked.party, publicPackage, signingShare: new Secret(G.encodeScalar(G.Fn.sub(s, t))) });
}

function rebuild(share: FrostKeyShare, commitments: Uint8Array[], signingShare: bigint): FrostKeyShare {
  const publicPackage = publicPackageFromCommitments(share.suite, share.publicPackage.parties, commitments);
  return Object.freeze({ suite: share.suite, party: share.party, publicPackage, signingShare: new Secret(secp256k1Group.encodeScalar(signingShare)) });
}

function assertTaproot(pkg: FrostPublicKeyPackage): void {
  if (pkg.suite !== 'frost-secp256k1-tr') throw frostError('E_FROST_SUITE_UNKNOWN', 'taproot operations need the frost-secp256k1-tr suite', { suite: pkg.suite });
}

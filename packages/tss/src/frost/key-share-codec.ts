/**
 * Storage form of key material: the public key package (publishable) and the
 * key share (secret: the enclave seals these bytes with its sealing key and
 * hands only the ciphertext to the host). Canonical JSON, one decoder each,
 * which re-checks the share against its package (fail closed on a corrupted
 * or swapped blob).
 */
import { bytesToHex } from '@custodian/core/bytes';
import { canonicalJsonBytes, isCanonicalJson, parseJson, type Json } from '@custodian/core/canonical-json';
import { CustodianError } from '@custodian/core/errors';
import { Fields } from '@custodian/core/fields';
import { Secret } from '@custodian/core/secret';
import { publicPackageFromCommitments, validateKeyShare, type FrostKeyShare, type FrostPublicKeyPackage } from './key-package.js';
import { FROST_PARTIES_MAX, FROST_PARTY_ID_MAX } from './limits.js';
import { parseCommittee, type PartyId } from './party-id.js';
import { frostSuite, FROST_SUITE_IDS, type FrostSuiteId } from './suite.js';

/** Largest encoded key package or key share. */
export const KEY_BLOB_BYTES_MAX = 64 * 1024;
/** Format version of stored key material. */
export const KEY_BLOB_VERSION = 1;

function publicJson(pkg: FrostPublicKeyPackage): Record<string, Json> {
  return { v: KEY_BLOB_VERSION, suite: pkg.suite, threshold: pkg.threshold, parties: [...pkg.parties], commitments: pkg.commitments.map(bytesToHex) };
}

/** Encodes a public key package (verifying shares are derived again on decode). */
export function encodePublicKeyPackage(pkg: FrostPublicKeyPackage): Uint8Array {
  return canonicalJsonBytes({ kind: 'frost/public-key-package', ...publicJson(pkg) });
}

/** Decodes a public key package; throws E_KEY_BLOB_INVALID or a field/FROST error. */
export function decodePublicKeyPackage(bytes: Uint8Array): FrostPublicKeyPackage {
  const f = open(bytes, 'frost/public-key-package');
  const pkg = readPublic(f);
  f.done();
  return pkg;
}

/** Encodes a key share for sealing; the bytes are secret. */
export function encodeKeyShareForSealing(share: FrostKeyShare): Secret<Uint8Array> {
  return new Secret(canonicalJsonBytes({ kind: 'frost/key-share', ...publicJson(share.publicPackage), party: share.party, signingShare: bytesToHex(share.signingShare.expose()) }));
}

/** Decodes an unsealed key share and checks it against its own package (vss_verify). */
export function decodeKeyShare(bytes: Secret<Uint8Array>): FrostKeyShare {
  const f = open(bytes.expose(), 'frost/key-share');
  const publicPackage = readPublic(f);
  const party = f.int('party', 1, FROST_PARTY_ID_MAX) as PartyId;
  const signingShare = new Secret(f.hex('signingShare', 32));
  f.done();
  if (!publicPackage.parties.includes(party)) throw new CustodianError('E_KEY_BLOB_INVALID', 'key share party is not in its committee', { party });
  const share: FrostKeyShare = Object.freeze({ suite: publicPackage.suite, party, publicPackage, signingShare });
  validateKeyShare(share);
  return share;
}

function open(bytes: Uint8Array, kind: string): Fields {
  if (bytes.length > KEY_BLOB_BYTES_MAX) throw new CustodianError('E_KEY_BLOB_INVALID', 'key blob is too large');
  const json = parseJson(bytes, KEY_BLOB_BYTES_MAX);
  if (!isCanonicalJson(bytes)) throw new CustodianError('E_KEY_BLOB_INVALID', 'key blob is not canonical JSON');
  const f = new Fields(json, 'keyBlob');
  if (f.str('kind', 40) !== kind) throw new CustodianError('E_KEY_BLOB_INVALID', `expected a ${kind}`);
  f.int('v', KEY_BLOB_VERSION, KEY_BLOB_VERSION);
  return f;
}

function readPublic(f: Fields): FrostPublicKeyPackage {
  const suite = f.str('suite', 40);
  if (!(FROST_SUITE_IDS as readonly string[]).includes(suite)) throw new CustodianError('E_KEY_BLOB_INVALID', 'unknown suite', { suite });
  const q = frostSuite(suite).group.Fn.ORDER;
  const parties = parseCommittee(f.arr('parties', FROST_PARTIES_MAX) as unknown[], q);
  const threshold = f.int('threshold', 2, parties.length);
  const commitments = f.arr('commitments', FROST_PARTIES_MAX).map((c, i) => {
    if (typeof c !== 'string' || !/^([0-9a-f]{2}){32,33}$/.test(c)) throw new CustodianError('E_KEY_BLOB_INVALID', `commitments[${i}] is not a hex element`);
    return new Uint8Array(Buffer.from(c, 'hex'));
  });
  if (commitments.length !== threshold) throw new CustodianError('E_MPC_SHAPE', 'commitment vector length differs from the threshold', { threshold, count: commitments.length });
  return publicPackageFromCommitments(suite as FrostSuiteId, parties, commitments);
}

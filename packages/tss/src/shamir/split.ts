/**
 * Splits an organisation secret (a recovery seed, a share-backup key) k-of-n
 * with the audited `shamir-secret-sharing` package and encrypts each share to
 * its member's X25519 key (HPKE), so no member sees another's share and the
 * party that split can forget every share.
 */
import { randomBytes } from 'node:crypto';
import { split } from 'shamir-secret-sharing';
import { CustodianError } from '@custodian/core/errors';
import { bytesToHex } from '@custodian/core/bytes';
import type { Secret } from '@custodian/core/secret';
import { hpkeSeal, X25519_PUBLIC_KEY_BYTES, type HpkeSealed } from '@custodian/core/hpke-seal';
import { MEMBER_SHARE_INFO, shareInfo } from './contexts.js';
import {
  SHAMIR_SECRET_BYTES_MAX,
  SHAMIR_SECRET_BYTES_MIN,
  assertShareIndex,
  manifestHash,
  secretCommitment,
  shareCommitment,
  validateShareManifest,
  type ShareManifest,
} from './share-manifest.js';

/** A member to split to. */
export interface ShareRecipient {
  readonly memberId: string;
  /** X25519 public key, 32 bytes. */
  readonly publicKey: Uint8Array;
}

/** One share, encrypted to its member. */
export interface EncryptedShare extends HpkeSealed {
  readonly memberId: string;
}

/** The result of a split: the public manifest and one ciphertext per member. */
export interface QuorumSplit {
  readonly manifest: ShareManifest;
  readonly encryptedShares: readonly EncryptedShare[];
}

/** Splits `secret` among `members`, `threshold` of whom can reconstruct it. */
export async function splitToMembers(secret: Secret<Uint8Array>, threshold: number, members: readonly ShareRecipient[]): Promise<QuorumSplit> {
  const bytes = secret.expose();
  if (bytes.length < SHAMIR_SECRET_BYTES_MIN || bytes.length > SHAMIR_SECRET_BYTES_MAX) {
    throw new CustodianError('E_SHAMIR_SECRET_INVALID', `the secret must be ${SHAMIR_SECRET_BYTES_MIN}..${SHAMIR_SECRET_BYTES_MAX} bytes`, {});
  }
  for (const m of members) {
    if (m.publicKey.length !== X25519_PUBLIC_KEY_BYTES) throw new CustodianError('E_HPKE_KEY_INVALID', `member ${m.memberId} needs a 32-byte X25519 key`, {});
  }
  const setId = bytesToHex(new Uint8Array(randomBytes(16)));
  // Validate the shape (threshold, ids) before splitting; commitments are filled in below.
  const placeholder = '0'.repeat(64);
  validateShareManifest({
    version: 1,
    setId,
    threshold,
    secretLength: bytes.length,
    secretCommitment: placeholder,
    shares: members.map((m, i) => ({ memberId: m.memberId, memberPublicKey: bytesToHex(m.publicKey), index: i + 1, commitment: placeholder })),
  });
  const shares = await split(bytes, members.length, threshold);
  try {
    const manifest = validateShareManifest({
      version: 1,
      setId,
      threshold,
      secretLength: bytes.length,
      secretCommitment: secretCommitment(setId, bytes),
      shares: members.map((m, i) => {
        const share = shares[i]!;
        return { memberId: m.memberId, memberPublicKey: bytesToHex(m.publicKey), index: assertShareIndex(share[share.length - 1], 'split'), commitment: shareCommitment(setId, share) };
      }),
    });
    const mh = manifestHash(manifest);
    const encryptedShares = await Promise.all(
      members.map(async (m, i) => {
        const share = shares[i]!;
        const sealed = await hpkeSeal(m.publicKey, share, shareInfo(MEMBER_SHARE_INFO, mh, m.memberId), Uint8Array.of(share[share.length - 1]!));
        return { memberId: m.memberId, ...sealed };
      }),
    );
    return { manifest, encryptedShares };
  } finally {
    for (const s of shares) s.fill(0);
  }
}

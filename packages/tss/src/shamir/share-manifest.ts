/**
 * The public record of one k-of-n split (QuorumOS's genesis output, in
 * spirit): who holds which share, the share indices (the x-coordinates of
 * `shamir-secret-sharing`, GF(2^8)), a hash commitment to every share and to
 * the secret. Members and the enclave check shares against it; it holds no
 * secret. Bad participant identifiers are refused here (THREATS.md B29).
 */
import { createHash } from 'node:crypto';
import { CustodianError } from '@custodian/core/errors';
import { concatBytes, utf8 } from '@custodian/core/bytes';
import { canonicalJsonBytes, type Json } from '@custodian/core/canonical-json';
import { Fields } from '@custodian/core/fields';

/** The field is GF(2^8): share indices live in 1..255 (0 is where the secret sits). */
export const SHAMIR_INDEX_MIN = 1;
/** Largest share index. */
export const SHAMIR_INDEX_MAX = 255;
/** `shamir-secret-sharing` needs at least two shares to combine. */
export const SHAMIR_THRESHOLD_MIN = 2;
/** Most members in one split (one index each). */
export const SHAMIR_MEMBERS_MAX = 255;
/** Smallest secret: commitments to shorter secrets could be brute-forced. */
export const SHAMIR_SECRET_BYTES_MIN = 16;
/** Largest secret (seeds and keys are 32–64 bytes). */
export const SHAMIR_SECRET_BYTES_MAX = 1024;
/** Member ids. */
export const SHAMIR_MEMBER_ID_RE = /^[a-z0-9][a-z0-9._-]{0,63}$/;

/** Domain prefix of share commitments. */
export const SHARE_COMMITMENT_DOMAIN = 'custodian/shamir/share-commitment/v1';
/** Domain prefix of the secret commitment. */
export const SECRET_COMMITMENT_DOMAIN = 'custodian/shamir/secret-commitment/v1';

/** One member's entry. */
export interface ShareEntry {
  readonly memberId: string;
  /** The member's X25519 public key (hex), to which its share is encrypted. */
  readonly memberPublicKey: string;
  /** The share's x-coordinate, 1..255. */
  readonly index: number;
  /** SHA-256(domain ‖ setId ‖ share), hex. */
  readonly commitment: string;
}

/** The public record of a split. */
export interface ShareManifest {
  readonly version: 1;
  /** Random identifier of this split (hex, 16 bytes). */
  readonly setId: string;
  readonly threshold: number;
  readonly secretLength: number;
  /** SHA-256(domain ‖ setId ‖ secret), hex. */
  readonly secretCommitment: string;
  readonly shares: readonly ShareEntry[];
}

function fail(code: string, message: string, detail: Record<string, unknown> = {}): never {
  throw new CustodianError(code, message, detail);
}

/** Checks a share index (B29): an integer in 1..255. */
export function assertShareIndex(index: unknown, where: string): number {
  if (typeof index !== 'number' || !Number.isInteger(index) || index < SHAMIR_INDEX_MIN || index > SHAMIR_INDEX_MAX) {
    fail('E_PARTY_ID_INVALID', `${where}: a share index must be an integer in ${SHAMIR_INDEX_MIN}..${SHAMIR_INDEX_MAX} (0 would reveal the secret; the field has 256 elements)`, { index: String(index) });
  }
  return index;
}

/** Checks a manifest's meaning: threshold, unique members and indices (B29). */
export function validateShareManifest(m: ShareManifest): ShareManifest {
  if (m.version !== 1) fail('E_SHAMIR_MANIFEST_INVALID', 'unknown share-manifest version');
  if (!/^[0-9a-f]{32}$/.test(m.setId)) fail('E_SHAMIR_MANIFEST_INVALID', 'setId must be 16 bytes of hex');
  if (!/^[0-9a-f]{64}$/.test(m.secretCommitment)) fail('E_SHAMIR_MANIFEST_INVALID', 'secretCommitment must be a SHA-256 hex digest');
  if (!Number.isInteger(m.secretLength) || m.secretLength < SHAMIR_SECRET_BYTES_MIN || m.secretLength > SHAMIR_SECRET_BYTES_MAX) fail('E_SHAMIR_MANIFEST_INVALID', 'secretLength out of range');
  if (m.shares.length < SHAMIR_THRESHOLD_MIN || m.shares.length > SHAMIR_MEMBERS_MAX) fail('E_SHAMIR_MANIFEST_INVALID', `a split has ${SHAMIR_THRESHOLD_MIN}..${SHAMIR_MEMBERS_MAX} members`);
  if (!Number.isInteger(m.threshold) || m.threshold < SHAMIR_THRESHOLD_MIN || m.threshold > m.shares.length) {
    fail('E_SHAMIR_MANIFEST_INVALID', `threshold must be an integer in ${SHAMIR_THRESHOLD_MIN}..${m.shares.length}`, { threshold: m.threshold });
  }
  const ids = new Set<string>();
  const indices = new Set<number>();
  for (const [i, s] of m.shares.entries()) {
    if (!SHAMIR_MEMBER_ID_RE.test(s.memberId)) fail('E_SHAMIR_MANIFEST_INVALID', `shares[${i}].memberId is not a valid member id`);
    if (!/^[0-9a-f]{64}$/.test(s.memberPublicKey)) fail('E_SHAMIR_MANIFEST_INVALID', `shares[${i}].memberPublicKey must be a 32-byte X25519 key in hex`);
    if (!/^[0-9a-f]{64}$/.test(s.commitment)) fail('E_SHAMIR_MANIFEST_INVALID', `shares[${i}].commitment must be a SHA-256 hex digest`);
    const index = assertShareIndex(s.index, `shares[${i}]`);
    if (ids.has(s.memberId)) fail('E_PARTY_ID_INVALID', `member ${s.memberId} appears twice`, { memberId: s.memberId });
    if (indices.has(index)) fail('E_PARTY_ID_INVALID', `share index ${index} is given to two members`, { index });
    ids.add(s.memberId);
    indices.add(index);
  }
  return m;
}

/** Decodes and validates a manifest from JSON. */
export function decodeShareManifest(json: Json): ShareManifest {
  const f = new Fields(json, 'manifest');
  const version = f.int('version', 1, 1) as 1;
  const shares = f.arr('shares', SHAMIR_MEMBERS_MAX).map((e, i) => {
    const g = new Fields(e, `manifest.shares[${i}]`);
    const entry = { memberId: g.str('memberId', 64), memberPublicKey: g.str('memberPublicKey', 64), index: g.int('index', 0, Number.MAX_SAFE_INTEGER), commitment: g.str('commitment', 64) };
    g.done();
    return entry;
  });
  const m = { version, setId: f.str('setId', 32), threshold: f.int('threshold'), secretLength: f.int('secretLength'), secretCommitment: f.str('secretCommitment', 64), shares };
  f.done();
  return validateShareManifest(m);
}

/** The manifest as canonical JSON. */
export function encodeShareManifest(m: ShareManifest): Json {
  return { version: m.version, setId: m.setId, threshold: m.threshold, secretLength: m.secretLength, secretCommitment: m.secretCommitment, shares: m.shares.map((s) => ({ ...s })) };
}

/** SHA-256 of the manifest's canonical JSON: what HPKE contexts and evidence bind. */
export function manifestHash(m: ShareManifest): Uint8Array {
  return new Uint8Array(createHash('sha256').update(canonicalJsonBytes(encodeShareManifest(m))).digest());
}

/** The commitment to one share (the share's bytes include its index as the last byte). */
export function shareCommitment(setId: string, share: Uint8Array): string {
  return createHash('sha256').update(concatBytes(utf8(SHARE_COMMITMENT_DOMAIN), Uint8Array.of(0), utf8(setId), share)).digest('hex');
}

/** The commitment to the secret. */
export function secretCommitment(setId: string, secret: Uint8Array): string {
  return createHash('sha256').update(concatBytes(utf8(SECRET_COMMITMENT_DOMAIN), Uint8Array.of(0), utf8(setId), secret)).digest('hex');
}

/** The entry of `memberId`, or E_SHAMIR_MEMBER_UNKNOWN. */
export function entryOf(m: ShareManifest, memberId: string): ShareEntry {
  const e = m.shares.find((s) => s.memberId === memberId);
  if (!e) fail('E_SHAMIR_MEMBER_UNKNOWN', `${memberId.slice(0, 64)} is not a member of this split`, {});
  return e;
}


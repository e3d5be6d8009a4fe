/**
 * The member's side of quorum provisioning (run by the member's CLI): open
 * its own share and check it against the manifest; verify the freshly booted
 * enclave's evidence (measurement as expected, report data binding the
 * ceremony nonce and the enclave's key) through the injected appraisal; only
 * then encrypt the share to the enclave's attested key.
 */
import { CustodianError } from '@custodian/core/errors';
import type { Secret } from '@custodian/core/secret';
import { hpkeOpen, hpkeSeal, X25519_PUBLIC_KEY_BYTES, type HpkeSealed } from '@custodian/core/hpke-seal';
import { ENCLAVE_SHARE_INFO, MEMBER_SHARE_INFO, postingAad, shareInfo } from './contexts.js';
import { entryOf, manifestHash, shareCommitment, type ShareManifest } from './share-manifest.js';
import type { EncryptedShare } from './split.js';

/** Appraises enclave evidence; same shape as the key broker's hook. */
export type EnclaveAppraiseFn = (
  evidence: Uint8Array,
  expected: { nonce: Uint8Array; publicKeyBinding: Uint8Array },
) => Promise<{ ok: boolean; measurement: string; reasons: string[] }>;

/** What a freshly booted enclave publishes. */
export interface EnclaveAnnouncement {
  readonly evidence: Uint8Array;
  /** The enclave's ephemeral X25519 key, bound in the evidence. */
  readonly publicKey: Uint8Array;
}

/** A share posted to the enclave, encrypted to its attested key. */
export interface SharePosting extends HpkeSealed {
  readonly memberId: string;
}

/** The ceremony nonce the evidence binds: by default the manifest hash (QuorumOS binds the manifest). */
export function provisioningNonce(manifest: ShareManifest): Uint8Array {
  return manifestHash(manifest);
}

/** Opens the member's own share and checks it against its commitment (E_SHARE_COMMITMENT_MISMATCH). */
export async function openMemberShare(manifest: ShareManifest, encrypted: EncryptedShare, memberPrivateKey: Secret<Uint8Array>): Promise<Secret<Uint8Array>> {
  const entry = entryOf(manifest, encrypted.memberId);
  const share = await hpkeOpen(memberPrivateKey, encrypted, shareInfo(MEMBER_SHARE_INFO, manifestHash(manifest), entry.memberId), Uint8Array.of(entry.index));
  assertShareMatches(manifest, entry.memberId, share.expose());
  return share;
}

/** Checks a share's length, index (B29) and commitment against the member's entry. */
export function assertShareMatches(manifest: ShareManifest, memberId: string, share: Uint8Array): void {
  const entry = entryOf(manifest, memberId);
  if (share.length !== manifest.secretLength + 1) throw new CustodianError('E_SHARE_COMMITMENT_MISMATCH', `the share of ${memberId} has the wrong length`, { memberId });
  const index = share[share.length - 1];
  if (index !== entry.index) throw new CustodianError('E_PARTY_ID_INVALID', `the share of ${memberId} carries index ${String(index)}, the manifest says ${entry.index}`, { memberId, index: index ?? -1, expected: entry.index });
  if (shareCommitment(manifest.setId, share) !== entry.commitment) {
    throw new CustodianError('E_SHARE_COMMITMENT_MISMATCH', `the share of ${memberId} does not match its commitment in the manifest`, { memberId });
  }
}

/**
 * Verifies the enclave's evidence and, only if it is acceptable, returns the
 * member's share encrypted to the enclave's attested key. Refusal:
 * E_SHAMIR_ENCLAVE_REFUSED with the appraisal's reasons.
 */
export async function postShareToEnclave(args: {
  readonly manifest: ShareManifest;
  readonly encryptedShare: EncryptedShare;
  readonly memberPrivateKey: Secret<Uint8Array>;
  readonly enclave: EnclaveAnnouncement;
  readonly expectedMeasurement: string;
  readonly appraise: EnclaveAppraiseFn;
  readonly nonce?: Uint8Array;
}): Promise<SharePosting> {
  const { manifest, enclave } = args;
  const nonce = args.nonce ?? provisioningNonce(manifest);
  if (enclave.publicKey.length !== X25519_PUBLIC_KEY_BYTES) throw new CustodianError('E_SHAMIR_ENCLAVE_REFUSED', 'the enclave key is not a 32-byte X25519 key', { reasons: ['bad enclave key'] });
  let verdict: { ok: boolean; measurement: string; reasons: string[] };
  try {
    verdict = await args.appraise(enclave.evidence, { nonce, publicKeyBinding: enclave.publicKey });
  } catch (e) {
    verdict = { ok: false, measurement: '', reasons: [`the appraisal failed: ${e instanceof Error ? e.message : String(e)}`] };
  }
  const reasons = [...verdict.reasons];
  if (verdict.ok !== true && reasons.length === 0) reasons.push('the appraisal refused the evidence');
  if (verdict.measurement !== args.expectedMeasurement) reasons.push(`the enclave measurement ${verdict.measurement.slice(0, 16)}… is not the expected ${args.expectedMeasurement.slice(0, 16)}…`);
  if (verdict.ok !== true || reasons.length > 0) {
    throw new CustodianError('E_SHAMIR_ENCLAVE_REFUSED', `the share is not posted: ${reasons.join('; ')}`, { reasons });
  }
  const share = await openMemberShare(manifest, args.encryptedShare, args.memberPrivateKey);
  try {
    const sealed = await hpkeSeal(enclave.publicKey, share.expose(), shareInfo(ENCLAVE_SHARE_INFO, manifestHash(manifest), args.encryptedShare.memberId), postingAad(enclave.publicKey, nonce));
    return { memberId: args.encryptedShare.memberId, ...sealed };
  } finally {
    share.zeroise();
  }
}


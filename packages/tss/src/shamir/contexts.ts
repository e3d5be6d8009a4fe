/**
 * The HPKE contexts of quorum provisioning: each names its purpose, the split
 * (manifest hash) and the member, so a ciphertext cannot be replayed into
 * another split, to another member or to another enclave.
 */
import { concatBytes, utf8 } from '@custodian/core/bytes';

/** Purpose of a share encrypted to its member. */
export const MEMBER_SHARE_INFO = 'custodian/shamir/member-share/v1';
/** Purpose of a share a member posts to the enclave. */
export const ENCLAVE_SHARE_INFO = 'custodian/shamir/enclave-share/v1';

/** `purpose ‖ 0x00 ‖ manifestHash ‖ memberId`. */
export function shareInfo(purpose: string, manifestHash: Uint8Array, memberId: string): Uint8Array {
  return concatBytes(utf8(purpose), Uint8Array.of(0), manifestHash, utf8(memberId));
}

/** The associated data of a posting: the enclave's attested key and the ceremony nonce. */
export function postingAad(enclavePublicKey: Uint8Array, nonce: Uint8Array): Uint8Array {
  return concatBytes(enclavePublicKey, nonce);
}

/**
 * The enclave's side of a key release, as a reference for the signer: make an
 * ephemeral X25519 key, bind it and the nonce in the evidence, then open the
 * broker's answer. The enclave may not import apps/kbs; the lead moves this
 * (with `keyReleaseInfo`) into the enclave or packages/protocol unchanged.
 */
import type { Secret } from '@custodian/core/secret';
import { hpkeOpen } from '@custodian/core/hpke-seal';
import { keyReleaseInfo } from './key-broker.js';

/** Opens a released sealing key with the ephemeral private key; E_HPKE_OPEN_FAILED if it was not made for this key, measurement and nonce. */
export async function openKeyRelease(
  release: { readonly enc: Uint8Array; readonly ciphertext: Uint8Array },
  ephemeralPrivateKey: Secret<Uint8Array>,
  expected: { readonly measurement: string; readonly nonce: Uint8Array },
): Promise<Secret<Uint8Array>> {
  return hpkeOpen(ephemeralPrivateKey, release, keyReleaseInfo(expected.measurement), expected.nonce);
}

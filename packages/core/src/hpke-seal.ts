/**
 * HPKE (RFC 9180) base mode with DHKEM(X25519, HKDF-SHA256), HKDF-SHA256 and
 * AES-256-GCM, over @hpke/core: the one single-shot construction Custodian
 * uses to move a secret to an attested key (the key broker releasing a sealing
 * key, quorum members posting Shamir shares). Kept in core so that every
 * package that needs it uses the same suite.
 */
import { Aes256Gcm, CipherSuite, DhkemX25519HkdfSha256, HkdfSha256 } from '@hpke/core';
import { CustodianError } from './errors.js';
import { Secret } from './secret.js';

/** Length of an X25519 public key and of the HPKE `enc` for this suite. */
export const X25519_PUBLIC_KEY_BYTES = 32;
/** Largest plaintext sealed (keys and shares are a few dozen bytes). */
export const HPKE_PLAINTEXT_BYTES_MAX = 64 * 1024;

const suite = new CipherSuite({ kem: new DhkemX25519HkdfSha256(), kdf: new HkdfSha256(), aead: new Aes256Gcm() });

/** An HPKE ciphertext: the encapsulated key and the AEAD output. */
export interface HpkeSealed {
  readonly enc: Uint8Array;
  readonly ciphertext: Uint8Array;
}

/** A fresh X25519 key pair (enclave side: its ephemeral key for one release). */
export async function generateHpkeKeyPair(): Promise<{ publicKey: Uint8Array; privateKey: Secret<Uint8Array> }> {
  const kp = await suite.kem.generateKeyPair();
  return {
    publicKey: new Uint8Array(await suite.kem.serializePublicKey(kp.publicKey)),
    privateKey: new Secret(new Uint8Array(await suite.kem.serializePrivateKey(kp.privateKey))),
  };
}

/**
 * Encrypts `plaintext` to `recipientPublicKey` with `info` (key schedule) and
 * `aad` bound; `maxBytes` raises the plaintext bound for a caller that moves
 * more than a key (a signer backup), each under its own bound.
 */
export async function hpkeSeal(recipientPublicKey: Uint8Array, plaintext: Uint8Array, info: Uint8Array, aad: Uint8Array, maxBytes = HPKE_PLAINTEXT_BYTES_MAX): Promise<HpkeSealed> {
  if (recipientPublicKey.length !== X25519_PUBLIC_KEY_BYTES) throw new CustodianError('E_HPKE_KEY_INVALID', `an X25519 public key is ${X25519_PUBLIC_KEY_BYTES} bytes`, {});
  if (plaintext.length > maxBytes) throw new CustodianError('E_HPKE_TOO_LARGE', `plaintext of ${plaintext.length} bytes is over the ${maxBytes}-byte bound for HPKE sealing`, { maxBytes });
  try {
    const pk = await suite.kem.deserializePublicKey(recipientPublicKey);
    const out = await suite.seal({ recipientPublicKey: pk, info }, plaintext, aad);
    return { enc: new Uint8Array(out.enc), ciphertext: new Uint8Array(out.ct) };
  } catch (e) {
    throw new CustodianError('E_HPKE_KEY_INVALID', 'cannot encrypt to this public key (not a valid X25519 key)', { cause: e instanceof Error ? e.name : 'unknown' });
  }
}

/** Decrypts what `hpkeSeal` made; E_HPKE_OPEN_FAILED on any mismatch (key, info, aad, bytes). */
export async function hpkeOpen(recipientPrivateKey: Secret<Uint8Array>, sealed: HpkeSealed, info: Uint8Array, aad: Uint8Array): Promise<Secret<Uint8Array>> {
  try {
    const sk = await suite.kem.deserializePrivateKey(recipientPrivateKey.expose());
    const pt = await suite.open({ recipientKey: sk, enc: sealed.enc, info }, sealed.ciphertext, aad);
    return new Secret(new Uint8Array(pt));
  } catch {
    throw new CustodianError('E_HPKE_OPEN_FAILED', 'the HPKE ciphertext does not open with this key and context', {});
  }
}

/**
 * The HPKE (RFC 9180) ciphersuite of the enclave-to-enclave peer channel:
 * DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-128-GCM, from `@hpke/core`
 * (WebCrypto underneath). Auth mode authenticates the sender's static key.
 */
import { Aes128Gcm, CipherSuite, DhkemX25519HkdfSha256, HkdfSha256 } from '@hpke/core';
import type { Secret } from '@custodian/core/secret';

/** Our name for the suite, carried in every envelope. */
export const PEER_SUITE_NAME = 'DHKEM(X25519,HKDF-SHA256)/HKDF-SHA256/AES-128-GCM';
/** Length of an X25519 public key. */
export const PEER_PUBLIC_KEY_BYTES = 32;
/** Length of the seed a peer key pair is derived from (RFC 9180 §7.1.3 DeriveKeyPair ikm). */
export const PEER_KEY_SEED_BYTES = 32;

/** The peer-channel cipher suite (one shared instance; it holds no secrets). */
export const peerSuite: CipherSuite = new CipherSuite({ kem: new DhkemX25519HkdfSha256(), kdf: new HkdfSha256(), aead: new Aes128Gcm() });

/** The key pair type of the suite's KEM. */
export type PeerCryptoKeyPair = Awaited<ReturnType<CipherSuite['kem']['deriveKeyPair']>>;
/** The public key type of the suite's KEM. */
export type PeerCryptoPublicKey = PeerCryptoKeyPair['publicKey'];

/** A peer's static channel key pair: the public bytes (bound into its attestation) and the secret pair. */
export interface PeerKeyPair {
  readonly publicKey: Uint8Array;
  readonly keyPair: Secret<PeerCryptoKeyPair>;
}

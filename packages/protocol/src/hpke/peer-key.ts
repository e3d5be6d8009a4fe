/**
 * Peer channel keys: derived from a seed (RFC 9180 DeriveKeyPair) so that the
 * enclave can seal the seed and recreate the same key after a restart, and so
 * that randomness is injected.
 */
import type { Random } from '@custodian/core/clock';
import { CustodianError } from '@custodian/core/errors';
import { Secret } from '@custodian/core/secret';
import { PEER_KEY_SEED_BYTES, PEER_PUBLIC_KEY_BYTES, peerSuite, type PeerCryptoPublicKey, type PeerKeyPair } from './peer-suite.js';

/** Derives the channel key pair from a secret seed of PEER_KEY_SEED_BYTES bytes. */
export async function derivePeerKeyPair(seed: Secret<Uint8Array>): Promise<PeerKeyPair> {
  const ikm = seed.expose();
  if (ikm.length !== PEER_KEY_SEED_BYTES) throw new CustodianError('E_PEER_KEY_INVALID', `peer key seed must be ${PEER_KEY_SEED_BYTES} bytes`);
  const keyPair = await peerSuite.kem.deriveKeyPair(ikm.slice());
  const publicKey = new Uint8Array(await peerSuite.kem.serializePublicKey(keyPair.publicKey));
  return Object.freeze({ publicKey, keyPair: new Secret(keyPair) });
}

/** Generates a fresh channel key pair from injected randomness; returns the seed to seal alongside. */
export async function generatePeerKeyPair(random: Random): Promise<{ seed: Secret<Uint8Array>; keyPair: PeerKeyPair }> {
  const seed = new Secret(random.bytes(PEER_KEY_SEED_BYTES));
  return { seed, keyPair: await derivePeerKeyPair(seed) };
}

/** Imports a peer's public key (32 raw X25519 bytes); throws E_PEER_KEY_INVALID. */
export async function importPeerPublicKey(publicKey: Uint8Array): Promise<PeerCryptoPublicKey> {
  if (publicKey.length !== PEER_PUBLIC_KEY_BYTES) throw new CustodianError('E_PEER_KEY_INVALID', `peer public key must be ${PEER_PUBLIC_KEY_BYTES} bytes`);
  try {
    return await peerSuite.kem.deserializePublicKey(publicKey.slice());
  } catch {
    throw new CustodianError('E_PEER_KEY_INVALID', 'peer public key is not a valid X25519 key');
  }
}

/**
 * Operator keys: Ed25519 (CLI key files) and P-256 (passkeys, CLI key files).
 * Operators sign canonical JSON payloads under a domain-separation prefix
 * naming the payload type, so a signature for one kind of message can never
 * be replayed as another.
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { p256 } from '@noble/curves/nist.js';
import { CustodianError } from '@custodian/core/errors';
import { concatBytes, utf8 } from '@custodian/core/bytes';
import { canonicalJsonBytes } from '@custodian/core/canonical-json';
import { Secret } from '@custodian/core/secret';

/** Signature algorithms operators may use. */
export type OperatorKeyAlg = 'ed25519' | 'p256';

/** An operator's public key as the manifest carries it. */
export interface OperatorPublicKey {
  readonly alg: OperatorKeyAlg;
  /** Ed25519: 32 bytes; P-256: 33-byte compressed SEC1. */
  readonly key: Uint8Array;
}

/** An operator's key pair (held in a key file, never sent anywhere). */
export interface OperatorKeyPair {
  readonly alg: OperatorKeyAlg;
  readonly secretKey: Secret<Uint8Array>;
  readonly publicKey: Uint8Array;
}

/** Generates an operator key pair. */
export function generateOperatorKey(alg: OperatorKeyAlg): OperatorKeyPair {
  if (alg === 'ed25519') {
    const sk = ed25519.utils.randomSecretKey();
    return { alg, secretKey: new Secret(sk), publicKey: ed25519.getPublicKey(sk) };
  }
  const sk = p256.utils.randomSecretKey();
  return { alg, secretKey: new Secret(sk), publicKey: p256.getPublicKey(sk, true) };
}

/** Rebuilds a key pair from its secret key bytes. */
export function operatorKeyFromSecret(alg: OperatorKeyAlg, sk: Uint8Array): OperatorKeyPair {
  const publicKey = alg === 'ed25519' ? ed25519.getPublicKey(sk) : p256.getPublicKey(sk, true);
  return { alg, secretKey: new Secret(sk), publicKey };
}

/** The bytes an operator signs for a payload of type `type`. */
export function signingInput(type: string, payload: unknown): Uint8Array {
  return concatBytes(utf8(`custodian/${type}\n`), canonicalJsonBytes(payload));
}

/** Signs a payload (domain-separated by its type). */
export function signPayload(key: OperatorKeyPair, type: string, payload: unknown): Uint8Array {
  const msg = signingInput(type, payload);
  const sk = key.secretKey.expose();
  return key.alg === 'ed25519' ? ed25519.sign(msg, sk) : p256.sign(msg, sk, { prehash: true, lowS: true });
}

/**
 * Verifies an operator signature. P-256 signatures must be low-S so that one
 * approval has exactly one valid signature (B08: malleated forms refused).
 */
export function verifyPayload(pub: OperatorPublicKey, type: string, payload: unknown, signature: Uint8Array): boolean {
  const msg = signingInput(type, payload);
  try {
    if (pub.alg === 'ed25519') return signature.length === 64 && ed25519.verify(signature, msg, pub.key, { zip215: false });
    return signature.length === 64 && p256.verify(signature, msg, pub.key, { prehash: true, lowS: true });
  } catch {
    return false;
  }
}

/** Checks that public key bytes are a valid point for the algorithm. */
export function validateOperatorPublicKey(pub: OperatorPublicKey): void {
  try {
    if (pub.alg === 'ed25519') {
      if (pub.key.length !== 32) throw new Error('length');
      ed25519.Point.fromBytes(pub.key);
    } else {
      if (pub.key.length !== 33) throw new Error('length');
      p256.Point.fromBytes(pub.key);
    }
  } catch {
    throw new CustodianError('E_KEY_INVALID', `operator public key is not a valid ${pub.alg} key`);
  }
}

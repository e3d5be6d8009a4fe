/** Validation of pinned Ed25519 public keys (roots, identities). */
import { ed25519 } from '@noble/curves/ed25519.js';

/**
 * True when `key` is a canonical Ed25519 point of full order. Small-order
 * points must never be pinned: with them, forged signatures verify under
 * lenient (ZIP-215) rules.
 */
export function isFullOrderEd25519Key(key: Uint8Array): boolean {
  try {
    return key.length === 32 && !ed25519.Point.fromBytes(key, false).isSmallOrder();
  } catch {
    return false;
  }
}

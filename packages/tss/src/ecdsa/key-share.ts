/**
 * One party's ECDSA key share after key generation, refresh or resharing:
 * public committee data, the secret Shamir share and, for every peer, the
 * OT-extension setup of both directions (the DKLs23 "pairwise setup" whose base
 * OTs run once at key generation). Secret material sits inside `Secret`.
 */
import type { Secret } from '@custodian/core/secret';
import type { Point } from './group.js';
import type { CotReceiverSetup, CotSenderSetup } from './ot-extension.js';
import { fail } from './errors.js';

/** The OT-extension setups this party holds with one peer. */
export interface PairSetup {
  /** This party as Alice (extension sender) towards the peer. */
  readonly alice: CotSenderSetup;
  /** This party as Bob (extension receiver) towards the peer. */
  readonly bob: CotReceiverSetup;
}

/** Secret part of a key share. */
export interface KeyShareSecret {
  /** p(id), this party's Shamir share of the secret key. */
  readonly share: bigint;
  /** OT setups keyed by peer id. */
  readonly pairs: ReadonlyMap<bigint, PairSetup>;
}

/** Mutable status shared by every session that uses one key share; the signer must persist it. */
export interface KeyStatus {
  /** F06: set when a combined signature failed to verify; nothing signs until a refresh or re-key. */
  frozen: boolean;
  /**
   * Peers whose pairwise OT setup is burned: they failed the KOS check of an
   * OT extension towards us, which may have taught them bits of our Δ (KOS15
   * selective abort). Signing with them is refused until a refresh re-runs
   * the base OTs.
   */
  readonly excluded: Set<bigint>;
}

/** One party's share of a t-of-n secp256k1 key. */
export interface EcdsaKeyShare {
  readonly id: bigint;
  readonly threshold: number;
  /** The committee, sorted. */
  readonly parties: readonly bigint[];
  /** The group public key. */
  readonly publicKey: Point;
  /** p(j)·G for every committee member j. */
  readonly publicShares: ReadonlyMap<bigint, Point>;
  readonly secret: Secret<KeyShareSecret>;
  readonly status: KeyStatus;
}

/** Throws E_PEER_EXCLUDED when a signer's OT setup with us is burned. */
export function assertPeersUsable(share: EcdsaKeyShare, signers: readonly bigint[]): void {
  for (const j of signers) {
    if (share.status.excluded.has(j)) fail('E_PEER_EXCLUDED', `party ${j} failed an OT-extension check earlier; a refresh must renew the setup before it signs with us again`, { party: j.toString() });
  }
}

/** Throws E_KEY_FROZEN when a failed signature has frozen this key share (F06). */
export function assertNotFrozen(share: EcdsaKeyShare): void {
  if (share.status.frozen) fail('E_KEY_FROZEN', 'this key is frozen after a signature failed to verify; a quorum-approved refresh or re-key is required');
}

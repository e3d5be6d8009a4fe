/**
 * The FROST ciphersuites we support, each bound to the `@noble/curves` (v2)
 * RFC 9591 implementation and to an independent plain verifier for its
 * signatures. We do not implement FROST; we choose, wrap and check it.
 */
import { ed25519, ed25519_FROST } from '@noble/curves/ed25519.js';
import { schnorr, schnorr_FROST, secp256k1_FROST } from '@noble/curves/secp256k1.js';
import type { FROST } from '@noble/curves/abstract/frost.js';
import { ed25519Group, secp256k1Group, type Group } from './group.js';
import { frostError } from './errors.js';

/** Our names for the supported ciphersuites (CLI `--scheme` values). */
export type FrostSuiteId = 'frost-ed25519' | 'frost-secp256k1' | 'frost-secp256k1-tr';

/** All supported suite identifiers, in a stable order. */
export const FROST_SUITE_IDS: readonly FrostSuiteId[] = Object.freeze(['frost-ed25519', 'frost-secp256k1', 'frost-secp256k1-tr']);

/** One ciphersuite: the library's FROST object, its group and its plain verifier. */
export interface FrostSuite {
  readonly id: FrostSuiteId;
  /** RFC 9591 contextString (the library's suite name). */
  readonly contextString: string;
  /** The library's FROST implementation for this suite. */
  readonly frost: FROST;
  /** The group, for our own protocols on the library's arithmetic. */
  readonly group: Group;
  /** Converts a serialised group public key into the key a plain verifier takes. */
  verifierKey(groupPublicKey: Uint8Array): Uint8Array;
  /**
   * Verifies a group signature with an implementation independent of FROST:
   * RFC 8032 `ed25519.verify`, BIP340 `schnorr.verify`; for plain
   * FROST(secp256k1, SHA-256), which has no single-key standard, the RFC 9591
   * verifier of the library.
   */
  verifyPlain(signature: Uint8Array, message: Uint8Array, verifierKey: Uint8Array): boolean;
}

const SUITES: Readonly<Record<FrostSuiteId, FrostSuite>> = Object.freeze({
  'frost-ed25519': {
    id: 'frost-ed25519',
    contextString: 'FROST-ED25519-SHA512-v1',
    frost: ed25519_FROST,
    group: ed25519Group,
    verifierKey: (pk: Uint8Array) => pk.slice(),
    // zip215: false — strict RFC 8032 verification (no non-canonical encodings).
    verifyPlain: (sig: Uint8Array, msg: Uint8Array, pk: Uint8Array) => safe(() => ed25519.verify(sig, msg, pk, { zip215: false })),
  },
  'frost-secp256k1': {
    id: 'frost-secp256k1',
    contextString: 'FROST-secp256k1-SHA256-v1',
    frost: secp256k1_FROST,
    group: secp256k1Group,
    verifierKey: (pk: Uint8Array) => pk.slice(),
    verifyPlain: (sig: Uint8Array, msg: Uint8Array, pk: Uint8Array) => safe(() => secp256k1_FROST.verify(sig, msg, pk)),
  },
  'frost-secp256k1-tr': {
    id: 'frost-secp256k1-tr',
    contextString: 'FROST-secp256k1-SHA256-TR-v1',
    frost: schnorr_FROST,
    group: secp256k1Group,
    // BIP340 keys are x-only: drop the SEC1 parity byte.
    verifierKey: (pk: Uint8Array) => (pk.length === 33 ? pk.slice(1) : pk.slice()),
    verifyPlain: (sig: Uint8Array, msg: Uint8Array, pk: Uint8Array) => safe(() => schnorr.verify(sig, msg, pk)),
  },
});

/** Returns the suite for an identifier, or throws E_FROST_SUITE_UNKNOWN. */
export function frostSuite(id: string): FrostSuite {
  if (!(FROST_SUITE_IDS as readonly string[]).includes(id)) {
    throw frostError('E_FROST_SUITE_UNKNOWN', `unknown FROST ciphersuite ${JSON.stringify(id)}`, { suite: id, supported: FROST_SUITE_IDS });
  }
  return SUITES[id as FrostSuiteId];
}

// A verifier answers yes or no; malformed input is a no, never an exception.
function safe(f: () => boolean): boolean {
  try {
    return f();
  } catch {
    return false;
  }
}

/** Adapts injected randomness (`@custodian/core/clock` Random) to the library's RNG signature. */
export function libraryRng(random: { bytes(n: number): Uint8Array }): (bytesLength?: number) => Uint8Array<ArrayBuffer> {
  return (n = 32) => Uint8Array.from(random.bytes(n));
}

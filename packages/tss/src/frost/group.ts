/**
 * The prime-order group of a FROST ciphersuite, seen through one small
 * interface so that refresh, reshare and the taproot tweak are written once
 * (noble style: one algorithm, parameterised by data). All arithmetic is the
 * library's (`@noble/curves` points and scalar field); nothing here is new
 * curve code.
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import type { IField } from '@noble/curves/abstract/modular.js';
import { frostError } from './errors.js';

/** The operations our protocols need from a group element. */
export interface GroupElement {
  add(other: GroupElement): GroupElement;
  subtract(other: GroupElement): GroupElement;
  negate(): GroupElement;
  /** Constant-time scalar multiplication (secret scalars); rejects 0. */
  multiply(scalar: bigint): GroupElement;
  /** Variable-time scalar multiplication (public scalars only); accepts 0. */
  multiplyUnsafe(scalar: bigint): GroupElement;
  equals(other: GroupElement): boolean;
  is0(): boolean;
  isTorsionFree(): boolean;
  assertValidity(): void;
  toBytes(): Uint8Array;
}

interface ElementConstructor {
  BASE: GroupElement;
  ZERO: GroupElement;
  fromBytes(bytes: Uint8Array): GroupElement;
  Fn: IField<bigint>;
}

/** A FROST ciphersuite's group: point and scalar codecs with validation. */
export interface Group {
  /** The scalar field (order q). */
  readonly Fn: IField<bigint>;
  /** Generator. */
  readonly base: GroupElement;
  /** Identity. */
  readonly zero: GroupElement;
  /** `scalar`·base by the constant-time multiply (secret scalars: shares, deltas); 0 gives the identity. */
  mulBase(scalar: bigint): GroupElement;
  /** RFC 9591 §3.1 DeserializeElement: rejects bad encodings, identity and small-order points. */
  decodeElement(bytes: Uint8Array, field: string): GroupElement;
  /** RFC 9591 §3.1 SerializeElement (the identity is never serialised). */
  encodeElement(element: GroupElement): Uint8Array;
  /** RFC 9591 §3.1 DeserializeScalar: rejects non-canonical encodings (≥ q). */
  decodeScalar(bytes: Uint8Array, field: string): bigint;
  /** RFC 9591 §3.1 SerializeScalar. */
  encodeScalar(scalar: bigint): Uint8Array;
  /** Uniform scalar in 1..q-1 from injected randomness, via the library's hardened derivation. */
  randomScalar(rng: (n: number) => Uint8Array): bigint;
}

// The noble point classes satisfy GroupElement structurally for their own type;
// TypeScript cannot see that through their generic self-types, hence one cast
// at this boundary and nowhere else.
function groupOf(cons: ElementConstructor): Group {
  const { Fn } = cons;
  return {
    Fn,
    base: cons.BASE,
    zero: cons.ZERO,
    mulBase: (scalar) => (scalar === 0n ? cons.ZERO : cons.BASE.multiply(scalar)),
    decodeElement(bytes, field) {
      let p: GroupElement;
      try {
        p = cons.fromBytes(bytes);
        p.assertValidity();
      } catch {
        throw frostError('E_FROST_ELEMENT_INVALID', `${field} is not a valid group element`, { field });
      }
      if (p.is0()) throw frostError('E_FROST_ELEMENT_INVALID', `${field} is the identity element`, { field });
      if (!p.isTorsionFree()) throw frostError('E_FROST_ELEMENT_INVALID', `${field} is not in the prime-order subgroup`, { field });
      return p;
    },
    encodeElement(element) {
      if (element.is0()) throw frostError('E_FROST_ELEMENT_INVALID', 'the identity element cannot be serialised');
      return element.toBytes();
    },
    decodeScalar(bytes, field) {
      if (bytes.length !== Fn.BYTES) throw frostError('E_FROST_ELEMENT_INVALID', `${field} must be ${Fn.BYTES} bytes`, { field });
      try {
        return Fn.fromBytes(bytes);
      } catch {
        throw frostError('E_FROST_ELEMENT_INVALID', `${field} is not a canonical scalar`, { field });
      }
    },
    encodeScalar: (scalar) => Fn.toBytes(scalar),
    randomScalar(rng) {
      // Rejection-free reduction of 2× the field size (noble's mapHashToField
      // policy, FIPS 186-5 A.4.1): bias ≤ 2^-128, result in 1..q-1.
      const wide = rng(Fn.BYTES + 16);
      const n = Fn.isLE ? wide.reduceRight((acc, b) => (acc << 8n) | BigInt(b), 0n) : wide.reduce((acc, b) => (acc << 8n) | BigInt(b), 0n);
      return (n % (Fn.ORDER - 1n)) + 1n;
    },
  };
}

/** The Ed25519 group (prime-order subgroup of edwards25519). */
export const ed25519Group: Group = groupOf(ed25519.Point as unknown as ElementConstructor);
/** The secp256k1 group (compressed SEC1 encodings). */
export const secp256k1Group: Group = groupOf(secp256k1.Point as unknown as ElementConstructor);

/** True when a compressed secp256k1 encoding has an even y coordinate (BIP340 lift_x convention). */
export function hasEvenY(compressed: Uint8Array): boolean {
  return compressed[0] === 0x02;
}

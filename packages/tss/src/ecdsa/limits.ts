/**
 * Named parameters and limits of the threshold-ECDSA layer
 * (docs/decisions/ecdsa-ot.md explains each choice).
 */

/** Base OTs per ordered pair = OT-extension security parameter κ_OT (KOS15). */
export const OT_BASE_COUNT = 128;
/** Statistical security parameter of the multiplication (DKLs19 §3: s). */
export const STAT_SECURITY = 80;
/** Bits of the secp256k1 scalar field, DKLs19's κ for the gadget. */
export const SCALAR_BITS = 256;
/** DKLs19/23 batch size ξ = κ + 2s: OTs per two-party multiplication. */
export const MUL_BATCH = SCALAR_BITS + 2 * STAT_SECURITY;
/** KOS15 padding of the extended choice vector (κ_OT + s_KOS bits), a multiple of 8. */
export const OT_EXT_PAD = OT_BASE_COUNT + 64;
/** DKLs23 F_RVOLE vector length ℓ (instance key and secret key share). */
export const RVOLE_WIDTH = 2;
/** Most parties in one ECDSA committee. */
export const PARTIES_MAX = 16;
/** Bytes of a session id. */
export const SESSION_ID_BYTES = 32;
/** Bytes of a scalar on the wire. */
export const SCALAR_BYTES = 32;
/** Bytes of a compressed SEC1 point on the wire. */
export const POINT_BYTES = 33;
/** Largest message body accepted from a peer (bounded before decoding). */
export const MESSAGE_BODY_BYTES_MAX = 256 * 1024;

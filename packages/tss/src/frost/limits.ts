/** Named limits of the FROST layer (STYLE.md: every limit is a named constant). */

/** Largest committee (n) we run DKG, refresh, reshare or signing with. */
export const FROST_PARTIES_MAX = 64;
/** Smallest threshold: FROST (and the library) require t ≥ 2. */
export const FROST_THRESHOLD_MIN = 2;
/** Largest numeric party identifier accepted on the wire. */
export const FROST_PARTY_ID_MAX = 65_535;
/** Longest session identifier, in characters. */
export const FROST_SESSION_ID_CHARS_MAX = 128;
/** Longest message a FROST signing session accepts, in bytes. */
export const FROST_MESSAGE_BYTES_MAX = 64 * 1024;

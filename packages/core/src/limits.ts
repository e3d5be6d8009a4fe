/**
 * Named limits used across packages. Every untrusted input is bounded by one
 * of these before it is parsed (STYLE.md: every limit is a named constant).
 */
/** Largest JSON document accepted from any peer (API body, protocol frame). */
export const JSON_BYTES_MAX = 1024 * 1024;
/** Deepest nesting accepted in a JSON document. */
export const JSON_DEPTH_MAX = 32;
/** Largest protocol frame between host and enclave. */
export const FRAME_BYTES_MAX = 4 * 1024 * 1024;
/** Largest raw transaction accepted for decoding. */
export const RAW_TX_BYTES_MAX = 128 * 1024;
/** Most operators in one organisation manifest. */
export const MANIFEST_OPERATORS_MAX = 256;
/** Longest validity an approval may claim (expiresAt - now). */
export const APPROVAL_TTL_MAX_MS = 24 * 60 * 60 * 1000;
/** Tolerated clock skew between operators and enclaves. */
export const CLOCK_SKEW_MAX_MS = 5 * 60 * 1000;

/** Named limits for attestation evidence and certificates (checked before parsing). */

/** Largest evidence document of any format accepted for verification. */
export const EVIDENCE_BYTES_MAX = 64 * 1024;
/** Largest single DER certificate or CRL accepted. */
export const DER_BYTES_MAX = 64 * 1024;
/** Deepest nesting inside a DER structure. */
export const DER_DEPTH_MAX = 24;
/** Most certificates in one chain, root included. */
export const CHAIN_DEPTH_MAX = 8;
/** Largest collateral file (CRL, TCB info, certificate bundle). */
export const COLLATERAL_BYTES_MAX = 1024 * 1024;

/** The enclave's bounds and time limits (shared by the modules that enforce them). */

/** Most approvals one signing request may carry. */
export const APPROVALS_PER_REQUEST_MAX = 64;
/** Most threshold sessions (opened or running) one signer keeps in memory. */
export const MPC_SESSIONS_MAX = 32;
/** A threshold session not finished within this time is dropped. */
export const MPC_SESSION_TTL_MS = 5 * 60 * 1000;
/** How long a `single` signing holds its Cedar spend reservation (it commits within the same operation). */
export const SIGN_RESERVATION_TTL_MS = 60 * 1000;
/**
 * How long a threshold signing holds its Cedar spend reservation: across the
 * session and the host's retries with another signing set (an aborted session
 * keeps it, so the retry counts the same spend once; it lapses after this).
 */
export const MPC_RESERVATION_TTL_MS = 15 * 60 * 1000;
/** First-seen times of requests are kept this long (a request seen again later starts its time-locks later, never earlier). */
export const REQUEST_SEEN_TTL_MS = 30 * 24 * 60 * 60 * 1000;
/** Most first-seen times kept (the oldest are forgotten first). */
export const REQUEST_SEEN_MAX = 100_000;

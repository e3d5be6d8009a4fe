/** Maps error codes to HTTP statuses, in one place. */
import { CustodianError } from '@custodian/core/errors';

const NOT_FOUND = new Set(['E_REQUEST_NOT_FOUND', 'E_WALLET_UNKNOWN', 'E_SIGNER_UNKNOWN', 'E_NOT_FOUND']);
const CONFLICT = new Set(['E_WALLET_EXISTS', 'E_REQUEST_ALREADY_SIGNED', 'E_IDEMPOTENCY_KEY_REUSED', 'E_AUDIT_CONFLICT', 'E_MANIFEST_SEQUENCE', 'E_PROVISION_COMPLETE', 'E_REFRESH_PENDING']);
const UNAVAILABLE = new Set(['E_UNAVAILABLE', 'E_SIGNER_UNAVAILABLE', 'E_AUDIT_UNAVAILABLE', 'E_TIMEOUT', 'E_SIGNER_NOT_READY', 'E_QUORUM_UNAVAILABLE', 'E_CHECKPOINT_UNWITNESSED']);
const BAD_REQUEST = /^E_(JSON|FIELD|HEX|USAGE|BODY)/;
/** A break-glass freeze holds the wallet or the organisation: 423 Locked until it is unfrozen. */
const LOCKED = new Set(['E_WALLET_FROZEN', 'E_ORGANISATION_FROZEN']);

/** HTTP status for a thrown value. */
export function httpStatusFor(e: unknown): number {
  if (!(e instanceof CustodianError)) return 500;
  if (NOT_FOUND.has(e.code)) return 404;
  if (CONFLICT.has(e.code)) return 409;
  if (UNAVAILABLE.has(e.code)) return 503;
  if (LOCKED.has(e.code)) return 423;
  if (e.code === 'E_INTERNAL') return 500;
  if (BAD_REQUEST.test(e.code)) return 400;
  return 422;
}

/**
 * Names shared by the host and the signers for the organisation's
 * transparency log (C2SP tlog-tiles): its origin line and each signer's note
 * key names. Every signer holds a log key (type 0x01: any one signs a
 * checkpoint as the log) and a cosignature key (type 0x04: a quorum must
 * cosign), both generated inside the enclave and published in a statement
 * signed by its attested identity key.
 */

/** The origin line of the audit log's checkpoints. */
export const AUDIT_LOG_ORIGIN = 'custodian.local/audit-log';
/** Statement kind binding a signer's note keys to its identity key. */
export const NOTE_KEYS_KIND = 'note-keys.v1';

/** The note key name of a signer's log key. */
export function logKeyName(signerId: string): string {
  return `custodian-${signerId}-log`;
}

/** The note key name of a signer's cosignature key. */
export function cosignKeyName(signerId: string): string {
  return `custodian-${signerId}-cosign`;
}

/**
 * Row mapping shared by the SQL stores: both use the same column names, so
 * one mapper per record keeps them from drifting apart.
 */
import type { AuditRow, BackupRow, RequestRow, RequestStatus, SignerRecord, WalletRow, ApprovalRow } from './store.js';

/** A row as a driver returns it. */
export type Row = Record<string, unknown>;

const str = (v: unknown): string => String(v);
const optStr = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));

/** Maps a `requests` row. */
export function toRequest(r: Row): RequestRow {
  return {
    requestId: str(r['request_id']),
    walletId: str(r['wallet_id']),
    initiator: str(r['initiator']),
    proposal: str(r['proposal']),
    summary: str(r['summary']),
    txDigest: str(r['tx_digest']),
    summaryHash: str(r['summary_hash']),
    decision: str(r['decision']),
    reasons: str(r['reasons']),
    status: str(r['status']) as RequestStatus,
    signedTx: optStr(r['signed_tx']),
    txHash: optStr(r['tx_hash']),
    receiptStatus: optStr(r['receipt_status']),
    error: optStr(r['error']),
    createdAtMs: Number(r['created_at_ms']),
    updatedAtMs: Number(r['updated_at_ms']),
  };
}

/** Maps a `wallets` row. */
export function toWallet(r: Row): WalletRow {
  return { walletId: str(r['wallet_id']), scheme: str(r['scheme']), signerId: str(r['signer_id']), address: str(r['address']), publicKey: str(r['public_key']), statement: str(r['statement']), createdAtMs: Number(r['created_at_ms']) };
}

/** Maps an `audit` row. */
export function toAudit(r: Row): AuditRow {
  return { signerId: str(r['signer_id']), seq: Number(r['seq']), hash: str(r['hash']), kind: str(r['kind']), requestId: optStr(r['request_id']), timeMs: Number(r['time_ms']), entry: str(r['entry']) };
}

/** Maps a `backups` row. */
export function toBackup(r: Row): BackupRow {
  return { signerId: str(r['signer_id']), backupSha256: str(r['backup_sha256']), backup: str(r['backup']), wallets: str(r['wallets']), createdAtMs: Number(r['created_at_ms']) };
}

/** Maps a `signers` row. */
export function toSigner(r: Row): SignerRecord {
  return {
    signerId: str(r['signer_id']),
    endpoint: str(r['endpoint']),
    identityKey: str(r['identity_key']),
    measurement: str(r['measurement']),
    evidence: str(r['evidence']),
    nonce: str(r['nonce']),
    verifiedAtMs: Number(r['verified_at_ms']),
  };
}

/** Maps an `approvals` row (`accepted` is 1/0 in SQLite, boolean in PostgreSQL). */
export function toApproval(r: Row): ApprovalRow {
  return { requestId: str(r['request_id']), operatorId: str(r['operator_id']), approval: str(r['approval']), accepted: r['accepted'] === 1 || r['accepted'] === true, code: optStr(r['code']), createdAtMs: Number(r['created_at_ms']) };
}

/** Column names of the request fields that may be updated. */
const REQUEST_UPDATE_COLUMNS: Readonly<Record<string, string>> = { status: 'status', signedTx: 'signed_tx', txHash: 'tx_hash', receiptStatus: 'receipt_status', error: 'error' };

/** The columns and values a request update sets: the patch's defined fields, then `updated_at_ms`. */
export function requestUpdate(patch: Readonly<Record<string, unknown>>, nowMs: number): { columns: string[]; values: unknown[] } {
  const columns: string[] = [];
  const values: unknown[] = [];
  for (const [k, v] of Object.entries(patch)) {
    const col = REQUEST_UPDATE_COLUMNS[k];
    if (col && v !== undefined) {
      columns.push(col);
      values.push(v);
    }
  }
  columns.push('updated_at_ms');
  values.push(nowMs);
  return { columns, values };
}

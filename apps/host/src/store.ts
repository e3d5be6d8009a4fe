/**
 * The host's persistence contract. Domain code depends on this interface
 * only; SQLite (embedded default) implements it first, PostgreSQL next. All
 * methods are async so that network-backed stores fit the same shape.
 * The host is untrusted: nothing stored here is believed by an enclave
 * without its own verification.
 */

/** A signer the host relays to. */
export interface SignerRecord {
  readonly signerId: string;
  readonly endpoint: string;
  readonly identityKey: string;
  readonly measurement: string;
  readonly evidence: string;
  readonly nonce: string;
  readonly verifiedAtMs: number;
}

/** A wallet as published by its enclave. */
export interface WalletRow {
  readonly walletId: string;
  readonly scheme: string;
  readonly signerId: string;
  readonly address: string;
  readonly publicKey: string;
  /** The enclave-signed wallet statement (JSON text). */
  readonly statement: string;
  readonly createdAtMs: number;
}

/** Lifecycle of a request on the host. */
export type RequestStatus = 'denied' | 'pending' | 'signed' | 'broadcast' | 'confirmed' | 'failed';

/** A transaction request. */
export interface RequestRow {
  readonly requestId: string;
  readonly walletId: string;
  readonly initiator: string;
  /** The initiator-signed proposal (JSON text). */
  readonly proposal: string;
  /** The enclave-signed summary (JSON text). */
  readonly summary: string;
  readonly txDigest: string;
  readonly summaryHash: string;
  readonly decision: string;
  readonly reasons: string;
  readonly status: RequestStatus;
  readonly signedTx: string | null;
  readonly txHash: string | null;
  readonly receiptStatus: string | null;
  readonly error: string | null;
  readonly createdAtMs: number;
  readonly updatedAtMs: number;
}

/** An approval as submitted, with the enclave's verdict. */
export interface ApprovalRow {
  readonly requestId: string;
  readonly operatorId: string;
  readonly approval: string;
  readonly accepted: boolean;
  readonly code: string | null;
  readonly createdAtMs: number;
}

/** One enclave-signed audit entry. */
export interface AuditRow {
  readonly signerId: string;
  readonly seq: number;
  readonly hash: string;
  readonly kind: string;
  readonly requestId: string | null;
  readonly timeMs: number;
  /** The enclave-signed entry (JSON text). */
  readonly entry: string;
}

/**
 * A signer's backup as its enclave exported it: encrypted to the
 * organisation's HSM-held recovery key, so the host keeps only ciphertext.
 */
export interface BackupRow {
  readonly signerId: string;
  readonly backupSha256: string;
  /** The encrypted backup (JSON text, `encodeRecoveryBackup`). */
  readonly backup: string;
  /** The wallets it holds (JSON text: array of ids). */
  readonly wallets: string;
  readonly createdAtMs: number;
}

/** The store. */
export interface HostStore {
  putManifest(hash: string, version: number, signedManifest: string): Promise<void>;
  latestManifest(): Promise<{ hash: string; version: number; signedManifest: string } | null>;
  upsertSigner(s: SignerRecord): Promise<void>;
  listSigners(): Promise<SignerRecord[]>;
  putWallet(w: WalletRow): Promise<void>;
  getWallet(walletId: string): Promise<WalletRow | null>;
  listWallets(): Promise<WalletRow[]>;
  /** Inserts a request; returns false when one with the same id exists. */
  insertRequest(r: RequestRow): Promise<boolean>;
  getRequest(requestId: string): Promise<RequestRow | null>;
  listRequests(filter?: { status?: RequestStatus }): Promise<RequestRow[]>;
  updateRequest(requestId: string, patch: Partial<Pick<RequestRow, 'status' | 'signedTx' | 'txHash' | 'receiptStatus' | 'error'>>, nowMs: number): Promise<void>;
  addApproval(a: ApprovalRow): Promise<void>;
  listApprovals(requestId: string): Promise<ApprovalRow[]>;
  /**
   * Appends an audit entry durably. Idempotent for the same (signer, seq,
   * hash); a different entry at a taken (signer, seq) is refused with
   * E_AUDIT_CONFLICT whose detail carries the stored entry (JSON text), so a
   * signer that crashed before persisting its chain head can recognise its own
   * entry and move past it.
   */
  appendAudit(a: AuditRow): Promise<void>;
  /** The entry at (signer, seq), if any. */
  getAudit(signerId: string, seq: number): Promise<AuditRow | null>;
  listAudit(filter?: { requestId?: string; signerId?: string }): Promise<AuditRow[]>;
  /** The newest entry of a signer's chain, if any. */
  lastAudit(signerId: string): Promise<AuditRow | null>;
  /** Keeps a backup (idempotent for the same digest). */
  putBackup(b: BackupRow): Promise<void>;
  /** A signer's backup by digest, or its newest when `backupSha256` is omitted. */
  getBackup(signerId: string, backupSha256?: string): Promise<BackupRow | null>;
  close(): Promise<void>;
}

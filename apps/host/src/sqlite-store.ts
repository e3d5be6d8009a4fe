/**
 * SQLite implementation of HostStore (better-sqlite3 12): WAL journal with
 * synchronous=FULL, so a resolved write is on disk. Audit rows are
 * append-only: triggers refuse UPDATE and DELETE.
 */
import Database from 'better-sqlite3';
import { CustodianError } from '@custodian/core/errors';
import type { AuditRow, HostStore } from './store.js';
import { requestUpdate, toApproval, toAudit, toBackup, toRequest, toSigner, toWallet, type Row } from './store-rows.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS manifests (hash TEXT PRIMARY KEY, version INTEGER NOT NULL UNIQUE, signed_manifest TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS signers (signer_id TEXT PRIMARY KEY, endpoint TEXT NOT NULL, identity_key TEXT NOT NULL, measurement TEXT NOT NULL, evidence TEXT NOT NULL, nonce TEXT NOT NULL, verified_at_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS wallets (wallet_id TEXT PRIMARY KEY, scheme TEXT NOT NULL, signer_id TEXT NOT NULL, address TEXT NOT NULL, public_key TEXT NOT NULL, statement TEXT NOT NULL, created_at_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS requests (request_id TEXT PRIMARY KEY, wallet_id TEXT NOT NULL, initiator TEXT NOT NULL, proposal TEXT NOT NULL, summary TEXT NOT NULL, tx_digest TEXT NOT NULL, summary_hash TEXT NOT NULL, decision TEXT NOT NULL, reasons TEXT NOT NULL, status TEXT NOT NULL, signed_tx TEXT, tx_hash TEXT, receipt_status TEXT, error TEXT, created_at_ms INTEGER NOT NULL, updated_at_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS approvals (id INTEGER PRIMARY KEY AUTOINCREMENT, request_id TEXT NOT NULL, operator_id TEXT NOT NULL, approval TEXT NOT NULL, accepted INTEGER NOT NULL, code TEXT, created_at_ms INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS approvals_request ON approvals(request_id);
CREATE TABLE IF NOT EXISTS audit (signer_id TEXT NOT NULL, seq INTEGER NOT NULL, hash TEXT NOT NULL, kind TEXT NOT NULL, request_id TEXT, time_ms INTEGER NOT NULL, entry TEXT NOT NULL, PRIMARY KEY (signer_id, seq));
CREATE INDEX IF NOT EXISTS audit_request ON audit(request_id);
CREATE TABLE IF NOT EXISTS backups (signer_id TEXT NOT NULL, backup_sha256 TEXT NOT NULL, backup TEXT NOT NULL, wallets TEXT NOT NULL, created_at_ms INTEGER NOT NULL, PRIMARY KEY (signer_id, backup_sha256));
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
`;

/** Opens (and migrates) a SQLite host store at `path`. */
export function openSqliteStore(path: string): HostStore {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('busy_timeout = 5000');
  db.exec(SCHEMA);
  const q = {
    putManifest: db.prepare('INSERT OR IGNORE INTO manifests (hash, version, signed_manifest) VALUES (?, ?, ?)'),
    latestManifest: db.prepare('SELECT * FROM manifests ORDER BY version DESC LIMIT 1'),
    upsertSigner: db.prepare(
      'INSERT INTO signers VALUES (@signerId, @endpoint, @identityKey, @measurement, @evidence, @nonce, @verifiedAtMs) ON CONFLICT(signer_id) DO UPDATE SET endpoint=excluded.endpoint, identity_key=excluded.identity_key, measurement=excluded.measurement, evidence=excluded.evidence, nonce=excluded.nonce, verified_at_ms=excluded.verified_at_ms',
    ),
    listSigners: db.prepare('SELECT * FROM signers ORDER BY signer_id'),
    putWallet: db.prepare('INSERT INTO wallets VALUES (@walletId, @scheme, @signerId, @address, @publicKey, @statement, @createdAtMs)'),
    getWallet: db.prepare('SELECT * FROM wallets WHERE wallet_id = ?'),
    listWallets: db.prepare('SELECT * FROM wallets ORDER BY created_at_ms, wallet_id'),
    insertRequest: db.prepare(
      'INSERT OR IGNORE INTO requests VALUES (@requestId, @walletId, @initiator, @proposal, @summary, @txDigest, @summaryHash, @decision, @reasons, @status, @signedTx, @txHash, @receiptStatus, @error, @createdAtMs, @updatedAtMs)',
    ),
    getRequest: db.prepare('SELECT * FROM requests WHERE request_id = ?'),
    listRequests: db.prepare('SELECT * FROM requests ORDER BY created_at_ms, request_id'),
    listRequestsByStatus: db.prepare('SELECT * FROM requests WHERE status = ? ORDER BY created_at_ms, request_id'),
    addApproval: db.prepare('INSERT INTO approvals (request_id, operator_id, approval, accepted, code, created_at_ms) VALUES (?, ?, ?, ?, ?, ?)'),
    listApprovals: db.prepare('SELECT * FROM approvals WHERE request_id = ? ORDER BY id'),
    getAudit: db.prepare('SELECT * FROM audit WHERE signer_id = ? AND seq = ?'),
    appendAudit: db.prepare('INSERT INTO audit VALUES (@signerId, @seq, @hash, @kind, @requestId, @timeMs, @entry)'),
    listAudit: db.prepare('SELECT * FROM audit ORDER BY signer_id, seq'),
    listAuditByRequest: db.prepare('SELECT * FROM audit WHERE request_id = ? ORDER BY time_ms, signer_id, seq'),
    listAuditBySigner: db.prepare('SELECT * FROM audit WHERE signer_id = ? ORDER BY seq'),
    lastAudit: db.prepare('SELECT * FROM audit WHERE signer_id = ? ORDER BY seq DESC LIMIT 1'),
    putBackup: db.prepare('INSERT OR IGNORE INTO backups VALUES (@signerId, @backupSha256, @backup, @wallets, @createdAtMs)'),
    getBackup: db.prepare('SELECT * FROM backups WHERE signer_id = ? AND backup_sha256 = ?'),
    latestBackup: db.prepare('SELECT * FROM backups WHERE signer_id = ? ORDER BY created_at_ms DESC, rowid DESC LIMIT 1'),
  };
  const appendAudit = db.transaction((a: AuditRow) => {
    const existing = q.getAudit.get(a.signerId, a.seq) as Row | undefined;
    if (existing) {
      if (existing['hash'] === a.hash) return;
      throw new CustodianError('E_AUDIT_CONFLICT', `audit position ${a.signerId}#${a.seq} already holds another entry`, { signerId: a.signerId, seq: a.seq, entry: String(existing['entry']) });
    }
    q.appendAudit.run(a);
  });
  return {
    putManifest: async (hash, version, signedManifest) => void q.putManifest.run(hash, version, signedManifest),
    latestManifest: async () => {
      const r = q.latestManifest.get() as Row | undefined;
      return r ? { hash: String(r['hash']), version: Number(r['version']), signedManifest: String(r['signed_manifest']) } : null;
    },
    upsertSigner: async (s) => void q.upsertSigner.run(s),
    listSigners: async () => (q.listSigners.all() as Row[]).map(toSigner),
    putWallet: async (w) => void q.putWallet.run(w),
    getWallet: async (id) => {
      const r = q.getWallet.get(id) as Row | undefined;
      return r ? toWallet(r) : null;
    },
    listWallets: async () => (q.listWallets.all() as Row[]).map(toWallet),
    insertRequest: async (r) => q.insertRequest.run(r).changes === 1,
    getRequest: async (id) => {
      const r = q.getRequest.get(id) as Row | undefined;
      return r ? toRequest(r) : null;
    },
    listRequests: async (filter) => ((filter?.status ? q.listRequestsByStatus.all(filter.status) : q.listRequests.all()) as Row[]).map(toRequest),
    updateRequest: async (id, patch, nowMs) => {
      const { columns, values } = requestUpdate(patch, nowMs);
      db.prepare(`UPDATE requests SET ${columns.map((c) => `${c} = ?`).join(', ')} WHERE request_id = ?`).run(...values, id);
    },
    addApproval: async (a) => void q.addApproval.run(a.requestId, a.operatorId, a.approval, a.accepted ? 1 : 0, a.code, a.createdAtMs),
    listApprovals: async (id) => (q.listApprovals.all(id) as Row[]).map(toApproval),
    appendAudit: async (a) => appendAudit(a),
    getAudit: async (signerId, seq) => {
      const r = q.getAudit.get(signerId, seq) as Row | undefined;
      return r ? toAudit(r) : null;
    },
    listAudit: async (filter) =>
      ((filter?.requestId ? q.listAuditByRequest.all(filter.requestId) : filter?.signerId ? q.listAuditBySigner.all(filter.signerId) : q.listAudit.all()) as Row[]).map(toAudit),
    lastAudit: async (signerId) => {
      const r = q.lastAudit.get(signerId) as Row | undefined;
      return r ? toAudit(r) : null;
    },
    putBackup: async (b) => void q.putBackup.run(b),
    getBackup: async (signerId, sha) => {
      const r = (sha === undefined ? q.latestBackup.get(signerId) : q.getBackup.get(signerId, sha)) as Row | undefined;
      return r ? toBackup(r) : null;
    },
    close: async () => void db.close(),
  };
}

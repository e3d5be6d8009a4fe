/**
 * PostgreSQL implementation of HostStore (`pg`), for hosts that scale out
 * behind a load balancer. Same contract as the SQLite store: audit rows are
 * append-only (triggers refuse UPDATE and DELETE), an audit append is
 * idempotent for the same entry and refused with E_AUDIT_CONFLICT otherwise.
 * Each store lives in its own schema, so tests can run side by side.
 */
import pg from 'pg';
import { CustodianError } from '@custodian/core/errors';
import type { HostStore, SignerRecord } from './store.js';
import { requestUpdate, toApproval, toAudit, toBackup, toRequest, toSigner, toWallet, type Row } from './store-rows.js';

const SCHEMA = (s: string): string => `
CREATE SCHEMA IF NOT EXISTS ${s};
CREATE TABLE IF NOT EXISTS ${s}.manifests (hash TEXT PRIMARY KEY, version INTEGER NOT NULL UNIQUE, signed_manifest TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS ${s}.signers (signer_id TEXT PRIMARY KEY, endpoint TEXT NOT NULL, identity_key TEXT NOT NULL, measurement TEXT NOT NULL, evidence TEXT NOT NULL, nonce TEXT NOT NULL, verified_at_ms BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS ${s}.wallets (wallet_id TEXT PRIMARY KEY, scheme TEXT NOT NULL, signer_id TEXT NOT NULL, address TEXT NOT NULL, public_key TEXT NOT NULL, statement TEXT NOT NULL, created_at_ms BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS ${s}.requests (request_id TEXT PRIMARY KEY, wallet_id TEXT NOT NULL, initiator TEXT NOT NULL, proposal TEXT NOT NULL, summary TEXT NOT NULL, tx_digest TEXT NOT NULL, summary_hash TEXT NOT NULL, decision TEXT NOT NULL, reasons TEXT NOT NULL, status TEXT NOT NULL, signed_tx TEXT, tx_hash TEXT, receipt_status TEXT, error TEXT, created_at_ms BIGINT NOT NULL, updated_at_ms BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS ${s}.approvals (id BIGSERIAL PRIMARY KEY, request_id TEXT NOT NULL, operator_id TEXT NOT NULL, approval TEXT NOT NULL, accepted BOOLEAN NOT NULL, code TEXT, created_at_ms BIGINT NOT NULL);
CREATE INDEX IF NOT EXISTS approvals_request ON ${s}.approvals(request_id);
CREATE TABLE IF NOT EXISTS ${s}.backups (signer_id TEXT NOT NULL, backup_sha256 TEXT NOT NULL, backup TEXT NOT NULL, wallets TEXT NOT NULL, created_at_ms BIGINT NOT NULL, id BIGSERIAL, PRIMARY KEY (signer_id, backup_sha256));
CREATE TABLE IF NOT EXISTS ${s}.audit (signer_id TEXT NOT NULL, seq BIGINT NOT NULL, hash TEXT NOT NULL, kind TEXT NOT NULL, request_id TEXT, time_ms BIGINT NOT NULL, entry TEXT NOT NULL, PRIMARY KEY (signer_id, seq));
CREATE INDEX IF NOT EXISTS audit_request ON ${s}.audit(request_id);
CREATE OR REPLACE FUNCTION ${s}.audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'audit log is append-only'; END $$;
DROP TRIGGER IF EXISTS audit_append_only ON ${s}.audit;
CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON ${s}.audit FOR EACH ROW EXECUTE FUNCTION ${s}.audit_append_only();
`;

/** A connection string fit for errors and logs: credentials in the authority and in `password=` removed. */
export function redactConnectionString(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//…@').replace(/(password=)[^&]*/gi, '$1…');
}

const SCHEMA_NAME_RE = /^[a-z_][a-z0-9_]{0,62}$/;

/** Connects to PostgreSQL (`connectionString`) and migrates schema `schema`. */
export async function openPgStore(connectionString: string, schema = 'custodian'): Promise<HostStore> {
  if (!SCHEMA_NAME_RE.test(schema)) throw new CustodianError('E_USAGE', `invalid schema name ${schema}`);
  const pool = new pg.Pool({ connectionString, max: 8 });
  pool.on('error', () => undefined);
  try {
    await pool.query(SCHEMA(schema));
  } catch (e) {
    await pool.end();
    throw new CustodianError('E_UNAVAILABLE', `PostgreSQL at ${redactConnectionString(connectionString)} is not usable: ${(e as Error).message}`);
  }
  const q = async (text: string, values: unknown[] = []): Promise<Row[]> => {
    try {
      return (await pool.query(text, values)).rows as Row[];
    } catch (e) {
      if (e instanceof CustodianError) throw e;
      throw new CustodianError('E_UNAVAILABLE', `PostgreSQL query failed: ${(e as Error).message}`);
    }
  };
  const t = (name: string): string => `${schema}.${name}`;
  return {
    putManifest: async (hash, version, signedManifest) => void (await q(`INSERT INTO ${t('manifests')} VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`, [hash, version, signedManifest])),
    latestManifest: async () => {
      const [r] = await q(`SELECT * FROM ${t('manifests')} ORDER BY version DESC LIMIT 1`);
      return r ? { hash: String(r['hash']), version: Number(r['version']), signedManifest: String(r['signed_manifest']) } : null;
    },
    upsertSigner: async (s: SignerRecord) =>
      void (await q(
        `INSERT INTO ${t('signers')} VALUES ($1,$2,$3,$4,$5,$6,$7) ON CONFLICT (signer_id) DO UPDATE SET endpoint=EXCLUDED.endpoint, identity_key=EXCLUDED.identity_key, measurement=EXCLUDED.measurement, evidence=EXCLUDED.evidence, nonce=EXCLUDED.nonce, verified_at_ms=EXCLUDED.verified_at_ms`,
        [s.signerId, s.endpoint, s.identityKey, s.measurement, s.evidence, s.nonce, s.verifiedAtMs],
      )),
    listSigners: async () => (await q(`SELECT * FROM ${t('signers')} ORDER BY signer_id`)).map(toSigner),
    putWallet: async (w) => void (await q(`INSERT INTO ${t('wallets')} VALUES ($1,$2,$3,$4,$5,$6,$7)`, [w.walletId, w.scheme, w.signerId, w.address, w.publicKey, w.statement, w.createdAtMs])),
    getWallet: async (id) => {
      const [r] = await q(`SELECT * FROM ${t('wallets')} WHERE wallet_id = $1`, [id]);
      return r ? toWallet(r) : null;
    },
    listWallets: async () => (await q(`SELECT * FROM ${t('wallets')} ORDER BY created_at_ms, wallet_id`)).map(toWallet),
    insertRequest: async (r) =>
      (
        await q(`INSERT INTO ${t('requests')} VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16) ON CONFLICT DO NOTHING RETURNING request_id`, [
          r.requestId, r.walletId, r.initiator, r.proposal, r.summary, r.txDigest, r.summaryHash, r.decision, r.reasons, r.status, r.signedTx, r.txHash, r.receiptStatus, r.error, r.createdAtMs, r.updatedAtMs,
        ])
      ).length === 1,
    getRequest: async (id) => {
      const [r] = await q(`SELECT * FROM ${t('requests')} WHERE request_id = $1`, [id]);
      return r ? toRequest(r) : null;
    },
    listRequests: async (filter) =>
      (filter?.status
        ? await q(`SELECT * FROM ${t('requests')} WHERE status = $1 ORDER BY created_at_ms, request_id`, [filter.status])
        : await q(`SELECT * FROM ${t('requests')} ORDER BY created_at_ms, request_id`)
      ).map(toRequest),
    updateRequest: async (id, patch, nowMs) => {
      const { columns, values } = requestUpdate(patch, nowMs);
      await q(`UPDATE ${t('requests')} SET ${columns.map((c, i) => `${c} = $${i + 1}`).join(', ')} WHERE request_id = $${values.length + 1}`, [...values, id]);
    },
    addApproval: async (a) =>
      void (await q(`INSERT INTO ${t('approvals')} (request_id, operator_id, approval, accepted, code, created_at_ms) VALUES ($1,$2,$3,$4,$5,$6)`, [a.requestId, a.operatorId, a.approval, a.accepted, a.code, a.createdAtMs])),
    listApprovals: async (id) => (await q(`SELECT * FROM ${t('approvals')} WHERE request_id = $1 ORDER BY id`, [id])).map(toApproval),
    appendAudit: async (a) => {
      const inserted = await q(`INSERT INTO ${t('audit')} VALUES ($1,$2,$3,$4,$5,$6,$7) ON CONFLICT DO NOTHING RETURNING seq`, [a.signerId, a.seq, a.hash, a.kind, a.requestId, a.timeMs, a.entry]);
      if (inserted.length === 1) return;
      const [existing] = await q(`SELECT hash, entry FROM ${t('audit')} WHERE signer_id = $1 AND seq = $2`, [a.signerId, a.seq]);
      if (existing && existing['hash'] === a.hash) return;
      throw new CustodianError('E_AUDIT_CONFLICT', `audit position ${a.signerId}#${a.seq} already holds another entry`, { signerId: a.signerId, seq: a.seq, entry: String(existing?.['entry'] ?? '') });
    },
    getAudit: async (signerId, seq) => {
      const [r] = await q(`SELECT * FROM ${t('audit')} WHERE signer_id = $1 AND seq = $2`, [signerId, seq]);
      return r ? toAudit(r) : null;
    },
    listAudit: async (filter) =>
      (filter?.requestId
        ? await q(`SELECT * FROM ${t('audit')} WHERE request_id = $1 ORDER BY time_ms, signer_id, seq`, [filter.requestId])
        : filter?.signerId
          ? await q(`SELECT * FROM ${t('audit')} WHERE signer_id = $1 ORDER BY seq`, [filter.signerId])
          : await q(`SELECT * FROM ${t('audit')} ORDER BY signer_id, seq`)
      ).map(toAudit),
    lastAudit: async (signerId) => {
      const [r] = await q(`SELECT * FROM ${t('audit')} WHERE signer_id = $1 ORDER BY seq DESC LIMIT 1`, [signerId]);
      return r ? toAudit(r) : null;
    },
    putBackup: async (b) =>
      void (await q(`INSERT INTO ${t('backups')} (signer_id, backup_sha256, backup, wallets, created_at_ms) VALUES ($1,$2,$3,$4,$5) ON CONFLICT DO NOTHING`, [b.signerId, b.backupSha256, b.backup, b.wallets, b.createdAtMs])),
    getBackup: async (signerId, sha) => {
      const [r] =
        sha === undefined
          ? await q(`SELECT * FROM ${t('backups')} WHERE signer_id = $1 ORDER BY created_at_ms DESC, id DESC LIMIT 1`, [signerId])
          : await q(`SELECT * FROM ${t('backups')} WHERE signer_id = $1 AND backup_sha256 = $2`, [signerId, sha]);
      return r ? toBackup(r) : null;
    },
    close: async () => {
      await pool.end();
    },
  };
}

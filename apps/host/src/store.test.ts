/**
 * One contract, two stores: the same tests run against SQLite and a real
 * PostgreSQL (127.0.0.1:5432, database `test`; PGURL overrides), so no
 * SQLite-only behaviour can leak into the host.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { isCustodianError } from '@custodian/core/errors';
import { openSqliteStore } from './sqlite-store.js';
import { openPgStore } from './pg-store.js';
import type { HostStore, RequestRow } from './store.js';

const PGURL = process.env['PGURL'] ?? 'postgres://postgres@127.0.0.1:5432/test';
const schema = `custodian_test_${randomBytes(4).toString('hex')}`;

const request = (id: string, over: Partial<RequestRow> = {}): RequestRow => ({
  requestId: id,
  walletId: 'w',
  initiator: 'dave',
  proposal: '{}',
  summary: '{}',
  txDigest: '0x' + '11'.repeat(32),
  summaryHash: '22'.repeat(32),
  decision: 'needs-approval',
  reasons: '[]',
  status: 'pending',
  signedTx: null,
  txHash: null,
  receiptStatus: null,
  error: null,
  createdAtMs: 1,
  updatedAtMs: 1,
  ...over,
});

const stores: [string, () => Promise<HostStore>][] = [
  ['sqlite', async () => openSqliteStore(join(mkdtempSync(join(tmpdir(), 'custodian-store-')), 'host.sqlite'))],
  ['postgresql', async () => openPgStore(PGURL, schema)],
];

after(async () => {
  const c = new pg.Client({ connectionString: PGURL });
  await c.connect();
  await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await c.end();
});

for (const [name, open] of stores) {
  describe(`${name} host store`, () => {
    let s: HostStore;
    before(async () => {
      s = await open();
    });
    after(async () => {
      await s.close();
    });

    test('requests insert once, update and list by status', async () => {
      assert.equal(await s.insertRequest(request('a')), true);
      assert.equal(await s.insertRequest(request('a', { walletId: 'other' })), false, 'a second insert of the same id is refused');
      await s.updateRequest('a', { status: 'signed', signedTx: '0x02', txHash: '0xab' }, 5);
      const r = await s.getRequest('a');
      assert.equal(r?.status, 'signed');
      assert.equal(r?.walletId, 'w');
      assert.equal(r?.updatedAtMs, 5);
      assert.deepEqual((await s.listRequests({ status: 'signed' })).map((x) => x.requestId), ['a']);
      assert.equal(await s.getRequest('missing'), null);
    });

    test('approvals keep their order and verdicts', async () => {
      await s.addApproval({ requestId: 'a', operatorId: 'bob', approval: '{}', accepted: true, code: null, createdAtMs: 1 });
      await s.addApproval({ requestId: 'a', operatorId: 'eve', approval: '{}', accepted: false, code: 'E_ROLE_MISSING', createdAtMs: 2 });
      assert.deepEqual((await s.listApprovals('a')).map((x) => [x.operatorId, x.accepted, x.code]), [['bob', true, null], ['eve', false, 'E_ROLE_MISSING']]);
    });

    test('audit appends are idempotent for the same entry and refuse another entry at a taken position', async () => {
      const row = { signerId: 's1', seq: 0, hash: 'h0', kind: 'k', requestId: 'a', timeMs: 1, entry: '{"x":1}' };
      await s.appendAudit(row);
      await s.appendAudit(row);
      await assert.rejects(s.appendAudit({ ...row, hash: 'h0b', entry: '{"x":2}' }), (e) => isCustodianError(e, 'E_AUDIT_CONFLICT') && e.detail['entry'] === '{"x":1}');
      await s.appendAudit({ ...row, seq: 1, hash: 'h1' });
      assert.deepEqual((await s.listAudit({ signerId: 's1' })).map((x) => x.seq), [0, 1]);
      assert.equal((await s.listAudit({ requestId: 'a' })).length, 2);
    });

    test('backups: kept by digest, the newest per signer; the last audit entry of a chain', async () => {
      assert.equal(await s.getBackup('s9'), null);
      const b = { signerId: 's9', backupSha256: 'aa'.repeat(32), backup: '{"c":1}', wallets: '["w1"]', createdAtMs: 10 };
      await s.putBackup(b);
      await s.putBackup(b);
      await s.putBackup({ ...b, backupSha256: 'bb'.repeat(32), backup: '{"c":2}', createdAtMs: 20 });
      await s.putBackup({ ...b, signerId: 's8', backupSha256: 'cc'.repeat(32), createdAtMs: 30 });
      assert.equal((await s.getBackup('s9'))?.backupSha256, 'bb'.repeat(32));
      assert.equal((await s.getBackup('s9', 'aa'.repeat(32)))?.backup, '{"c":1}');
      assert.equal(await s.getBackup('s9', 'cc'.repeat(32)), null);
      assert.equal(await s.lastAudit('s9'), null);
      const row = { signerId: 's9', seq: 0, hash: 'h0', kind: 'k', requestId: null, timeMs: 1, entry: '{}' };
      await s.appendAudit(row);
      await s.appendAudit({ ...row, seq: 1, hash: 'h1' });
      assert.equal((await s.lastAudit('s9'))?.hash, 'h1');
    });

    test('manifests, signers and wallets round-trip', async () => {
      await s.putManifest('m1', 1, '{"v":1}');
      await s.putManifest('m2', 2, '{"v":2}');
      assert.equal((await s.latestManifest())?.hash, 'm2');
      const signer = { signerId: 's1', endpoint: '127.0.0.1:1', identityKey: 'aa', measurement: 'bb', evidence: 'cc', nonce: 'dd', verifiedAtMs: 3 };
      await s.upsertSigner(signer);
      await s.upsertSigner({ ...signer, verifiedAtMs: 4 });
      assert.equal((await s.listSigners())[0]?.verifiedAtMs, 4);
      await s.putWallet({ walletId: 'w', scheme: 'single', signerId: 's1', address: '0x', publicKey: '02', statement: '{}', createdAtMs: 1 });
      assert.equal((await s.getWallet('w'))?.signerId, 's1');
      await assert.rejects(s.putWallet({ walletId: 'w', scheme: 'single', signerId: 's2', address: '0x', publicKey: '02', statement: '{}', createdAtMs: 1 }));
    });
  });
}

test('the PostgreSQL audit table refuses UPDATE and DELETE even to a direct client', async () => {
  const c = new pg.Client({ connectionString: PGURL });
  await c.connect();
  try {
    await assert.rejects(c.query(`UPDATE ${schema}.audit SET kind = 'x'`), /append-only/);
    await assert.rejects(c.query(`DELETE FROM ${schema}.audit`), /append-only/);
  } finally {
    await c.end();
  }
});

test('the SQLite audit table refuses UPDATE and DELETE', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'custodian-store-'));
  const st = openSqliteStore(join(dir, 'h.sqlite'));
  await st.appendAudit({ signerId: 's', seq: 0, hash: 'h', kind: 'k', requestId: null, timeMs: 1, entry: '{}' });
  await st.close();
  const { default: Database } = await import('better-sqlite3');
  const db = new Database(join(dir, 'h.sqlite'));
  assert.throws(() => db.prepare("UPDATE audit SET kind = 'x'").run(), /append-only/);
  assert.throws(() => db.prepare('DELETE FROM audit').run(), /append-only/);
  db.close();
});

test('connection strings in errors carry no password', async () => {
  const { redactConnectionString } = await import('./pg-store.js');
  assert.equal(redactConnectionString('postgres://alice:s3cret@db:5432/x'), 'postgres://…@db:5432/x');
  assert.equal(redactConnectionString('postgres://db/x?user=a&password=s3cret&ssl=1'), 'postgres://db/x?user=a&password=…&ssl=1');
});

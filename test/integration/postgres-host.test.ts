/**
 * The custody path with the host on a real PostgreSQL (the scale-out store):
 * a transfer is signed and mined, and a restart of every process keeps
 * requests, approvals and the audit log.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { Json } from '@custodian/core/canonical-json';
import { approveRequest, buildTransfer, createWallet, proposeTx, waitForStatus } from '../../apps/cli/src/operations.js';
import { DEMO_ORG, DEMO_RECIPIENT, fund, startDeployment, type Deployment } from '../../scripts/lib/deployment.js';

type R = Record<string, Json>;
const PGURL = process.env['PGURL'] ?? 'postgres://postgres@127.0.0.1:5432/test';
const schema = `custodian_it_${randomBytes(4).toString('hex')}`;
let d: Deployment;

before(async () => {
  d = await startDeployment({ dataDir: mkdtempSync(join(tmpdir(), 'custodian-pg-')), store: { url: PGURL, schema } });
});

after(async () => {
  await d?.stop();
  const c = new pg.Client({ connectionString: PGURL });
  await c.connect();
  await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await c.end();
});

test('a transfer is signed and mined with the host on PostgreSQL, and survives a restart of everything', async () => {
  const w = (await createWallet(d.client, d.actors['alice']!, { orgId: DEMO_ORG, walletId: 'pgw', signerId: 'signer-3', scheme: 'single' })) as R;
  await fund(d.anvil.url, String(w['address']), 10n ** 19n);
  const raw = await buildTransfer(d.client, String(w['address']), DEMO_RECIPIENT, 12345n);
  const r = (await proposeTx(d.client, d.actors['dave']!, { orgId: DEMO_ORG, walletId: 'pgw', rawTx: raw })) as R;
  const id = String(r['requestId']);
  await approveRequest(d.client, d.actors['bob']!, id);
  await d.restartAll();
  await approveRequest(d.client, d.actors['carol']!, id);
  const done = await waitForStatus(d.client, id, ['confirmed', 'failed']);
  assert.equal(done['receiptStatus'], 'success');
  const c = new pg.Client({ connectionString: PGURL });
  await c.connect();
  try {
    const rows = (await c.query(`SELECT kind FROM ${schema}.audit WHERE request_id = $1 ORDER BY seq`, [id])).rows as { kind: string }[];
    assert.deepEqual(rows.map((x) => x.kind), ['request.proposed', 'policy.decision', 'approval.accepted', 'approval.accepted', 'sign.approved', 'signature.released']);
  } finally {
    await c.end();
  }
});

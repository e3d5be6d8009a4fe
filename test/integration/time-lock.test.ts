/**
 * A time-locked transfer (issue 5: `@delay` on the deciding permit) against
 * real processes: once its approvals are in, the request stays pending
 * (`E_TIME_LOCKED`) with nothing signed; the host tries again when the lock
 * ends — also after a host restart — and the enclave, deciding by its own
 * clock from when it first saw the request, signs; anvil mines it.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Json } from '@custodian/core/canonical-json';
import { approveRequest, buildTransfer, createWallet, proposeTx, waitForStatus } from '../../apps/cli/src/operations.js';
import { DEMO_ORG, DEMO_RECIPIENT, DEMO_RULEBOOK_DIR, fund, startDeployment, type Deployment } from '../../scripts/lib/deployment.js';

type R = Record<string, Json>;
const LOCK_MS = 6_000;
let d: Deployment;
let from = '';

before(async () => {
  // The demo rulebook, its anvil permit also demanding a short time-lock.
  const dir = mkdtempSync(join(tmpdir(), 'custodian-timelock-rulebook-'));
  cpSync(DEMO_RULEBOOK_DIR, dir, { recursive: true });
  const file = join(dir, 'policies/10-demo-transfers.cedar');
  const text = readFileSync(file, 'utf8');
  const locked = text.replace('@id("demo-transfer-up-to-1-eth-to-address-book")\n@approvals("treasury:2")', `@id("demo-transfer-up-to-1-eth-to-address-book")\n@approvals("treasury:2")\n@delay("${LOCK_MS / 1000}s")`);
  assert.notEqual(locked, text, 'the demo permit was found');
  writeFileSync(file, locked);
  d = await startDeployment({ dataDir: mkdtempSync(join(tmpdir(), 'custodian-timelock-it-')), rulebook: dir });
  from = String(((await createWallet(d.client, d.actors['alice']!, { orgId: DEMO_ORG, walletId: 'w1', signerId: 'signer-1', scheme: 'single' })) as R)['address']);
  await fund(d.anvil.url, from, 10n ** 19n);
});

after(async () => {
  await d?.stop();
});

async function proposeAndApprove(nonce?: bigint): Promise<{ id: string; approvedAt: number; proposedAt: number }> {
  const proposedAt = Date.now();
  const r = (await proposeTx(d.client, d.actors['dave']!, { orgId: DEMO_ORG, walletId: 'w1', rawTx: await buildTransfer(d.client, from, DEMO_RECIPIENT, 10n ** 15n, nonce) })) as R;
  const id = String(r['requestId']);
  assert.equal(r['status'], 'pending');
  await approveRequest(d.client, d.actors['bob']!, id);
  await approveRequest(d.client, d.actors['carol']!, id);
  return { id, approvedAt: Date.now(), proposedAt };
}

test('approved but time-locked: pending (E_TIME_LOCKED), nothing signed; the host signs it when the lock ends and anvil mines it', async () => {
  const { id, proposedAt } = await proposeAndApprove();
  const held = (await d.client.get(`/v1/requests/${id}`)) as R;
  assert.equal(held['status'], 'pending');
  assert.equal(held['error'], 'E_TIME_LOCKED');
  assert.equal(held['signedTx'], null);
  const done = await waitForStatus(d.client, id, ['confirmed', 'failed'], 60_000);
  assert.equal(done['receiptStatus'], 'success');
  const releasedAt = Number(((await d.client.get(`/v1/audit?requestId=${id}`)) as R[]).find((e) => e['kind'] === 'signature.released')!['timeMs'] ?? NaN);
  if (Number.isFinite(releasedAt)) assert.ok(releasedAt >= proposedAt + LOCK_MS - 1_000, 'released no earlier than the lock (skew tolerated)');
});

test('a host restarted during the lock re-arms it from its store and signs when the lock ends', async () => {
  const { id } = await proposeAndApprove(1n);
  assert.equal(((await d.client.get(`/v1/requests/${id}`)) as R)['error'], 'E_TIME_LOCKED');
  await d.restartHost();
  const done = await waitForStatus(d.client, id, ['confirmed', 'failed'], 60_000);
  assert.equal(done['receiptStatus'], 'success');
});

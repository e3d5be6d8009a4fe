/**
 * `npm run demo [-- --json] [-- --data-dir DIR]`: the whole custody flow on
 * embedded defaults — three sim signer enclaves, the host on SQLite, a local
 * anvil node — from genesis to a mined transaction, with readable progress on
 * stderr and, with --json, one JSON object as the last stdout line.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Json } from '@custodian/core/canonical-json';
import { decodeEnclaveSigned, verifyAuditChain } from '@custodian/protocol/enclave-signed';
import { approveRequest, buildTransfer, createWallet, proposeTx, waitForStatus } from '../apps/cli/src/operations.js';
import { verifyOrg, verifyWallet } from '../apps/cli/src/verify-org.js';
import { DEMO_ORG, DEMO_RECIPIENT, fund, startDeployment } from './lib/deployment.js';
import { AUDIT_LOG_DIR } from '../apps/host/src/server.js';
import { verifyAuditLog } from './lib/verify-audit-log.js';

const args = process.argv.slice(2);
const json = args.includes('--json');
const dirArg = args.indexOf('--data-dir');
const dataDir = dirArg >= 0 ? args[dirArg + 1]! : mkdtempSync(join(tmpdir(), 'custodian-demo-'));
const say = (l: string): void => void process.stderr.write(`• ${l}\n`);
const quiet = (): void => undefined;

type R = Record<string, Json>;

async function run(): Promise<Record<string, unknown>> {
  say(`data directory: ${dataDir}`);
  const d = await startDeployment({ dataDir, log: (l) => (l.startsWith('signer-') || l.startsWith('anvil:') || l.startsWith('host:') ? quiet() : say(l)) });
  try {
    const { client, actors } = d;
    const created = await createWallet(client, actors['alice']!, { orgId: DEMO_ORG, walletId: 'hot-eth-1', signerId: 'signer-1', scheme: 'single' });
    const wallet = verifyWallet(await verifyOrg(client, ['signer-1']), created) as unknown as R;
    say(`wallet hot-eth-1 created by alice inside signer-1 (scheme single, key sealed there; address attested by the enclave): ${String(wallet['address'])}`);
    await fund(d.anvil.url, String(wallet['address']), 10n ** 19n);
    say('wallet funded with 10 ETH on anvil');
    const raw = await buildTransfer(client, String(wallet['address']), DEMO_RECIPIENT, 5n * 10n ** 17n);
    const proposed = (await proposeTx(client, actors['dave']!, { orgId: DEMO_ORG, walletId: 'hot-eth-1', rawTx: raw })) as R;
    const requestId = String(proposed['requestId']);
    say(`dave proposed request ${requestId.slice(0, 16)}…; the enclave decoded the raw transaction and says:`);
    say(`  ${String(((proposed['summary'] as R)['statement'] as R)['text'])}`);
    for (const who of ['bob', 'carol']) {
      const { check } = await approveRequest(client, actors[who]!, requestId);
      say(`${who} verified the manifest, signer-1's attestation and the enclave-signed summary, and approved digest ${check.txDigest.slice(0, 18)}…`);
    }
    const done = await waitForStatus(client, requestId, ['confirmed', 'failed'], 60_000);
    say(`signed by signer-1 after the audit entries were durable; broadcast; mined: ${String(done['receiptStatus'])}`);
    say(`tx hash ${String(done['txHash'])}`);
    const org = await verifyOrg(client);
    const all = (await client.get('/v1/audit')) as R[];
    const chain = all.filter((r) => r['signerId'] === 'signer-1').map((r) => decodeEnclaveSigned(r['entry'] as Json, 'entry'));
    if (verifyAuditChain(chain, org.identityKeys.get('signer-1')!) !== -1) throw new Error('audit chain of signer-1 does not verify');
    const mine = all.filter((r) => r['requestId'] === requestId);
    const auditLog = join(dataDir, 'host', AUDIT_LOG_DIR);
    const logCheck = await verifyAuditLog(auditLog, org.identityKeys);
    say(`transparency log ${auditLog}: ${logCheck.size} entries, checkpoint signed by a signer and cosigned by ${logCheck.cosigners} of 3 signers; every tile, proof and entry signature verified`);
    say(`audit entries of this request (enclave-signed, hash-chained, chain verified):`);
    for (const e of mine) say(`  signer-1#${String(e['seq'])} ${String(e['kind'])}`);
    return {
      txHash: done['txHash'],
      signedTx: done['signedTx'],
      from: wallet['address'],
      receiptStatus: done['receiptStatus'],
      auditEntries: mine.length,
      dataDir,
      auditLog,
      requestId,
      measurement: d.measurement,
      scheme: 'single',
    };
  } finally {
    await d.stop();
  }
}

run().then(
  (result) => {
    if (json) process.stdout.write(JSON.stringify(result) + '\n');
    else process.stdout.write(`done: ${String(result['txHash'])} mined with status ${String(result['receiptStatus'])}; data in ${dataDir}\n`);
  },
  (e: unknown) => {
    const err = { code: (e as { code?: string }).code ?? 'E_INTERNAL', message: e instanceof Error ? e.message : String(e), detail: {} };
    if (json) process.stdout.write(JSON.stringify({ ok: false, error: err }) + '\n');
    process.stderr.write(`demo failed: ${err.message}\n`);
    process.exitCode = 3;
  },
);

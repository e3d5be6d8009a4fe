/**
 * `npm run demo [-- --json] [-- --data-dir DIR] [-- --scheme ecdsa-dkls|single] [-- --hsm software|softhsm]`:
 * the whole custody flow on embedded defaults — three sim signer enclaves,
 * the host on SQLite, a local anvil node — from genesis to a mined
 * transaction, with readable progress on stderr and, with --json, one JSON
 * object as the last stdout line. The wallet is a 2-of-3 threshold ECDSA
 * key generated across the three signers (`ecdsa-dkls`, the default), or
 * with `--scheme single` a key generated and sealed inside signer-1.
 *
 * The signers obtain their sealing keys from the key broker by attested
 * release. Its root is the software root (`--hsm software`, the default,
 * development only) or, with `--hsm softhsm`, a SoftHSM2 token created in the
 * data directory and used through PKCS#11. The JSON line reports `hsm`
 * (`pkcs11` | `software`) and `keyReleases` (sealing keys the broker released
 * to attested signers in this run).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Json } from '@custodian/core/canonical-json';
import { decodeEnclaveSigned, verifyAuditChain } from '@custodian/protocol/enclave-signed';
import { approveRequest, buildTransfer, createWallet, proposeTx, verifyAnyWallet, waitForStatus } from '../apps/cli/src/operations.js';
import { verifyOrg } from '../apps/cli/src/verify-org.js';
import { DEMO_ORG, DEMO_RECIPIENT, DEMO_RULEBOOK_DIR, fund, startDeployment } from './lib/deployment.js';
import { AUDIT_LOG_DIR } from '../apps/host/src/server.js';
import { verifyAuditLog } from './lib/verify-audit-log.js';

const args = process.argv.slice(2);
const json = args.includes('--json');
const dirArg = args.indexOf('--data-dir');
const dataDir = dirArg >= 0 ? args[dirArg + 1]! : mkdtempSync(join(tmpdir(), 'custodian-demo-'));
const schemeArg = args.indexOf('--scheme');
// The default EVM wallet is a 2-of-3 threshold ECDSA key (issue 8); `--scheme single` keeps one signer's key.
const schemeText = schemeArg >= 0 ? (args[schemeArg + 1] ?? '') : 'ecdsa-dkls';
if (schemeText !== 'single' && schemeText !== 'ecdsa-dkls') {
  process.stderr.write(`demo: --scheme must be single or ecdsa-dkls, not ${schemeText}\n`);
  process.exit(2);
}
const scheme: 'single' | 'ecdsa-dkls' = schemeText;
const hsmArg = args.indexOf('--hsm');
const hsmText = hsmArg >= 0 ? (args[hsmArg + 1] ?? '') : 'software';
if (hsmText !== 'software' && hsmText !== 'softhsm') {
  process.stderr.write(`demo: --hsm must be software or softhsm, not ${hsmText}\n`);
  process.exit(2);
}
const hsm: 'software' | 'softhsm' = hsmText;
const SIGNERS = ['signer-1', 'signer-2', 'signer-3'];
const say = (l: string): void => void process.stderr.write(`• ${l}\n`);
const quiet = (): void => undefined;

type R = Record<string, Json>;

async function run(): Promise<Record<string, unknown>> {
  say(`data directory: ${dataDir}`);
  // The signers decide with the demo Cedar rulebook: 2 treasury approvals up to 1 ETH to the address book.
  const d = await startDeployment({ dataDir, rulebook: DEMO_RULEBOOK_DIR, kbs: hsm, log: (l) => (l.startsWith('signer-') || l.startsWith('anvil:') || l.startsWith('host:') || l.startsWith('kbs:') ? quiet() : say(l)) });
  try {
    const { client, actors } = d;
    const keygenStart = performance.now();
    const created =
      scheme === 'single'
        ? await createWallet(client, actors['alice']!, { orgId: DEMO_ORG, walletId: 'hot-eth-1', signerId: 'signer-1', scheme })
        : await createWallet(client, actors['alice']!, { orgId: DEMO_ORG, walletId: 'hot-eth-1', scheme, threshold: 2, signers: SIGNERS });
    const keygenMs = Math.round(performance.now() - keygenStart);
    const listed = ((await client.get('/v1/wallets')) as R[]).find((w) => w['walletId'] === 'hot-eth-1') ?? (created as R);
    const wallet = verifyAnyWallet(await verifyOrg(client, scheme === 'single' ? ['signer-1'] : SIGNERS), listed) as unknown as R;
    if (scheme === 'single') say(`wallet hot-eth-1 created by alice inside signer-1 (scheme single, key sealed there; address attested by the enclave): ${String(wallet['address'])}`);
    else {
      say(`wallet hot-eth-1 created by alice: 2-of-3 threshold ECDSA (DKLs23) key generated across signer-1, signer-2 and signer-3 in ${keygenMs} ms`);
      say(`  every enclave-to-enclave message was sealed with HPKE to the peer's attested channel key; the host only relayed ciphertext`);
      say(`  each signer sealed its own share and signed the wallet statement; all three attest address ${String(wallet['address'])}`);
    }
    await fund(d.anvil.url, String(wallet['address']), 10n ** 19n);
    say('wallet funded with 10 ETH on anvil');
    const raw = await buildTransfer(client, String(wallet['address']), DEMO_RECIPIENT, 5n * 10n ** 17n);
    const proposed = (await proposeTx(client, actors['dave']!, { orgId: DEMO_ORG, walletId: 'hot-eth-1', rawTx: raw })) as R;
    const requestId = String(proposed['requestId']);
    say(`dave proposed request ${requestId.slice(0, 16)}…; the enclave decoded the raw transaction and says:`);
    say(`  ${String(((proposed['summary'] as R)['statement'] as R)['text'])}`);
    const decisionEntry = ((await client.get(`/v1/audit?requestId=${requestId}`)) as R[]).find((r) => r['kind'] === 'policy.decision');
    const policyVersions = ((((decisionEntry?.['entry'] as R | undefined)?.['statement'] as R | undefined)?.['data'] as R | undefined)?.['versions'] ?? null) as Json;
    if (policyVersions !== null) say(`  decided by the Cedar rulebook ${String((policyVersions as R)['rulebook'])} (digest ${String((policyVersions as R)['rulebookDigest']).slice(0, 16)}…; policy set ${String((policyVersions as R)['policySet']).slice(0, 16)}…), recorded in the audit entry`);
    const summarySigner = String(((proposed['summary'] as R)['statement'] as R)['signerId']);
    let signStart = 0;
    for (const who of ['bob', 'carol']) {
      signStart = performance.now();
      const { check } = await approveRequest(client, actors[who]!, requestId);
      say(`${who} verified the manifest, ${summarySigner}'s attestation and the enclave-signed summary, and approved digest ${check.txDigest.slice(0, 18)}…`);
    }
    // The last approval's call returns once the host has the signed transaction.
    const signMs = Math.round(performance.now() - signStart);
    const done = await waitForStatus(client, requestId, ['confirmed', 'failed'], 60_000);
    const all0 = (await client.get(`/v1/audit?requestId=${requestId}`)) as R[];
    const releasedBy = String(all0.find((r) => r['kind'] === 'signature.released')?.['signerId'] ?? 'signer-1');
    const approvedBy = all0.filter((r) => r['kind'] === 'sign.approved').map((r) => String(r['signerId']));
    const timeOf = (r: R): number => Number((((r['entry'] as R)['statement'] as R)['timeMs']));
    // Enclave clocks: the first signer's sign.approved to the combiner's signature.released (pre-signing, online round, audits).
    const sessionMs = Math.max(...all0.filter((r) => r['kind'] === 'signature.released').map(timeOf)) - Math.min(...all0.filter((r) => r['kind'] === 'sign.approved').map(timeOf));
    if (scheme === 'single') say(`signed by signer-1 after the audit entries were durable; broadcast; mined: ${String(done['receiptStatus'])}`);
    else {
      say(`${approvedBy.join(' and ')} each re-verified the proposal, approvals and policy, audited sign.approved and ran pre-signing and the online round on the digest it computed itself`);
      say(`${releasedBy} combined, verified the signature under the wallet key and released it after the audit entries were durable (threshold signing ${sessionMs} ms; last approval → signed ${signMs} ms); broadcast; mined: ${String(done['receiptStatus'])}`);
    }
    say(`tx hash ${String(done['txHash'])}`);
    const org = await verifyOrg(client);
    const all = (await client.get('/v1/audit')) as R[];
    for (const id of scheme === 'single' ? ['signer-1'] : SIGNERS) {
      const chain = all.filter((r) => r['signerId'] === id).map((r) => decodeEnclaveSigned(r['entry'] as Json, 'entry'));
      if (verifyAuditChain(chain, org.identityKeys.get(id)!) !== -1) throw new Error(`audit chain of ${id} does not verify`);
    }
    const mine = all.filter((r) => r['requestId'] === requestId);
    const auditLog = join(dataDir, 'host', AUDIT_LOG_DIR);
    const logCheck = await verifyAuditLog(auditLog, org.identityKeys);
    say(`transparency log ${auditLog}: ${logCheck.size} entries, checkpoint signed by a signer and cosigned by ${logCheck.cosigners} of 3 signers; every tile, proof and entry signature verified`);
    say(`audit entries of this request (enclave-signed, hash-chained, chain verified):`);
    for (const e of mine) say(`  ${String(e['signerId'])}#${String(e['seq'])} ${String(e['kind'])}`);
    const keyReleases = await d.keyReleases();
    say(`key broker (${d.kbs?.hsm ?? 'none'} root): ${keyReleases} sealing key(s) released to attested signers; audit in ${join(d.kbs?.dataDir ?? dataDir, 'kbs-audit.jsonl')}`);
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
      scheme,
      hsm: d.kbs?.hsm ?? 'software',
      keyReleases,
      policyVersions,
      ...(scheme === 'ecdsa-dkls' ? { threshold: 2, signers: SIGNERS, keygenMs, signMs, sessionMs } : {}),
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

/**
 * Benchmark of the signing path: an approved request → signature released
 * (`tx.sign` in signer-1: proposal and two approvals re-verified, policy,
 * secp256k1 sign, two audit entries appended durably through the host's
 * SQLite store, sealed state persisted). Baseline in the same process: a bare
 * secp256k1 sign of a 32-byte digest. Prints p50/p99 and throughput.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import type { Json } from '@custodian/core/canonical-json';
import { encodeSignedRequest, signRequest } from '@custodian/protocol/operator-request';
import { APPROVAL_TYPE } from '@custodian/protocol/payloads';
import { decodeManifest } from '@custodian/protocol/manifest';
import { openSqliteStore } from '../apps/host/src/sqlite-store.js';
import { SignerLink } from '../apps/host/src/signer-link.js';
import { buildTransfer, createWallet, newNonce, proposeTx } from '../apps/cli/src/operations.js';
import { DEMO_ORG, DEMO_RECIPIENT, startDeployment } from '../scripts/lib/deployment.js';

type R = Record<string, Json>;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

function stats(label: string, ms: number[]): { p50: number; p99: number; mean: number } {
  const s = [...ms].sort((a, b) => a - b);
  const mean = ms.reduce((a, b) => a + b, 0) / ms.length;
  const r = { p50: percentile(s, 50), p99: percentile(s, 99), mean };
  console.log(`${label.padEnd(44)} n=${ms.length}  p50 ${r.p50.toFixed(3)} ms  p99 ${r.p99.toFixed(3)} ms  mean ${mean.toFixed(3)} ms  (${(1000 / mean).toFixed(0)} ops/s sequential)`);
  return r;
}

/** Runs the signing-path benchmark with `n` requests. */
export async function benchSigningPath(n = 200): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'custodian-bench-'));
  const d = await startDeployment({ dataDir, maxValueWei: 10n ** 24n });
  try {
    const w = (await createWallet(d.client, d.actors['alice']!, { orgId: DEMO_ORG, walletId: 'bench', signerId: 'signer-1', scheme: 'single' })) as R;
    const store = openSqliteStore(join(dataDir, 'bench-host.sqlite'));
    const link = new SignerLink('signer-1', `127.0.0.1:${Number(d.signers[0]!.ready['port'])}`, store);
    await link.attest(decodeManifest(d.signedManifest.payload), Date.now());
    const jobs: { proposal: Json; approvals: Json[] }[] = [];
    for (let i = 0; i < n; i++) {
      const raw = await buildTransfer(d.client, String(w['address']), DEMO_RECIPIENT, 1n + BigInt(i), BigInt(i));
      const r = (await proposeTx(d.client, d.actors['dave']!, { orgId: DEMO_ORG, walletId: 'bench', rawTx: raw })) as R;
      const approvals = ['bob', 'carol'].map((who) =>
        encodeSignedRequest(
          signRequest({ type: APPROVAL_TYPE, orgId: DEMO_ORG, requestId: String(r['requestId']), txDigest: String(r['txDigest']), summaryHash: String(r['summaryHash']), expiresAtMs: Date.now() + 3_600_000, nonce: newNonce() }, who, d.actors[who]!.key),
        ),
      );
      jobs.push({ proposal: r['proposal']!, approvals });
    }
    const half = Math.floor(n / 2);
    const lat: number[] = [];
    for (const job of jobs.slice(0, half)) {
      const t = performance.now();
      await link.call('tx.sign', job);
      lat.push(performance.now() - t);
    }
    const path = stats('signing path, sequential (tx.sign → released)', lat);
    const concurrent = jobs.slice(half);
    const t0 = performance.now();
    await Promise.all(concurrent.map((job) => link.call('tx.sign', job)));
    const elapsed = performance.now() - t0;
    console.log(`${'signing path, all in flight at once'.padEnd(44)} n=${concurrent.length}  ${((concurrent.length * 1000) / elapsed).toFixed(0)} signatures/s`);
    const sk = secp256k1.utils.randomSecretKey();
    const digest = new Uint8Array(32).fill(7);
    const base: number[] = [];
    for (let i = 0; i < 2000; i++) {
      const t = performance.now();
      secp256k1.sign(digest, sk, { prehash: false });
      base.push(performance.now() - t);
    }
    const b = stats('baseline: bare secp256k1 sign (noble)', base);
    console.log(`ratio: signing path p50 / bare sign mean = ${(path.p50 / b.mean).toFixed(1)}×`);
    link.close();
    await store.close();
  } finally {
    await d.stop();
  }
}

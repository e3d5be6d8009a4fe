/**
 * Benchmark of the signing path through the real processes: the last
 * approval that completes the quorum → signature released (host relays
 * `approval.check` and `tx.sign`; signer-1 re-verifies proposal, approvals and
 * policy, signs, and its two audit entries become durable in the
 * transparency log under a checkpoint signed and cosigned by the signers,
 * before release). Baseline in the same process: a bare secp256k1 sign.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import type { Json } from '@custodian/core/canonical-json';
import { encodeSignedRequest, signRequest } from '@custodian/protocol/operator-request';
import { APPROVAL_TYPE } from '@custodian/protocol/payloads';
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
  console.log(`${label.padEnd(52)} n=${ms.length}  p50 ${r.p50.toFixed(3)} ms  p99 ${r.p99.toFixed(3)} ms  mean ${mean.toFixed(3)} ms  (${(1000 / mean).toFixed(1)}/s sequential)`);
  return r;
}

/** Runs the signing-path benchmark with `n` requests. */
export async function benchSigningPath(n = 60): Promise<void> {
  const d = await startDeployment({ dataDir: mkdtempSync(join(tmpdir(), 'custodian-bench-')), maxValueWei: 10n ** 24n });
  try {
    const w = (await createWallet(d.client, d.actors['alice']!, { orgId: DEMO_ORG, walletId: 'bench', signerId: 'signer-1', scheme: 'single' })) as R;
    const approval = (who: string, r: R): Json => ({
      approval: encodeSignedRequest(
        signRequest({ type: APPROVAL_TYPE, orgId: DEMO_ORG, requestId: String(r['requestId']), txDigest: String(r['txDigest']), summaryHash: String(r['summaryHash']), expiresAtMs: Date.now() + 3_600_000, nonce: newNonce() }, who, d.actors[who]!.key),
      ),
    });
    const propose: number[] = [];
    const release: number[] = [];
    for (let i = 0; i < n; i++) {
      // Account nonces far ahead: these transactions are signed, not mined (the node only queues them).
      const raw = await buildTransfer(d.client, String(w['address']), DEMO_RECIPIENT, 1n + BigInt(i), 1000n + BigInt(i));
      let t = performance.now();
      const r = (await proposeTx(d.client, d.actors['dave']!, { orgId: DEMO_ORG, walletId: 'bench', rawTx: raw })) as R;
      propose.push(performance.now() - t);
      await d.client.post(`/v1/requests/${String(r['requestId'])}/approvals`, approval('bob', r));
      t = performance.now();
      const done = (await d.client.post(`/v1/requests/${String(r['requestId'])}/approvals`, approval('carol', r))) as R;
      release.push(performance.now() - t);
      if (!done['signedTx']) throw new Error('the quorum-completing approval did not release a signature');
    }
    stats('proposal (decode, policy, summary, 2 log entries)', propose);
    const path = stats('quorum-completing approval → signature released', release);
    const sk = secp256k1.utils.randomSecretKey();
    const digest = new Uint8Array(32).fill(7);
    const base: number[] = [];
    for (let i = 0; i < 2000; i++) {
      const t = performance.now();
      secp256k1.sign(digest, sk, { prehash: false });
      base.push(performance.now() - t);
    }
    const b = stats('baseline: bare secp256k1 sign (noble)', base);
    console.log(`ratio: signing path p50 / bare sign mean = ${(path.p50 / b.mean).toFixed(0)}×`);
  } finally {
    await d.stop();
  }
}

/**
 * Threshold wallets through the real processes (issue 4 item 7, issue 8):
 * three sim signer enclaves and the host relaying sealed messages. Per
 * scheme (ecdsa-dkls, frost-ed25519, frost-secp256k1-tr), 2-of-3: key
 * generation, the quorum-completing approval → signature released (policy
 * decided in every signing enclave, both FROST rounds or the DKLs23
 * pre-signing and online rounds, audit entries durable before release), and
 * a proactive share refresh with its all-party commit. Baseline in the same
 * process: a plain single-key sign of the same curve.
 *
 *   npm run bench -- threshold        (BENCH_THRESHOLD_N signings per scheme, default 15)
 *   node --import tsx bench/threshold.bench.ts
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { ed25519 } from '@noble/curves/ed25519.js';
import { schnorr, secp256k1 } from '@noble/curves/secp256k1.js';
import * as btc from '@scure/btc-signer';
import type { Json } from '@custodian/core/canonical-json';
import { hexToBytes } from '@custodian/core/bytes';
import { encodeSignedRequest, signRequest } from '@custodian/protocol/operator-request';
import { APPROVAL_TYPE, type ThresholdScheme, type TxChain } from '@custodian/protocol/payloads';
import { base58Encode } from '@custodian/chains/sol/base58';
import { compileTestMessageBytes, systemTransfer } from '@custodian/chains/sol/test-messages';
import { buildTransfer, createWallet, newNonce, proposeTx, refreshWallet } from '../apps/cli/src/operations.js';
import { DEMO_ORG, DEMO_RECIPIENT, DEMO_RULEBOOK_DIR, startDeployment, type Deployment } from '../scripts/lib/deployment.js';

type R = Record<string, Json>;
const SIGNERS = ['signer-1', 'signer-2', 'signer-3'];
const REGTEST = { bech32: 'bcrt', pubKeyHash: 0x6f, scriptHash: 0xc4, wif: 0xef };

function stats(label: string, ms: readonly number[]): { p50: number; p99: number; mean: number } {
  const s = [...ms].sort((a, b) => a - b);
  const at = (p: number): number => s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
  const mean = ms.reduce((a, b) => a + b, 0) / ms.length;
  console.log(`${label.padEnd(64)} n=${String(ms.length).padStart(4)}  p50 ${at(50).toFixed(2).padStart(9)} ms  p99 ${at(99).toFixed(2).padStart(9)} ms`);
  return { p50: at(50), p99: at(99), mean };
}

function baseline(label: string, sign: () => unknown): number {
  const ms: number[] = [];
  for (let i = 0; i < 2000; i++) {
    const t = performance.now();
    sign();
    ms.push(performance.now() - t);
  }
  return stats(`baseline: ${label}`, ms).mean;
}

/** The raw proposal bytes of signing number `i` on a wallet of `scheme`. */
async function rawFor(d: Deployment, scheme: ThresholdScheme, w: R, i: number, listed: (chain: string) => string): Promise<{ chain: TxChain; raw: string }> {
  const address = String(w['address']);
  if (scheme === 'ecdsa-dkls') return { chain: 'eth', raw: await buildTransfer(d.client, address, DEMO_RECIPIENT, 1n + BigInt(i), 1000n + BigInt(i)) };
  if (scheme === 'frost-ed25519') {
    const msg = compileTestMessageBytes({ payer: address, instructions: [systemTransfer(address, listed('solana-devnet'), 1_000n + BigInt(i))], blockhash: base58Encode(new Uint8Array(32).fill(i + 1)) });
    return { chain: 'sol', raw: `0x${Buffer.from(msg).toString('hex')}` };
  }
  const internal = hexToBytes(String(w['publicKey'])).slice(1);
  const mine = btc.p2tr(internal, undefined, REGTEST).script;
  const tx = new btc.Transaction();
  tx.addInput({ txid: new Uint8Array(32).fill(i + 1), index: 0, witnessUtxo: { script: mine, amount: 100_000n }, tapInternalKey: internal });
  tx.addOutput({ script: btc.OutScript.encode(btc.Address(REGTEST).decode(listed('bitcoin-regtest'))), amount: 99_500n });
  return { chain: 'btc', raw: `0x${Buffer.from(tx.toPSBT(0)).toString('hex')}` };
}

/** Runs the three-process threshold benchmark with `n` signings per scheme. */
async function benchThresholdPaths(n: number): Promise<void> {
  const book = JSON.parse(readFileSync(join(DEMO_RULEBOOK_DIR, 'address-book.json'), 'utf8')) as { entries: { chain: string; address: string }[] };
  const listed = (chain: string): string => book.entries.find((e) => e.chain === chain)!.address;
  const d = await startDeployment({ dataDir: mkdtempSync(join(tmpdir(), 'custodian-bench-threshold-')), maxValueWei: 10n ** 24n, rulebook: DEMO_RULEBOOK_DIR });
  try {
    const approval = (who: string, r: R): Json => ({
      approval: encodeSignedRequest(
        signRequest({ type: APPROVAL_TYPE, orgId: DEMO_ORG, requestId: String(r['requestId']), txDigest: String(r['txDigest']), summaryHash: String(r['summaryHash']), expiresAtMs: Date.now() + 3_600_000, nonce: newNonce() }, who, d.actors[who]!.key),
      ),
    });
    for (const scheme of ['ecdsa-dkls', 'frost-ed25519', 'frost-secp256k1-tr'] as const) {
      console.log(`-- ${scheme} 2-of-3 across three signer processes`);
      const keygen: number[] = [];
      let w: R | null = null;
      for (let k = 0; k < 3; k++) {
        const t = performance.now();
        w = (await createWallet(d.client, d.actors['alice']!, { orgId: DEMO_ORG, walletId: `bench-${scheme}-${k}`, scheme, threshold: 2, signers: SIGNERS })) as R;
        keygen.push(performance.now() - t);
      }
      stats('key generation (DKG, every party attests the key)', keygen);
      const walletId = String(w!['walletId']);
      const release: number[] = [];
      for (let i = 0; i < n; i++) {
        const { chain, raw } = await rawFor(d, scheme, w!, i, listed);
        const r = (await proposeTx(d.client, d.actors['dave']!, { orgId: DEMO_ORG, walletId, rawTx: raw, chain })) as R;
        if (r['status'] !== 'pending') throw new Error(`proposal ${i} was ${String(r['status'])}: ${JSON.stringify(r['reasons'])}`);
        await d.client.post(`/v1/requests/${String(r['requestId'])}/approvals`, approval('bob', r));
        const t = performance.now();
        const done = (await d.client.post(`/v1/requests/${String(r['requestId'])}/approvals`, approval('carol', r))) as R;
        release.push(performance.now() - t);
        if (!done['signedTx']) throw new Error('the quorum-completing approval did not release a signature');
      }
      const path = stats('quorum-completing approval → signature released', release);
      const refresh: number[] = [];
      for (let k = 0; k < 3; k++) {
        const t = performance.now();
        await refreshWallet(d.client, d.actors['alice']!, { orgId: DEMO_ORG, walletId });
        refresh.push(performance.now() - t);
      }
      stats('share refresh (all three parties, committed on every confirmation)', refresh);
      const msg = new Uint8Array(32).fill(7);
      const plain =
        scheme === 'ecdsa-dkls'
          ? (() => {
              const sk = secp256k1.utils.randomSecretKey();
              return baseline('secp256k1 ECDSA sign (noble), same process', () => secp256k1.sign(msg, sk, { prehash: false }));
            })()
          : scheme === 'frost-ed25519'
            ? (() => {
                const sk = ed25519.utils.randomSecretKey();
                return baseline('ed25519 sign (noble), same process', () => ed25519.sign(msg, sk));
              })()
            : (() => {
                const sk = schnorr.utils.randomSecretKey();
                return baseline('BIP 340 schnorr sign (noble), same process', () => schnorr.sign(msg, sk));
              })();
      console.log(`ratio: threshold signing path p50 / plain sign mean = ${(path.p50 / plain).toFixed(0)}×`);
    }
  } finally {
    await d.stop();
  }
}

await benchThresholdPaths(Number(process.env['BENCH_THRESHOLD_N'] ?? '15'));

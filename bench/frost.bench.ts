/**
 * FROST (RFC 9591, packages/tss/src/frost) in one process, per ciphersuite:
 * DKG, signing (commit round + sign round + aggregation, t local parties)
 * and proactive refresh, as p50/p99 wall-clock milliseconds, against a plain
 * single-key sign of the same curve measured in the same run (ed25519.sign for
 * FROST(Ed25519); BIP 340 schnorr.sign for both secp256k1 suites, plain
 * FROST(secp256k1) having no single-key standard of its own). All parties run
 * sequentially on one thread and there is no network: this is the local part
 * of issue 4 item 7; the three-process figures come from the signing path.
 *
 *   node --import tsx bench/frost.bench.ts [--quick] [--json]
 */
import { performance } from 'node:perf_hooks';
import { ed25519 } from '@noble/curves/ed25519.js';
import { schnorr } from '@noble/curves/secp256k1.js';
import { systemRandom } from '@custodian/core/clock';
import type { FrostKeyShare } from '@custodian/tss/frost/key-package';
import { runLocalDkg, signLocally } from '@custodian/tss/frost/local';
import { refreshEcho, refreshFinish, refreshStart } from '@custodian/tss/frost/refresh';
import { FROST_SUITE_IDS, frostSuite, type FrostSuiteId } from '@custodian/tss/frost/suite';
import { tweakKeyShare } from '@custodian/tss/frost/taproot';

const quick = process.argv.includes('--quick');
const asJson = process.argv.includes('--json');
const RUNS = { dkg: quick ? 10 : 30, sign: quick ? 30 : 100, refresh: quick ? 10 : 30, plain: quick ? 200 : 2000 };

function percentile(xs: readonly number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
}

async function timeRuns(n: number, fn: (i: number) => unknown): Promise<number[]> {
  await fn(-1); // warm-up
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await fn(i);
    out.push(performance.now() - t0);
  }
  return out;
}

function refreshAll(shares: readonly FrostKeyShare[], sessionId: string): FrostKeyShare[] {
  const started = shares.map((s) => refreshStart(s, sessionId, systemRandom));
  const echoes = started.map(({ state }) => refreshEcho(state, started.filter((o) => o.state !== state).map((o) => o.broadcast)));
  const outbox = started.flatMap((s) => s.shares);
  return started.map(({ state }) => refreshFinish(state, echoes.filter((e) => e.from !== state.share.party), outbox.filter((m) => m.to === state.share.party)));
}

function plainSigner(suite: FrostSuiteId): { name: string; sign: (msg: Uint8Array) => Uint8Array } {
  if (suite === 'frost-ed25519') {
    const sk = ed25519.utils.randomSecretKey();
    return { name: 'ed25519.sign', sign: (m) => ed25519.sign(m, sk) };
  }
  const sk = schnorr.utils.randomSecretKey();
  return { name: 'schnorr.sign (BIP 340)', sign: (m) => schnorr.sign(m, sk) };
}

const fmt = (x: number): number => +x.toFixed(x < 1 ? 3 : 2);
const rows: Record<string, unknown>[] = [];
for (const suite of FROST_SUITE_IDS) {
  const plain = plainSigner(suite);
  const msg = systemRandom.bytes(32);
  const plainMs = await timeRuns(RUNS.plain, () => plain.sign(msg));
  for (const [t, n] of [[2, 3], [3, 5]] as const) {
    const dkgMs = await timeRuns(RUNS.dkg, (i) => runLocalDkg(suite, t, n, systemRandom, `bench-dkg-${i}`));
    let shares = runLocalDkg(suite, t, n, systemRandom, 'bench-dkg');
    // Taproot signs for the tweaked output key, as a key-path spend does.
    const signers = (suite === 'frost-secp256k1-tr' ? shares.map((s) => tweakKeyShare(s)) : shares).slice(0, t);
    const { verifyPlain, verifierKey } = frostSuite(suite);
    let verified = true;
    const signMs = await timeRuns(RUNS.sign, async (i) => {
      const sig = await signLocally(signers, msg, systemRandom, `bench-sign-${i}`);
      if (i === 0) verified = verifyPlain(sig, msg, verifierKey(signers[0]!.publicPackage.groupPublicKey));
    });
    if (!verified) throw new Error(`${suite}: the benchmarked signature did not verify`);
    const refreshMs = await timeRuns(RUNS.refresh, (i) => {
      shares = refreshAll(shares, `bench-refresh-${i}`);
    });
    const p50Plain = percentile(plainMs, 50);
    rows.push({
      suite,
      shape: `${t}-of-${n}`,
      dkgP50Ms: fmt(percentile(dkgMs, 50)),
      dkgP99Ms: fmt(percentile(dkgMs, 99)),
      signP50Ms: fmt(percentile(signMs, 50)),
      signP99Ms: fmt(percentile(signMs, 99)),
      refreshP50Ms: fmt(percentile(refreshMs, 50)),
      refreshP99Ms: fmt(percentile(refreshMs, 99)),
      baseline: plain.name,
      plainSignP50Ms: fmt(p50Plain),
      plainSignP99Ms: fmt(percentile(plainMs, 99)),
      signVsPlain: `${Math.round(percentile(signMs, 50) / p50Plain)}x`,
    });
  }
}
if (asJson) {
  console.log(JSON.stringify({ bench: 'frost', runs: RUNS, rows }));
} else {
  console.log(`FROST (one process, parties sequential, wall-clock ms; runs: dkg ${RUNS.dkg}, sign ${RUNS.sign}, refresh ${RUNS.refresh}) vs a plain single-key sign of the same curve`);
  console.table(rows);
}

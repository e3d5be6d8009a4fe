/**
 * Threshold ECDSA (DKLs23, packages/tss/src/ecdsa) in one process: key
 * generation, pre-signing and online signing per signature, and bytes sent
 * per party, for 2-of-3 and 3-of-5, against a plain @noble/curves secp256k1
 * sign in the same run. All parties run sequentially on one thread, so the
 * per-party figure is the total divided by the number of parties. Times are
 * CPU milliseconds of this process (process.cpuUsage), which stay meaningful
 * on a machine shared with other jobs; wall-clock keygen is shown beside.
 *
 *   node --import tsx bench/ecdsa.bench.ts [--quick] [--json]
 */
import { performance } from 'node:perf_hooks';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { systemRandom } from '@custodian/core/clock';
import { EcdsaDealing } from '@custodian/tss/ecdsa/dealing';
import { EcdsaPresignSession } from '@custodian/tss/ecdsa/sign';
import type { EcdsaKeyShare } from '@custodian/tss/ecdsa/key-share';
import type { EcdsaMessage } from '@custodian/tss/ecdsa/message';
import { inboxOf } from '@custodian/tss/ecdsa/local-run';

const quick = process.argv.includes('--quick');
const asJson = process.argv.includes('--json');

/** CPU milliseconds (user + system) used by this process so far. */
function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function bytesFrom(messages: readonly EcdsaMessage[], party: bigint): number {
  return messages.filter((m) => m.from === party).reduce((n, m) => n + m.body.length, 0);
}

function keygen(t: number, n: number): { shares: Map<bigint, EcdsaKeyShare>; ms: number; wallMs: number; maxPartyMs: number; bytesPerParty: number } {
  const ids = Array.from({ length: n }, (_, i) => BigInt(i + 1));
  const sid = systemRandom.bytes(32);
  const start = performance.now();
  const cpu0 = cpuMs();
  const sessions = ids.map((self) => new EcdsaDealing({ sessionId: sid, self, mode: 'keygen', threshold: t, receivers: ids, random: systemRandom }));
  const perParty = new Map<bigint, number>(ids.map((id) => [id, 0]));
  const timed = <T>(id: bigint, fn: () => T): T => {
    const c0 = cpuMs();
    const out = fn();
    perParty.set(id, perParty.get(id)! + cpuMs() - c0);
    return out;
  };
  const r1 = sessions.flatMap((s) => timed(s.self, () => s.round1()));
  const r2 = sessions.flatMap((s) => timed(s.self, () => s.round2(inboxOf(r1, s.self))));
  const shares = new Map(sessions.map((s) => [s.self, timed(s.self, () => s.finish(inboxOf(r2, s.self)))]));
  const wallMs = performance.now() - start;
  const ms = cpuMs() - cpu0;
  return { shares, ms, wallMs, maxPartyMs: Math.max(...perParty.values()), bytesPerParty: Math.max(...ids.map((id) => bytesFrom([...r1, ...r2], id))) };
}

function signOnce(shares: Map<bigint, EcdsaKeyShare>, signers: bigint[]): { presignMs: number; onlineMs: number; presignBytes: number; onlineBytes: number } {
  const sid = systemRandom.bytes(32);
  const digest = sha256(systemRandom.bytes(32));
  const t0 = cpuMs();
  const sessions = signers.map((id) => new EcdsaPresignSession(shares.get(id)!, { sessionId: sid, signers, random: systemRandom }));
  const r1 = sessions.flatMap((s) => s.round1());
  const r2 = sessions.flatMap((s, i) => s.round2(inboxOf(r1, signers[i]!)));
  const pre = sessions.map((s, i) => s.finish(inboxOf(r2, signers[i]!)));
  const t1 = cpuMs();
  const r3 = pre.flatMap((p) => p.online(digest));
  pre.forEach((p, i) => p.combine(inboxOf(r3, signers[i]!)));
  const t2 = cpuMs();
  return { presignMs: t1 - t0, onlineMs: t2 - t1, presignBytes: bytesFrom([...r1, ...r2], signers[0]!), onlineBytes: bytesFrom(r3, signers[0]!) };
}

function plainSignMs(): number {
  const sk = secp256k1.utils.randomSecretKey();
  const msg = sha256(new Uint8Array(32));
  const n = quick ? 200 : 1000;
  for (let i = 0; i < 50; i++) secp256k1.sign(msg, sk, { prehash: false });
  const t0 = cpuMs();
  for (let i = 0; i < n; i++) secp256k1.sign(msg, sk, { prehash: false });
  return (cpuMs() - t0) / n;
}

const rows: Record<string, unknown>[] = [];
const plain = plainSignMs();
for (const [t, n] of [[2, 3], [3, 5]] as const) {
  const kg = keygen(t, n);
  const signers = Array.from({ length: t }, (_, i) => BigInt(i + 1));
  signOnce(kg.shares, signers); // warm-up
  const runs = Array.from({ length: quick ? 3 : 10 }, () => signOnce(kg.shares, signers));
  const presign = median(runs.map((r) => r.presignMs));
  const online = median(runs.map((r) => r.onlineMs));
  rows.push({
    shape: `${t}-of-${n}`,
    keygenCpuMs: Math.round(kg.ms),
    keygenWallMs: Math.round(kg.wallMs),
    keygenCpuMsPerParty: Math.round(kg.ms / n),
    keygenCpuMsSlowestParty: Math.round(kg.maxPartyMs),
    keygenBytesPerParty: kg.bytesPerParty,
    presignCpuMs: +presign.toFixed(1),
    presignCpuMsPerParty: +(presign / t).toFixed(1),
    onlineCpuMs: +online.toFixed(2),
    onlineCpuMsPerParty: +(online / t).toFixed(2),
    presignBytesPerParty: runs[0]!.presignBytes,
    onlineBytesPerParty: runs[0]!.onlineBytes,
    plainSignCpuMs: +plain.toFixed(3),
  });
}
if (asJson) {
  console.log(JSON.stringify({ bench: 'ecdsa-dkls23', rows }));
} else {
  console.log('threshold ECDSA (DKLs23, one process, parties sequential) vs plain secp256k1.sign');
  console.table(rows);
}

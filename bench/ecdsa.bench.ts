/**
 * Threshold ECDSA (DKLs23, packages/tss/src/ecdsa) in one process: key
 * generation, pre-signing and online signing per signature, and bytes sent
 * per party, for 2-of-3 and 3-of-5, against a plain @noble/curves secp256k1
 * sign in the same run. All parties run sequentially on one thread, so the
 * per-party figure is the total divided by the number of parties. Times are
 * CPU milliseconds of this process (process.cpuUsage), which stay meaningful
 * on a machine shared with other jobs; wall-clock keygen is shown beside.
 * Each line is printed with the reference's figure and "N.NN× faster" or
 * "N.NN× slower" (the larger time over the smaller). Bytes per party count
 * what one party sends, a broadcast once per recipient on both sides.
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

/**
 * The reference DKLs23 build (@silencelaboratories/dkls-wasm-ll-node, a
 * dev-only benchmark peer: its licence forbids shipping it) measured the same
 * way: all parties in this process, CPU time, same shapes.
 */
interface RefMessage { from_id: number; to_id?: number; readonly payload: Uint8Array; clone(): RefMessage }
interface RefModule {
  KeygenSession: new (n: number, t: number, id: number) => { createFirstMessage(): RefMessage; handleMessages(m: RefMessage[], c?: unknown[]): RefMessage[]; calculateChainCodeCommitment(): Uint8Array; keyshare(): unknown };
  SignSession: new (share: unknown, path: string) => { createFirstMessage(): RefMessage; handleMessages(m: RefMessage[]): RefMessage[]; lastMessage(h: Uint8Array): RefMessage; combine(m: RefMessage[]): unknown[] };
  Keyshare: { fromBytes(b: Uint8Array): unknown };
}

async function loadReference(): Promise<RefModule | null> {
  try {
    return (await import('@silencelaboratories/dkls-wasm-ll-node')) as unknown as RefModule;
  } catch {
    return null;
  }
}

/** Bytes party `p` sends in `msgs`: a broadcast (no to_id) counts once per other party. */
function refBytesFrom(msgs: readonly RefMessage[], p: number, parties: number): number {
  return msgs.filter((m) => m.from_id === p).reduce((acc, m) => acc + m.payload.length * (m.to_id === undefined ? parties - 1 : 1), 0);
}

function refKeygen(ref: RefModule, t: number, n: number): { ms: number; shares: Uint8Array[]; bytesPerParty: number } {
  const c0 = cpuMs();
  const parties = Array.from({ length: n }, (_, i) => new ref.KeygenSession(n, t, i));
  const bcast = (msgs: RefMessage[], p: number): RefMessage[] => msgs.filter((m) => m.from_id !== p).map((m) => m.clone());
  const p2p = (msgs: RefMessage[], p: number): RefMessage[] => msgs.filter((m) => m.to_id === p).map((m) => m.clone());
  const m1 = parties.map((p) => p.createFirstMessage());
  const m2 = parties.flatMap((p, i) => p.handleMessages(bcast(m1, i)));
  const commitments = parties.map((p) => p.calculateChainCodeCommitment());
  const m3 = parties.flatMap((p, i) => p.handleMessages(p2p(m2, i)));
  const m4 = parties.flatMap((p, i) => p.handleMessages(p2p(m3, i), commitments));
  parties.forEach((p, i) => p.handleMessages(bcast(m4, i)));
  const shares = parties.map((p) => (p.keyshare() as { toBytes(): Uint8Array }).toBytes());
  const ms = cpuMs() - c0;
  const all = [...m1, ...m2, ...m3, ...m4];
  return { ms, shares, bytesPerParty: Math.max(...parties.map((_, i) => refBytesFrom(all, i, n))) };
}

function refSign(ref: RefModule, shares: Uint8Array[], t: number): { presignMs: number; onlineMs: number; presignBytes: number; onlineBytes: number } {
  const bcast = (msgs: RefMessage[], p: number): RefMessage[] => msgs.filter((m) => m.from_id !== p).map((m) => m.clone());
  const p2p = (msgs: RefMessage[], p: number): RefMessage[] => msgs.filter((m) => m.to_id === p).map((m) => m.clone());
  const digest = sha256(systemRandom.bytes(32));
  const c0 = cpuMs();
  const parties = shares.slice(0, t).map((b) => new ref.SignSession(ref.Keyshare.fromBytes(b), 'm'));
  const m1 = parties.map((p) => p.createFirstMessage());
  const m2 = parties.flatMap((p, i) => p.handleMessages(bcast(m1, i)));
  const m3 = parties.flatMap((p, i) => p.handleMessages(p2p(m2, i)));
  parties.forEach((p, i) => p.handleMessages(p2p(m3, i)));
  const c1 = cpuMs();
  const m4 = parties.map((p) => p.lastMessage(digest));
  parties.forEach((p, i) => p.combine(bcast(m4, i)));
  const onlineMs = cpuMs() - c1;
  return { presignMs: c1 - c0, onlineMs, presignBytes: refBytesFrom([...m1, ...m2, ...m3], 0, t), onlineBytes: refBytesFrom(m4, 0, t) };
}

/** "1.25× faster" when ours < theirs, "1.25× slower" otherwise (larger over smaller). */
function versus(ours: number, theirs: number): string {
  if (ours <= theirs) return `${(theirs / ours).toFixed(2)}× faster`;
  return `${(ours / theirs).toFixed(2)}× slower`;
}

const reference = await loadReference();
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
    ...(reference ? refColumns(reference, t, n, kg.ms, presign, online) : { reference: 'not installed' }),
  });
}

function refColumns(ref: RefModule, t: number, n: number, keygenMs: number, presignMs: number, onlineMs: number): Record<string, unknown> {
  const kg = refKeygen(ref, t, n);
  refSign(ref, kg.shares, t); // warm-up
  const runs = Array.from({ length: quick ? 3 : 10 }, () => refSign(ref, kg.shares, t));
  const rp = median(runs.map((r) => r.presignMs));
  const ro = median(runs.map((r) => r.onlineMs));
  return {
    refKeygenCpuMs: Math.round(kg.ms),
    refPresignCpuMs: +rp.toFixed(1),
    refOnlineCpuMs: +ro.toFixed(2),
    refKeygenBytesPerParty: kg.bytesPerParty,
    refPresignBytesPerParty: runs[0]!.presignBytes,
    refOnlineBytesPerParty: runs[0]!.onlineBytes,
    keygenVsRef: versus(keygenMs, kg.ms),
    presignVsRef: versus(presignMs, rp),
    onlineVsRef: versus(onlineMs, ro),
  };
}
/** One table per shape: a line per figure, ours beside the reference and the comparison. */
function printRow(row: Record<string, unknown>): void {
  const hasRef = row['refKeygenCpuMs'] !== undefined;
  const line = (what: string, ours: unknown, theirs: unknown, vs: unknown): Record<string, unknown> => ({ line: what, ours, reference: hasRef ? theirs : 'not installed', 'vs reference': hasRef ? vs : '' });
  const bytesVs = (ours: unknown, theirs: unknown): string => (typeof theirs === 'number' ? `${versus(ours as number, theirs).replace('faster', 'fewer').replace('slower', 'more')}` : '');
  console.log(`\n${String(row['shape'])}: threshold ECDSA (DKLs23) vs the reference build; CPU ms, all parties in one process, sequential`);
  console.table([
    line('key generation (CPU ms, all parties)', row['keygenCpuMs'], row['refKeygenCpuMs'], row['keygenVsRef']),
    line('pre-signing (CPU ms, all signers)', row['presignCpuMs'], row['refPresignCpuMs'], row['presignVsRef']),
    line('online signing (CPU ms, all signers, incl. verification)', row['onlineCpuMs'], row['refOnlineCpuMs'], row['onlineVsRef']),
    line('key generation: bytes sent per party', row['keygenBytesPerParty'], row['refKeygenBytesPerParty'], bytesVs(row['keygenBytesPerParty'], row['refKeygenBytesPerParty'])),
    line('pre-signing: bytes sent per party', row['presignBytesPerParty'], row['refPresignBytesPerParty'], bytesVs(row['presignBytesPerParty'], row['refPresignBytesPerParty'])),
    line('online signing: bytes sent per party', row['onlineBytesPerParty'], row['refOnlineBytesPerParty'], bytesVs(row['onlineBytesPerParty'], row['refOnlineBytesPerParty'])),
  ]);
  console.log(
    `  keygen wall ${String(row['keygenWallMs'])} ms, slowest party ${String(row['keygenCpuMsSlowestParty'])} CPU ms; per signer: pre-sign ${String(row['presignCpuMsPerParty'])} ms, online ${String(row['onlineCpuMsPerParty'])} ms; plain secp256k1.sign ${String(row['plainSignCpuMs'])} ms`,
  );
}

if (asJson) {
  console.log(JSON.stringify({ bench: 'ecdsa-dkls23', rows }));
} else {
  for (const row of rows) printRow(row);
}

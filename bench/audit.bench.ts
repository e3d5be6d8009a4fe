/**
 * Audit log benchmark (THREATS.md L09; issue 6 item 7). Prints figures, asserts
 * nothing about time. Usage:
 *
 *   node --import tsx bench/audit.bench.ts [entries=1000000] [--dir DIR] [--json]
 *
 * Measures, in one run and against the same entry bytes:
 *   - baseline: bare SHA-256 of each leaf input (0x00 || entry), one-shot;
 *   - latency of a single-entry durable append (one checkpoint per entry);
 *   - append throughput into a tlog-tiles directory, batched (4,096 entries
 *     per checkpoint) and durable (fsync before each batch resolves), with a
 *     log signature and 2 cosignatures per checkpoint; and the same into
 *     memory (no I/O) to separate hashing/encoding from the disk;
 *   - inclusion and consistency proof generation from tiles and verification,
 *     at random sizes, with proof lengths (O(log n));
 *   - full-log verification rate (every entry decoded, every tile and
 *     signature checked) and the resident memory it needed.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Secret } from '@custodian/core/secret';
import { sha256, RFC6962_LEAF_PREFIX } from '@custodian/audit/hash';
import { Ed25519NoteKey, NOTE_KEY_TYPE_COSIGNATURE_V1 } from '@custodian/audit/ed25519-note-key';
import { addNoteSignatures, signNote } from '@custodian/audit/note';
import { checkpointPolicyFromKeys, verifyCheckpointNote } from '@custodian/audit/checkpoint-policy';
import { decodeAuditEntry, encodeAuditEntry } from '@custodian/audit/entry';
import { FileTileStorage, type TileStorage } from '@custodian/audit/tile-storage';
import { MemoryTileStorage } from '@custodian/audit/memory-tile-storage';
import { TileLogWriter, type CheckpointSignFn } from '@custodian/audit/tile-log-writer';
import { verifyTileLog } from '@custodian/audit/tile-log-verifier';
import { proveConsistencyFromTiles, proveInclusionFromTiles, readEntryFromTiles } from '@custodian/audit/tile-proofs';
import { verifyInclusion } from '@custodian/audit/inclusion-proof';
import { verifyConsistency } from '@custodian/audit/consistency-proof';

const args = process.argv.slice(2);
const N = Number(args.find((a) => /^[0-9]+$/.test(a)) ?? 1_000_000);
const dirArg = args.indexOf('--dir');
const BATCH = 4096;
const PROOFS = 1000;
const origin = 'bench.custodian.example/audit';

const logKey = new Ed25519NoteKey(origin, new Secret(new Uint8Array(32).fill(1)));
const cosigners = [2, 3].map((s, i) => new Ed25519NoteKey(`bench.custodian.example/signer-${i}`, new Secret(new Uint8Array(32).fill(s)), NOTE_KEY_TYPE_COSIGNATURE_V1));
const policy = checkpointPolicyFromKeys(origin, [logKey.verifierKey()], cosigners.map((c) => c.verifierKey()), 2);
const sign: CheckpointSignFn = async (text) => {
  const msg = new TextEncoder().encode(text);
  const sigs = await Promise.all(cosigners.map(async (c) => ({ name: c.name, keyId: c.keyId, signature: await c.sign(msg) })));
  return addNoteSignatures(await signNote(text, [logKey]), sigs);
};

// Realistic entries (~280 bytes): a signature-released record per request. They are
// built as canonical JSON text directly (checked against the decoder on a sample) and
// packed into one buffer, so 10^6 entries do not become 10^6 separate ArrayBuffers and
// the garbage collector does not dominate what is measured.
function entryText(i: number): string {
  const h = (c: number): string => ((i * 2654435761 + c) >>> 0).toString(16).padStart(8, '0').repeat(8);
  return `{"at":${1_764_000_000_000 + i},"digest":"${h(1)}","keyId":"wallet-1","kind":"signature.released","requestId":"req-${i}","scheme":"frost-ed25519","signatureHash":"${h(2)}","v":1}`;
}

function packEntries(n: number): Uint8Array[] {
  const texts = Array.from({ length: n }, (_, i) => entryText(i));
  const all = Buffer.from(texts.join(''), 'utf8');
  const out: Uint8Array[] = [];
  let off = 0;
  for (const t of texts) {
    out.push(new Uint8Array(all.buffer, all.byteOffset + off, t.length));
    off += t.length;
  }
  for (const i of [0, n >> 1, n - 1]) {
    const e = out[i]!;
    if (Buffer.compare(Buffer.from(encodeAuditEntry(decodeAuditEntry(e))), Buffer.from(e)) !== 0) throw new Error('bench entries must be canonical audit entries');
  }
  return out;
}

function rate(n: number, ms: number): string {
  return `${Math.round((n / ms) * 1000).toLocaleString('en-US')}/s`;
}

const figures: Record<string, number | string> = { entries: N, batch: BATCH, node: process.version };

async function append(storage: TileStorage, entries: readonly Uint8Array[]): Promise<{ ms: number; checkpoints: Uint8Array[] }> {
  const writer = await TileLogWriter.open({ storage, origin, sign, policy });
  const checkpoints: Uint8Array[] = [];
  const t0 = performance.now();
  for (let i = 0; i < entries.length; i += BATCH) checkpoints.push((await writer.appendBatch(entries.slice(i, i + BATCH))).checkpoint);
  return { ms: performance.now() - t0, checkpoints };
}

async function main(): Promise<void> {
  process.stderr.write(`encoding ${N} entries...\n`);
  const entries = packEntries(N);
  const bytes = entries.reduce((n, e) => n + e.length, 0);
  figures['entryBytesMean'] = Math.round(bytes / N);

  // Baseline: the same leaf inputs through the same one-shot SHA-256, nothing else.
  const scratch = new Uint8Array(1 + 65_536);
  let t0 = performance.now();
  for (const e of entries) {
    scratch[0] = RFC6962_LEAF_PREFIX;
    scratch.set(e, 1);
    sha256(scratch.subarray(0, e.length + 1));
  }
  const baseMs = performance.now() - t0;
  figures['baselineSha256PerS'] = Math.round((N / baseMs) * 1000);
  process.stderr.write(`baseline SHA-256 of leaf inputs: ${rate(N, baseMs)} (${baseMs.toFixed(0)} ms)\n`);

  const mem = await append(new MemoryTileStorage(), entries);
  figures['appendMemoryPerS'] = Math.round((N / mem.ms) * 1000);
  process.stderr.write(`append to memory tiles (no I/O), batches of ${BATCH}: ${rate(N, mem.ms)}\n`);

  const dir = dirArg >= 0 ? args[dirArg + 1]! : mkdtempSync(join(tmpdir(), 'audit-bench-'));
  try {
    const storage = new FileTileStorage(dir);
    const disk = await append(storage, entries);
    figures['appendDurablePerS'] = Math.round((N / disk.ms) * 1000);
    figures['checkpoints'] = disk.checkpoints.length;
    figures['batchDurableMsMean'] = Number((disk.ms / disk.checkpoints.length).toFixed(2));
    process.stderr.write(`durable append (fsync per batch) to ${dir}: ${rate(N, disk.ms)}, ${disk.checkpoints.length} checkpoints, ${(disk.ms / disk.checkpoints.length).toFixed(1)} ms per batch\n`);

    // Latency of one durable single-entry append (a lone signature waiting for its entry).
    const single = await TileLogWriter.open({ storage, origin, sign, policy });
    const lat: number[] = [];
    for (let k = 0; k < 50; k++) {
      t0 = performance.now();
      await single.appendBatch([entries[k]!]);
      lat.push(performance.now() - t0);
    }
    lat.sort((a, b) => a - b);
    figures['singleAppendP50Ms'] = Number(lat[25]!.toFixed(2));
    figures['singleAppendP90Ms'] = Number(lat[45]!.toFixed(2));
    process.stderr.write(`single-entry durable append (tiles + fsync + sign + cosign + checkpoint): p50 ${lat[25]!.toFixed(1)} ms, p90 ${lat[45]!.toFixed(1)} ms\n`);

    const cps = disk.checkpoints.map((c) => verifyCheckpointNote(c, policy).checkpoint);
    const head = cps[cps.length - 1]!;
    let proveMs = 0;
    let verifyMs = 0;
    let maxLen = 0;
    for (let k = 0; k < PROOFS; k++) {
      const size = 1 + Math.floor(Math.random() * N);
      const index = Math.floor(Math.random() * size);
      const cp = cps.find((c) => c.size >= size) ?? head;
      t0 = performance.now();
      const proof = await proveInclusionFromTiles(storage, index, cp.size);
      const { leafHash } = await readEntryFromTiles(storage, index, cp.size);
      proveMs += performance.now() - t0;
      t0 = performance.now();
      verifyInclusion(leafHash, index, cp.size, proof, cp.rootHash);
      verifyMs += performance.now() - t0;
      maxLen = Math.max(maxLen, proof.length);
    }
    figures['inclusionProveUs'] = Math.round((proveMs / PROOFS) * 1000);
    figures['inclusionVerifyUs'] = Math.round((verifyMs / PROOFS) * 1000);
    figures['inclusionProofHashesMax'] = maxLen;
    process.stderr.write(`inclusion proofs from tiles: ${(proveMs / PROOFS).toFixed(3)} ms to build (with entry read), ${((verifyMs / PROOFS) * 1000).toFixed(1)} µs to verify, ≤ ${maxLen} hashes\n`);

    proveMs = 0;
    verifyMs = 0;
    maxLen = 0;
    for (let k = 0; k < PROOFS; k++) {
      const a = cps[Math.floor(Math.random() * cps.length)]!;
      const b = cps[Math.floor(Math.random() * cps.length)]!;
      const [older, newer] = a.size <= b.size ? [a, b] : [b, a];
      t0 = performance.now();
      const proof = await proveConsistencyFromTiles(storage, older.size, newer.size);
      proveMs += performance.now() - t0;
      t0 = performance.now();
      verifyConsistency(older.size, newer.size, older.rootHash, newer.rootHash, proof);
      verifyMs += performance.now() - t0;
      maxLen = Math.max(maxLen, proof.length);
    }
    figures['consistencyProveUs'] = Math.round((proveMs / PROOFS) * 1000);
    figures['consistencyVerifyUs'] = Math.round((verifyMs / PROOFS) * 1000);
    figures['consistencyProofHashesMax'] = maxLen;
    process.stderr.write(`consistency proofs from tiles: ${(proveMs / PROOFS).toFixed(3)} ms to build, ${((verifyMs / PROOFS) * 1000).toFixed(1)} µs to verify, ≤ ${maxLen} hashes\n`);

    entries.length = 0; // let the encoded entries go before measuring the verifier's memory
    global.gc?.();
    const used = (): number => {
      const m = process.memoryUsage();
      return m.heapUsed + m.arrayBuffers;
    };
    const memBefore = used();
    let memMax = memBefore;
    t0 = performance.now();
    const r = await verifyTileLog(storage, { policy, onProgress: () => (memMax = Math.max(memMax, used())) });
    const vMs = performance.now() - t0;
    figures['verifyFullPerS'] = Math.round((r.size / vMs) * 1000);
    figures['verifyHeapGrowthMaxMiB'] = Number(((memMax - memBefore) / 2 ** 20).toFixed(1));
    process.stderr.write(`full verification (decode + tiles + signatures) of ${r.size}: ${rate(r.size, vMs)} (${(vMs / 1000).toFixed(1)} s), peak heap+buffers growth ${figures['verifyHeapGrowthMaxMiB']} MiB (includes uncollected garbage)\n`);
  } finally {
    if (dirArg < 0) rmSync(dir, { recursive: true, force: true });
  }
  if (args.includes('--json')) process.stdout.write(JSON.stringify(figures) + '\n');
  else process.stdout.write(Object.entries(figures).map(([k, v]) => `${k}: ${v}`).join('\n') + '\n');
}

await main();

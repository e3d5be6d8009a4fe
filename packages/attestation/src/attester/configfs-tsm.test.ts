import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmdirSync, writeFileSync, readFileSync, existsSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readVector } from '@custodian/core/vectors';
import { isCustodianError } from '@custodian/core/errors';
import { ConfigfsTsmAttester, type TsmFs } from './configfs-tsm.js';
import { verifyEvidence } from '../verify.js';

const counter = { n: 0 };
const random = { bytes: (n: number) => new Uint8Array(n).fill(++counter.n) };

/** A fake configfs-tsm tree in a temp dir: writing inblob makes the "kernel" fill outblob, provider and generation. */
function fakeKernel(provider: string, evidence: Uint8Array, opts: { generation?: number; aux?: Uint8Array } = {}): { root: string; fs: TsmFs; inblobs: Uint8Array[] } {
  const root = mkdtempSync(join(tmpdir(), 'tsm-'));
  const inblobs: Uint8Array[] = [];
  const fs: TsmFs = {
    mkdir: async (p) => void mkdirSync(p),
    rmdir: async (p) => {
      rmSync(p, { recursive: true });
    },
    writeFile: async (p, d) => {
      writeFileSync(p, d);
      if (p.endsWith('inblob')) {
        const dir = join(p, '..');
        inblobs.push(new Uint8Array(d));
        writeFileSync(join(dir, 'outblob'), evidence);
        writeFileSync(join(dir, 'provider'), provider + '\n');
        writeFileSync(join(dir, 'generation'), `${opts.generation ?? 1}\n`);
        if (opts.aux) writeFileSync(join(dir, 'auxblob'), opts.aux);
      }
    },
    readFile: async (p) => (existsSync(p) ? new Uint8Array(readFileSync(p)) : undefined),
  };
  return { root, fs, inblobs };
}

test('collects TDX evidence through configfs-tsm and it verifies', async () => {
  const quote = readVector('attestation', 'tdx', 'quote-v4-1.bin');
  const k = fakeKernel('tdx_guest', quote);
  const rd = new Uint8Array(64).fill(7);
  const got = await new ConfigfsTsmAttester(random, k.root, k.fs).collect(rd);
  assert.equal(got.format, 'tdx');
  assert.deepEqual(k.inblobs[0], rd);
  assert.deepEqual(readdirSync(k.root), []); // entry removed
  assert.equal(verifyEvidence(got.format, got.evidence, { now: new Date('2026-02-03T01:00:00Z') }).format, 'tdx');
});

test('collects SEV-SNP evidence with its auxblob', async () => {
  const k = fakeKernel('sev_guest', readVector('attestation', 'sev-snp', 'milan-report-3.bin'), { aux: new Uint8Array([1, 2, 3]) });
  const got = await new ConfigfsTsmAttester(random, k.root, k.fs).collect(new Uint8Array(64));
  assert.equal(got.format, 'sev-snp');
  assert.deepEqual(got.auxblob, new Uint8Array([1, 2, 3]));
});

test('refuses a raced generation, an unknown provider, bad report data and a missing configfs', async () => {
  const raced = fakeKernel('tdx_guest', new Uint8Array([1]), { generation: 2 });
  await assert.rejects(new ConfigfsTsmAttester(random, raced.root, raced.fs).collect(new Uint8Array(64)), (e) => isCustodianError(e, 'E_UNAVAILABLE'));
  const odd = fakeKernel('mystery_guest', new Uint8Array([1]));
  await assert.rejects(new ConfigfsTsmAttester(random, odd.root, odd.fs).collect(new Uint8Array(64)), (e) => isCustodianError(e, 'E_UNAVAILABLE'));
  await assert.rejects(new ConfigfsTsmAttester(random, odd.root, odd.fs).collect(new Uint8Array(65)), (e) => isCustodianError(e, 'E_ATTEST_INPUT'));
  await assert.rejects(new ConfigfsTsmAttester(random, '/nonexistent/tsm/report').collect(new Uint8Array(64)), (e) => isCustodianError(e, 'E_UNAVAILABLE'));
  rmdirSync(raced.root);
});

/**
 * Cedar runs inside the enclave bundle with its WebAssembly embedded: the
 * bundle's SHA-384 (the sim measurement) covers the policy interpreter, and
 * the enclave reads no file to load it. Proved by running a bundle of the
 * enclave's Cedar adapter, built with the enclave's own build options, in a
 * child process whose only readable file is that bundle (Node's permission
 * model), from an empty directory.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bytesTo0x, hexToBytes } from '@custodian/core/bytes';
import { REPO_ROOT } from '@custodian/core/vectors';
import { encodeUnsignedEip1559, type Eip1559Tx } from '@custodian/chains/evm/eip1559';
import { readRulebookFiles } from '@custodian/policy/rulebook-dir';
import { buildEnclave, bundleForEnclave, ENCLAVE_BUNDLE } from '../../scripts/build-enclave.js';

/** What the nodejs build of cedar-wasm does at load time; must never reach the bundle. */
const WASM_FILE_READ = 'readFileSync(wasmPath)';
const CEDAR_WASM_BYTES = statSync(join(REPO_ROOT, 'node_modules/@cedar-policy/cedar-wasm/web/cedar_wasm_bg.wasm')).size;
const NOW = Date.parse('2026-11-25T12:00:00Z');

/** Entry of the probe bundle: decides proposals read from stdin with the enclave's adapter. */
const PROBE = `
import { hexToBytes } from '@custodian/core/bytes';
import { decodeUnsignedEip1559 } from '@custodian/chains/evm/eip1559';
import { CedarPolicy } from './cedar-policy.js';

const chunks: Buffer[] = [];
for await (const c of process.stdin) chunks.push(c as Buffer);
const input = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { files: Record<string, string>; txs: string[]; nowMs: number };
const files = new Map(Object.entries(input.files).map(([k, v]) => [k, new Uint8Array(Buffer.from(v, 'base64'))] as const));
const policy = CedarPolicy.fromRulebookFiles(files);
const out = input.txs.map((raw, i) => policy.decideProposal({
  requestId: 'probe-' + i, tx: decodeUnsignedEip1559(hexToBytes(raw)), chainName: 'anvil',
  initiator: { id: 'dave', groups: [] }, wallet: { id: 'hot-eth-1', groups: [], chainIds: [31337n] },
  approvalsByGroup: {}, requestedAtMs: input.nowMs,
}, input.nowMs));
process.stdout.write(JSON.stringify(out.map((d) => ({ decision: d.decision, code: d.code, missingApprovals: d.missingApprovals, policies: d.policies }))) + '\\n');
`;

function rawTransfer(to: string, value: bigint): string {
  const tx: Eip1559Tx = { chainId: 31337n, nonce: 0n, maxPriorityFeePerGas: 10n ** 9n, maxFeePerGas: 2n * 10n ** 9n, gasLimit: 21_000n, to: hexToBytes(to), value, data: new Uint8Array(0), accessList: [] };
  return bytesTo0x(encodeUnsignedEip1559(tx));
}

async function probeBundle(): Promise<Uint8Array> {
  return bundleForEnclave(REPO_ROOT, { contents: PROBE, resolveDir: join(REPO_ROOT, 'apps/enclave/src'), sourcefile: 'cedar-probe.ts' });
}

test('the enclave bundle never reads Cedar wasm from disk', async () => {
  await buildEnclave(REPO_ROOT);
  const text = readFileSync(join(REPO_ROOT, ENCLAVE_BUNDLE), 'utf8');
  assert.ok(!text.includes(WASM_FILE_READ), 'the nodejs cedar-wasm loader reached the enclave bundle');
  // esbuild renames the embedded bytes' binding; what matters is instantiation from a module object, not from a path.
  if (text.includes('cedar_wasm')) assert.match(text, /initSync\(\{ module: [A-Za-z_$][\w$]* \}\)/, 'Cedar is in the bundle but not instantiated from embedded bytes');
});

test('Cedar decides inside a bundle whose only readable file is itself, and the wasm is embedded reproducibly', async () => {
  const [first, second] = [await probeBundle(), await probeBundle()];
  assert.ok(Buffer.from(first).equals(Buffer.from(second)), 'two builds of the Cedar probe differ');
  const text = Buffer.from(first).toString('utf8');
  assert.ok(!text.includes(WASM_FILE_READ));
  assert.ok(!text.includes(REPO_ROOT), 'no absolute paths in the bundle');
  assert.ok(first.length > CEDAR_WASM_BYTES, `bundle of ${first.length} bytes cannot hold the ${CEDAR_WASM_BYTES}-byte wasm`);

  const dir = mkdtempSync(join(tmpdir(), 'custodian-cedar-bundle-'));
  try {
    const bundle = join(dir, 'probe.mjs');
    writeFileSync(bundle, first);
    const files = Object.fromEntries([...readRulebookFiles(join(REPO_ROOT, 'examples/policies/demo'))].map(([k, v]) => [k, Buffer.from(v).toString('base64')]));
    const txs = [rawTransfer('0x70997970C51812dc3A010C7d01b50e0d17dc79C8', 5n * 10n ** 17n), rawTransfer('0x01e2919679362dFBC9ee1644Ba9C6da6D6245BB1', 1n)];
    const r = spawnSync(process.execPath, ['--experimental-permission', `--allow-fs-read=${bundle}`, '--no-warnings', bundle], {
      cwd: dir, input: JSON.stringify({ files, txs, nowMs: NOW }), encoding: 'utf8', env: {}, timeout: 30_000,
    });
    assert.equal(r.status, 0, `probe failed: ${r.stderr}`);
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as { decision: string; code: string | null; missingApprovals: Record<string, number>; policies: string[] }[];
    assert.deepEqual(out[0], { decision: 'needs-approval', code: null, missingApprovals: { treasury: 2 }, policies: ['demo-transfer-up-to-1-eth-to-address-book'] });
    assert.equal(out[1]!.decision, 'deny');
    assert.equal(out[1]!.code, 'E_SANCTIONED_DESTINATION');
    // The same child without the bundle readable cannot start: the permission model is really in force.
    const denied = spawnSync(process.execPath, ['--experimental-permission', `--allow-fs-read=${join(dir, 'nothing')}`, '--no-warnings', bundle], { cwd: dir, input: '{}', encoding: 'utf8', env: {}, timeout: 30_000 });
    assert.notEqual(denied.status, 0);
    assert.match(denied.stderr, /ERR_ACCESS_DENIED/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

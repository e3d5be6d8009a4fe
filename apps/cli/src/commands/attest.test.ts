import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { vectorPath } from '@custodian/core/vectors';
import { bytesToHex } from '@custodian/core/bytes';
import { encodeCbor } from '@custodian/core/cbor/encode';
import { CborMap } from '@custodian/core/cbor/types';
import { createSimRoot, issueSimEvidence } from '@custodian/attestation/sim/sim-evidence';
import { attestCommand, NsmHelperTransport, type CollectEnvironment } from './attest.js';

/** Runs the command, capturing its JSON stdout lines (the test reporter's own lines pass through) and silencing stderr. */
async function run(args: string[], machine: CollectEnvironment = {}): Promise<{ code: number; last: Record<string, unknown>; out: string }> {
  const chunks: string[] = [];
  const origOut = process.stdout.write.bind(process.stdout);
  const origErr = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((s: string, ...rest: never[]) => (String(s).startsWith('{') ? (chunks.push(String(s)), true) : origOut(s, ...rest))) as typeof process.stdout.write;
  process.stderr.write = (() => true) as typeof process.stderr.write;
  try {
    const code = await attestCommand(args, machine);
    const out = chunks.join('');
    const lines = out.trim().split('\n');
    let last: Record<string, unknown> = {};
    try {
      last = JSON.parse(lines[lines.length - 1]!) as Record<string, unknown>;
    } catch {
      last = {};
    }
    return { code, last, out };
  } finally {
    process.stdout.write = origOut;
    process.stderr.write = origErr;
  }
}

const nitro = (f: string): string => vectorPath('attestation', 'nitro', f);

test('attest verify affirms a real Nitro document (exit 0, CONTRACTS.md JSON)', async () => {
  const r = await run(['verify', '--evidence', nitro('attestation-doc-2.cbor'), '--at', '2023-07-10T13:00:00Z', '--json']);
  assert.equal(r.code, 0);
  assert.equal(r.last.ok, true);
  assert.equal(r.last.format, 'nitro');
  assert.equal(r.last.status, 'affirming');
  const claims = r.last.claims as { measurements: Record<string, string>; debug: boolean; reportData: string; tcb: { status: string } };
  assert.equal(claims.measurements.PCR0, '7048a0ff10dc087e1ec62792684e68d77d004c7f5785e7dd983f1b7d97610026477aba57124244b1b34848cdafa18c08');
  assert.equal(claims.debug, false);
  assert.equal(claims.reportData, '');
  assert.deepEqual(r.last.reasons, []);
});

test('attest verify refuses a debug enclave with exit 1 and a reason', async () => {
  const r = await run(['verify', '--evidence', nitro('attestation-doc-debug-1.cbor'), '--format', 'nitro', '--at', '2024-09-07T15:00:00Z', '--json']);
  assert.equal(r.code, 1);
  assert.equal(r.last.status, 'contraindicated');
  assert.match((r.last.reasons as string[])[0]!, /E_ATTEST_DEBUG/);
});

test('attest verify reports a verification failure as an error object with exit 1', async () => {
  const r = await run(['verify', '--evidence', nitro('attestation-doc-1.cbor'), '--json']);
  assert.equal(r.code, 1);
  assert.equal(r.last.ok, false);
  assert.equal((r.last.error as { code: string }).code, 'E_ATTEST_CERT_EXPIRED');
});

test('attest verify applies a policy file and a nonce', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'attest-'));
  const policy = join(dir, 'policy.json');
  writeFileSync(policy, JSON.stringify({ version: 1, platforms: { nitro: { measurements: { PCR0: ['00'] } } } }));
  const r = await run(['verify', '--evidence', nitro('attestation-doc-1.cbor'), '--policy', policy, '--at', '2024-09-07T15:00:00Z', '--nonce', '01'.repeat(1024), '--json']);
  assert.equal(r.code, 1);
  assert.match((r.last.reasons as string[])[0]!, /E_ATTEST_MEASUREMENT/);
  const bad = await run(['verify', '--evidence', nitro('attestation-doc-1.cbor'), '--at', '2024-09-07T15:00:00Z', '--nonce', 'abcd', '--json']);
  assert.equal((bad.last.error as { code: string }).code, 'E_ATTEST_NONCE');
});

test('attest verify takes SEV-SNP, TDX and CCA collateral from files and directories', async () => {
  const snp = await run([
    'verify',
    '--evidence',
    vectorPath('attestation', 'sev-snp', 'milan-report-3.bin'),
    '--collateral',
    vectorPath('attestation', 'sev-snp', 'milan-vcek-3.der'),
    '--at',
    '2026-01-01T00:00:00Z',
    '--json',
  ]);
  assert.equal(snp.code, 0, snp.out);
  assert.equal(snp.last.format, 'sev-snp');
  const tdx = await run(['verify', '--evidence', vectorPath('attestation', 'tdx', 'quote-v4-debug-td.bin'), '--collateral', vectorPath('attestation', 'tdx', 'collateral'), '--at', '2023-07-01T01:00:00Z', '--json']);
  assert.equal(tdx.code, 1, tdx.out);
  assert.equal((tdx.last.claims as { tcb: { status: string } }).tcb.status, 'UpToDate');
  assert.match((tdx.last.reasons as string[])[0]!, /E_ATTEST_DEBUG/);
  const cca = await run(['verify', '--evidence', vectorPath('attestation', 'cca', 'cca-token-ffm-profile-3.cbor'), '--collateral', vectorPath('attestation', 'cca', 'cpak-tfrmm-fvp-p384.pub.pem'), '--json']);
  assert.equal(cca.code, 0, cca.out);
  const tpm = await run(['verify', '--evidence', vectorPath('attestation', 'tpm', 'gcp', 'gce-cos85-attestation-nonce9009.pb'), '--nonce', '9009', '--at', '2026-01-01T00:00:00Z', '--json']);
  assert.equal(tpm.code, 0, tpm.out);
  assert.equal(tpm.last.format, 'tpm');
});

test('attest verify: usage errors exit 2, unreadable files exit 3', async () => {
  assert.equal((await run(['verify', '--json'])).code, 2);
  assert.equal((await run(['verify', '--evidence', 'x', '--format', 'bogus', '--json'])).code, 2);
  assert.equal((await run(['verify', '--evidence', nitro('attestation-doc-1.cbor'), '--at', 'yesterday', '--json'])).code, 2);
  assert.equal((await run(['frobnicate'])).code, 2);
  assert.equal((await run(['verify', '--evidence', '/nonexistent/file', '--json'])).code, 3);
});

test('attest verify refuses sim evidence under the default policy (B20b)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'attest-'));
  const f = join(dir, 'sim.json');
  writeFileSync(f, '{"body":{"format":"custodian-sim-v1"},"signature":"00"}');
  const r = await run(['verify', '--evidence', f, '--json']);
  assert.equal(r.code, 1);
  assert.equal((r.last.error as { code: string }).code, 'E_ATTEST_SIMULATED');
});

test('attest collect without a TEE exits 3; without --report-data exits 2', async () => {
  assert.equal((await run(['collect', '--json'])).code, 2);
  assert.equal((await run(['collect', '--report-data', '00'.repeat(1025), '--json'])).code, 2);
  assert.equal((await run(['collect', '--report-data', '00', '--platform', 'bogus', '--json'])).code, 2);
  const r = await run(['collect', '--report-data', '00'.repeat(64), '--json'], { exists: () => false });
  assert.equal(r.code, 3);
  assert.equal((r.last.error as { code: string }).code, 'E_UNAVAILABLE');
});

const SIM_T = 1_764_000_000_000;
const simRoot = createSimRoot(new Uint8Array(32).fill(3));

function simFiles(): { dir: string; rootFile: string; pubFile: string; evidence: string } {
  const dir = mkdtempSync(join(tmpdir(), 'attest-sim-'));
  const rootFile = join(dir, 'sim-root.json');
  writeFileSync(rootFile, JSON.stringify({ type: 'custodian.sim-root.v1', warning: 'DEVELOPMENT ONLY', secretKey: '03'.repeat(32), publicKey: bytesToHex(simRoot.publicKey) }));
  const pubFile = join(dir, 'sim-root.pub.json');
  writeFileSync(pubFile, JSON.stringify({ type: 'custodian.sim-root.v1', publicKey: bytesToHex(simRoot.publicKey) }));
  const evidence = join(dir, 'sim.json');
  writeFileSync(evidence, issueSimEvidence(simRoot, new Uint8Array(48).fill(0xaa), new Uint8Array(64).fill(0xbb), SIM_T));
  return { dir, rootFile, pubFile, evidence };
}

test('B20b attest verify --sim-root: verified sim evidence is contraindicated under the default policy', async () => {
  const f = simFiles();
  const r = await run(['verify', '--evidence', f.evidence, '--sim-root', f.pubFile, '--at', new Date(SIM_T + 10_000).toISOString(), '--json']);
  assert.equal(r.code, 1, r.out);
  assert.equal(r.last.format, 'sim');
  assert.equal(r.last.status, 'contraindicated');
  assert.match((r.last.reasons as string[])[0]!, /E_ATTEST_SIMULATED/);
  assert.equal((r.last.claims as { measurements: Record<string, string> }).measurements.MEASUREMENT, 'aa'.repeat(48));
});

test('attest verify --format sim --sim-root: a policy allowing sim decides measurements and age', async () => {
  const f = simFiles();
  const policy = (extra: Record<string, unknown>): string => {
    const p = join(f.dir, `policy-${Math.random()}.json`);
    writeFileSync(p, JSON.stringify({ version: 1, allowSimulated: true, platforms: { sim: { measurements: { MEASUREMENT: ['aa'.repeat(48)] }, ...extra } } }));
    return p;
  };
  const at = (ms: number): string => new Date(SIM_T + ms).toISOString();
  const ok = await run(['verify', '--evidence', f.evidence, '--format', 'sim', '--sim-root', f.rootFile, '--policy', policy({ maxAgeSeconds: 60 }), '--at', at(10_000), '--nonce', 'bb'.repeat(64), '--json']);
  assert.equal(ok.code, 0, ok.out);
  assert.equal(ok.last.status, 'affirming');
  const stale = await run(['verify', '--evidence', f.evidence, '--sim-root', f.rootFile, '--policy', policy({ maxAgeSeconds: 60 }), '--at', at(120_000), '--json']);
  assert.equal(stale.code, 1);
  assert.match((stale.last.reasons as string[])[0]!, /E_ATTEST_NONCE/);
  const other = join(f.dir, 'other-policy.json');
  writeFileSync(other, JSON.stringify({ version: 1, allowSimulated: true, platforms: { sim: { measurements: { MEASUREMENT: ['cc'.repeat(48)] } } } }));
  const wrong = await run(['verify', '--evidence', f.evidence, '--sim-root', f.rootFile, '--policy', other, '--at', at(10_000), '--json']);
  assert.match((wrong.last.reasons as string[])[0]!, /E_ATTEST_MEASUREMENT/);
  // another root: the signature check refuses before any appraisal
  const otherRoot = join(f.dir, 'other-root.json');
  writeFileSync(otherRoot, JSON.stringify({ type: 'custodian.sim-root.v1', publicKey: bytesToHex(createSimRoot().publicKey) }));
  const forged = await run(['verify', '--evidence', f.evidence, '--sim-root', otherRoot, '--at', at(10_000), '--json']);
  assert.equal(forged.code, 1);
  assert.equal((forged.last.error as { code: string }).code, 'E_ATTEST_SIGNATURE');
  // no root and a policy that allows sim: the root is what is missing
  const noRoot = await run(['verify', '--evidence', f.evidence, '--policy', policy({}), '--json']);
  assert.equal((noRoot.last.error as { code: string }).code, 'E_COLLATERAL_MISSING');
});

test('attest collect --platform sim issues evidence that attest verify checks back', async () => {
  const f = simFiles();
  const c = await run(['collect', '--platform', 'sim', '--sim-root', f.rootFile, '--measurement', 'aa'.repeat(48), '--report-data', 'bb'.repeat(64), '--json']);
  assert.equal(c.code, 0, c.out);
  assert.equal(c.last.format, 'sim');
  const ev = join(f.dir, 'collected.json');
  writeFileSync(ev, Buffer.from(c.last.evidence as string, 'hex'));
  const v = await run(['verify', '--evidence', ev, '--sim-root', f.pubFile, '--nonce', 'bb'.repeat(64), '--json']);
  assert.equal(v.last.status, 'contraindicated');
  assert.equal((v.last.claims as { reportData: string }).reportData, 'bb'.repeat(64));
  assert.equal((await run(['collect', '--platform', 'sim', '--sim-root', f.pubFile, '--measurement', 'aa'.repeat(48), '--report-data', '00', '--json'])).code, 2);
  assert.equal((await run(['collect', '--platform', 'sim', '--sim-root', f.rootFile, '--measurement', 'aa'.repeat(48), '--report-data', '00'.repeat(65), '--json'])).code, 2);
});

test('attest collect picks the Nitro NSM when /dev/nsm exists and talks to it through the helper', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'attest-nsm-'));
  const resp = join(dir, 'resp.cbor');
  writeFileSync(resp, encodeCbor(new CborMap([['Attestation', new CborMap([['document', new Uint8Array(readFileSync(nitro('attestation-doc-1.cbor')))]])]])));
  const helper = join(dir, 'helper.mjs');
  writeFileSync(helper, `import { readFileSync } from 'node:fs'; process.stdin.resume(); process.stdin.on('end', () => process.stdout.write(readFileSync(${JSON.stringify(resp)})));`);
  const script = join(dir, 'nsm-helper.sh');
  writeFileSync(script, `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(helper)}\n`, { mode: 0o755 });
  const machine: CollectEnvironment = { exists: (p) => p === '/dev/nsm', env: { CUSTODIAN_NSM_HELPER: script } };
  const r = await run(['collect', '--report-data', '01'.repeat(1024), '--json'], machine);
  assert.equal(r.code, 0, r.out);
  assert.equal(r.last.format, 'nitro');
  assert.equal(r.last.provider, 'nitro_nsm');
  assert.equal(r.last.evidence, readFileSync(nitro('attestation-doc-1.cbor')).toString('hex'));
  const noHelper = await run(['collect', '--report-data', '01', '--json'], { exists: (p) => p === '/dev/nsm', env: {} });
  assert.equal(noHelper.code, 2);
});

test('the NSM helper transport pipes the request through a program and reads its answer', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nsm-'));
  const respFile = join(dir, 'resp.cbor');
  const response = encodeCbor(new CborMap([['Attestation', new CborMap([['document', new Uint8Array([1, 2, 3])]])]]));
  writeFileSync(respFile, response);
  const script = join(dir, 'helper.mjs');
  writeFileSync(script, `import { readFileSync } from 'node:fs'; process.stdin.resume(); process.stdin.on('end', () => process.stdout.write(readFileSync(${JSON.stringify(respFile)})));`);
  assert.deepEqual(await new NsmHelperTransport(process.execPath, [script]).request(new Uint8Array([0xa0])), response);
  const failing = join(dir, 'fail.mjs');
  writeFileSync(failing, 'process.exit(3)');
  await assert.rejects(new NsmHelperTransport(process.execPath, [failing]).request(new Uint8Array([0xa0])), (e: Error) => /exited with 3/.test(e.message));
  await assert.rejects(new NsmHelperTransport(join(dir, 'missing-helper')).request(new Uint8Array([0xa0])), (e: Error) => /cannot run/.test(e.message));
  const slow = join(dir, 'slow.mjs');
  writeFileSync(slow, 'setTimeout(() => {}, 60_000)');
  await assert.rejects(new NsmHelperTransport(process.execPath, [slow], 200).request(new Uint8Array([0xa0])), (e: Error) => /within 200 ms/.test(e.message));
});

test('attest collect --platform nitro --nsm-socket talks to an NSM service over a Unix socket', async () => {
  const { createServer } = await import('node:net');
  const doc = new Uint8Array(readFileSync(nitro('attestation-doc-1.cbor')));
  const body = encodeCbor(new CborMap([['Attestation', new CborMap([['document', doc]])]]));
  const path = join(mkdtempSync(join(tmpdir(), 'attest-nsm-sock-')), 'nsm.sock');
  const server = createServer((sock) => {
    let buf = Buffer.alloc(0);
    sock.on('data', (c: Buffer) => {
      buf = Buffer.concat([buf, c]);
      if (buf.length >= 4 && buf.length === 4 + buf.readUInt32BE(0)) {
        const h = Buffer.alloc(4);
        h.writeUInt32BE(body.length);
        sock.write(Buffer.concat([h, body]));
      }
    });
    sock.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(path, r));
  try {
    const r = await run(['collect', '--platform', 'nitro', '--nsm-socket', path, '--report-data', '01'.repeat(1024), '--json'], { env: {} });
    assert.equal(r.code, 0, r.out);
    assert.equal(r.last.evidence, Buffer.from(doc).toString('hex'));
  } finally {
    server.close();
  }
});

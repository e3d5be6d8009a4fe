// B30/F02: a signer process killed (SIGKILL) between rounds, and killed after
// consuming its nonce but before releasing the share, never signs with that
// nonce again after restart; a restarted signer keeps working.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bytesToHex } from '@custodian/core/bytes';
import { systemRandom } from '@custodian/core/clock';
import { aggregateSignature, createSigningPackage } from './coordinator.js';
import { verifierKeyOf } from './key-package.js';
import { encodeKeyShareForSealing } from './key-share-codec.js';
import { runLocalDkg } from './local.js';
import { MemoryNonceStore } from './nonce-store.js';
import { commitNonces, signPackage } from './signer.js';
import type { SignatureShare, SigningCommitment } from './signing-messages.js';
import { frostSuite } from './suite.js';
import { decodeFrostMessage, encodeFrostMessage } from './wire.js';

const CHILD = fileURLToPath(new URL('./nonce-crash.child.ts', import.meta.url));

/** Runs the child signer; resolves with its first stdout line, its exit code and signal. `killAfterLine` sends SIGKILL once a line arrives. */
function runChild(args: string[], killAfterLine = false): Promise<{ line: string; code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString('utf8');
      if (killAfterLine && out.includes('\n')) child.kill('SIGKILL');
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => resolve({ line: out.split('\n')[0] ?? '', code, signal }));
  });
}

test('B30/F02 a signer killed between rounds and after nonce consumption never reuses the nonce', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'frost-crash-'));
  try {
    const [k1, k2] = runLocalDkg('frost-secp256k1-tr', 2, 3, systemRandom, 'crash-dkg');
    writeFileSync(join(dir, 'share.hex'), bytesToHex(encodeKeyShareForSealing(k1!).expose()));
    const store2 = new MemoryNonceStore();
    const msg = new TextEncoder().encode('crash test');

    // Round 1: the child commits (durably), then is killed between rounds.
    const r1 = await runChild(['commit', dir, 'crash-1'], true);
    assert.equal(r1.signal, 'SIGKILL');
    const c1 = decodeFrostMessage(new TextEncoder().encode(r1.line));
    assert.equal(c1.kind, 'frost/commitment');
    const c2 = await commitNonces(k2!, 'crash-1', systemRandom, store2);
    const pkg = createSigningPackage(k1!.publicPackage, 'crash-1', msg, [c1.message as SigningCommitment, c2]);
    writeFileSync(join(dir, 'package.json'), encodeFrostMessage('frost/signing-package', pkg));

    // Round 2, restarted: the nonce is consumed durably, then the process dies before releasing the share.
    const r2 = await runChild(['sign-and-die', dir]);
    assert.equal(r2.signal, 'SIGKILL');
    assert.equal(r2.line, '');

    // Restarted again, the coordinator asks for the same nonce: refused.
    const r3 = await runChild(['sign', dir]);
    assert.equal(r3.line, 'E_NONCE_REUSED');
    assert.equal(r3.code, 1);

    // A fresh session after all these restarts still signs.
    const r4 = await runChild(['commit', dir, 'crash-2'], true);
    const c1b = decodeFrostMessage(new TextEncoder().encode(r4.line)).message as SigningCommitment;
    const c2b = await commitNonces(k2!, 'crash-2', systemRandom, store2);
    const pkg2 = createSigningPackage(k1!.publicPackage, 'crash-2', msg, [c1b, c2b]);
    writeFileSync(join(dir, 'package.json'), encodeFrostMessage('frost/signing-package', pkg2));
    const r5 = await runChild(['sign', dir]);
    assert.equal(r5.code, 0, r5.line);
    const z1 = decodeFrostMessage(new TextEncoder().encode(r5.line)).message as SignatureShare;
    const z2 = await signPackage(k2!, pkg2, store2);
    const sig = aggregateSignature(k1!.publicPackage, pkg2, [z1, z2]);
    assert.ok(frostSuite('frost-secp256k1-tr').verifyPlain(sig, msg, verifierKeyOf(k1!.publicPackage)));
    // and that nonce is spent too
    assert.equal((await runChild(['sign', dir])).line, 'E_NONCE_REUSED');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

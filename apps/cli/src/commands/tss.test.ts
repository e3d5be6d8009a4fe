// `custodian tss sign-demo`: the printed key verifies the printed signature
// under the plain verifiers, per CONTRACTS.md; usage errors exit 2.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ed25519 } from '@noble/curves/ed25519.js';
import { schnorr } from '@noble/curves/secp256k1.js';
import { hexToBytes } from '@custodian/core/bytes';
import { tssCommand } from './tss.js';

async function capture(args: string[]): Promise<{ code: number; last: Record<string, unknown> }> {
  const out: string[] = [];
  const write = process.stdout.write.bind(process.stdout);
  const writeErr = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((chunk: string) => (out.push(String(chunk)), true)) as typeof process.stdout.write;
  process.stderr.write = (() => true) as typeof process.stderr.write;
  try {
    const code = await tssCommand(args);
    const lines = out.join('').trim().split('\n');
    return { code, last: JSON.parse(lines[lines.length - 1]!) as Record<string, unknown> };
  } finally {
    process.stdout.write = write;
    process.stderr.write = writeErr;
  }
}

test('sign-demo frost-ed25519 3-of-4 prints a key and an RFC 8032 signature that verifies', async () => {
  const { code, last } = await capture(['sign-demo', '--scheme', 'frost-ed25519', '--threshold', '3', '--parties', '4', '--message', 'cafe', '--json']);
  assert.equal(code, 0);
  assert.deepEqual(Object.keys(last).sort(), ['groupPublicKey', 'signature']);
  assert.ok(ed25519.verify(hexToBytes(last['signature'] as string), hexToBytes('cafe'), hexToBytes(last['groupPublicKey'] as string)));
});

test('sign-demo frost-secp256k1-tr prints the untweaked x-only key and a BIP340 signature', async () => {
  const { code, last } = await capture(['sign-demo', '--scheme', 'frost-secp256k1-tr', '--threshold', '2', '--parties', '3', '--message', '0x00ff', '--json']);
  assert.equal(code, 0);
  assert.equal((last['groupPublicKey'] as string).length, 64);
  assert.ok(schnorr.verify(hexToBytes(last['signature'] as string), hexToBytes('00ff'), hexToBytes(last['groupPublicKey'] as string)));
});

test('sign-demo refuses bad usage with exit 2 and a JSON error', async () => {
  for (const args of [
    ['sign-demo', '--scheme', 'frost-ed448', '--threshold', '2', '--parties', '3', '--message', '00'],
    ['sign-demo', '--scheme', 'frost-ed25519', '--threshold', '1', '--parties', '3', '--message', '00'],
    ['sign-demo', '--scheme', 'frost-ed25519', '--threshold', '2', '--parties', '3', '--message', 'xyz'],
    ['sign-demo', '--scheme', 'frost-ed25519', '--threshold', '2', '--message', '00'],
    ['nope'],
  ]) {
    const { code, last } = await capture([...args, '--json']);
    assert.equal(code, 2, args.join(' '));
    assert.equal(last['ok'], false);
  }
});

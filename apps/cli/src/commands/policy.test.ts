import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '@custodian/core/vectors';
import { bytesTo0x, hexToBytes } from '@custodian/core/bytes';
import { encodeUnsignedEip1559 } from '@custodian/chains/evm/eip1559';
import { policyCommand } from './policy.js';

const RULEBOOK = join(REPO_ROOT, 'examples/policies/default');
const tmp = mkdtempSync(join(tmpdir(), 'policy-cli-'));

function rawTx(to: string, value: bigint, chainId = 1n): string {
  return bytesTo0x(encodeUnsignedEip1559({ chainId, nonce: 0n, maxPriorityFeePerGas: 10n ** 9n, maxFeePerGas: 20n * 10n ** 9n, gasLimit: 100_000n, to: hexToBytes(to), value, data: new Uint8Array(0), accessList: [] }));
}

/** Runs the command with stdout and stderr captured. */
async function run(args: string[]): Promise<{ code: number; last: Record<string, unknown> | null }> {
  const out: string[] = [];
  const write = process.stdout.write.bind(process.stdout);
  const writeErr = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((s: string) => (out.push(String(s)), true)) as typeof process.stdout.write;
  process.stderr.write = (() => true) as typeof process.stderr.write;
  try {
    const code = await policyCommand(args);
    const lines = out.join('').trim().split('\n');
    return { code, last: lines.length > 0 && lines[lines.length - 1]!.startsWith('{') ? (JSON.parse(lines[lines.length - 1]!) as Record<string, unknown>) : null };
  } finally {
    process.stdout.write = write;
    process.stderr.write = writeErr;
  }
}

const context = join(tmp, 'context.json');
writeFileSync(context, JSON.stringify({ now: '2026-11-25T12:00:00Z', initiator: { id: 'alice', groups: ['initiators'] }, wallet: { id: 'hot-1', groups: ['hot'], chainIds: [1] } }));

test('simulate: an allowed transfer exits 0 with the contract JSON as the last line', async () => {
  const r = await run(['simulate', '--policy', RULEBOOK, '--chain', 'eth', '--tx', rawTx('0x1111111111111111111111111111111111111111', 10n ** 18n), '--context', context, '--json']);
  assert.equal(r.code, 0);
  assert.equal(r.last!['decision'], 'allow');
  assert.deepEqual(r.last!['policies'], ['transfer-small-to-address-book']);
  assert.deepEqual(r.last!['missingApprovals'], {});
  assert.equal(r.last!['notBefore'], null);
  assert.ok(Array.isArray(r.last!['reasons']));
});

test('simulate: a sanctioned destination read from a tx file exits 1 with E_SANCTIONED_DESTINATION', async () => {
  const file = join(tmp, 'tx.hex');
  writeFileSync(file, rawTx('0x8589427373D6D84E98730D7795D8f6f8731FDA16', 1n) + '\n');
  const r = await run(['simulate', '--policy', RULEBOOK, '--chain', 'eth', '--tx', file, '--context', context, '--json']);
  assert.equal(r.code, 1);
  assert.equal(r.last!['decision'], 'deny');
  assert.ok((r.last!['codes'] as string[]).includes('E_SANCTIONED_DESTINATION'));
});

test('simulate: B18 a declared intent that differs from the bytes is denied', async () => {
  const ctx = join(tmp, 'intent.json');
  writeFileSync(ctx, JSON.stringify({ now: '2026-11-25T12:00:00Z', intent: { destination: '0x2222222222222222222222222222222222222222' } }));
  const r = await run(['simulate', '--policy', RULEBOOK, '--chain', 'eth', '--tx', rawTx('0x1111111111111111111111111111111111111111', 1n), '--context', ctx, '--json']);
  assert.equal(r.code, 1);
  assert.deepEqual(r.last!['codes'], ['E_INTENT_MISMATCH']);
});

test('simulate: rejects a malformed transaction (exit 1), bad usage (exit 2) and a missing rulebook (exit 3)', async () => {
  const bad = await run(['simulate', '--policy', RULEBOOK, '--chain', 'eth', '--tx', '0x02c0', '--json']);
  assert.equal(bad.code, 1);
  assert.equal((bad.last!['error'] as { code: string }).code, 'E_TX_MALFORMED');
  assert.equal((await run(['simulate', '--chain', 'eth', '--json'])).code, 2);
  assert.equal((await run(['simulate', '--policy', join(tmp, 'nope'), '--chain', 'eth', '--tx', '0x02', '--json'])).code, 3);
});

test('validate and diff report on rulebooks', async () => {
  const v = await run(['validate', RULEBOOK, '--json']);
  assert.equal(v.code, 0);
  assert.ok((v.last!['policies'] as string[]).includes('deny-sanctioned'));
  const d = await run(['diff', RULEBOOK, RULEBOOK, '--json']);
  assert.deepEqual(d.last!['documentsChanged'], []);
  const badPolicy = join(tmp, 'bad.cedar');
  writeFileSync(badPolicy, '@id("x") permit (principal, action, resource) when { context.nope };');
  const b = await run(['validate', badPolicy, '--json']);
  assert.equal(b.code, 1);
  assert.equal((b.last!['error'] as { code: string }).code, 'E_POLICY_INVALID');
});

test('simulate: an EIP-712 unlimited permit file is decided as a spend and denied (B17)', async () => {
  const file = join(tmp, 'permit.json');
  const now = Math.floor(Date.parse('2026-11-25T12:00:00Z') / 1000);
  writeFileSync(file, JSON.stringify({
    types: { EIP712Domain: [{ name: 'name', type: 'string' }, { name: 'chainId', type: 'uint256' }, { name: 'verifyingContract', type: 'address' }], Permit: [{ name: 'owner', type: 'address' }, { name: 'spender', type: 'address' }, { name: 'value', type: 'uint256' }, { name: 'nonce', type: 'uint256' }, { name: 'deadline', type: 'uint256' }] },
    primaryType: 'Permit',
    domain: { name: 'USD Coin', chainId: 1, verifyingContract: '0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48' },
    message: { owner: '0x4444444444444444444444444444444444444444', spender: '0x3333333333333333333333333333333333333333', value: ((1n << 256n) - 1n).toString(), nonce: 0, deadline: now + 60 },
  }));
  const r = await run(['simulate', '--policy', RULEBOOK, '--chain', 'eth', '--tx', file, '--context', context, '--json']);
  assert.equal(r.code, 1);
  assert.ok((r.last!['codes'] as string[]).includes('E_UNLIMITED_APPROVAL'));
});

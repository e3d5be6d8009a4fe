import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hexToBytes } from '@custodian/core/bytes';
import type { Eip1559Tx } from '@custodian/chains/evm/eip1559';
import { evaluateFirstPolicy } from './first-policy.js';

const TO = '0x70997970c51812dc3a010c7d01b50e0d17dc79c8';
const policy = { maxValueWei: 1_000_000n, allowlist: [TO], approvals: { group: 'treasury', count: 2 } };
const tx: Eip1559Tx = { chainId: 1n, nonce: 0n, maxPriorityFeePerGas: 1n, maxFeePerGas: 2n, gasLimit: 21000n, to: hexToBytes(TO), value: 5n, data: new Uint8Array(0), accessList: [] };

test('a small transfer to an allowlisted address needs the approvals', () => {
  assert.equal(evaluateFirstPolicy(tx, policy, 1n).decision, 'needs-approval');
});

test('fees count toward the per-transaction limit', () => {
  const d = evaluateFirstPolicy({ ...tx, maxFeePerGas: 100n, gasLimit: 21000n }, policy, 1n);
  assert.equal(d.code, 'E_AMOUNT_OVER_LIMIT');
});

test('denies access lists, inverted fees, huge gas limits, wrong chains and contract creation', () => {
  assert.equal(evaluateFirstPolicy({ ...tx, accessList: [{ address: new Uint8Array(20), storageKeys: [] }] }, policy, 1n).decision, 'deny');
  assert.equal(evaluateFirstPolicy({ ...tx, maxPriorityFeePerGas: 3n }, policy, 1n).code, 'E_FEE_INVALID');
  assert.equal(evaluateFirstPolicy({ ...tx, gasLimit: 10n ** 9n, maxFeePerGas: 0n, maxPriorityFeePerGas: 0n }, policy, 1n).code, 'E_FEE_INVALID');
  assert.equal(evaluateFirstPolicy(tx, policy, 5n).code, 'E_CHAIN_ID_MISMATCH');
  assert.equal(evaluateFirstPolicy({ ...tx, to: null }, policy, 1n).decision, 'deny');
  assert.equal(evaluateFirstPolicy({ ...tx, to: new Uint8Array(20) }, policy, 1n).code, 'E_DESTINATION_NOT_ALLOWED');
});

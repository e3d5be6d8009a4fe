import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isCustodianError } from '@custodian/core/errors';
import { systemRandom } from '@custodian/core/clock';
import { checkThreshold, lagrangeAtZero, normalizePartyId, normalizePartyIds } from './party-id.js';
import { Q, mod } from './group.js';
import { EcdsaDealing } from './dealing.js';

const invalid = (e: unknown) => isCustodianError(e, 'E_PARTY_ID_INVALID');

test('B29 rejects party id 0, q, -1 and q+1 after reduction mod q', () => {
  for (const id of [0n, Q, -1n, Q + 1n, 2n * Q, 0x10000n]) assert.throws(() => normalizePartyId(id), invalid, String(id));
  assert.throws(() => normalizePartyId(1.5), invalid);
});

test('B29 rejects two ids equal modulo q', () => {
  assert.throws(() => normalizePartyIds([1n, Q + 1n]), invalid);
  assert.throws(() => normalizePartyIds([2n, 2n]), invalid);
});

test('B29 the dealing refuses a committee holding id q at its input boundary', () => {
  assert.throws(
    () => new EcdsaDealing({ sessionId: new Uint8Array(32), self: 1n, mode: 'keygen', threshold: 2, receivers: [1n, Q], random: systemRandom }),
    invalid,
  );
});

test('accepts and sorts valid ids; thresholds must be 2..n', () => {
  assert.deepEqual(normalizePartyIds([3, 1, 2]), [1n, 2n, 3n]);
  assert.throws(() => checkThreshold(1, 3), (e) => isCustodianError(e, 'E_THRESHOLD_INVALID'));
  assert.throws(() => checkThreshold(4, 3), (e) => isCustodianError(e, 'E_THRESHOLD_INVALID'));
  checkThreshold(3, 3);
});

test('Lagrange coefficients at 0 recombine a degree-1 polynomial', () => {
  const f = (x: bigint) => mod(7n + 5n * x);
  const set = [2n, 5n];
  assert.equal(mod(set.reduce((acc, i) => acc + lagrangeAtZero(i, set) * f(i), 0n)), 7n);
});

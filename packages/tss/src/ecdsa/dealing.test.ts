import { test } from 'node:test';
import assert from 'node:assert/strict';
import { systemRandom } from '@custodian/core/clock';
import { mod, mulBase } from './group.js';
import { lagrangeAtZero } from './party-id.js';
import { runKeygen } from './local-run.js';

test('2-of-3 keygen: shares interpolate to the key and the pairwise OT setups match', () => {
  const shares = runKeygen(2, 3, systemRandom.bytes(32), systemRandom);
  const [a, b] = [shares.get(1n)!, shares.get(3n)!];
  const sk = mod(lagrangeAtZero(1n, [1n, 3n]) * a.secret.expose().share + lagrangeAtZero(3n, [1n, 3n]) * b.secret.expose().share);
  assert.ok(mulBase(sk).equals(a.publicKey));
  assert.ok(a.publicKey.equals(b.publicKey));
  const ab = a.secret.expose().pairs.get(3n)!;
  const ba = b.secret.expose().pairs.get(1n)!;
  ab.alice.delta.forEach((d, i) => assert.deepEqual(ab.alice.seeds[i], d === 0 ? ba.bob.seeds0[i] : ba.bob.seeds1[i]));
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { p256 } from '@noble/curves/nist.js';
import { generateOperatorKey, signPayload, verifyPayload, signingInput } from './operator-key.js';

for (const alg of ['ed25519', 'p256'] as const) {
  test(`${alg}: signs and verifies a payload; another type or payload fails`, () => {
    const k = generateOperatorKey(alg);
    const pub = { alg, key: k.publicKey };
    const sig = signPayload(k, 'approval.v1', { a: 1 });
    assert.ok(verifyPayload(pub, 'approval.v1', { a: 1 }, sig));
    assert.ok(!verifyPayload(pub, 'proposal.v1', { a: 1 }, sig));
    assert.ok(!verifyPayload(pub, 'approval.v1', { a: 2 }, sig));
  });
}

test('B08 rejects a high-S (malleated) P-256 signature', () => {
  const k = generateOperatorKey('p256');
  const sig = p256.Signature.fromBytes(signPayload(k, 't', { x: 1 }));
  const high = new p256.Signature(sig.r, p256.Point.CURVE().n - sig.s).toBytes();
  assert.ok(p256.verify(high, signingInput('t', { x: 1 }), k.publicKey, { lowS: false }));
  assert.ok(!verifyPayload({ alg: 'p256', key: k.publicKey }, 't', { x: 1 }, high));
});

test('B07 rejects all-zero signatures (psychic signature)', () => {
  const k = generateOperatorKey('p256');
  assert.ok(!verifyPayload({ alg: 'p256', key: k.publicKey }, 't', {}, new Uint8Array(64)));
  const e = generateOperatorKey('ed25519');
  assert.ok(!verifyPayload({ alg: 'ed25519', key: e.publicKey }, 't', {}, new Uint8Array(64)));
});

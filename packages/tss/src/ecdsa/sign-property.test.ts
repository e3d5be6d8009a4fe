import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { systemRandom } from '@custodian/core/clock';
import { hexToBytes } from '@custodian/core/bytes';
import { runKeygen, runOnline, runPresign } from './local-run.js';
import { pointToBytes } from './group.js';
import { signDemoEcdsa } from './sign-demo.js';

test('property: random t-of-n (2 ≤ t ≤ n ≤ 4), random signers and messages → verifies under secp256k1 and recovers the group key', () => {
  const shape = fc
    .integer({ min: 2, max: 4 })
    .chain((n) => fc.record({ n: fc.constant(n), t: fc.integer({ min: 2, max: n }), pick: fc.shuffledSubarray([...Array(n).keys()], { minLength: n, maxLength: n }) }));
  fc.assert(
    fc.property(shape, fc.array(fc.uint8Array({ maxLength: 64 }), { minLength: 1, maxLength: 2 }), ({ n, t, pick }, messages) => {
      const shares = runKeygen(t, n, systemRandom.bytes(32), systemRandom);
      const signers = pick.slice(0, t).map((i) => BigInt(i + 1));
      const group = shares.get(1n)!.publicKey;
      for (const message of messages) {
        const sigs = runOnline(runPresign(shares, signers, systemRandom.bytes(32), systemRandom), sha256(message));
        const sig = sigs.get(signers[0]!)!;
        assert.ok(secp256k1.verify(sig.compact, message, pointToBytes(group)), 'verify with prehash sha256');
        assert.ok(new secp256k1.Signature(sig.r, sig.s, sig.recovery).recoverPublicKey(sha256(message)).equals(group));
        assert.ok(sig.s <= secp256k1.Point.Fn.ORDER >> 1n, 'low-S');
      }
    }),
    { numRuns: 3 },
  );
});

test('signDemoEcdsa returns a compressed group key and a 64-byte r‖s over SHA-256(message)', async () => {
  const message = new TextEncoder().encode('custodian sign-demo');
  const out = await signDemoEcdsa(2, 2, message);
  assert.match(out.groupPublicKey, /^0[23][0-9a-f]{64}$/);
  assert.match(out.signature, /^[0-9a-f]{128}$/);
  assert.ok(secp256k1.verify(hexToBytes(out.signature), message, hexToBytes(out.groupPublicKey)));
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { systemRandom } from '@custodian/core/clock';
import { isCustodianError } from '@custodian/core/errors';
import { decodeEcdsaMessage, encodeEcdsaMessage } from './message-codec.js';
import { decodeKeyShare, encodeKeyShare } from './key-share-codec.js';
import { runOnline, runPresign } from './local-run.js';
import { dealKeySharesForTests } from './trusted-dealer.js';
import { pointToBytes } from './group.js';
import type { EcdsaMessage } from './message.js';

const sample: EcdsaMessage = { sessionId: new Uint8Array(32).fill(3), protocol: 'sign', round: 2, from: 1n, to: 3n, body: new Uint8Array([1, 2, 3, 4]) };

test('protocol message codec round-trips', () => {
  assert.deepEqual(decodeEcdsaMessage(encodeEcdsaMessage(sample)), sample);
});

test('B29 the message decoder refuses party id 0', () => {
  const bad = encodeEcdsaMessage(sample);
  bad[3] = 0;
  bad[4] = 0;
  assert.throws(() => decodeEcdsaMessage(bad), (e) => isCustodianError(e, 'E_PARTY_ID_INVALID'));
});

test('property: only typed errors escape the message decoder on mutated input', () => {
  const seed = encodeEcdsaMessage(sample);
  fc.assert(
    fc.property(fc.integer({ min: 0, max: seed.length }), fc.integer({ min: 0, max: 255 }), fc.boolean(), (pos, byte, cut) => {
      const m = cut ? seed.subarray(0, pos) : seed.map((b, i) => (i === pos ? byte : b));
      try {
        decodeEcdsaMessage(m);
      } catch (e) {
        assert.ok(isCustodianError(e, 'E_MPC_SHAPE', 'E_PARTY_ID_INVALID'), String(e));
      }
    }),
    { numRuns: 3000 },
  );
});

test('key share codec round-trips and the decoded shares still sign', () => {
  const shares = dealKeySharesForTests(2, 2, systemRandom);
  const decoded = new Map([...shares].map(([id, s]) => [id, decodeKeyShare(encodeKeyShare(s))]));
  const withExcluded = { ...shares.get(1n)!, status: { frozen: true, excluded: new Set([2n]) } };
  const back = decodeKeyShare(encodeKeyShare(withExcluded));
  assert.equal(back.status.frozen, true);
  assert.deepEqual([...back.status.excluded], [2n]);
  assert.deepEqual(encodeKeyShare(decoded.get(1n)!), encodeKeyShare(shares.get(1n)!));
  const digest = sha256(new Uint8Array([7]));
  const sig = runOnline(runPresign(decoded, [1n, 2n], systemRandom.bytes(32), systemRandom), digest).get(1n)!;
  assert.ok(secp256k1.verify(sig.compact, digest, pointToBytes(decoded.get(1n)!.publicKey), { prehash: false }));
  const tampered = encodeKeyShare(shares.get(1n)!);
  tampered[1 + 2 + 3 + 4 + 33 * 3 + 5]! ^= 1; // inside the secret share
  assert.throws(() => decodeKeyShare(tampered), (e) => isCustodianError(e, 'E_DKG_SHARE_INVALID', 'E_MPC_SHAPE'));
  assert.throws(() => decodeKeyShare(tampered.subarray(0, 100)), (e) => isCustodianError(e, 'E_MPC_SHAPE'));
});

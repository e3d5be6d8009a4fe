// Property: DKG among n parties, then any t of them sign a random message, and
// the signature verifies under the plain, independent verifier
// (ed25519.verify, schnorr.verify). FROST costs tens of ms per signature, so
// the number of runs is small on purpose.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { systemRandom } from '@custodian/core/clock';
import { verifierKeyOf } from './key-package.js';
import { runLocalDkg, signLocally } from './local.js';
import { frostSuite, FROST_SUITE_IDS } from './suite.js';

test('random t-of-n (2 ≤ t ≤ n ≤ 7) DKG + signing verifies with the plain verifier, every suite', async () => {
  const case_ = fc
    .record({ suite: fc.constantFrom(...FROST_SUITE_IDS), n: fc.integer({ min: 2, max: 7 }), message: fc.uint8Array({ minLength: 0, maxLength: 200 }), seed: fc.integer() })
    .chain((c) => fc.record({ c: fc.constant(c), t: fc.integer({ min: 2, max: c.n }), pick: fc.shuffledSubarray([...Array(c.n).keys()], { minLength: c.n, maxLength: c.n }) }));
  await fc.assert(
    fc.asyncProperty(case_, async ({ c, t, pick }) => {
      const shares = runLocalDkg(c.suite, t, c.n, systemRandom, `prop-${c.seed}`);
      const signers = pick.slice(0, t).map((i) => shares[i]!);
      const sig = await signLocally(signers, c.message, systemRandom, `prop-sign-${c.seed}`);
      const pk = verifierKeyOf(shares[0]!.publicPackage);
      assert.ok(frostSuite(c.suite).verifyPlain(sig, c.message, pk), `${c.suite} ${t}-of-${c.n}`);
      // every party derived the same public package
      for (const s of shares) assert.deepEqual(s.publicPackage.groupPublicKey, shares[0]!.publicPackage.groupPublicKey);
      // a different message does not verify under the same signature
      const other = Uint8Array.from([...c.message, 1]);
      assert.equal(frostSuite(c.suite).verifyPlain(sig, other, pk), false);
    }),
    { numRuns: 15 },
  );
});

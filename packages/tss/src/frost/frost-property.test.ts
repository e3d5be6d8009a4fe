// Properties: (1) any t of n shares sign a random message through our signer
// and coordinator, and the signature verifies under the plain, independent
// verifier (ed25519.verify, schnorr.verify); (2) the same after a DKG among
// n parties. FROST costs tens of ms per signature and a 7-party DKG far more,
// so the number of runs is small on purpose.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { systemRandom } from '@custodian/core/clock';
import { fromLibraryKey, type FrostKeyShare } from './key-package.js';
import { verifierKeyOf } from './key-package.js';
import { runLocalDkg, signLocally } from './local.js';
import { libraryIdentifier, type PartyId } from './party-id.js';
import { frostSuite, FROST_SUITE_IDS, libraryRng, type FrostSuiteId } from './suite.js';

const arbCase = fc
  .record({ suite: fc.constantFrom(...FROST_SUITE_IDS), n: fc.integer({ min: 2, max: 7 }), message: fc.uint8Array({ minLength: 0, maxLength: 200 }), id: fc.nat() })
  .chain((c) => fc.record({ c: fc.constant(c), t: fc.integer({ min: 2, max: c.n }), pick: fc.shuffledSubarray([...Array(c.n).keys()], { minLength: c.n, maxLength: c.n }) }));

/** Shares from the library's trusted dealer (RFC 9591 App. C), converted to our types: cheap keys for the signing property. */
function dealerShares(suiteId: FrostSuiteId, t: number, n: number): FrostKeyShare[] {
  const suite = frostSuite(suiteId);
  const parties = Array.from({ length: n }, (_, i) => (i + 1) as PartyId);
  const deal = suite.frost.trustedDealer({ min: t, max: n }, parties.map((p) => libraryIdentifier(suite, p)), undefined, libraryRng(systemRandom));
  return parties.map((p) => fromLibraryKey(suiteId, p, parties, { public: deal.public, secret: deal.secretShares[libraryIdentifier(suite, p)]! }));
}

async function checkSigning(suite: FrostSuiteId, shares: readonly FrostKeyShare[], t: number, pick: readonly number[], message: Uint8Array, id: number): Promise<void> {
  const signers = pick.slice(0, t).map((i) => shares[i]!);
  const sig = await signLocally(signers, message, systemRandom, `prop-sign-${id}`);
  const pk = verifierKeyOf(shares[0]!.publicPackage);
  assert.ok(frostSuite(suite).verifyPlain(sig, message, pk), `${suite} ${t}-of-${shares.length}`);
  assert.equal(frostSuite(suite).verifyPlain(sig, Uint8Array.from([...message, 1]), pk), false);
}

test('any t of n (2 ≤ t ≤ n ≤ 7) sign a random message; the plain verifier accepts, every suite', async () => {
  await fc.assert(
    fc.asyncProperty(arbCase, async ({ c, t, pick }) => checkSigning(c.suite, dealerShares(c.suite, t, c.n), t, pick, c.message, c.id)),
    { numRuns: 15 },
  );
});

test('after a DKG among n parties (2 ≤ t ≤ n ≤ 7), any t sign; all parties agree on the key', async () => {
  await fc.assert(
    fc.asyncProperty(arbCase, async ({ c, t, pick }) => {
      const shares = runLocalDkg(c.suite, t, c.n, systemRandom, `prop-dkg-${c.id}`);
      for (const s of shares) assert.deepEqual(s.publicPackage.commitments, shares[0]!.publicPackage.commitments);
      await checkSigning(c.suite, shares, t, pick, c.message, c.id);
    }),
    { numRuns: 6 },
  );
});

/**
 * Trusted-dealer key shares, for tests of the signing protocol only: one
 * process draws the polynomial and every pairwise OT setup, so the key exists
 * in one place. Never used by the signers (which run EcdsaDealing); kept so
 * that signing tests do not pay for a real key generation each time.
 */
import type { Random } from '@custodian/core/clock';
import { Secret } from '@custodian/core/secret';
import { mulBase, randomScalar, type Point } from './group.js';
import { evalPolynomial, randomPolynomial } from './feldman.js';
import { OT_BASE_COUNT } from './limits.js';
import type { CotReceiverSetup, CotSenderSetup } from './ot-extension.js';
import type { EcdsaKeyShare, PairSetup } from './key-share.js';

function dealDirection(random: Random): { alice: CotSenderSetup; bob: CotReceiverSetup } {
  const seeds0 = Array.from({ length: OT_BASE_COUNT }, () => random.bytes(32));
  const seeds1 = Array.from({ length: OT_BASE_COUNT }, () => random.bytes(32));
  const delta = Array.from(random.bytes(OT_BASE_COUNT), (b) => b & 1);
  return { alice: { delta, seeds: delta.map((d, i) => (d === 0 ? seeds0[i]! : seeds1[i]!)) }, bob: { seeds0, seeds1 } };
}

/** Deals a t-of-n key among parties 1..n (tests only). */
export function dealKeySharesForTests(threshold: number, parties: number, random: Random): Map<bigint, EcdsaKeyShare> {
  const ids = Array.from({ length: parties }, (_, i) => BigInt(i + 1));
  const poly = randomPolynomial(randomScalar(random), threshold, random);
  const publicKey = mulBase(poly[0]!);
  const publicShares = new Map<bigint, Point>(ids.map((id) => [id, mulBase(evalPolynomial(poly, id))]));
  const pairs = new Map<bigint, Map<bigint, PairSetup>>(ids.map((id) => [id, new Map()]));
  for (const i of ids) {
    for (const j of ids) {
      if (i >= j) continue;
      const ij = dealDirection(random); // i is Alice towards j
      const ji = dealDirection(random); // j is Alice towards i
      pairs.get(i)!.set(j, { alice: ij.alice, bob: ji.bob });
      pairs.get(j)!.set(i, { alice: ji.alice, bob: ij.bob });
    }
  }
  return new Map(
    ids.map((id) => [
      id,
      { id, threshold, parties: ids, publicKey, publicShares, secret: new Secret({ share: evalPolynomial(poly, id), pairs: pairs.get(id)! }), status: { frozen: false, excluded: new Set<bigint>() } },
    ]),
  );
}

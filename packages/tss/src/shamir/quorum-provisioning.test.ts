import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { randomBytes } from 'node:crypto';
import { Secret } from '@custodian/core/secret';
import { bytesToHex, equalBytes, hexToBytes, utf8 } from '@custodian/core/bytes';
import { isCustodianError, CustodianError } from '@custodian/core/errors';
import { parseJson, canonicalJson } from '@custodian/core/canonical-json';
import { generateHpkeKeyPair, hpkeOpen, hpkeSeal } from '@custodian/core/hpke-seal';
import { splitToMembers } from './split.js';
import { openMemberShare, postShareToEnclave, provisioningNonce, type EnclaveAppraiseFn } from './member.js';
import { ShareCollector } from './share-collector.js';
import { ENCLAVE_SHARE_INFO, postingAad, shareInfo } from './contexts.js';
import { decodeShareManifest, encodeShareManifest, manifestHash, validateShareManifest, type ShareManifest } from './share-manifest.js';

const MEASUREMENT = 'e5'.repeat(48);

/** Evidence of the test enclave: JSON naming what a report would carry. */
function evidenceOf(measurement: string, nonce: Uint8Array, key: Uint8Array, debug = false): Uint8Array {
  return utf8(JSON.stringify({ measurement, nonce: bytesToHex(nonce), key: bytesToHex(key), debug }));
}

const appraise: EnclaveAppraiseFn = async (evidence, expected) => {
  const d = JSON.parse(new TextDecoder().decode(evidence)) as { measurement: string; nonce: string; key: string; debug: boolean };
  const reasons: string[] = [];
  if (d.debug) reasons.push('debug enclave');
  if (!equalBytes(hexToBytes(d.nonce), expected.nonce)) reasons.push('report data binds another nonce');
  if (!equalBytes(hexToBytes(d.key), expected.publicKeyBinding)) reasons.push('report data binds another key');
  return { ok: reasons.length === 0, measurement: d.measurement, reasons };
};

async function ceremony(k: number, n: number, secretBytes = 32) {
  const members = await Promise.all(Array.from({ length: n }, async (_, i) => ({ memberId: `m${i}`, ...(await generateHpkeKeyPair()) })));
  const secret = new Uint8Array(randomBytes(secretBytes));
  const split = await splitToMembers(new Secret(Uint8Array.from(secret)), k, members.map((m) => ({ memberId: m.memberId, publicKey: m.publicKey })));
  const enclave = await generateHpkeKeyPair();
  const announcement = { evidence: evidenceOf(MEASUREMENT, provisioningNonce(split.manifest), enclave.publicKey), publicKey: enclave.publicKey };
  return { members, secret, split, enclave, announcement };
}

test('2-of-3: members verify the enclave, post their shares, and the enclave reconstructs only at the threshold', async () => {
  const { members, secret, split, enclave, announcement } = await ceremony(2, 3);
  const collector = new ShareCollector(split.manifest, enclave.publicKey, enclave.privateKey);
  await assert.rejects(collector.reconstruct(), (e) => isCustodianError(e, 'E_QUORUM_NOT_MET'));
  for (const i of [2, 0]) {
    const posting = await postShareToEnclave({
      manifest: split.manifest,
      encryptedShare: split.encryptedShares[i]!,
      memberPrivateKey: members[i]!.privateKey,
      enclave: announcement,
      expectedMeasurement: MEASUREMENT,
      appraise,
    });
    const st = await collector.accept(posting);
    if (i === 2) {
      assert.deepEqual(st, { accepted: 1, threshold: 2, complete: false });
      await assert.rejects(collector.reconstruct(), (e) => isCustodianError(e, 'E_QUORUM_NOT_MET'));
    }
  }
  assert.deepEqual((await collector.reconstruct()).expose(), secret);
});

test('no member can open another member share', async () => {
  const { members, split } = await ceremony(2, 3);
  await assert.rejects(openMemberShare(split.manifest, split.encryptedShares[1]!, members[0]!.privateKey), (e) => isCustodianError(e, 'E_HPKE_OPEN_FAILED'));
  // Relabelled as the member's own, it still does not open (the member id is in the HPKE context).
  await assert.rejects(openMemberShare(split.manifest, { ...split.encryptedShares[1]!, memberId: 'm0' }, members[0]!.privateKey), (e) => isCustodianError(e, 'E_HPKE_OPEN_FAILED'));
});

test('a member refuses to post to a debug enclave, a wrong measurement, or evidence that binds another key', async () => {
  const { members, split, enclave } = await ceremony(2, 3);
  const other = await generateHpkeKeyPair();
  const nonce = provisioningNonce(split.manifest);
  const cases = [
    { evidence: evidenceOf(MEASUREMENT, nonce, enclave.publicKey, true), publicKey: enclave.publicKey, why: /debug/ },
    { evidence: evidenceOf('ff'.repeat(48), nonce, enclave.publicKey), publicKey: enclave.publicKey, why: /not the expected/ },
    { evidence: evidenceOf(MEASUREMENT, nonce, other.publicKey), publicKey: enclave.publicKey, why: /another key/ },
    { evidence: evidenceOf(MEASUREMENT, new Uint8Array(32), enclave.publicKey), publicKey: enclave.publicKey, why: /another nonce/ },
  ];
  for (const c of cases) {
    await assert.rejects(
      postShareToEnclave({ manifest: split.manifest, encryptedShare: split.encryptedShares[0]!, memberPrivateKey: members[0]!.privateKey, enclave: c, expectedMeasurement: MEASUREMENT, appraise }),
      (e) => isCustodianError(e, 'E_SHAMIR_ENCLAVE_REFUSED') && c.why.test(e.message),
    );
  }
});

test('the enclave refuses postings for another enclave, duplicates and unknown members', async () => {
  const { members, split, enclave, announcement } = await ceremony(2, 3);
  const post = (i: number, ann = announcement) =>
    postShareToEnclave({ manifest: split.manifest, encryptedShare: split.encryptedShares[i]!, memberPrivateKey: members[i]!.privateKey, enclave: ann, expectedMeasurement: MEASUREMENT, appraise });
  const collector = new ShareCollector(split.manifest, enclave.publicKey, enclave.privateKey);
  const other = await generateHpkeKeyPair();
  const toOther = await post(0, { evidence: evidenceOf(MEASUREMENT, provisioningNonce(split.manifest), other.publicKey), publicKey: other.publicKey });
  await assert.rejects(collector.accept(toOther), (e) => isCustodianError(e, 'E_SHAMIR_SHARE_UNREADABLE'));
  const p1 = await post(1);
  await collector.accept(p1);
  await assert.rejects(collector.accept(p1), (e) => isCustodianError(e, 'E_SHAMIR_DUPLICATE_SHARE'));
  await assert.rejects(collector.accept({ ...p1, memberId: 'mallory' }), (e) => isCustodianError(e, 'E_SHAMIR_MEMBER_UNKNOWN'));
  assert.equal(collector.status().accepted, 1);
});

/** A member that posts a share of its own making (bypassing postShareToEnclave). */
async function forgedPosting(manifest: ShareManifest, memberId: string, enclavePub: Uint8Array, share: Uint8Array) {
  const sealed = await hpkeSeal(enclavePub, share, shareInfo(ENCLAVE_SHARE_INFO, manifestHash(manifest), memberId), postingAad(enclavePub, provisioningNonce(manifest)));
  return { memberId, ...sealed };
}

test('B29 refuses a share whose index is 0 or another member index, and a share that does not match its commitment', async () => {
  const { members, split, enclave } = await ceremony(2, 3);
  const collector = new ShareCollector(split.manifest, enclave.publicKey, enclave.privateKey);
  const own = await openMemberShare(split.manifest, split.encryptedShares[0]!, members[0]!.privateKey);
  const zero = Uint8Array.from(own.expose());
  zero[zero.length - 1] = 0;
  await assert.rejects(collector.accept(await forgedPosting(split.manifest, 'm0', enclave.publicKey, zero)), (e) => isCustodianError(e, 'E_PARTY_ID_INVALID'));
  const stolenIndex = Uint8Array.from(own.expose());
  stolenIndex[stolenIndex.length - 1] = split.manifest.shares[1]!.index;
  await assert.rejects(collector.accept(await forgedPosting(split.manifest, 'm0', enclave.publicKey, stolenIndex)), (e) => isCustodianError(e, 'E_PARTY_ID_INVALID'));
  const altered = Uint8Array.from(own.expose());
  altered[0]! ^= 1;
  await assert.rejects(collector.accept(await forgedPosting(split.manifest, 'm0', enclave.publicKey, altered)), (e) => isCustodianError(e, 'E_SHARE_COMMITMENT_MISMATCH'));
  assert.equal(collector.status().accepted, 0);
});

test('B29 refuses manifests with index 0, index 256, a shared index or a repeated member', async () => {
  const { split } = await ceremony(2, 3);
  const m = split.manifest;
  const withShare = (i: number, patch: Partial<ShareManifest['shares'][number]>): ShareManifest => ({ ...m, shares: m.shares.map((s, j) => (j === i ? { ...s, ...patch } : s)) });
  for (const bad of [withShare(0, { index: 0 }), withShare(0, { index: 256 }), withShare(0, { index: m.shares[1]!.index }), withShare(0, { memberId: 'm1' }), withShare(0, { index: 1.5 })]) {
    assert.throws(() => validateShareManifest(bad), (e) => isCustodianError(e, 'E_PARTY_ID_INVALID'));
  }
  assert.throws(() => validateShareManifest({ ...m, threshold: 1 }), (e) => isCustodianError(e, 'E_SHAMIR_MANIFEST_INVALID'));
  assert.throws(() => validateShareManifest({ ...m, threshold: 4 }), (e) => isCustodianError(e, 'E_SHAMIR_MANIFEST_INVALID'));
});

test('the manifest decoder round-trips and lets only typed errors escape on mutated input', async () => {
  const { split } = await ceremony(2, 3);
  const text = canonicalJson(encodeShareManifest(split.manifest));
  assert.deepEqual(decodeShareManifest(parseJson(text)), split.manifest);
  fc.assert(
    fc.property(fc.nat(text.length - 1), fc.string({ minLength: 1, maxLength: 1 }), (at, ch) => {
      const mutated = text.slice(0, at) + ch + text.slice(at + 1);
      try {
        decodeShareManifest(parseJson(mutated));
      } catch (e) {
        assert.ok(e instanceof CustodianError, String(e));
      }
    }),
    { numRuns: 300 },
  );
});

test('any k of n shares reconstruct the secret (property, small n)', async () => {
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 2, max: 5 }).chain((n) => fc.tuple(fc.constant(n), fc.integer({ min: 2, max: n }), fc.shuffledSubarray([...Array(n).keys()], { minLength: n, maxLength: n }))), async ([n, k, order]) => {
      const { members, secret, split, enclave, announcement } = await ceremony(k, n);
      const collector = new ShareCollector(split.manifest, enclave.publicKey, enclave.privateKey);
      for (const i of order.slice(0, k)) {
        await collector.accept(
          await postShareToEnclave({ manifest: split.manifest, encryptedShare: split.encryptedShares[i]!, memberPrivateKey: members[i]!.privateKey, enclave: announcement, expectedMeasurement: MEASUREMENT, appraise }),
        );
      }
      assert.deepEqual((await collector.reconstruct()).expose(), secret);
    }),
    { numRuns: 12 },
  );
});

test('hpke helper refuses a wrong context', async () => {
  const kp = await generateHpkeKeyPair();
  const sealed = await hpkeSeal(kp.publicKey, utf8('x'), utf8('a'), utf8('b'));
  await assert.rejects(hpkeOpen(kp.privateKey, sealed, utf8('a'), utf8('c')), (e) => isCustodianError(e, 'E_HPKE_OPEN_FAILED'));
});

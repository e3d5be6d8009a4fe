/**
 * Quorum provisioning in-process (provisioning-ops.ts): a split approved by
 * the organisation's root quorum (an unapproved one opens nothing); 2-of-3 members each
 * verify the signer's announcement (sim evidence binding its identity key,
 * its fresh provisioning key, the split and their challenge), then post their
 * shares; a wrong share and a posting for another enclave key are refused and
 * audited naming the member; the secret is reconstructed only at the
 * threshold, sealed, never answered, and survives a restart; a collection in
 * progress does not.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { Json } from '@custodian/core/canonical-json';
import { bytesToHex, equalBytes, hexToBytes } from '@custodian/core/bytes';
import { Secret } from '@custodian/core/secret';
import { generateHpkeKeyPair, hpkeSeal } from '@custodian/core/hpke-seal';
import { verifySimEvidence } from '@custodian/attestation/sim/sim-evidence';
import { splitToMembers } from '@custodian/tss/shamir/split';
import { openMemberShare, postShareToEnclave, provisioningNonce, type EnclaveAppraiseFn, type SharePosting } from '@custodian/tss/shamir/member';
import { ENCLAVE_SHARE_INFO, postingAad, shareInfo } from '@custodian/tss/shamir/contexts';
import { encodeShareManifest, manifestHash, type ShareManifest } from '@custodian/tss/shamir/share-manifest';
import { signPayload } from '@custodian/protocol/operator-key';
import { Enclave } from './enclave.js';
import { unseal } from './sealed-state.js';
import { decodeState } from './state.js';
import { PROVISION_APPROVAL_TYPE, provisioningReportData } from './provisioning-ops.js';
import { memoryPlatform, orgKeys, orgManifest, RecordingHost, rejectsWith, simHardware, type MemoryPlatform } from './test-signers.js';

type R = Record<string, Json>;
const hw = simHardware();
const MEASUREMENT = bytesToHex(hw.measurement);
const keys = orgKeys();
const ORG_MANIFEST = orgManifest(hw, keys);

/** Root-quorum approvals of a split (the org manifest's quorum: alice, bob, carol; 2 needed). */
function approvals(m: ShareManifest, by: readonly string[] = ['alice', 'bob']): Json {
  const payload = { orgId: 'acme', shareManifestHash: bytesToHex(manifestHash(m)) };
  return by.map((id) => ({ operatorId: id, signature: bytesToHex(signPayload(keys[id]!, PROVISION_APPROVAL_TYPE, payload)) }));
}

function announceBody(m: ShareManifest, by?: readonly string[]): Json {
  return { shareManifest: encodeShareManifest(m), approvals: approvals(m, by), challenge: bytesToHex(randomBytes(32)) };
}

async function ceremony() {
  const members = await Promise.all(['m0', 'm1', 'm2'].map(async (memberId) => ({ memberId, ...(await generateHpkeKeyPair()) })));
  const secret = new Uint8Array(randomBytes(32));
  const split = await splitToMembers(new Secret(Uint8Array.from(secret)), 2, members.map((m) => ({ memberId: m.memberId, publicKey: m.publicKey })));
  return { members, secret, split };
}

/** The member's side: announce with a fresh challenge, verify against the sim root, and (if acceptable) post. */
async function announce(enclave: Enclave, host: RecordingHost, manifest: ShareManifest): Promise<{ answer: R; challenge: Uint8Array; appraise: EnclaveAppraiseFn; publicKey: Uint8Array }> {
  const challenge = new Uint8Array(randomBytes(32));
  const answer = (await enclave.handle('provision.announce', { shareManifest: encodeShareManifest(manifest), approvals: approvals(manifest), challenge: bytesToHex(challenge) }, host.peer)) as R;
  const identityKey = hexToBytes(String(answer['identityKey']));
  const appraise: EnclaveAppraiseFn = async (evidence, expected) => {
    const claims = verifySimEvidence(evidence, { rootPublicKey: hw.root.publicKey, nowMs: Date.now(), expectedReportData: provisioningReportData(identityKey, expected.publicKeyBinding, expected.nonce, challenge) });
    return { ok: true, measurement: claims.measurement, reasons: [] };
  };
  return { answer, challenge, appraise, publicKey: hexToBytes(String(answer['enclaveKey'])) };
}

function postingBody(manifest: ShareManifest, p: SharePosting): Json {
  return { shareManifestHash: bytesToHex(manifestHash(manifest)), memberId: p.memberId, enc: bytesToHex(p.enc), ciphertext: bytesToHex(p.ciphertext) };
}

async function booted(platform: MemoryPlatform, host?: RecordingHost): Promise<Enclave> {
  const e = new Enclave(platform, 'signer-1');
  await e.boot();
  if (host && e.phase !== 'READY') await e.handle('manifest.install', { signedManifest: ORG_MANIFEST }, host.peer);
  return e;
}

test('provisioning 2-of-3: a wrong share and a posting for another key are refused and audited; k good shares reconstruct, seal, and survive a restart', async () => {
  const host = new RecordingHost();
  const platform = memoryPlatform(hw);
  // Before the organisation manifest is installed there is no quorum to approve a split.
  const fresh = await booted(platform);
  const { members, secret, split } = await ceremony();
  const m = split.manifest;
  await rejectsWith(fresh.handle('provision.announce', announceBody(m), host.peer), 'E_NO_MANIFEST');
  const enclave = await booted(platform, host);
  const mh = bytesToHex(manifestHash(m));
  // A split the root quorum did not approve (one approval of two, or a non-member's) opens nothing.
  await rejectsWith(enclave.handle('provision.announce', announceBody(m, ['alice']), host.peer), 'E_PROVISION_UNAPPROVED');
  await rejectsWith(enclave.handle('provision.announce', announceBody(m, ['alice', 'dave']), host.peer), 'E_PROVISION_UNAPPROVED');
  assert.equal(host.of('provision.refused').at(-1)!.data['code'], 'E_PROVISION_UNAPPROVED');
  assert.equal(host.of('provision.started').length, 0);
  const ann = await announce(enclave, host, m);
  assert.equal(ann.answer['shareManifestHash'], mh);
  assert.equal(host.of('provision.started').length, 1);
  assert.deepEqual(host.of('provision.started')[0]!.data['approvedBy'], ['alice', 'bob']);
  const post = (i: number, publicKey = ann.publicKey) =>
    postShareToEnclave({ manifest: m, encryptedShare: split.encryptedShares[i]!, memberPrivateKey: members[i]!.privateKey, enclave: { evidence: hexToBytes(String(ann.answer['evidence'])), publicKey }, expectedMeasurement: MEASUREMENT, appraise: ann.appraise });

  // A second member's announcement reuses the collection and its key (one audit entry for the split).
  const again = await announce(enclave, host, m);
  assert.equal(again.answer['enclaveKey'], ann.answer['enclaveKey']);
  assert.equal(host.of('provision.started').length, 1);

  // m1 posts a share that does not match its commitment (it bypasses its CLI's own check).
  const own = await openMemberShare(m, split.encryptedShares[1]!, members[1]!.privateKey);
  const altered = Uint8Array.from(own.expose());
  altered[0]! ^= 1;
  const forged = { memberId: 'm1', ...(await hpkeSeal(ann.publicKey, altered, shareInfo(ENCLAVE_SHARE_INFO, manifestHash(m), 'm1'), postingAad(ann.publicKey, provisioningNonce(m)))) };
  await rejectsWith(enclave.handle('provision.share', postingBody(m, forged), host.peer), 'E_SHARE_COMMITMENT_MISMATCH');
  const refusedWrong = host.of('provision.share_refused').at(-1)!;
  assert.equal(refusedWrong.data['memberId'], 'm1');
  assert.equal(refusedWrong.data['code'], 'E_SHARE_COMMITMENT_MISMATCH');
  assert.equal(refusedWrong.data['shareManifestHash'], mh);

  // A posting encrypted to another enclave key does not open here.
  const other = await generateHpkeKeyPair();
  const toOther = await hpkeSeal(other.publicKey, own.expose(), shareInfo(ENCLAVE_SHARE_INFO, manifestHash(m), 'm1'), postingAad(other.publicKey, provisioningNonce(m)));
  await rejectsWith(enclave.handle('provision.share', postingBody(m, { memberId: 'm1', ...toOther }), host.peer), 'E_SHAMIR_SHARE_UNREADABLE');
  assert.equal(host.of('provision.share_refused').at(-1)!.data['memberId'], 'm1');
  // And the member's own CLI refuses to post to a key the evidence does not bind.
  await assert.rejects(post(0, other.publicKey), (e: unknown) => (e as { code?: string }).code === 'E_SHAMIR_ENCLAVE_REFUSED');

  // One good share: not yet.
  const first = (await enclave.handle('provision.share', postingBody(m, await post(0)), host.peer)) as R;
  assert.deepEqual(first, { shareManifestHash: mh, accepted: 1, threshold: 2, complete: false });
  assert.equal(host.of('provision.completed').length, 0);
  // The same member again is a duplicate.
  await rejectsWith(enclave.handle('provision.share', postingBody(m, await post(0)), host.peer), 'E_SHAMIR_DUPLICATE_SHARE');

  // The second good share reconstructs; the answer names the members, never the secret.
  const done = (await enclave.handle('provision.share', postingBody(m, await post(2)), host.peer)) as R;
  assert.deepEqual(done, { shareManifestHash: mh, accepted: 2, threshold: 2, complete: true, members: ['m0', 'm2'] });
  const completed = host.of('provision.completed');
  assert.equal(completed.length, 1);
  assert.equal(completed[0]!.data['shareManifestHash'], mh);
  assert.deepEqual(completed[0]!.data['members'], ['m0', 'm2']);
  const secretHex = bytesToHex(secret);
  assert.ok(!JSON.stringify(host.entries).includes(secretHex), 'the secret appears in no audit entry');
  assert.ok(!JSON.stringify(done).includes(secretHex));

  // Provisioned: further postings and announcements are refused (typed, audited).
  await rejectsWith(enclave.handle('provision.share', postingBody(m, await post(1)), host.peer), 'E_PROVISION_COMPLETE');
  await rejectsWith(enclave.handle('provision.announce', announceBody(m), host.peer), 'E_PROVISION_COMPLETE');
  assert.equal(host.of('provision.refused').at(-1)!.data['code'], 'E_PROVISION_COMPLETE');

  // Sealed: a restarted signer holds the secret (read here from the blob with the platform's key, as only the enclave can).
  const restarted = await booted(platform);
  const { version, plaintext } = unseal(platform.key, 'signer-1', platform.blob!);
  const state = decodeState(plaintext, version);
  assert.ok(state.provisioned);
  assert.ok(equalBytes(state.provisioned.secret.expose(), secret));
  assert.deepEqual(state.provisioned.members, ['m0', 'm2']);
  assert.equal(state.provisioned.shareManifestHash, mh);
  await rejectsWith(restarted.handle('provision.announce', announceBody(m), host.peer), 'E_PROVISION_COMPLETE');
});

test('a restart drops a collection in progress: members announce (a new key) and post again', async () => {
  const host = new RecordingHost();
  const platform = memoryPlatform(hw);
  const enclave = await booted(platform, host);
  const { members, secret, split } = await ceremony();
  const m = split.manifest;
  const postVia = async (a: Awaited<ReturnType<typeof announce>>, i: number) =>
    postingBody(m, await postShareToEnclave({ manifest: m, encryptedShare: split.encryptedShares[i]!, memberPrivateKey: members[i]!.privateKey, enclave: { evidence: hexToBytes(String(a.answer['evidence'])), publicKey: a.publicKey }, expectedMeasurement: MEASUREMENT, appraise: a.appraise }));
  const a1 = await announce(enclave, host, m);
  await enclave.handle('provision.share', await postVia(a1, 1), host.peer);

  const restarted = await booted(platform);
  // The posting made for the old key is refused: nothing is collecting it.
  await rejectsWith(restarted.handle('provision.share', await postVia(a1, 2), host.peer), 'E_PROVISION_NOT_STARTED');
  assert.equal(host.of('provision.share_refused').at(-1)!.data['memberId'], 'm2');
  const a2 = await announce(restarted, host, m);
  assert.notEqual(a2.answer['enclaveKey'], a1.answer['enclaveKey']);
  assert.equal((await restarted.handle('provision.share', await postVia(a2, 2), host.peer) as R)['complete'], false);
  assert.equal((await restarted.handle('provision.share', await postVia(a2, 1), host.peer) as R)['complete'], true);
  const { version, plaintext } = unseal(platform.key, 'signer-1', platform.blob!);
  assert.ok(equalBytes(decodeState(plaintext, version).provisioned!.secret.expose(), secret));
});

test('malformed provisioning input is refused before anything is opened', async () => {
  const host = new RecordingHost();
  const enclave = await booted(memoryPlatform(hw), host);
  const { split } = await ceremony();
  const m = encodeShareManifest(split.manifest) as R;
  await rejectsWith(enclave.handle('provision.announce', { shareManifest: { ...m, threshold: 4 }, approvals: [], challenge: bytesToHex(randomBytes(32)) }, host.peer), 'E_SHAMIR_MANIFEST_INVALID');
  await rejectsWith(enclave.handle('provision.share', { shareManifestHash: bytesToHex(manifestHash(split.manifest)), memberId: 'M0!', enc: '00'.repeat(32), ciphertext: '00' }, host.peer), 'E_FIELD_INVALID');
  await rejectsWith(enclave.handle('provision.share', { shareManifestHash: bytesToHex(manifestHash(split.manifest)), memberId: 'm0', enc: '00'.repeat(32), ciphertext: '00'.repeat(2000) }, host.peer), 'E_FIELD_INVALID');
  assert.ok(host.of('input.rejected').length >= 3);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ed25519 } from '@noble/curves/ed25519.js';
import { isCustodianError } from '@custodian/core/errors';
import { bytesToHex } from '@custodian/core/bytes';
import type { Json } from '@custodian/core/canonical-json';
import { generateOperatorKey } from './operator-key.js';
import { decodeManifest, MANIFEST_TYPE, signManifest, verifyManifestQuorum } from './manifest.js';

const keys = { alice: generateOperatorKey('ed25519'), bob: generateOperatorKey('p256'), carol: generateOperatorKey('ed25519') };
const op = (id: keyof typeof keys, keyOf: keyof typeof keys = id): Json => ({ id, name: id, roles: ['approver'], groups: ['treasury'], publicKey: { alg: keys[keyOf].alg, key: bytesToHex(keys[keyOf].publicKey) } });
const base = (over: Record<string, Json> = {}): Json => ({
  type: MANIFEST_TYPE,
  orgId: 'acme',
  version: 1,
  previousHash: '',
  chainId: '1',
  operators: [op('alice'), op('bob'), op('carol')],
  quorum: { threshold: 2, members: ['alice', 'bob', 'carol'] },
  enclave: { platform: 'sim', measurements: ['ab'.repeat(48)], simRoot: bytesToHex(ed25519.getPublicKey(ed25519.utils.randomSecretKey())) },
  policy: { maxValueWei: '1', allowlist: [], approvals: { group: 'treasury', count: 2 } },
  ...over,
});

test('a manifest with a quorum of distinct members verifies; fewer or repeated signatures do not', () => {
  const p = base();
  const m = decodeManifest(p);
  verifyManifestQuorum({ payload: p, signatures: [signManifest(p, 'alice', keys.alice), signManifest(p, 'bob', keys.bob)] }, m);
  const one = signManifest(p, 'alice', keys.alice);
  assert.throws(() => verifyManifestQuorum({ payload: p, signatures: [one, one] }, m), (e) => isCustodianError(e, 'E_MANIFEST_QUORUM'));
  const forged = { operatorId: 'bob', signature: signManifest(p, 'alice', keys.alice).signature };
  assert.throws(() => verifyManifestQuorum({ payload: p, signatures: [one, forged] }, m), (e) => isCustodianError(e, 'E_MANIFEST_QUORUM'));
});

test('rejects one public key listed under two operator ids', () => {
  assert.throws(() => decodeManifest(base({ operators: [op('alice'), op('bob'), op('carol', 'alice')] })), (e) => isCustodianError(e, 'E_MANIFEST_INVALID') && /unique/.test((e as Error).message));
});

test('rejects a small-order sim root', () => {
  const identity = '01' + '00'.repeat(31);
  assert.throws(() => decodeManifest(base({ enclave: { platform: 'sim', measurements: ['ab'.repeat(48)], simRoot: identity } })), (e) => isCustodianError(e, 'E_MANIFEST_INVALID'));
});

test('rejects a quorum threshold above its members and unknown members', () => {
  assert.throws(() => decodeManifest(base({ quorum: { threshold: 4, members: ['alice', 'bob', 'carol'] } })), (e) => isCustodianError(e, 'E_MANIFEST_INVALID'));
  assert.throws(() => decodeManifest(base({ quorum: { threshold: 1, members: ['mallory'] } })), (e) => isCustodianError(e, 'E_MANIFEST_INVALID'));
});

test('a policy may pin a rulebook digest (lower-case SHA-256 hex); anything else is rejected', () => {
  const policy = { maxValueWei: '0', allowlist: [], approvals: { group: 'treasury', count: 0 } };
  assert.equal(decodeManifest(base()).policy.rulebookDigest, undefined);
  assert.equal(decodeManifest(base({ policy: { ...policy, rulebookDigest: 'ab'.repeat(32) } })).policy.rulebookDigest, 'ab'.repeat(32));
  for (const bad of ['AB'.repeat(32), 'ab'.repeat(31), '', 7]) {
    assert.throws(() => decodeManifest(base({ policy: { ...policy, rulebookDigest: bad } })), (e) => isCustodianError(e));
  }
});

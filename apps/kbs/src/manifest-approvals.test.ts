/**
 * The broker's manifest chain: anchored on a manifest its own quorum signed,
 * extended only by the next version naming the installed one with the
 * installed quorum's signatures; the latest manifest's measurements are the
 * approved ones. Through `openKbs` the chain persists and a different anchor
 * on the same data directory is refused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bytesToHex } from '@custodian/core/bytes';
import type { Json } from '@custodian/core/canonical-json';
import { isCustodianError } from '@custodian/core/errors';
import { createSimRoot } from '@custodian/attestation/sim/sim-evidence';
import { generateOperatorKey, type OperatorKeyPair } from '@custodian/protocol/operator-key';
import { MANIFEST_TYPE, manifestHash, signManifest, type SignedManifest } from '@custodian/protocol/manifest';
import { ManifestApprovals } from './manifest-approvals.js';
import { openKbs } from './kbs-runtime.js';
import { fakeAppraise, fakeEvidence, makeQuorum } from './test-fixtures.js';
import { MemoryAuditSink } from './audit-sink.js';
import { generateHpkeKeyPair } from '@custodian/core/hpke-seal';

const M1 = 'a1'.repeat(48);
const M2 = 'b2'.repeat(48);
const keys: Record<string, OperatorKeyPair> = { alice: generateOperatorKey('ed25519'), bob: generateOperatorKey('ed25519'), carol: generateOperatorKey('p256') };
const simRoot = bytesToHex(createSimRoot().publicKey);

function payload(version: number, previous: Json | null, measurements: string[], orgId = 'acme'): Json {
  return {
    type: MANIFEST_TYPE,
    orgId,
    version,
    previousHash: previous === null ? '' : manifestHash(previous),
    chainId: '1',
    operators: Object.entries(keys).map(([id, k]) => ({ id, name: id, roles: ['admin'], groups: [], publicKey: { alg: k.alg, key: bytesToHex(k.publicKey) } })),
    quorum: { threshold: 2, members: ['alice', 'bob', 'carol'] },
    enclave: { platform: 'sim', measurements, simRoot },
    policy: { maxValueWei: '1', allowlist: [], approvals: { group: 'treasury', count: 0 } },
  };
}

function signed(p: Json, by: string[]): SignedManifest {
  return { payload: p, signatures: by.map((id) => signManifest(p, id, keys[id]!)) };
}

function throwsCode(fn: () => unknown, code: string): void {
  assert.throws(fn, (e: unknown) => isCustodianError(e, code));
}

test('approves the measurements of the anchor, then of each quorum-signed successor (a dropped measurement is no longer approved)', () => {
  const v1 = payload(1, null, [M1]);
  const a = new ManifestApprovals();
  a.anchor(signed(v1, ['alice', 'bob']));
  assert.ok(a.isApproved(M1));
  assert.ok(!a.isApproved(M2));
  const v2 = payload(2, v1, [M2]);
  const out = a.install(signed(v2, ['bob', 'carol']));
  assert.deepEqual(out, { version: 2, hash: manifestHash(v2), measurements: [M2], changed: true, breakglassId: null });
  assert.ok(a.isApproved(M2));
  assert.ok(!a.isApproved(M1), 'the successor dropped M1');
  assert.equal(a.install(signed(v2, ['alice', 'carol'])).changed, false, 're-installing the latest is a no-op');
  assert.ok(ManifestApprovals.fromChain(a.chain()).isApproved(M2), 'the chain rebuilds');
});

test('refuses an anchor or successor below the quorum (E_MANIFEST_QUORUM)', () => {
  const v1 = payload(1, null, [M1]);
  throwsCode(() => new ManifestApprovals().anchor(signed(v1, ['alice'])), 'E_MANIFEST_QUORUM');
  const a = new ManifestApprovals();
  a.anchor(signed(v1, ['alice', 'carol']));
  throwsCode(() => a.install(signed(payload(2, v1, [M1, M2]), ['carol'])), 'E_MANIFEST_QUORUM');
  // The same signer twice counts once.
  const v2 = payload(2, v1, [M1, M2]);
  throwsCode(() => a.install({ payload: v2, signatures: [signManifest(v2, 'bob', keys['bob']!), signManifest(v2, 'bob', keys['bob']!)] }), 'E_MANIFEST_QUORUM');
  assert.ok(!a.isApproved(M2));
});

test('refuses a successor that skips a version, names another predecessor or another organisation (E_MANIFEST_SEQUENCE)', () => {
  const v1 = payload(1, null, [M1]);
  const a = new ManifestApprovals();
  a.anchor(signed(v1, ['alice', 'bob']));
  throwsCode(() => a.install(signed(payload(3, v1, [M2]), ['alice', 'bob'])), 'E_MANIFEST_SEQUENCE');
  throwsCode(() => a.install(signed(payload(2, payload(1, null, [M2]), [M2]), ['alice', 'bob'])), 'E_MANIFEST_SEQUENCE');
  throwsCode(() => a.install(signed(payload(2, v1, [M2], 'other-org'), ['alice', 'bob'])), 'E_MANIFEST_SEQUENCE');
  throwsCode(() => new ManifestApprovals().install(signed(v1, ['alice', 'bob'])), 'E_MANIFEST_SEQUENCE');
  throwsCode(() => a.anchor(signed(v1, ['alice', 'bob'])), 'E_MANIFEST_SEQUENCE');
  assert.ok(!a.isApproved(M2));
});

test('openKbs: the manifest anchors releases, persists with its successors, and another anchor on the same directory is refused', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'kbs-manifest-'));
  const { quorum } = makeQuorum(1, 1);
  const v1 = payload(1, null, [M1]);
  const audit = new MemoryAuditSink();
  const open = (manifest?: SignedManifest) => openKbs({ dataDir, root: { kind: 'software' }, quorum, appraise: fakeAppraise, audit, warn: () => undefined, ...(manifest ? { manifest } : {}) });
  const release = async (rt: Awaited<ReturnType<typeof open>>, measurement: string) => {
    const { nonce } = rt.broker.issueNonce();
    const kp = await generateHpkeKeyPair();
    return rt.broker.release({ nonce, publicKey: kp.publicKey, evidence: fakeEvidence({ measurement, nonce, publicKey: kp.publicKey }) });
  };
  let rt = await open(signed(v1, ['alice', 'bob']));
  assert.equal((await release(rt, M1)).measurement, M1);
  await assert.rejects(release(rt, M2), (e: unknown) => isCustodianError(e, 'E_KBS_MEASUREMENT_NOT_APPROVED') && /not listed in the organisation manifest acme version 1/.test((e.detail['reasons'] as string[])[0]!));
  await assert.rejects(rt.broker.installManifest(signed(payload(2, v1, [M1, M2]), ['alice'])), (e: unknown) => isCustodianError(e, 'E_MANIFEST_QUORUM'));
  assert.equal(audit.ofKind('kbs.manifest_refused').length, 1);
  await rt.broker.installManifest(signed(payload(2, v1, [M1, M2]), ['alice', 'carol']));
  assert.equal(audit.ofKind('kbs.manifest_installed').length, 1);
  await rt.close();

  rt = await open();
  assert.equal(rt.manifests.current()?.version, 2, 'the chain persisted');
  assert.equal((await release(rt, M2)).measurement, M2);
  await rt.close();
  await assert.rejects(open(signed(payload(1, null, [M2]), ['alice', 'bob'])), (e: unknown) => isCustodianError(e, 'E_KBS_STATE_INVALID'));
});

test('F01 a successor whose installation cannot be audited is not installed: its measurement gets no key, and the retry installs and audits it', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'kbs-manifest-f01-'));
  const v1 = payload(1, null, [M1]);
  const audit = new MemoryAuditSink();
  const rt = await openKbs({ dataDir, root: { kind: 'software' }, quorum: makeQuorum(1, 1).quorum, appraise: fakeAppraise, audit, warn: () => undefined, manifest: signed(v1, ['alice', 'bob']) });
  const v2 = signed(payload(2, v1, [M1, M2]), ['alice', 'carol']);
  audit.failing = true;
  await assert.rejects(rt.broker.installManifest(v2), (e: unknown) => isCustodianError(e, 'E_AUDIT_UNAVAILABLE'));
  audit.failing = false;
  assert.ok(!rt.manifests.isApproved(M2), 'an unaudited installation approves nothing');
  assert.equal(rt.manifests.current()?.version, 1);
  const out = await rt.broker.installManifest(v2);
  assert.equal(out.changed, true);
  assert.equal(audit.ofKind('kbs.manifest_installed').length, 1);
  assert.ok(rt.manifests.isApproved(M2));
  await rt.close();
});

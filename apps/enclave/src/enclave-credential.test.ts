/**
 * Workload identity (issue 7 item 7) on in-memory signers against a real key
 * broker over HTTP (software root, sim evidence appraised with the sim root,
 * a driven clock): a signer with a broker obtains its credential on `hello`,
 * renews it with a third of its life left, and requires a valid one of every
 * peer; without a broker nothing changes.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { p256 } from '@noble/curves/nist.js';
import { systemRandom, type Clock } from '@custodian/core/clock';
import { bytesToHex, hexToBytes } from '@custodian/core/bytes';
import type { Json } from '@custodian/core/canonical-json';
import { encodeWorkloadCredential, verifyWorkloadCredential, workloadCredentialStatement, type WorkloadClaims } from '@custodian/protocol/workload-credential';
import { openSoftwareRoot } from '@custodian/kbs/hsm/software-root';
import { KeyBroker } from '@custodian/kbs/key-broker';
import { NonceStore } from '@custodian/kbs/nonce-store';
import { MeasurementRegistry } from '@custodian/kbs/measurement-approvals';
import { MemoryAuditSink } from '@custodian/kbs/audit-sink';
import { createWrappedSealingMaster } from '@custodian/kbs/sealing-keys';
import { attestationAppraiser } from '@custodian/kbs/attestation-appraiser';
import { createKbsServer, listenKbs } from '@custodian/kbs/server';
import { makeQuorum, signedChange } from '@custodian/kbs/test-fixtures';
import type { KbsChannel } from './platform.js';
import type { Enclave } from './enclave.js';
import { bootSigners, memoryPlatform, orgKeys, orgManifest, RecordingHost, simHardware, type MemoryPlatform } from './test-signers.js';

type R = Record<string, Json>;
/** Short enough that a 7-minute step lands inside the last third, long enough for sim evidence (10 min) to stay fresh. */
const TTL_MS = 9 * 60 * 1000;
const hw = simHardware();
/** The broker's clock: real time, driven forward by the renewal test. */
let offsetMs = 0;
const clock: Clock = { nowMs: () => Date.now() + offsetMs };
const kbsAudit = new MemoryAuditSink();
const root = await openSoftwareRoot({ warn: () => undefined });
const { quorum, secrets } = makeQuorum(1, 1);
const measurements = new MeasurementRegistry(quorum);
measurements.approve(signedChange({ measurement: bytesToHex(hw.measurement), previous: null, approvedAtMs: clock.nowMs(), reason: 'test' }, secrets, ['member-0']));
const broker = new KeyBroker({
  root,
  wrappedMaster: await createWrappedSealingMaster(root),
  nonces: new NonceStore(clock, systemRandom),
  measurements,
  appraise: attestationAppraiser({ policy: { version: 1, allowSimulated: true }, simRootPublicKey: hw.root.publicKey, clock }),
  audit: kbsAudit,
  clock,
  credentialTtlMs: TTL_MS,
});
const server = createKbsServer({ broker, root });
const base = await listenKbs(server, '127.0.0.1', 0);
const kbsPublicKey = await root.publicKey('kbs-signing');
after(() => new Promise<void>((r) => server.close(() => r())));

/** The parent forwarding the enclave's broker calls over HTTP (as the sim launcher does). */
const channel: KbsChannel = {
  nonce: async () => new Uint8Array(await (await fetch(`${base}/v1/nonce`, { method: 'POST', body: '{}' })).arrayBuffer()),
  credential: async (body) => new Uint8Array(await (await fetch(`${base}/v1/credential`, { method: 'POST', body })).arrayBuffer()),
};

function platforms(ids: readonly string[], withBroker: boolean): Map<string, MemoryPlatform> {
  return new Map(
    ids.map((id) => {
      const p = memoryPlatform(hw);
      if (withBroker) {
        p.kbs = { publicKey: kbsPublicKey, recoveryKey: null };
        p.kbsLink = channel;
      }
      return [id, p];
    }),
  );
}

/** A signer's peers.install entry from a fresh hello, its credential replaced (undefined: dropped). */
async function entry(e: Enclave, host: RecordingHost, credential?: (c: Json) => Json | undefined): Promise<R> {
  const nonce = bytesToHex(randomBytes(32));
  const h = (await e.handle('hello', { nonce }, host.peer)) as R;
  const c = credential ? credential(h['credential']!) : h['credential']!;
  return { signerId: e.signerId, identityKey: h['identityKey']!, nonce, evidence: h['evidence']!, peerKey: h['peerKey']!, ...(c === undefined || c === null ? {} : { credential: c }) };
}

/** A credential signed with the broker's own key, for claims of the test's choosing. */
async function brokerSigned(claims: WorkloadClaims): Promise<Json> {
  return encodeWorkloadCredential({ claims, signature: await root.sign(workloadCredentialStatement(claims)) });
}

async function installOne(target: Enclave, host: RecordingHost, peer: R): Promise<R> {
  return (await target.handle('peers.install', { peers: [peer] }, host.peer)) as R;
}

async function setup(withBroker = true): Promise<{ host: RecordingHost; enclaves: Map<string, Enclave>; ps: Map<string, MemoryPlatform> }> {
  const host = new RecordingHost();
  const ids = ['s1', 's2', 's3'];
  const ps = platforms(ids, withBroker);
  const enclaves = await bootSigners(ids, ps, orgManifest(hw, orgKeys()), host);
  return { host, enclaves, ps };
}

test('a signer with a key broker presents a credential naming its identity key and measurement; peers accept each other with them', async () => {
  const { host, enclaves } = await setup();
  const s1 = enclaves.get('s1')!;
  const h = (await s1.handle('hello', { nonce: bytesToHex(randomBytes(32)) }, host.peer)) as R;
  const claims = verifyWorkloadCredential(h['credential']!, kbsPublicKey, clock.nowMs(), { subjectKey: hexToBytes(String(h['identityKey'])), measurement: bytesToHex(hw.measurement), platform: 'sim' });
  assert.equal(claims.expiresAtMs - claims.issuedAtMs, TTL_MS);
  // bootSigners connected all three with their credentials.
  assert.equal(host.of('attest.accepted').length, 6);
  assert.equal(host.of('attest.rejected').length, 0);
  assert.equal(kbsAudit.ofKind('kbs.credential_issued').filter((e) => e.body['publicKey'] === h['identityKey']).length, 1, 'kept in memory, not fetched per hello');
});

test('the credential is renewed on hello once less than a third of its lifetime remains', async () => {
  const { host, enclaves, ps } = await setup();
  const s1 = enclaves.get('s1')!;
  const hello = async (): Promise<R> => (await s1.handle('hello', { nonce: bytesToHex(randomBytes(32)) }, host.peer)) as R;
  const first = (await hello())['credential'] as R;
  assert.deepEqual((await hello())['credential'], first, 'not renewed with most of its life left');
  ps.get('s1')!.skewMs += 7 * 60 * 1000;
  offsetMs += 7 * 60 * 1000;
  try {
    const renewed = (await hello())['credential'] as R;
    assert.notDeepEqual(renewed, first);
    assert.ok(Number((renewed['claims'] as R)['issuedAtMs']) >= Number((first['claims'] as R)['issuedAtMs']) + 7 * 60 * 1000);
  } finally {
    // The broker's clock is shared by this file's tests.
    offsetMs -= 7 * 60 * 1000;
  }
});

test('peers.install refuses a peer without a credential when this signer has a key broker (E_CREDENTIAL_INVALID, attest.rejected)', async () => {
  const { host, enclaves } = await setup();
  const r = await installOne(enclaves.get('s1')!, host, await entry(enclaves.get('s2')!, host, () => undefined));
  assert.deepEqual((r['rejected'] as R[]).map((x) => x['code']), ['E_CREDENTIAL_INVALID']);
  assert.equal(host.of('attest.rejected').at(-1)?.data['code'], 'E_CREDENTIAL_INVALID');
});

test('peers.install refuses a forged credential (signed by a look-alike broker key)', async () => {
  const { host, enclaves } = await setup();
  const forge = (c: Json): Json => {
    const claims = (c as R)['claims'] as unknown as WorkloadClaims;
    return encodeWorkloadCredential({ claims, signature: p256.sign(workloadCredentialStatement(claims), p256.utils.randomSecretKey()) });
  };
  const r = await installOne(enclaves.get('s1')!, host, await entry(enclaves.get('s2')!, host, forge));
  assert.deepEqual((r['rejected'] as R[]).map((x) => x['code']), ['E_CREDENTIAL_INVALID']);
});

test('peers.install refuses an expired credential, and one the broker signed for another identity key or measurement', async () => {
  const { host, enclaves } = await setup();
  const s1 = enclaves.get('s1')!;
  const s2 = enclaves.get('s2')!;
  const s3 = enclaves.get('s3')!;
  const now = clock.nowMs();
  const base = { measurement: bytesToHex(hw.measurement), platform: 'sim', subjectKey: bytesToHex(s2.identityKey()) };
  const expired = await brokerSigned({ ...base, issuedAtMs: now - 2 * TTL_MS, expiresAtMs: now - TTL_MS });
  const otherMeasurement = await brokerSigned({ ...base, measurement: 'cd'.repeat(48), issuedAtMs: now, expiresAtMs: now + TTL_MS });
  const s3Credential = (await entry(s3, host))['credential']!;
  for (const c of [expired, otherMeasurement, s3Credential]) {
    const r = await installOne(s1, host, await entry(s2, host, () => c));
    assert.deepEqual((r['rejected'] as R[]).map((x) => x['code']), ['E_CREDENTIAL_INVALID']);
    assert.deepEqual(r['accepted'], []);
  }
  assert.deepEqual(host.of('attest.rejected').slice(-3).map((e) => e.data['code']), ['E_CREDENTIAL_INVALID', 'E_CREDENTIAL_INVALID', 'E_CREDENTIAL_INVALID']);
  // The genuine one is still accepted.
  const ok = await installOne(s1, host, await entry(s2, host));
  assert.equal((ok['accepted'] as R[]).length, 1);
});

test('without a key broker: no credential in hello, and peers need none', async () => {
  const { host, enclaves } = await setup(false);
  const h = (await enclaves.get('s1')!.handle('hello', { nonce: bytesToHex(randomBytes(32)) }, host.peer)) as R;
  assert.equal(h['credential'], null);
  assert.equal(h['credentialError'], undefined);
  assert.equal(host.of('attest.accepted').length, 6);
});

test('a broker that refuses the credential leaves the signer without one, saying why (its peers then refuse it)', async () => {
  const { host, enclaves, ps } = await setup();
  const p = ps.get('s2')!;
  p.kbsLink = { nonce: channel.nonce, credential: async () => new TextEncoder().encode(JSON.stringify({ ok: false, error: { code: 'E_KBS_MEASUREMENT_NOT_APPROVED', message: 'not approved', detail: {} } })) };
  // Fresh platforms hold no credential yet: a new enclave on s2's platform asks again.
  const { Enclave } = await import('./enclave.js');
  const again = new Enclave(p, 's2');
  await again.boot();
  const h = (await again.handle('hello', { nonce: bytesToHex(randomBytes(32)) }, host.peer)) as R;
  assert.equal(h['credential'], null);
  assert.equal((h['credentialError'] as R)['code'], 'E_KBS_CREDENTIAL_REFUSED');
  const r = await installOne(enclaves.get('s1')!, host, await entry(again, host));
  assert.deepEqual((r['rejected'] as R[]).map((x) => x['code']), ['E_CREDENTIAL_INVALID']);
});

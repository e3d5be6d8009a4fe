/**
 * `POST /v1/credential` over HTTP (software root): a credential for an
 * attested identity key, and the refusals the route answers with their
 * statuses — malformed bodies audited too.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { ed25519 } from '@noble/curves/ed25519.js';
import { ManualClock, systemRandom } from '@custodian/core/clock';
import { bytesToHex, hexToBytes } from '@custodian/core/bytes';
import type { Json } from '@custodian/core/canonical-json';
import { verifyWorkloadCredential } from '@custodian/protocol/workload-credential';
import { openSoftwareRoot } from './hsm/software-root.js';
import { MemoryAuditSink } from './audit-sink.js';
import { NonceStore } from './nonce-store.js';
import { MeasurementRegistry } from './measurement-approvals.js';
import { KeyBroker } from './key-broker.js';
import { createWrappedSealingMaster } from './sealing-keys.js';
import { createKbsServer, listenKbs } from './server.js';
import { fakeAppraise, fakeEvidence, makeQuorum, signedChange } from './test-fixtures.js';

const M = 'e5'.repeat(48);
const clock = new ManualClock(Date.now());
const audit = new MemoryAuditSink();
const root = await openSoftwareRoot({ warn: () => undefined });
const { quorum, secrets } = makeQuorum(2, 3);
const broker = new KeyBroker({ root, wrappedMaster: await createWrappedSealingMaster(root), nonces: new NonceStore(clock, systemRandom), measurements: new MeasurementRegistry(quorum), appraise: fakeAppraise, audit, clock });
await broker.approveMeasurement(signedChange({ measurement: M, previous: null, approvedAtMs: clock.nowMs(), reason: 'genesis' }, secrets, ['member-0', 'member-1']));
const srv = createKbsServer({ broker, root });
const base = await listenKbs(srv, '127.0.0.1', 0);
after(() => new Promise<void>((r) => srv.close(() => r())));

async function post(path: string, body: unknown): Promise<{ status: number; json: Record<string, Json> }> {
  const r = await fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: r.status, json: (await r.json()) as Record<string, Json> };
}

async function credentialBody(o: { debug?: boolean; measurement?: string } = {}): Promise<{ nonce: string; evidence: string; publicKey: string }> {
  const nonce = hexToBytes(String((await post('/v1/nonce', {})).json['nonce']));
  const publicKey = ed25519.getPublicKey(ed25519.utils.randomSecretKey());
  const evidence = fakeEvidence({ measurement: o.measurement ?? M, nonce, publicKey, ...(o.debug ? { debug: true } : {}) });
  return { nonce: bytesToHex(nonce), evidence: bytesToHex(evidence), publicKey: bytesToHex(publicKey) };
}

test('HTTP: POST /v1/credential answers a credential naming the identity key, verifiable with GET /v1/kbs-public-key', async () => {
  const body = await credentialBody();
  const r = await post('/v1/credential', body);
  assert.equal(r.status, 200);
  const keys = (await (await fetch(`${base}/v1/kbs-public-key`)).json()) as { signing: string };
  const claims = verifyWorkloadCredential(r.json['credential']!, hexToBytes(keys.signing), clock.nowMs(), { subjectKey: hexToBytes(body.publicKey), measurement: M, platform: 'sim' });
  assert.equal(claims.measurement, M);
  // B21: the same request again is a replay.
  const again = await post('/v1/credential', body);
  assert.equal(again.status, 403);
  assert.equal((again.json['error'] as Record<string, Json>)['code'], 'E_KBS_NONCE_REPLAYED');
});

test('HTTP: B20 debug evidence and B24 an unapproved measurement are refused (403); a malformed body is 400 and audited', async () => {
  const debug = await post('/v1/credential', await credentialBody({ debug: true }));
  assert.equal(debug.status, 403);
  assert.equal((debug.json['error'] as Record<string, Json>)['code'], 'E_KBS_APPRAISAL_FAILED');
  const unapproved = await post('/v1/credential', await credentialBody({ measurement: 'f6'.repeat(48) }));
  assert.equal((unapproved.json['error'] as Record<string, Json>)['code'], 'E_KBS_MEASUREMENT_NOT_APPROVED');
  const body = await credentialBody();
  const shortKey = await post('/v1/credential', { ...body, publicKey: body.publicKey.slice(2) });
  assert.equal(shortKey.status, 400);
  const refused = audit.ofKind('kbs.credential_refused').map((e) => e.body['code']);
  assert.deepEqual(refused.slice(-3), ['E_KBS_APPRAISAL_FAILED', 'E_KBS_MEASUREMENT_NOT_APPROVED', 'E_FIELD_INVALID']);
});

/**
 * The broker end to end over HTTP with a real SoftHSM2 token behind it
 * (PKCS#11 root), as `custodian kbs serve --hsm softhsm` runs it.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Secret } from '@custodian/core/secret';
import { bytesToHex, hexToBytes } from '@custodian/core/bytes';
import { ensureSoftHsmToken } from './hsm/softhsm-token.js';
import { openKbs, type KbsRuntime } from './kbs-runtime.js';
import { createKbsServer, listenKbs } from './server.js';
import { encodeMeasurementChangeRecord } from './measurement-approvals.js';
import { generateHpkeKeyPair } from './hpke.js';
import { openKeyRelease } from './release-client.js';
import { fakeAppraise, fakeEvidence, makeQuorum, signedChange } from './test-fixtures.js';
import { MemoryAuditSink } from './audit-sink.js';

const M = 'c3'.repeat(48);
const dataDir = mkdtempSync(join(tmpdir(), 'kbs-srv-'));
const token = ensureSoftHsmToken(join(dataDir, 'softhsm'), 'custodian-kbs', '1234');
const { quorum, secrets } = makeQuorum(2, 3);
const audit = new MemoryAuditSink();
let rt: KbsRuntime | undefined;
const server = { close: async () => undefined as void } as { close: () => Promise<void> };
after(async () => {
  await server.close();
  await rt?.close();
});

async function post(url: string, body: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: r.status, json: (await r.json()) as Record<string, unknown> };
}

test('HTTP: approve a measurement, get a nonce, release through the PKCS#11 root, refuse a replay', async () => {
  rt = await openKbs({
    dataDir,
    root: { kind: 'pkcs11', modulePath: token.modulePath, tokenLabel: token.tokenLabel, pin: new Secret('1234') },
    quorum,
    appraise: fakeAppraise,
    audit,
    warn: () => undefined,
  });
  const srv = createKbsServer({ broker: rt.broker, root: rt.root, measurements: rt.measurements });
  const base = await listenKbs(srv, '127.0.0.1', 0);
  server.close = () => new Promise((r) => srv.close(() => r()));

  const health = (await (await fetch(`${base}/v1/health`)).json()) as Record<string, unknown>;
  assert.equal(health['hsm'], 'pkcs11');
  assert.equal(health['ok'], true);

  const record = signedChange({ measurement: M, previous: null, approvedAtMs: Date.now(), reason: 'genesis' }, secrets, ['member-0', 'member-2']);
  assert.equal((await post(`${base}/v1/measurements`, encodeMeasurementChangeRecord(record))).status, 200);
  // The approval survives a restart (state file).
  assert.match(readFileSync(join(dataDir, 'kbs-state.json'), 'utf8'), new RegExp(M));

  const n = await post(`${base}/v1/nonce`, {});
  const nonce = hexToBytes(String(n.json['nonce']));
  const kp = await generateHpkeKeyPair();
  const body = { nonce: bytesToHex(nonce), evidence: bytesToHex(fakeEvidence({ measurement: M, nonce, publicKey: kp.publicKey })), publicKey: bytesToHex(kp.publicKey) };
  const rel = await post(`${base}/v1/release`, body);
  assert.equal(rel.status, 200, JSON.stringify(rel.json));
  const key = await openKeyRelease({ enc: hexToBytes(String(rel.json['enc'])), ciphertext: hexToBytes(String(rel.json['ciphertext'])) }, kp.privateKey, { measurement: M, nonce });
  assert.equal(key.expose().length, 32);

  const replay = await post(`${base}/v1/release`, body);
  assert.equal(replay.status, 403);
  assert.equal((replay.json['error'] as { code: string }).code, 'E_KBS_NONCE_REPLAYED');

  const bad = await post(`${base}/v1/release`, { ...body, extra: 1 });
  assert.equal(bad.status, 400);
  assert.deepEqual(audit.events.map((e) => e.kind), ['kbs.measurement_approved', 'kbs.key_released', 'kbs.release_refused']);
});

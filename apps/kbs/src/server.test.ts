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
import { generateHpkeKeyPair } from '@custodian/core/hpke-seal';
import { openKeyRelease } from '@custodian/protocol/key-release';
import { fakeAppraise, fakeEvidence, makeQuorum, signedChange } from './test-fixtures.js';
import { MemoryAuditSink } from './audit-sink.js';
import { signStatement } from './quorum.js';
import { BREAKGLASS_DOMAIN, payloadHashOf, requestStatement } from './breakglass/breakglass.js';
import { readBreakglassFile } from './breakglass/breakglass-book.js';

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
  assert.equal(rel.json['recoveryKey'], bytesToHex(await rt.root.publicKey('recovery')), 'the answer names the HSM recovery key');

  const replay = await post(`${base}/v1/release`, body);
  assert.equal(replay.status, 403);
  assert.equal((replay.json['error'] as { code: string }).code, 'E_KBS_NONCE_REPLAYED');

  const bad = await post(`${base}/v1/release`, { ...body, extra: 1 });
  assert.equal(bad.status, 400);
  assert.deepEqual(audit.events.map((e) => e.kind), ['kbs.measurement_approved', 'kbs.key_released', 'kbs.release_refused', 'kbs.release_refused']);
  assert.equal(audit.events.at(-1)?.body['code'], 'E_FIELD_UNKNOWN');
});

test('HTTP: break-glass steps are stamped with trusted time, persisted and listed', async () => {
  const { quorum: approvers, secrets: asecrets } = makeQuorum(2, 3);
  const dir = mkdtempSync(join(tmpdir(), 'kbs-srv-bg-'));
  const rt2 = await openKbs({
    dataDir: dir,
    root: { kind: 'software' },
    quorum,
    audit: new MemoryAuditSink(),
    warn: () => undefined,
    breakglass: { approvers, dailyThreshold: 1, guardians: approvers.members, timelockMs: 3_600_000 },
  });
  const srv = createKbsServer({ broker: rt2.broker, root: rt2.root, trustedClock: rt2.trustedClock, ...(rt2.breakglass ? { breakglass: rt2.breakglass } : {}) });
  const base = await listenKbs(srv, '127.0.0.1', 0);
  try {
    const request = { id: 'bg-http', action: 'unfreeze' as const, payloadHash: payloadHashOf({ scope: 'wallet', walletId: 'w1' }), requestedBy: 'member-0', requestedAtMs: 1 };
    const sig = signStatement(BREAKGLASS_DOMAIN, requestStatement(request), 'member-0', asecrets.get('member-0')!);
    const r1 = await post(`${base}/v1/breakglass`, { type: 'request', request, signature: { memberId: 'member-0', signature: bytesToHex(sig.signature) } });
    assert.equal(r1.status, 200, JSON.stringify(r1.json));
    const early = await post(`${base}/v1/breakglass`, { type: 'execute', requestId: 'bg-http', payload: { scope: 'wallet', walletId: 'w1' } });
    assert.equal(early.status, 403);
    assert.equal((early.json['error'] as { code: string }).code, 'E_QUORUM_NOT_MET');
    const listed = readBreakglassFile(dir);
    assert.equal(listed[0]?.status, 'pending');
    const got = (await (await fetch(`${base}/v1/breakglass`)).json()) as { requests: unknown[] };
    assert.equal(got.requests.length, 1);
  } finally {
    await new Promise<void>((r) => srv.close(() => r()));
    await rt2.close();
  }
});

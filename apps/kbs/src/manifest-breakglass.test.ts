/**
 * `POST /v1/manifest` with a `breakglassId` (issue 7 item 6): a manifest
 * successor the root quorum did not sign, authorised by an executed
 * `upgrade-measurement` or `change-root-quorum` request in the broker's own
 * book, through HTTP as `custodian kbs serve` runs it (software root; trusted
 * time driven through the injected monotonic source). The new measurement is
 * then approved for sealing keys, and the break-glass link survives a
 * restart (re-verified under the broker key). Refusals (B33): a request not
 * executed, of another action, naming another manifest, unknown, audited.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Server } from 'node:http';
import { performance } from 'node:perf_hooks';
import { bytesToHex } from '@custodian/core/bytes';
import type { Json } from '@custodian/core/canonical-json';
import { createSimRoot } from '@custodian/attestation/sim/sim-evidence';
import { generateOperatorKey, type OperatorKeyPair } from '@custodian/protocol/operator-key';
import { encodeSignedManifest, MANIFEST_TYPE, manifestHash, signManifest, type SignedManifest } from '@custodian/protocol/manifest';
import { openKbs, type KbsRuntime } from './kbs-runtime.js';
import { createKbsServer, listenKbs } from './server.js';
import { MemoryAuditSink } from './audit-sink.js';
import { fakeAppraise, makeQuorum } from './test-fixtures.js';
import { signStatement } from './quorum.js';
import { BREAKGLASS_DOMAIN, BREAKGLASS_TIMELOCK_MS_MIN, approvalStatement, payloadHashOf, requestStatement, type BreakglassAction, type BreakglassRequest } from './breakglass/breakglass.js';

type R = Record<string, Json>;
const M1 = 'a1'.repeat(48);
const M2 = 'b2'.repeat(48);
const keys: Record<string, OperatorKeyPair> = { alice: generateOperatorKey('ed25519'), bob: generateOperatorKey('ed25519'), carol: generateOperatorKey('ed25519') };
const simRoot = bytesToHex(createSimRoot().publicKey);
const op = (id: string, k: OperatorKeyPair): Json => ({ id, name: id, roles: ['admin'], groups: [], publicKey: { alg: k.alg, key: bytesToHex(k.publicKey) } });
const v1: R = {
  type: MANIFEST_TYPE, orgId: 'acme', version: 1, previousHash: '', chainId: '1',
  operators: Object.entries(keys).map(([id, k]) => op(id, k)),
  quorum: { threshold: 2, members: ['alice', 'bob', 'carol'] },
  enclave: { platform: 'sim', measurements: [M1], simRoot },
  policy: { maxValueWei: '1', allowlist: [], approvals: { group: 'treasury', count: 0 } },
};
const anchor: SignedManifest = { payload: v1, signatures: ['alice', 'bob'].map((id) => signManifest(v1, id, keys[id]!)) };
/** Version 2: M2 added, signed by nobody (the quorum's keys are gone). */
const v2: R = { ...v1, version: 2, previousHash: manifestHash(v1), enclave: { ...(v1['enclave'] as R), measurements: [M1, M2] } };
const v2Hash = manifestHash(v2);

const dataDir = mkdtempSync(join(tmpdir(), 'kbs-manifest-bg-'));
const approvers = makeQuorum(2, 3);
const guardians = makeQuorum(1, 1);
const audit = new MemoryAuditSink();
let monotonicAheadMs = 0;
let rt: KbsRuntime;
let server: Server;
let base = '';

async function start(): Promise<void> {
  rt = await openKbs({
    dataDir,
    root: { kind: 'software' },
    quorum: makeQuorum(1, 1).quorum,
    appraise: fakeAppraise,
    audit,
    warn: () => undefined,
    manifest: anchor,
    monotonic: () => performance.now() + monotonicAheadMs,
    breakglass: { approvers: approvers.quorum, dailyThreshold: 1, guardians: [{ id: 'guardian-0', publicKey: guardians.quorum.members[0]!.publicKey }], timelockMs: BREAKGLASS_TIMELOCK_MS_MIN },
  });
  server = createKbsServer({ broker: rt.broker, root: rt.root, manifests: rt.manifests, trustedClock: rt.trustedClock, ...(rt.breakglass ? { breakglass: rt.breakglass } : {}) });
  base = await listenKbs(server, '127.0.0.1', 0);
}

async function stop(): Promise<void> {
  await new Promise<void>((r) => server.close(() => r()));
  await rt.close();
}

before(start);
after(stop);

async function call(method: 'GET' | 'POST', path: string, body?: Json): Promise<{ status: number; json: R }> {
  const r = await fetch(`${base}${path}`, { method, ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }) });
  return { status: r.status, json: (await r.json()) as R };
}
const codeOf = (r: { json: R }): string => String((r.json['error'] as R | undefined)?.['code']);
const wireSig = (s: { memberId: string; signature: Uint8Array }): Json => ({ memberId: s.memberId, signature: bytesToHex(s.signature) });

/** Files a request by member-0 with member-1's approval (time-locked from then); `execute` moves trusted time past the lock and executes it. */
async function fileRequest(id: string, action: BreakglassAction, payload: Json, execute: boolean): Promise<BreakglassRequest> {
  const r: BreakglassRequest = { id, action, payloadHash: payloadHashOf(payload), requestedBy: 'member-0', requestedAtMs: Date.now() };
  const sig = signStatement(BREAKGLASS_DOMAIN, requestStatement(r), 'member-0', approvers.secrets.get('member-0')!);
  assert.equal((await call('POST', '/v1/breakglass', { type: 'request', request: { ...r }, signature: wireSig(sig) })).status, 200);
  const approval = signStatement(BREAKGLASS_DOMAIN, approvalStatement(id, action, r.payloadHash), 'member-1', approvers.secrets.get('member-1')!);
  assert.equal((await call('POST', '/v1/breakglass', { type: 'approve', requestId: id, payloadHash: r.payloadHash, approval: wireSig(approval) })).status, 200);
  if (execute) {
    monotonicAheadMs += BREAKGLASS_TIMELOCK_MS_MIN;
    const done = await call('POST', '/v1/breakglass', { type: 'execute', requestId: id, payload });
    assert.equal(done.status, 200, JSON.stringify(done.json));
  }
  return r;
}

const submit = (breakglassId?: string, manifest: R = v2): Promise<{ status: number; json: R }> =>
  call('POST', '/v1/manifest', { ...(encodeSignedManifest({ payload: manifest, signatures: [] }) as R), ...(breakglassId === undefined ? {} : { breakglassId }) });

test('B33 without a break-glass request, or with one not executed, of another action, naming another manifest or unknown, the successor is refused, audited', async () => {
  const plain = await submit();
  assert.equal(plain.status, 403);
  assert.equal(codeOf(plain), 'E_MANIFEST_QUORUM');

  await fileRequest('bg-locked', 'upgrade-measurement', { manifestHash: v2Hash }, false);
  const locked = await submit('bg-locked');
  assert.equal(codeOf(locked), 'E_BREAKGLASS_NOT_EXECUTED');
  const refused = audit.ofKind('kbs.manifest_refused').at(-1)!.body;
  assert.equal(refused['breakglassId'], 'bg-locked');
  assert.equal(refused['code'], 'E_BREAKGLASS_NOT_EXECUTED');

  await fileRequest('bg-unfreeze', 'unfreeze', { scope: 'wallet', walletId: 'w1' }, true);
  assert.equal(codeOf(await submit('bg-unfreeze')), 'E_BREAKGLASS_ACTION_MISMATCH');

  const other = { ...v2, enclave: { ...(v2['enclave'] as R), measurements: [M1, 'c3'.repeat(48)] } };
  await fileRequest('bg-other', 'upgrade-measurement', { manifestHash: manifestHash(other) }, true);
  const mismatch = await submit('bg-other');
  assert.equal(mismatch.status, 403);
  assert.equal(codeOf(mismatch), 'E_BREAKGLASS_MANIFEST_MISMATCH');

  // A quorum change executed for this very manifest still cannot add a measurement.
  await fileRequest('bg-quorum', 'change-root-quorum', { manifestHash: v2Hash }, true);
  assert.equal(codeOf(await submit('bg-quorum')), 'E_BREAKGLASS_SUCCESSOR_SCOPE');

  assert.equal(codeOf(await submit('bg-nonesuch')), 'E_BREAKGLASS_UNKNOWN');
  assert.equal((await call('POST', '/v1/manifest', { ...(encodeSignedManifest({ payload: v2, signatures: [] }) as R), breakglassId: 'Not An Id' })).status, 400);
  assert.ok(!rt.manifests.isApproved(M2));
  assert.equal(audit.ofKind('kbs.manifest_installed').length, 0);
});

test('upgrade-measurement executed for this manifest: installed without the quorum, the new measurement approved, audited with the request, and re-verified after a restart', async () => {
  await fileRequest('bg-upgrade', 'upgrade-measurement', { manifestHash: v2Hash }, true);
  const ok = await submit('bg-upgrade');
  assert.equal(ok.status, 200, JSON.stringify(ok.json));
  assert.equal(ok.json['breakglassId'], 'bg-upgrade');
  assert.equal(ok.json['manifestHash'], v2Hash);
  assert.deepEqual(ok.json['measurements'], [M1, M2]);
  assert.ok(rt.manifests.isApproved(M2));
  const installed = audit.ofKind('kbs.manifest_installed').at(-1)!.body;
  assert.equal(installed['breakglassId'], 'bg-upgrade');
  // The same again is a no-op.
  assert.equal((await submit('bg-upgrade')).json['changed'], false);

  await stop();
  await start();
  assert.ok(rt.manifests.isApproved(M2), 'the break-glass link is kept and re-verified at start');
  assert.equal(rt.manifests.chain().at(-1)?.breakglass?.execution.id, 'bg-upgrade');
});

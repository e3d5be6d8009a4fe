/**
 * The broker's side of break-glass executions and signer recovery, through
 * HTTP as `custodian kbs serve` runs it (software root, sim evidence
 * appraised with the sim root; trusted time driven through the injected
 * monotonic source, so a 60 s time-lock passes without waiting):
 *
 *   GET  /v1/breakglass/<id>/execution  signed statements signers verify
 *   POST /v1/recover                    a backup re-encrypted to an attested key
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Server } from 'node:http';
import { performance } from 'node:perf_hooks';
import { systemClock } from '@custodian/core/clock';
import { bytesToHex, hexToBytes } from '@custodian/core/bytes';
import type { Json } from '@custodian/core/canonical-json';
import { generateHpkeKeyPair } from '@custodian/core/hpke-seal';
import { createSimRoot, issueSimEvidence } from '@custodian/attestation/sim/sim-evidence';
import { identityReportData } from '@custodian/protocol/identity-binding';
import { decodeFreezePayload, decodeSignedBreakglassExecution, verifySignedBreakglassExecution } from '@custodian/protocol/breakglass-execution';
import { decodeRecoveryAnswer, encodeRecoveryRequest, RECOVERY_BACKUP_BYTES_MAX, encryptToRecoveryKey, openRecoveryAnswer, recoverSignerPayload, recoveryBackupAad, recoveryBackupDigest, type RecoveryBackup } from '@custodian/protocol/recovery-backup';
import { openKbs, type KbsRuntime } from './kbs-runtime.js';
import { createKbsServer, listenKbs } from './server.js';
import { MemoryAuditSink } from './audit-sink.js';
import { attestationAppraiser } from './attestation-appraiser.js';
import type { AppraiseFn } from './appraisal.js';
import { fakeAppraise, fakeEvidence, makeQuorum, signedChange } from './test-fixtures.js';
import { signStatement } from './quorum.js';
import { BREAKGLASS_DOMAIN, BREAKGLASS_TIMELOCK_MS_MIN, approvalStatement, payloadHashOf, requestStatement, vetoStatement, type BreakglassAction, type BreakglassRequest } from './breakglass/breakglass.js';
import { readBreakglassFile } from './breakglass/breakglass-book.js';

const APPROVED = new Uint8Array(48).fill(0xa1);
const UNAPPROVED = new Uint8Array(48).fill(0xb2);
const M = bytesToHex(APPROVED);
const simRoot = createSimRoot();
const simAppraise = attestationAppraiser({ policy: { version: 1, allowSimulated: true }, simRootPublicKey: simRoot.publicKey, clock: systemClock });
/** Sim evidence through the real appraiser; the fixtures' JSON evidence (which can claim debug mode) through the fake one. */
const appraise: AppraiseFn = async (evidence, expected) => (new TextDecoder().decode(evidence).includes('"debug"') ? fakeAppraise(evidence, expected) : simAppraise(evidence, expected));

const dataDir = mkdtempSync(join(tmpdir(), 'kbs-recover-'));
const measurementQuorum = makeQuorum(1, 1);
const approvers = makeQuorum(2, 3);
const guardians = makeQuorum(1, 1);
const guardian = { id: 'guardian-0', publicKey: guardians.quorum.members[0]!.publicKey, secret: guardians.secrets.get('member-0')! };
const audit = new MemoryAuditSink();
/** How far the broker's monotonic clock is moved ahead of real time. */
let monotonicAheadMs = 0;
let rt: KbsRuntime;
let server: Server;
let base = '';
let kbsPublicKey: Uint8Array;
let recoveryKey: Uint8Array;

async function start(): Promise<void> {
  rt = await openKbs({
    dataDir,
    root: { kind: 'software' },
    quorum: measurementQuorum.quorum,
    appraise,
    audit,
    warn: () => undefined,
    monotonic: () => performance.now() + monotonicAheadMs,
    breakglass: { approvers: approvers.quorum, dailyThreshold: 1, guardians: [{ id: guardian.id, publicKey: guardian.publicKey }], timelockMs: BREAKGLASS_TIMELOCK_MS_MIN },
  });
  server = createKbsServer({ broker: rt.broker, root: rt.root, measurements: rt.measurements, trustedClock: rt.trustedClock, ...(rt.breakglass ? { breakglass: rt.breakglass } : {}) });
  base = await listenKbs(server, '127.0.0.1', 0);
}

async function stop(): Promise<void> {
  await new Promise<void>((r) => server.close(() => r()));
  await rt.close();
}

before(async () => {
  await start();
  await rt.broker.approveMeasurement(signedChange({ measurement: M, previous: null, approvedAtMs: Date.now(), reason: 'test' }, measurementQuorum.secrets, ['member-0']));
  kbsPublicKey = await rt.root.publicKey('kbs-signing');
  recoveryKey = await rt.root.publicKey('recovery');
});
after(stop);

async function call(method: 'GET' | 'POST', path: string, body?: Json): Promise<{ status: number; json: Record<string, Json> }> {
  const r = await fetch(`${base}${path}`, { method, ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }) });
  return { status: r.status, json: (await r.json()) as Record<string, Json> };
}

function codeOf(r: { json: Record<string, Json> }): string {
  return String((r.json['error'] as Record<string, Json> | undefined)?.['code']);
}

const wireSig = (s: { memberId: string; signature: Uint8Array }): Json => ({ memberId: s.memberId, signature: bytesToHex(s.signature) });

/** Files a request by member-0 (or the guardian, for a freeze, with its payload) and has member-1 approve it: time-locked from then. */
async function fileRequest(id: string, action: BreakglassAction, payload: Json): Promise<BreakglassRequest> {
  const immediate = action === 'freeze-wallet' || action === 'freeze-organisation';
  const by = immediate ? guardian.id : 'member-0';
  const r: BreakglassRequest = { id, action, payloadHash: payloadHashOf(payload), requestedBy: by, requestedAtMs: Date.now() };
  const sig = signStatement(BREAKGLASS_DOMAIN, requestStatement(r), by, immediate ? guardian.secret : approvers.secrets.get(by)!);
  const filed = await call('POST', '/v1/breakglass', { type: 'request', request: { ...r }, signature: wireSig(sig), ...(immediate ? { payload } : {}) });
  assert.equal(filed.status, 200, JSON.stringify(filed.json));
  if (immediate) return r;
  const approval = signStatement(BREAKGLASS_DOMAIN, approvalStatement(id, action, r.payloadHash), 'member-1', approvers.secrets.get('member-1')!);
  const approved = await call('POST', '/v1/breakglass', { type: 'approve', requestId: id, payloadHash: r.payloadHash, approval: wireSig(approval) });
  assert.equal((approved.json['state'] as Record<string, Json>)['status'], 'time-locked');
  return r;
}

/** Moves trusted time past the time-lock and executes. */
async function executeAfterLock(id: string, payload: Json): Promise<void> {
  monotonicAheadMs += BREAKGLASS_TIMELOCK_MS_MIN;
  const r = await call('POST', '/v1/breakglass', { type: 'execute', requestId: id, payload });
  assert.equal(r.status, 200, JSON.stringify(r.json));
}

async function getExecution(id: string) {
  const r = await call('GET', `/v1/breakglass/${id}/execution`);
  if (r.status !== 200) return { status: r.status, code: codeOf(r), verified: null };
  assert.equal(r.json['ok'], true);
  const { ok: _ok, ...rest } = r.json;
  const signed = decodeSignedBreakglassExecution(rest);
  return { status: r.status, code: null, verified: verifySignedBreakglassExecution(kbsPublicKey, signed), payload: signed.payload };
}

/** A fresh enclave: a nonce from the broker, an ephemeral key, evidence binding both. */
async function enclave(opts: { measurement?: Uint8Array; debug?: boolean; nonce?: Uint8Array } = {}) {
  const nonce = opts.nonce ?? hexToBytes(String((await call('POST', '/v1/nonce', {})).json['nonce']));
  const kp = await generateHpkeKeyPair();
  const evidence = opts.debug
    ? fakeEvidence({ measurement: M, nonce, publicKey: kp.publicKey, debug: true })
    : issueSimEvidence(simRoot, opts.measurement ?? APPROVED, identityReportData(kp.publicKey, nonce), Date.now());
  return { nonce, kp, evidence };
}

async function recover(e: Awaited<ReturnType<typeof enclave>>, requestId: string, signerId: string, backup: RecoveryBackup) {
  return call('POST', '/v1/recover', encodeRecoveryRequest({ nonce: e.nonce, evidence: e.evidence, publicKey: e.kp.publicKey, requestId, signerId, backup }));
}

test('freeze-wallet is attested at once: the execution verifies under the broker key, names the guardian, carries the payload', async () => {
  const payload = { scope: 'wallet', walletId: 'w1' };
  await fileRequest('freeze-w1', 'freeze-wallet', payload);
  const got = await getExecution('freeze-w1');
  assert.equal(got.status, 200);
  assert.equal(got.verified?.action, 'freeze-wallet');
  assert.deepEqual(got.verified?.approvals, [guardian.id]);
  assert.deepEqual(decodeFreezePayload('freeze-wallet', got.payload!), payload);
  const unknown = await getExecution('no-such-request');
  assert.equal(unknown.status, 403);
  assert.equal(unknown.code, 'E_BREAKGLASS_UNKNOWN');
});

test('B33 unfreeze: no execution while time-locked, execute refused before the lock ends, attested after it; it survives a restart', async () => {
  const payload = { scope: 'wallet', walletId: 'w1' };
  await fileRequest('unfreeze-w1', 'unfreeze', payload);
  const locked = await getExecution('unfreeze-w1');
  assert.equal(locked.status, 403);
  assert.equal(locked.code, 'E_BREAKGLASS_NOT_EXECUTED');
  monotonicAheadMs += BREAKGLASS_TIMELOCK_MS_MIN - 2_000;
  const early = await call('POST', '/v1/breakglass', { type: 'execute', requestId: 'unfreeze-w1', payload });
  assert.equal(early.status, 403);
  assert.equal(codeOf(early), 'E_TIMELOCK_NOT_ELAPSED');
  monotonicAheadMs += 2_000;
  const done = await call('POST', '/v1/breakglass', { type: 'execute', requestId: 'unfreeze-w1', payload });
  assert.equal(done.status, 200, JSON.stringify(done.json));
  const got = await getExecution('unfreeze-w1');
  assert.equal(got.verified?.action, 'unfreeze');
  assert.deepEqual(got.verified?.approvals, ['member-0', 'member-1']);
  const state = done.json['state'] as Record<string, number>;
  assert.ok(got.verified!.executedAtMs >= state['unlocksAtMs']!, 'executed on trusted time, after the lock');

  await stop();
  await start();
  const again = await getExecution('unfreeze-w1');
  assert.deepEqual(again.verified, got.verified, 'the book file keeps the payload: attested again after a restart');
  assert.equal((await rt.root.publicKey('kbs-signing')).length, 65);
});

test('recover-signer: refusals (not executed, vetoed, other signer, other backup, replayed nonce, debug, unapproved measurement) leave the request usable; one recovery, then E_BREAKGLASS_ALREADY_USED', async () => {
  // The largest backup a signer may make: it must come back through a /v1/recover body and the broker's HPKE seal.
  const plaintext = new Uint8Array(RECOVERY_BACKUP_BYTES_MAX).fill(0x78);
  const backup = encryptToRecoveryKey(recoveryKey, plaintext, recoveryBackupAad('signer-2'));
  const otherBackup = encryptToRecoveryKey(recoveryKey, plaintext, recoveryBackupAad('signer-2'));
  const payload = recoverSignerPayload('signer-2', backup);
  const refusedBefore = audit.ofKind('backup.recovery_refused').length;
  const expectRefusal = async (r: { status: number; json: Record<string, Json> }, code: string): Promise<void> => {
    assert.equal(codeOf(r), code, JSON.stringify(r.json));
    assert.equal(r.status, 403);
  };

  await fileRequest('rec-vetoed', 'recover-signer', payload);
  const veto = signStatement(BREAKGLASS_DOMAIN, vetoStatement('rec-vetoed', payloadHashOf(payload), 'not agreed'), guardian.id, guardian.secret);
  assert.equal((await call('POST', '/v1/breakglass', { type: 'veto', requestId: 'rec-vetoed', payloadHash: payloadHashOf(payload), reason: 'not agreed', guardian: wireSig(veto) })).status, 200);
  await expectRefusal(await recover(await enclave(), 'rec-vetoed', 'signer-2', backup), 'E_BREAKGLASS_VETOED');

  await fileRequest('rec-1', 'recover-signer', payload);
  await expectRefusal(await recover(await enclave(), 'rec-1', 'signer-2', backup), 'E_BREAKGLASS_NOT_EXECUTED');
  await executeAfterLock('rec-1', payload);

  await expectRefusal(await recover(await enclave(), 'rec-1', 'signer-3', backup), 'E_BREAKGLASS_PAYLOAD_CHANGED');
  await expectRefusal(await recover(await enclave(), 'rec-1', 'signer-2', otherBackup), 'E_BREAKGLASS_PAYLOAD_CHANGED');
  await expectRefusal(await recover(await enclave({ debug: true }), 'rec-1', 'signer-2', backup), 'E_KBS_APPRAISAL_FAILED');
  await expectRefusal(await recover(await enclave({ measurement: UNAPPROVED }), 'rec-1', 'signer-2', backup), 'E_KBS_MEASUREMENT_NOT_APPROVED');
  const first = await enclave();
  await expectRefusal(await recover(first, 'rec-1', 'signer-3', backup), 'E_BREAKGLASS_PAYLOAD_CHANGED');
  await expectRefusal(await recover(await enclave({ nonce: first.nonce }), 'rec-1', 'signer-2', backup), 'E_KBS_NONCE_REPLAYED');
  const refusals = audit.ofKind('backup.recovery_refused').slice(refusedBefore);
  assert.deepEqual(
    refusals.map((e) => e.body['code']),
    ['E_BREAKGLASS_VETOED', 'E_BREAKGLASS_NOT_EXECUTED', 'E_BREAKGLASS_PAYLOAD_CHANGED', 'E_BREAKGLASS_PAYLOAD_CHANGED', 'E_KBS_APPRAISAL_FAILED', 'E_KBS_MEASUREMENT_NOT_APPROVED', 'E_BREAKGLASS_PAYLOAD_CHANGED', 'E_KBS_NONCE_REPLAYED'],
  );
  assert.equal(refusals[5]?.body['measurement'], bytesToHex(UNAPPROVED));

  const e = await enclave();
  const ok = await recover(e, 'rec-1', 'signer-2', backup);
  assert.equal(ok.status, 200, JSON.stringify(ok.json));
  const answer = decodeRecoveryAnswer(ok.json);
  assert.equal(answer.measurement, M);
  const expected = { kbsPublicKey, nonce: e.nonce, publicKey: e.kp.publicKey, requestId: 'rec-1', signerId: 'signer-2', backupSha256: recoveryBackupDigest(backup), measurement: M };
  assert.deepEqual((await openRecoveryAnswer(answer, e.kp.privateKey, expected)).expose(), plaintext);
  const recovered = audit.ofKind('backup.recovered');
  assert.equal(recovered.length, 1);
  assert.equal(recovered[0]?.body['backupSha256'], recoveryBackupDigest(backup));
  assert.ok(!JSON.stringify(recovered[0]?.body).includes(bytesToHex(plaintext).slice(0, 64)), 'no backup contents in the audit log');
  assert.notEqual(readBreakglassFile(dataDir).find((s) => s.request.id === 'rec-1')?.consumedAtMs, null, 'the use is in the book file');

  await expectRefusal(await recover(await enclave(), 'rec-1', 'signer-2', backup), 'E_BREAKGLASS_ALREADY_USED');
  assert.equal(audit.ofKind('backup.recovery_refused').at(-1)?.body['code'], 'E_BREAKGLASS_ALREADY_USED');
});

test('a malformed /v1/recover body is refused with 400 and audited', async () => {
  const r = await call('POST', '/v1/recover', { nonce: '00' });
  assert.equal(r.status, 400);
  assert.match(codeOf(r), /^E_FIELD_/);
  assert.equal(audit.ofKind('backup.recovery_refused').at(-1)?.body['code'], codeOf(r));
});

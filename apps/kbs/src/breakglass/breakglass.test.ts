import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock } from '@custodian/core/clock';
import { isCustodianError } from '@custodian/core/errors';
import type { Json } from '@custodian/core/canonical-json';
import { signStatement } from '../quorum.js';
import { MemoryAuditSink } from '../audit-sink.js';
import { makeQuorum } from '../test-fixtures.js';
import {
  BREAKGLASS_DOMAIN,
  applyBreakglassEvent,
  approvalStatement,
  cancelStatement,
  payloadHashOf,
  requestStatement,
  validateBreakglassConfig,
  vetoStatement,
  type BreakglassAction,
  type BreakglassConfig,
  type BreakglassRequest,
} from './breakglass.js';
import { BreakglassBook, readBreakglassFile } from './breakglass-book.js';
import { BoundedClock } from './trusted-time.js';

const HOUR = 3_600_000;
const T0 = 1_800_000_000_000;
const payload: Json = { signer: 'signer-2', backup: 'blob-7' };

function world() {
  const approvers = makeQuorum(3, 5);
  const guardians = makeQuorum(1, 2);
  const config = validateBreakglassConfig({
    approvers: approvers.quorum,
    dailyThreshold: 2,
    guardians: guardians.quorum.members.map((m) => ({ ...m, id: m.id.replace('member', 'guardian') })),
    timelockMs: 48 * HOUR,
  });
  const gsk = new Map([...guardians.secrets].map(([k, v]) => [k.replace('member', 'guardian'), v]));
  const clock = new ManualClock(T0);
  const audit = new MemoryAuditSink();
  const dir = mkdtempSync(join(tmpdir(), 'kbs-bg-'));
  const book = new BreakglassBook(config, audit, clock, dir);
  const req = (id: string, action: BreakglassAction = 'recover-signer', by = 'member-0'): BreakglassRequest => ({ id, action, payloadHash: payloadHashOf(payload), requestedBy: by, requestedAtMs: clock.nowMs() });
  const request = (r: BreakglassRequest, sk = approvers.secrets.get(r.requestedBy)!) =>
    book.submit({ type: 'request', atMs: clock.nowMs(), request: r, signature: signStatement(BREAKGLASS_DOMAIN, requestStatement(r), r.requestedBy, sk) });
  const approve = (r: BreakglassRequest, who: string, payloadHash = r.payloadHash) =>
    book.submit({ type: 'approve', atMs: clock.nowMs(), requestId: r.id, payloadHash, approval: signStatement(BREAKGLASS_DOMAIN, approvalStatement(r.id, r.action, payloadHash), who, approvers.secrets.get(who)!) });
  const veto = (r: BreakglassRequest, who: string) =>
    book.submit({ type: 'veto', atMs: clock.nowMs(), requestId: r.id, payloadHash: r.payloadHash, reason: 'not agreed', guardian: signStatement(BREAKGLASS_DOMAIN, vetoStatement(r.id, r.payloadHash, 'not agreed'), who, gsk.get(who)!) });
  const execute = (r: BreakglassRequest, p: Json = payload, atMs = clock.nowMs()) => book.submit({ type: 'execute', atMs, requestId: r.id, payload: p });
  const cancel = (r: BreakglassRequest, who: string[]) =>
    book.submit({ type: 'cancel', atMs: clock.nowMs(), requestId: r.id, signatures: who.map((w) => signStatement(BREAKGLASS_DOMAIN, cancelStatement(r.id), w, approvers.secrets.get(w)!)) });
  return { config, clock, audit, dir, book, req, request, approve, veto, execute, cancel, gsk, approvers };
}

test('recover-signer: quorum of 3 (above the daily 2), 48 h time-lock, then executes; each step audited and listed', async () => {
  const w = world();
  const r = w.req('bg-1');
  await w.request(r);
  await w.approve(r, 'member-1');
  const locked = await w.approve(r, 'member-2');
  assert.equal(locked.status, 'time-locked');
  assert.equal(locked.unlocksAtMs, T0 + 48 * HOUR);
  w.clock.advance(48 * HOUR);
  const done = await w.execute(r);
  assert.equal(done.status, 'executed');
  assert.deepEqual(w.audit.events.map((e) => e.kind), ['breakglass.requested', 'breakglass.approved', 'breakglass.approved', 'breakglass.executed']);
  const listed = readBreakglassFile(w.dir);
  assert.equal(listed.length, 1);
  assert.equal(listed[0]?.status, 'executed');
});

test('B33 E_TIMELOCK_NOT_ELAPSED: execute one minute before the time-lock ends', async () => {
  const w = world();
  const r = w.req('bg-2');
  await w.request(r);
  await w.approve(r, 'member-1');
  await w.approve(r, 'member-2');
  w.clock.advance(48 * HOUR - 60_000);
  await assert.rejects(w.execute(r), (e) => isCustodianError(e, 'E_TIMELOCK_NOT_ELAPSED'));
  assert.equal(w.audit.ofKind('breakglass.refused')[0]?.body['code'], 'E_TIMELOCK_NOT_ELAPSED');
});

test('B33 E_BREAKGLASS_CANCELLED: execute after a quorum cancel', async () => {
  const w = world();
  const r = w.req('bg-3');
  await w.request(r);
  await w.approve(r, 'member-1');
  await w.approve(r, 'member-2');
  // Two members are not a quorum to cancel someone else's request.
  await assert.rejects(w.cancel(r, ['member-3', 'member-4']), (e) => isCustodianError(e, 'E_QUORUM_NOT_MET'));
  await w.cancel(r, ['member-2', 'member-3', 'member-4']);
  w.clock.advance(49 * HOUR);
  await assert.rejects(w.execute(r), (e) => isCustodianError(e, 'E_BREAKGLASS_CANCELLED'));
});

test('B33 E_BREAKGLASS_PAYLOAD_CHANGED: a different payload at execution, or approvals for another payload', async () => {
  const w = world();
  const r = w.req('bg-4');
  await w.request(r);
  await assert.rejects(w.approve(r, 'member-1', payloadHashOf({ signer: 'signer-9' })), (e) => isCustodianError(e, 'E_BREAKGLASS_PAYLOAD_CHANGED'));
  await w.approve(r, 'member-1');
  await w.approve(r, 'member-2');
  w.clock.advance(48 * HOUR);
  await assert.rejects(w.execute(r, { signer: 'signer-2', backup: 'blob-8' }), (e) => isCustodianError(e, 'E_BREAKGLASS_PAYLOAD_CHANGED'));
  assert.equal((await w.execute(r)).status, 'executed');
});

test('B33 E_QUORUM_NOT_MET: break-glass signed by a single operator (approving twice counts once)', async () => {
  const w = world();
  const r = w.req('bg-5');
  await w.request(r);
  await assert.rejects(w.approve(r, 'member-0'), (e) => isCustodianError(e, 'E_BREAKGLASS_DUPLICATE_APPROVAL'));
  w.clock.advance(100 * HOUR);
  await assert.rejects(w.execute(r), (e) => isCustodianError(e, 'E_QUORUM_NOT_MET'));
});

test('a guardian veto stops execution; vetoing twice is refused', async () => {
  const w = world();
  const r = w.req('bg-6');
  await w.request(r);
  await w.approve(r, 'member-1');
  await w.approve(r, 'member-2');
  w.clock.advance(HOUR);
  assert.equal((await w.veto(r, 'guardian-0')).status, 'vetoed');
  await assert.rejects(w.veto(r, 'guardian-0'), (e) => isCustodianError(e, 'E_BREAKGLASS_ALREADY_VETOED'));
  await assert.rejects(w.veto(r, 'guardian-1'), (e) => isCustodianError(e, 'E_BREAKGLASS_ALREADY_VETOED'));
  w.clock.advance(48 * HOUR);
  await assert.rejects(w.execute(r), (e) => isCustodianError(e, 'E_BREAKGLASS_VETOED'));
  // An approver cannot veto.
  const r2 = w.req('bg-6b');
  await w.request(r2);
  await assert.rejects(
    w.book.submit({ type: 'veto', atMs: w.clock.nowMs(), requestId: r2.id, payloadHash: r2.payloadHash, reason: 'x', guardian: signStatement(BREAKGLASS_DOMAIN, vetoStatement(r2.id, r2.payloadHash, 'x'), 'member-1', w.approvers.secrets.get('member-1')!) }),
    (e) => isCustodianError(e, 'E_BREAKGLASS_SIGNATURE_INVALID'),
  );
});

test('freezing is immediate and needs one guardian; an approver cannot freeze alone', async () => {
  const w = world();
  const r = w.req('freeze-1', 'freeze-organisation', 'guardian-1');
  const s = await w.request(r, w.gsk.get('guardian-1'));
  assert.equal(s.status, 'executed');
  assert.equal(w.audit.events.at(-1)?.kind, 'breakglass.executed');
  const r2 = w.req('freeze-2', 'freeze-wallet', 'member-0');
  await assert.rejects(w.request(r2), (e) => isCustodianError(e, 'E_BREAKGLASS_SIGNATURE_INVALID'));
});

test('events dated before the previous one are refused (clock moved backwards)', async () => {
  const w = world();
  const r = w.req('bg-7');
  await w.request(r);
  await w.approve(r, 'member-1');
  await w.approve(r, 'member-2');
  w.clock.advance(48 * HOUR);
  await assert.rejects(w.execute(r, payload, T0 - 1), (e) => isCustodianError(e, 'E_CLOCK_BACKWARDS'));
});

test('F08 a host clock jump of +30 days does not open the time-lock: BoundedClock refuses', async () => {
  const w = world();
  let mono = 0;
  const host = new ManualClock(T0);
  const trusted = new BoundedClock(host, () => mono);
  const r = w.req('bg-8');
  await w.request(r);
  await w.approve(r, 'member-1');
  await w.approve(r, 'member-2');
  host.advance(30 * 24 * HOUR);
  assert.throws(() => trusted.nowMs(), (e) => isCustodianError(e, 'E_TIME_SKEW_DETECTED'));
  // With honest time (host and monotonic agree) the lock still holds until 48 h have really passed.
  host.advance(-30 * 24 * HOUR);
  mono += HOUR;
  host.advance(HOUR);
  await assert.rejects(w.execute(r, payload, trusted.nowMs()), (e) => isCustodianError(e, 'E_TIMELOCK_NOT_ELAPSED'));
  mono += 47 * HOUR;
  host.advance(47 * HOUR);
  assert.equal((await w.execute(r, payload, trusted.nowMs())).status, 'executed');
});

test('a configuration whose break-glass quorum is not above the daily one is refused', () => {
  const { quorum } = makeQuorum(2, 3);
  const base: BreakglassConfig = { approvers: quorum, dailyThreshold: 2, guardians: quorum.members, timelockMs: HOUR };
  assert.throws(() => validateBreakglassConfig(base), (e) => isCustodianError(e, 'E_BREAKGLASS_CONFIG'));
  assert.throws(() => validateBreakglassConfig({ ...base, dailyThreshold: 1, timelockMs: 1 }), (e) => isCustodianError(e, 'E_BREAKGLASS_CONFIG'));
  assert.throws(() => validateBreakglassConfig({ ...base, dailyThreshold: 1, guardians: [] }), (e) => isCustodianError(e, 'E_BREAKGLASS_CONFIG'));
});

test('an audit sink that cannot write stops the step (fail closed)', async () => {
  const w = world();
  const r = w.req('bg-9');
  w.audit.failing = true;
  await assert.rejects(w.request(r), (e) => isCustodianError(e, 'E_AUDIT_UNAVAILABLE'));
  assert.equal(w.book.list().length, 0);
});

test('the pure machine refuses an approval for an unknown request', () => {
  const w = world();
  assert.throws(
    () => applyBreakglassEvent(w.config, undefined, { type: 'execute', atMs: T0, requestId: 'nope', payload }),
    (e) => isCustodianError(e, 'E_BREAKGLASS_UNKNOWN'),
  );
});

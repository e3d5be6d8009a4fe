import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmdirSync } from 'node:fs';
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
  IMMEDIATE_ACTIONS,
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
const payload: Json = { signerId: 'signer-2', backupSha256: 'b7'.repeat(32) };
const FREEZE_ORG: Json = { scope: 'organisation', orgId: 'acme' };
const FREEZE_WALLET: Json = { scope: 'wallet', walletId: 'w1' };
/** The payload a request of `action` names in these tests. */
const payloadFor = (action: BreakglassAction): Json => (action === 'freeze-organisation' ? FREEZE_ORG : action === 'freeze-wallet' ? FREEZE_WALLET : payload);

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
  // The manual clock is both the host's clock and the broker's monotonic one here (tests of the restart case separate them).
  const book = new BreakglassBook(config, audit, clock, () => clock.nowMs(), dir);
  const req = (id: string, action: BreakglassAction = 'recover-signer', by = 'member-0'): BreakglassRequest => ({ id, action, payloadHash: payloadHashOf(payloadFor(action)), requestedBy: by, requestedAtMs: clock.nowMs() });
  // A freeze carries its payload with the request (it executes at once).
  const request = (r: BreakglassRequest, sk = approvers.secrets.get(r.requestedBy)!, p: Json | undefined = IMMEDIATE_ACTIONS.has(r.action) ? payloadFor(r.action) : undefined) =>
    book.submit({ type: 'request', atMs: clock.nowMs(), request: r, signature: signStatement(BREAKGLASS_DOMAIN, requestStatement(r), r.requestedBy, sk), ...(p !== undefined ? { payload: p } : {}) });
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
  await assert.rejects(w.execute(r, { signerId: 'signer-2', backupSha256: 'b8'.repeat(32) }), (e) => isCustodianError(e, 'E_BREAKGLASS_PAYLOAD_CHANGED'));
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

test('a veto the book cannot write is refused E_IO and does not stand in memory only: the live book and the file agree, and the retry vetoes', async () => {
  const w = world();
  const r = w.req('bg-6c');
  await w.request(r);
  await w.approve(r, 'member-1');
  await w.approve(r, 'member-2');
  w.clock.advance(HOUR);
  mkdirSync(join(w.dir, 'breakglass.json.tmp')); // the next write of the book fails
  await assert.rejects(w.veto(r, 'guardian-0'), (e) => isCustodianError(e, 'E_IO'));
  assert.equal(readBreakglassFile(w.dir)[0]?.status, 'time-locked');
  assert.equal(w.book.get(r.id).status, 'time-locked', 'a restart would bring back what the file holds: the live book must not claim more');
  rmdirSync(join(w.dir, 'breakglass.json.tmp'));
  assert.equal((await w.veto(r, 'guardian-0')).status, 'vetoed');
  assert.equal(readBreakglassFile(w.dir)[0]?.status, 'vetoed');
});

test('freezing is immediate and needs one guardian; an approver cannot freeze alone', async () => {
  const w = world();
  const r = w.req('freeze-1', 'freeze-organisation', 'guardian-1');
  const s = await w.request(r, w.gsk.get('guardian-1'));
  assert.equal(s.status, 'executed');
  assert.deepEqual(s.payload, FREEZE_ORG, 'the book keeps the payload it will attest');
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
  // The book refuses the step and audits why (what POST /v1/breakglass stamps its events with).
  await assert.rejects(w.book.trustedNow(trusted), (e) => isCustodianError(e, 'E_TIME_SKEW_DETECTED'));
  assert.equal(w.audit.events.at(-1)!.kind, 'time.skew_detected');
  assert.equal(w.audit.events.at(-1)!.body['code'], 'E_TIME_SKEW_DETECTED');
  // With honest time (host and monotonic agree) the lock still holds until 48 h have really passed.
  host.advance(-30 * 24 * HOUR);
  mono += HOUR;
  host.advance(HOUR);
  w.clock.advance(HOUR); // the book's own monotonic clock
  await assert.rejects(w.execute(r, payload, trusted.nowMs()), (e) => isCustodianError(e, 'E_TIMELOCK_NOT_ELAPSED'));
  mono += 47 * HOUR;
  host.advance(47 * HOUR);
  w.clock.advance(47 * HOUR);
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
    () => applyBreakglassEvent(w.config, undefined, { type: 'execute', atMs: T0, requestId: 'nope', payload }, 0),
    (e) => isCustodianError(e, 'E_BREAKGLASS_UNKNOWN'),
  );
});

test('B33 a freeze request carries its payload: missing is E_BREAKGLASS_PAYLOAD_MISSING, another one E_BREAKGLASS_PAYLOAD_CHANGED, an ill-formed one E_FIELD_INVALID', async () => {
  const w = world();
  const gsk = w.gsk.get('guardian-0');
  const r = w.req('freeze-3', 'freeze-wallet', 'guardian-0');
  const bare = { type: 'request' as const, atMs: w.clock.nowMs(), request: r, signature: signStatement(BREAKGLASS_DOMAIN, requestStatement(r), r.requestedBy, gsk!) };
  await assert.rejects(w.book.submit(bare), (e) => isCustodianError(e, 'E_BREAKGLASS_PAYLOAD_MISSING'));
  await assert.rejects(w.request(r, gsk, { scope: 'wallet', walletId: 'w2' }), (e) => isCustodianError(e, 'E_BREAKGLASS_PAYLOAD_CHANGED'));
  // Hashes to what the request names, but no signer could apply it: a freeze-wallet of the whole organisation.
  const odd = { ...r, id: 'freeze-4', payloadHash: payloadHashOf(FREEZE_ORG) };
  await assert.rejects(w.request(odd, gsk, FREEZE_ORG), (e) => isCustodianError(e, 'E_FIELD_INVALID'));
  assert.equal(w.book.list().length, 0);
  assert.deepEqual(w.audit.ofKind('breakglass.refused').map((e) => e.body['code']), ['E_BREAKGLASS_PAYLOAD_MISSING', 'E_BREAKGLASS_PAYLOAD_CHANGED', 'E_FIELD_INVALID']);
});

test('the book keeps executed payloads and single use across a restart: reserve, markUsed, then E_BREAKGLASS_ALREADY_USED', async () => {
  const w = world();
  const r = w.req('bg-10');
  await w.request(r);
  await w.approve(r, 'member-1');
  await w.approve(r, 'member-2');
  assert.throws(() => w.book.reserve(r.id, 'recover-signer'), (e) => isCustodianError(e, 'E_BREAKGLASS_NOT_EXECUTED'));
  w.clock.advance(48 * HOUR);
  await w.execute(r);
  assert.throws(() => w.book.reserve(r.id, 'unfreeze'), (e) => isCustodianError(e, 'E_BREAKGLASS_ACTION_MISMATCH'));
  assert.throws(() => w.book.reserve('bg-none', 'recover-signer'), (e) => isCustodianError(e, 'E_BREAKGLASS_UNKNOWN'));
  assert.deepEqual(w.book.reserve(r.id, 'recover-signer').payload, payload);
  assert.throws(() => w.book.reserve(r.id, 'recover-signer'), (e) => isCustodianError(e, 'E_BREAKGLASS_ALREADY_USED'), 'a use in flight blocks a concurrent one');
  w.book.unreserve(r.id);
  w.book.reserve(r.id, 'recover-signer');
  assert.equal(w.book.markUsed(r.id, w.clock.nowMs()).consumedAtMs, w.clock.nowMs());
  const reopened = new BreakglassBook(w.config, new MemoryAuditSink(), w.clock, () => w.clock.nowMs(), w.dir);
  assert.deepEqual(reopened.get(r.id).payload, payload, 'the payload survives a restart');
  assert.throws(() => reopened.reserve(r.id, 'recover-signer'), (e) => isCustodianError(e, 'E_BREAKGLASS_ALREADY_USED'), 'so does the use');
});

test('F08 a host that jumps its clock +30 days and restarts the broker does not open the time-lock: locks run on the broker\'s observed time, saved with the book', async () => {
  const w = world();
  const r = w.req('bg-restart');
  await w.request(r);
  await w.approve(r, 'member-1');
  await w.approve(r, 'member-2');
  assert.equal(w.book.get(r.id).status, 'time-locked');
  w.clock.advance(HOUR);
  w.book.checkpoint();
  // The restarted broker: its monotonic clock starts again from nothing, the host's wall clock is 30 days ahead.
  const host = new ManualClock(w.clock.nowMs() + 30 * 24 * HOUR);
  let mono = 0;
  const restarted = new BreakglassBook(w.config, new MemoryAuditSink(), host, () => mono, w.dir);
  const execute = () => restarted.submit({ type: 'execute', atMs: host.nowMs(), requestId: r.id, payload: payloadFor('recover-signer') });
  await assert.rejects(execute(), (e) => isCustodianError(e, 'E_TIMELOCK_NOT_ELAPSED') && Number(e.detail['observedElapsedMs']) === HOUR);
  // Time the broker itself sees passing does count: 47 h more and the lock has run its 48 h.
  mono += 47 * HOUR - 1;
  await assert.rejects(execute(), (e) => isCustodianError(e, 'E_TIMELOCK_NOT_ELAPSED'));
  mono += 1;
  assert.equal((await execute()).status, 'executed');
});

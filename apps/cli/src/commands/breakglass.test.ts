/**
 * `custodian breakglass ...` against an in-process key broker with a
 * break-glass book (software root, memory audit, a monotonic clock the test
 * drives so a time-lock can pass): members sign with key files, approvals and
 * vetoes sign what the broker lists, refusals come back as the broker's codes
 * with the CLI's exit codes, and `apply` posts the broker-signed execution to
 * the host (a stand-in HTTP host here that verifies what it receives; the
 * real host and signers are in test/integration/breakglass.test.ts).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ed25519 } from '@noble/curves/ed25519.js';
import { hexToBytes } from '@custodian/core/bytes';
import { parseJson, type Json } from '@custodian/core/canonical-json';
import { generateOperatorKey, operatorKeyFromSecret } from '@custodian/protocol/operator-key';
import { decodeSignedBreakglassExecution, verifySignedBreakglassExecution, payloadHashOf } from '@custodian/protocol/breakglass-execution';
import { openKbs, type KbsRuntime } from '@custodian/kbs/kbs-runtime';
import { createKbsServer, listenKbs } from '@custodian/kbs/server';
import { MemoryAuditSink } from '@custodian/kbs/audit-sink';
import { BREAKGLASS_TIMELOCK_MS_MIN } from '@custodian/kbs/breakglass/breakglass';
import { writeKeyFile } from '../key-file.js';
import { breakglassCommand } from './breakglass.js';

type R = Record<string, Json>;

const dir = mkdtempSync(join(tmpdir(), 'custodian-breakglass-cli-'));
const kbsDir = join(dir, 'kbs');
const audit = new MemoryAuditSink();
/** Extra milliseconds on the broker's monotonic clock: the test moves time forward. */
let monoOffsetMs = 0;
let rt: KbsRuntime;
let kbsServer: Server;
let kbs = '';
let host = '';
/** What the stand-in host received, and what it answers next. */
const hostSeen: Json[] = [];
let hostAnswer: (body: Json) => Json = () => ({ applied: [] });
let hostServer: Server;

const MEMBERS = ['member-0', 'member-1', 'member-2'];
const GUARDIAN = 'guardian-0';
const keyPath = (id: string): string => join(dir, `${id}.key.json`);

before(async () => {
  const publicKeys: Record<string, string> = {};
  for (const id of [...MEMBERS, GUARDIAN]) {
    const sk = ed25519.utils.randomSecretKey();
    writeKeyFile(keyPath(id), operatorKeyFromSecret('ed25519', sk));
    publicKeys[id] = Buffer.from(ed25519.getPublicKey(sk)).toString('hex');
  }
  writeKeyFile(keyPath('p256'), generateOperatorKey('p256'));
  const members = MEMBERS.map((id) => ({ id, publicKey: hexToBytes(publicKeys[id]!) }));
  rt = await openKbs({
    dataDir: kbsDir,
    root: { kind: 'software' },
    quorum: { threshold: 2, members },
    audit,
    warn: () => undefined,
    monotonic: () => performance.now() + monoOffsetMs,
    breakglass: { approvers: { threshold: 2, members }, dailyThreshold: 1, guardians: [{ id: GUARDIAN, publicKey: hexToBytes(publicKeys[GUARDIAN]!) }], timelockMs: BREAKGLASS_TIMELOCK_MS_MIN },
  });
  kbsServer = createKbsServer({ broker: rt.broker, root: rt.root, trustedClock: rt.trustedClock, ...(rt.breakglass ? { breakglass: rt.breakglass } : {}) });
  kbs = await listenKbs(kbsServer, '127.0.0.1', 0);
  hostServer = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = parseJson(new Uint8Array(Buffer.concat(chunks)));
      hostSeen.push(body);
      res.writeHead(req.url === '/v1/breakglass/apply' && req.method === 'POST' ? 200 : 404, { 'content-type': 'application/json' }).end(JSON.stringify(hostAnswer(body)));
    });
  });
  await new Promise<void>((r) => hostServer.listen(0, '127.0.0.1', () => r()));
  host = `http://127.0.0.1:${(hostServer.address() as AddressInfo).port}`;
});

after(async () => {
  await new Promise((r) => kbsServer.close(r));
  await new Promise((r) => hostServer.close(r));
  await rt.close();
});

/** Runs the command with --json; answers its exit code, the last JSON line on stdout, and stderr. */
async function cli(args: string[]): Promise<{ code: number; out: R & { error?: { code: string } }; last: Json; err: string }> {
  const lines: string[] = [];
  const errs: string[] = [];
  const write = process.stdout.write.bind(process.stdout);
  const ewrite = process.stderr.write.bind(process.stderr);
  // Only the command's text is captured: the test runner's own (binary) reports pass through.
  process.stdout.write = ((s: string | Uint8Array, ...rest: unknown[]) => (typeof s === 'string' ? (lines.push(s), true) : (write as (...a: unknown[]) => boolean)(s, ...rest))) as typeof process.stdout.write;
  process.stderr.write = ((s: string | Uint8Array) => (errs.push(String(s)), true)) as typeof process.stderr.write;
  try {
    const code = await breakglassCommand([...args, '--json']);
    const last = JSON.parse(lines.join('').trim().split('\n').at(-1) ?? 'null') as Json;
    return { code, out: (last ?? {}) as R & { error?: { code: string } }, last, err: errs.join('') };
  } finally {
    process.stdout.write = write;
    process.stderr.write = ewrite;
  }
}

const as = (id: string): string[] => ['--kbs', kbs, '--key', keyPath(id), '--operator', id];
const state = (r: { out: R }): R => r.out['state'] as R;
const errorCode = (r: { out: { error?: { code: string } } }): string | undefined => r.out.error?.code;
const unfreeze = JSON.stringify({ scope: 'wallet', walletId: 'w-1' });

test('B33 request → approvals → execute before the time-lock is refused E_TIMELOCK_NOT_ELAPSED → guardian veto → a second veto is refused E_BREAKGLASS_ALREADY_VETOED', async () => {
  const req = await cli(['request', ...as('member-0'), '--id', 'bg-veto', '--action', 'unfreeze', '--payload', unfreeze]);
  assert.equal(req.code, 0, JSON.stringify(req.out));
  assert.equal(state(req)['status'], 'pending');
  assert.equal(state(req)['payloadHash'], payloadHashOf(parseJson(unfreeze)));

  // The approver is shown what it signs: the broker's action, payload hash and approvals.
  const appr = await cli(['approve', ...as('member-1'), '--id', 'bg-veto']);
  assert.equal(appr.code, 0, JSON.stringify(appr.out));
  assert.match(appr.err, /approving bg-veto: action unfreeze, payload hash [0-9a-f]{64}, pending, 1\/2 approvals; payload \{"scope":"wallet","walletId":"w-1"\}/);
  assert.equal(state(appr)['status'], 'time-locked');
  assert.deepEqual(state(appr)['approvals'], ['member-0', 'member-1']);
  assert.equal(typeof state(appr)['unlocksAtMs'], 'number');

  const early = await cli(['execute', '--kbs', kbs, '--id', 'bg-veto', '--payload', unfreeze]);
  assert.equal(early.code, 1);
  assert.equal(errorCode(early), 'E_TIMELOCK_NOT_ELAPSED');

  const veto = await cli(['veto', ...as(GUARDIAN), '--id', 'bg-veto', '--reason', 'not agreed with risk']);
  assert.equal(veto.code, 0, JSON.stringify(veto.out));
  assert.match(veto.err, /vetoing bg-veto: action unfreeze, .*time-locked, unlocks \d{4}-/);
  assert.equal(state(veto)['status'], 'vetoed');
  assert.equal(state(veto)['vetoedBy'], GUARDIAN);

  const again = await cli(['veto', ...as(GUARDIAN), '--id', 'bg-veto', '--reason', 'twice']);
  assert.equal(again.code, 1);
  assert.equal(errorCode(again), 'E_BREAKGLASS_ALREADY_VETOED');
  // Even once the time-lock has passed, a vetoed request does not execute.
  monoOffsetMs += BREAKGLASS_TIMELOCK_MS_MIN + 1000;
  const late = await cli(['execute', '--kbs', kbs, '--id', 'bg-veto', '--payload', unfreeze]);
  assert.equal(errorCode(late), 'E_BREAKGLASS_VETOED');
  // Every step and refusal is in the broker's audit.
  const kinds = audit.events.filter((e) => e.body['id'] === 'bg-veto').map((e) => `${e.kind}${e.body['code'] ? `:${String(e.body['code'])}` : ''}`);
  assert.deepEqual(kinds, ['breakglass.requested', 'breakglass.approved', 'breakglass.refused:E_TIMELOCK_NOT_ELAPSED', 'breakglass.vetoed', 'breakglass.refused:E_BREAKGLASS_ALREADY_VETOED', 'breakglass.refused:E_BREAKGLASS_VETOED']);
});

test('B33 an unfreeze executes once the quorum approved and the time-lock passed; apply relays the broker-signed execution to the host', async () => {
  assert.equal((await cli(['request', ...as('member-2'), '--id', 'bg-unfreeze', '--action', 'unfreeze', '--payload', unfreeze])).code, 0);
  assert.equal((await cli(['approve', ...as('member-0'), '--id', 'bg-unfreeze', '--payload', unfreeze])).code, 0);
  // A payload altered in a member's copy is refused before anything is signed.
  const other = await cli(['approve', ...as('member-1'), '--id', 'bg-unfreeze', '--payload', JSON.stringify({ scope: 'wallet', walletId: 'w-2' })]);
  assert.equal(errorCode(other), 'E_BREAKGLASS_PAYLOAD_CHANGED');
  assert.equal(audit.events.filter((e) => e.body['id'] === 'bg-unfreeze' && e.kind === 'breakglass.approved').length, 1, 'the refused approval never reached the broker');
  // The payload to execute must be the approved one.
  monoOffsetMs += BREAKGLASS_TIMELOCK_MS_MIN + 1000;
  const swapped = await cli(['execute', '--kbs', kbs, '--id', 'bg-unfreeze', '--payload', JSON.stringify({ scope: 'organisation', orgId: 'acme' })]);
  assert.equal(errorCode(swapped), 'E_BREAKGLASS_PAYLOAD_CHANGED');
  const done = await cli(['execute', '--kbs', kbs, '--id', 'bg-unfreeze', '--payload', unfreeze]);
  assert.equal(done.code, 0, JSON.stringify(done.out));
  assert.equal(state(done)['status'], 'executed');

  hostAnswer = () => ({ applied: ['signer-1', 'signer-2'].map((signerId) => ({ signerId, ok: true })) });
  const applied = await cli(['apply', '--kbs', kbs, '--host', host, '--id', 'bg-unfreeze']);
  assert.equal(applied.code, 0, JSON.stringify(applied.out));
  assert.deepEqual(applied.out['applied'], [{ signerId: 'signer-1', ok: true }, { signerId: 'signer-2', ok: true }]);
  // What reached the host verifies under the broker's signing key, with the approved payload.
  const signed = decodeSignedBreakglassExecution(hostSeen.at(-1)!);
  const x = verifySignedBreakglassExecution(await rt.root.publicKey('kbs-signing'), signed);
  assert.deepEqual([x.id, x.action, [...x.approvals]], ['bg-unfreeze', 'unfreeze', ['member-2', 'member-0']]);
  assert.deepEqual(signed.payload, parseJson(unfreeze));
});

test('B33 a freeze by one guardian executes at once; apply exits 1 when a signer refuses it', async () => {
  const freeze = JSON.stringify({ scope: 'wallet', walletId: 'w-9' });
  const r = await cli(['request', ...as(GUARDIAN), '--id', 'bg-freeze', '--action', 'freeze-wallet', '--payload', freeze]);
  assert.equal(r.code, 0, JSON.stringify(r.out));
  assert.equal(state(r)['status'], 'executed');
  assert.equal(state(r)['unlocksAtMs'], null);

  hostAnswer = () => ({ applied: [{ signerId: 'signer-1', ok: true }, { signerId: 'signer-2', ok: false, code: 'E_BREAKGLASS_EXECUTION_INVALID' }] });
  const partial = await cli(['apply', '--kbs', kbs, '--host', host, '--id', 'bg-freeze']);
  assert.equal(partial.code, 1);
  assert.equal(errorCode(partial), 'E_BREAKGLASS_NOT_APPLIED');
  assert.match(partial.err, /signer-2 \(E_BREAKGLASS_EXECUTION_INVALID\)/);
  const signed = decodeSignedBreakglassExecution(hostSeen.at(-1)!);
  assert.equal(verifySignedBreakglassExecution(await rt.root.publicKey('kbs-signing'), signed).action, 'freeze-wallet');
  assert.deepEqual(signed.payload, parseJson(freeze));
  // No signer answering is not success either.
  hostAnswer = () => ({ applied: [] });
  assert.equal(errorCode(await cli(['apply', '--kbs', kbs, '--host', host, '--id', 'bg-freeze'])), 'E_BREAKGLASS_NOT_APPLIED');
});

test('B33 an approver cannot freeze alone (E_BREAKGLASS_SIGNATURE_INVALID), and nothing is listed for it', async () => {
  const r = await cli(['request', ...as('member-1'), '--id', 'bg-lone', '--action', 'freeze-organisation', '--payload', JSON.stringify({ scope: 'organisation', orgId: 'acme' })]);
  assert.equal(r.code, 1);
  assert.equal(errorCode(r), 'E_BREAKGLASS_SIGNATURE_INVALID');
  const shown = await cli(['show', '--kbs', kbs, '--id', 'bg-lone']);
  assert.equal(errorCode(shown), 'E_BREAKGLASS_UNKNOWN');
});

/** An override-policy payload: one request and its exact transaction digest. */
const DRILL = JSON.stringify({ requestId: 'ab'.repeat(32), txDigest: `0x${'cd'.repeat(32)}` });

test('cancel by the requester; execute after a cancel is refused E_BREAKGLASS_CANCELLED', async () => {
  assert.equal((await cli(['request', ...as('member-1'), '--id', 'bg-cancel', '--action', 'override-policy', '--payload', DRILL])).code, 0);
  const c = await cli(['cancel', ...as('member-1'), '--id', 'bg-cancel']);
  assert.equal(c.code, 0, JSON.stringify(c.out));
  assert.equal(state(c)['status'], 'cancelled');
  assert.equal(errorCode(await cli(['execute', '--kbs', kbs, '--id', 'bg-cancel', '--payload', DRILL])), 'E_BREAKGLASS_CANCELLED');
});

test('list --kbs and list --data-dir print the same JSON array of requests with state and time-lock', async () => {
  const fromKbs = await cli(['list', '--kbs', kbs]);
  const fromDir = await cli(['list', '--data-dir', kbsDir]);
  assert.equal(fromKbs.code, 0);
  assert.ok(Array.isArray(fromKbs.last));
  assert.deepEqual(fromKbs.last, fromDir.last);
  const byId = new Map((fromKbs.last as R[]).map((r) => [String(r['id']), r]));
  assert.equal(byId.get('bg-veto')?.['status'], 'vetoed');
  assert.equal(byId.get('bg-unfreeze')?.['status'], 'executed');
  assert.equal(typeof byId.get('bg-unfreeze')?.['unlocksAtMs'], 'number');
  const shown = await cli(['show', '--kbs', kbs, '--id', 'bg-unfreeze']);
  assert.deepEqual(shown.last, byId.get('bg-unfreeze'));
});

test('bad input is refused before anything is signed or sent: malformed payload, P-256 key, unknown request, broker down, usage', async () => {
  const before = audit.events.length;
  const badShape = await cli(['request', ...as(GUARDIAN), '--id', 'bg-bad', '--action', 'freeze-wallet', '--payload', JSON.stringify({ scope: 'organisation', orgId: 'acme' })]);
  assert.equal(badShape.code, 1);
  assert.equal(errorCode(badShape), 'E_FIELD_INVALID');
  const p256 = await cli(['request', '--kbs', kbs, '--key', keyPath('p256'), '--operator', 'member-0', '--id', 'bg-bad', '--action', 'unfreeze', '--payload', unfreeze]);
  assert.equal(errorCode(p256), 'E_KEY_INVALID');
  assert.equal(audit.events.length, before, 'nothing reached the broker');
  const unknown = await cli(['approve', ...as('member-0'), '--id', 'bg-nope']);
  assert.equal(errorCode(unknown), 'E_BREAKGLASS_UNKNOWN');
  writeFileSync(join(dir, 'payload.json'), unfreeze);
  const down = await cli(['request', '--kbs', 'http://127.0.0.1:9', '--key', keyPath('member-0'), '--operator', 'member-0', '--id', 'bg-down', '--action', 'unfreeze', '--payload-file', join(dir, 'payload.json')]);
  assert.equal(down.code, 3);
  assert.equal(errorCode(down), 'E_KBS_UNAVAILABLE');
  assert.equal((await cli(['request', ...as('member-0'), '--id', 'bg-x', '--action', 'launch-missiles', '--payload', '{}'])).code, 2);
  assert.equal((await cli(['execute', '--kbs', kbs, '--id', 'bg-x'])).code, 2, 'execute needs the payload');
  assert.equal((await cli(['list'])).code, 2);
  // A broker listing a payload that is not the one of the hash to sign: refused before signing, nothing posted.
  const liar = createServer((req, res) => {
    const listed = { id: 'bg-lie', action: 'unfreeze', payloadHash: payloadHashOf(parseJson(unfreeze)), status: 'pending', approvals: ['member-0'], threshold: 2, unlocksAtMs: null, payload: { scope: 'wallet', walletId: 'w-other' } };
    res.writeHead(req.method === 'GET' ? 200 : 500, { 'content-type': 'application/json' }).end(JSON.stringify({ ok: true, requests: [listed] }));
  });
  await new Promise<void>((r) => liar.listen(0, '127.0.0.1', () => r()));
  try {
    const url = `http://127.0.0.1:${(liar.address() as AddressInfo).port}`;
    const lie = await cli(['approve', '--kbs', url, '--key', keyPath('member-1'), '--operator', 'member-1', '--id', 'bg-lie']);
    assert.equal(lie.code, 1);
    assert.equal(errorCode(lie), 'E_KBS_RESPONSE_INVALID');
  } finally {
    await new Promise((r) => liar.close(r));
  }
  assert.equal((await cli(['frobnicate'])).code, 2);
});

test('B14 B33 approve does not sign a bare hash: a request the broker lists without its payload is approved only with --payload of that hash', async () => {
  const listed = { id: 'bg-blind', action: 'unfreeze', payloadHash: payloadHashOf(parseJson(unfreeze)), status: 'pending', approvals: ['member-0'], threshold: 2, unlocksAtMs: null, payload: null };
  let posted = 0;
  const stub = createServer((req, res) => {
    if (req.method === 'POST') posted++;
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(req.method === 'GET' ? { ok: true, requests: [listed] } : { ok: true, state: listed }));
  });
  await new Promise<void>((r) => stub.listen(0, '127.0.0.1', () => r()));
  try {
    const url = `http://127.0.0.1:${(stub.address() as AddressInfo).port}`;
    const args = ['approve', '--kbs', url, '--key', keyPath('member-1'), '--operator', 'member-1', '--id', 'bg-blind'];
    const blind = await cli(args);
    assert.equal(blind.code, 1);
    assert.equal(errorCode(blind), 'E_BREAKGLASS_PAYLOAD_MISSING');
    assert.equal(posted, 0, 'nothing was signed or sent');
    assert.equal((await cli([...args, '--payload', unfreeze])).code, 0);
    assert.equal(posted, 1);
  } finally {
    await new Promise((r) => stub.close(r));
  }
});

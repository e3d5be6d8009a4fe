import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isCustodianError } from '@custodian/core/errors';
import { canonicalJson, parseJson, type Json } from '@custodian/core/canonical-json';
import { utf8 } from '@custodian/core/bytes';
import { decodeLimitSet } from './limits.js';
import { VelocityLedger, type Spend } from './velocity-ledger.js';

const DAY = 86_400_000;
const T0 = Date.parse('2026-11-25T00:00:00Z');

function limits(json: unknown): ReturnType<typeof decodeLimitSet> {
  return decodeLimitSet(utf8(JSON.stringify(json)));
}

function spend(i: number, over: Partial<Spend> = {}): Spend {
  return { requestId: `r${i}`, wallet: 'w1', initiator: `op${i % 5}`, asset: 'eth:native', destination: `eth:0x${(i % 7).toString(16).padStart(40, '0')}`, valueMinor: 1n, baseUnits: 1n, ...over };
}

/** Runs `n` requests concurrently; each waits a random number of ticks, reserves, waits, then commits or releases. */
async function storm(ledger: VelocityLedger, n: number, seed: number, releaseEvery = 0): Promise<{ history: { op: string; id: string; ok: boolean; code?: string }[] }> {
  const history: { op: string; id: string; ok: boolean; code?: string }[] = [];
  const rnd = fc.sample(fc.array(fc.nat(5), { minLength: 2 * n, maxLength: 2 * n }), { numRuns: 1, seed })[0]!;
  const ticks = async (k: number): Promise<void> => {
    for (let j = 0; j < k; j++) await Promise.resolve();
  };
  await Promise.all(
    Array.from({ length: n }, async (_, i) => {
      await ticks(rnd[2 * i]!);
      try {
        ledger.reserve(spend(i), T0 + i, 60_000);
        history.push({ op: 'reserve', id: `r${i}`, ok: true });
      } catch (e) {
        assert.ok(isCustodianError(e));
        history.push({ op: 'reserve', id: `r${i}`, ok: false, code: e.code });
        return;
      }
      await ticks(rnd[2 * i + 1]!);
      if (releaseEvery > 0 && i % releaseEvery === 0) {
        ledger.release(`r${i}`);
        history.push({ op: 'release', id: `r${i}`, ok: true });
      } else {
        ledger.commit(`r${i}`, T0 + n + i);
        history.push({ op: 'commit', id: `r${i}`, ok: true });
      }
    }),
  );
  return { history };
}

/** Jepsen-style check: replaying the history sequentially, no reserve ever pushed the held total past the limit. */
function checkHistory(history: readonly { op: string; id: string; ok: boolean }[], limit: number): number {
  const held = new Set<string>();
  let committed = 0;
  for (const h of history) {
    if (h.op === 'reserve' && h.ok) {
      held.add(h.id);
      assert.ok(held.size + committed <= limit, `reserve ${h.id} exceeded the limit`);
    } else if (h.op === 'commit') {
      assert.ok(held.delete(h.id), `commit of unheld ${h.id}`);
      committed++;
    } else if (h.op === 'release') assert.ok(held.delete(h.id), `release of unheld ${h.id}`);
  }
  assert.equal(held.size, 0);
  return committed;
}

test('L01 250 concurrent 1-unit requests against a limit of 100: exactly 100 pass, 150 get E_POLICY_VELOCITY_EXCEEDED, in every seed', async () => {
  for (const seed of [1, 2, 3, 42, 1337]) {
    const ledger = new VelocityLedger(limits({ version: '1', perTransaction: [], velocity: [{ id: 'daily-100', scope: 'wallet', windowSeconds: 86400, maxValueMinor: '100' }] }));
    const { history } = await storm(ledger, 250, seed);
    const denied = history.filter((h) => h.op === 'reserve' && !h.ok);
    assert.equal(denied.length, 150);
    assert.ok(denied.every((h) => h.code === 'E_POLICY_VELOCITY_EXCEEDED'));
    assert.equal(checkHistory(history, 100), 100);
    assert.equal(ledger.usage('wallet', 'w1', DAY, T0 + 1000).valueMinor, 100n);
  }
});

test('100 concurrent requests with releases never hold more than the limit (count limit)', async () => {
  const ledger = new VelocityLedger(limits({ version: '1', perTransaction: [], velocity: [{ id: 'count-30', scope: 'wallet', windowSeconds: 3600, maxCount: 30 }] }));
  const { history } = await storm(ledger, 100, 7, 3);
  const committed = checkHistory(history, 30);
  assert.ok(committed <= 30);
  assert.ok(history.some((h) => h.op === 'release'));
});

test('limits apply per scope key: per destination and per asset base units', () => {
  const ledger = new VelocityLedger(limits({ version: '1', perTransaction: [], velocity: [
    { id: 'dest', scope: 'destination', windowSeconds: 3600, maxValueMinor: '10' },
    { id: 'eth-units', scope: 'asset', windowSeconds: 3600, maxBaseUnits: '25', asset: 'eth:native' },
  ] }));
  ledger.reserve(spend(1, { destination: 'eth:a', valueMinor: 10n, baseUnits: 10n }), T0, 60_000);
  assert.throws(() => ledger.reserve(spend(2, { destination: 'eth:a', valueMinor: 1n }), T0, 60_000), (e) => isCustodianError(e, 'E_POLICY_VELOCITY_EXCEEDED') && e.detail['limit'] === 'dest');
  ledger.reserve(spend(3, { destination: 'eth:b', valueMinor: 5n, baseUnits: 10n }), T0, 60_000);
  assert.throws(() => ledger.reserve(spend(4, { destination: 'eth:c', valueMinor: 1n, baseUnits: 6n }), T0, 60_000), (e) => isCustodianError(e, 'E_POLICY_VELOCITY_EXCEEDED') && e.detail['limit'] === 'eth-units');
});

test('per-transaction limits give E_POLICY_LIMIT_EXCEEDED; a currency limit refuses an unpriced spend', () => {
  const ledger = new VelocityLedger(limits({ version: '1', perTransaction: [{ id: 'max', maxValueMinor: '50' }], velocity: [] }));
  assert.equal(ledger.check(spend(1, { valueMinor: 50n }), T0), null);
  assert.equal(ledger.check(spend(1, { valueMinor: 51n }), T0)?.code, 'E_POLICY_LIMIT_EXCEEDED');
  assert.equal(ledger.check(spend(1, { valueMinor: null }), T0)?.code, 'E_PRICE_UNAVAILABLE');
});

test('the window rolls: spends older than the window stop counting', () => {
  const ledger = new VelocityLedger(limits({ version: '1', perTransaction: [], velocity: [{ id: 'w', scope: 'wallet', windowSeconds: 3600, maxValueMinor: '10' }] }));
  ledger.reserve(spend(1, { valueMinor: 10n }), T0, 60_000);
  ledger.commit('r1', T0 + 1);
  assert.ok(ledger.check(spend(2), T0 + 3_599_999));
  assert.equal(ledger.check(spend(2), T0 + 3_600_000), null);
});

test('rejects committing a reservation after it expired, and a replay of the same request', () => {
  const ledger = new VelocityLedger(limits({ version: '1', perTransaction: [], velocity: [{ id: 'w', scope: 'wallet', windowSeconds: 3600, maxValueMinor: '10' }] }));
  ledger.reserve(spend(1, { valueMinor: 10n }), T0, 1000);
  assert.throws(() => ledger.commit('r1', T0 + 1000), (e) => isCustodianError(e, 'E_RESERVATION_EXPIRED'));
  assert.throws(() => ledger.reserve(spend(1, { valueMinor: 1n }), T0 + 2000, 1000), (e) => isCustodianError(e, 'E_RESERVATION_EXPIRED'));
  // the expired reservation no longer holds the limit
  ledger.reserve(spend(2, { valueMinor: 10n }), T0 + 2000, 1000);
  assert.throws(() => ledger.reserve(spend(2), T0 + 2000, 1000), (e) => isCustodianError(e, 'E_RESERVATION_EXISTS'));
  assert.throws(() => ledger.commit('nope', T0), (e) => isCustodianError(e, 'E_RESERVATION_UNKNOWN'));
});

test('state survives sealing: toJSON / fromJSON round trip keeps spends and first-time facts', () => {
  const ls = limits({ version: '1', perTransaction: [], velocity: [{ id: 'w', scope: 'wallet', windowSeconds: 3600, maxValueMinor: '10' }] });
  const ledger = new VelocityLedger(ls);
  ledger.reserve(spend(1, { valueMinor: 6n }), T0, 60_000);
  ledger.commit('r1', T0 + 1);
  ledger.reserve(spend(2, { valueMinor: 3n }), T0, 60_000);
  const sealed = canonicalJson(ledger.toJSON());
  const back = VelocityLedger.fromJSON(ls, parseJson(sealed));
  assert.equal(canonicalJson(back.toJSON()), sealed);
  assert.ok(back.check(spend(3, { valueMinor: 2n }), T0 + 2));
  assert.ok(back.hasSent('w1', spend(1).destination));
  back.commit('r2', T0 + 3);
  assert.throws(() => VelocityLedger.fromJSON(ls, parseJson('{"entries":[{"requestId":1}],"closed":[],"known":[]}')), (e) => isCustodianError(e, 'E_STATE_INVALID'));
});

test('rejects limit documents that cap nothing, reuse ids or pair base units without an asset', () => {
  for (const bad of [
    { version: '1', perTransaction: [{ id: 'a' }], velocity: [] },
    { version: '1', perTransaction: [{ id: 'a', maxCount: 1 }, { id: 'a', maxCount: 2 }], velocity: [] },
    { version: '1', perTransaction: [{ id: 'a', maxBaseUnits: '1' }], velocity: [] },
    { version: '1', perTransaction: [], velocity: [{ id: 'v', scope: 'planet', windowSeconds: 1, maxCount: 1 }] },
  ]) {
    assert.throws(() => limits(bad), (e) => isCustodianError(e), JSON.stringify(bad));
  }
});

test('L01 property: in any sequence of reserve / commit / release / time steps the live total never exceeds the limit', () => {
  const op = fc.oneof(
    fc.record({ k: fc.constant('reserve' as const), id: fc.nat(40), v: fc.integer({ min: 1, max: 30 }), ttl: fc.integer({ min: 1, max: 5000 }) }),
    fc.record({ k: fc.constant('commit' as const), id: fc.nat(40) }),
    fc.record({ k: fc.constant('release' as const), id: fc.nat(40) }),
    fc.record({ k: fc.constant('tick' as const), ms: fc.integer({ min: 1, max: 4000 }) }),
  );
  fc.assert(
    fc.property(fc.array(op, { maxLength: 120 }), (ops) => {
      const ledger = new VelocityLedger(limits({ version: '1', perTransaction: [], velocity: [{ id: 'w', scope: 'wallet', windowSeconds: 10, maxValueMinor: '100' }] }));
      let now = T0;
      for (const o of ops) {
        try {
          if (o.k === 'reserve') ledger.reserve(spend(o.id, { valueMinor: BigInt(o.v) }), now, o.ttl);
          else if (o.k === 'commit') ledger.commit(`r${o.id}`, now);
          else if (o.k === 'release') ledger.release(`r${o.id}`);
          else now += o.ms;
        } catch (e) {
          assert.ok(isCustodianError(e), String(e));
        }
        assert.ok(ledger.usage('wallet', 'w1', 10_000, now).valueMinor <= 100n);
      }
      // sealing at any point preserves the state
      const back = VelocityLedger.fromJSON(limits({ version: '1', perTransaction: [], velocity: [{ id: 'w', scope: 'wallet', windowSeconds: 10, maxValueMinor: '100' }] }), parseJson(canonicalJson(ledger.toJSON())));
      assert.equal(canonicalJson(back.toJSON()), canonicalJson(ledger.toJSON()));
    }),
    { numRuns: 300 },
  );
});

test('a spend with destination portions: malformed lists are refused; sealed portions that are malformed are E_STATE_INVALID', () => {
  const perDestination = limits({ version: 'p', perTransaction: [], velocity: [{ id: 'd', scope: 'destination', windowSeconds: 86400, maxCount: 1 }] });
  const l = new VelocityLedger(perDestination);
  const a = { destination: 'btc:a', valueMinor: 1n, baseUnits: 1n };
  const b = { destination: 'btc:b', valueMinor: 1n, baseUnits: 1n };
  assert.throws(() => l.reserve(spend(1, { destination: 'btc:a', destinations: [b, a] }), T0, 60_000), (e) => isCustodianError(e, 'E_FIELD_INVALID'));
  assert.throws(() => l.reserve(spend(1, { destination: 'btc:a', destinations: [] }), T0, 60_000), (e) => isCustodianError(e, 'E_FIELD_INVALID'));
  l.reserve(spend(1, { destination: 'btc:a', destinations: [a, b] }), T0, 60_000);
  // The count limit per destination holds for the second destination of the batch too.
  assert.throws(() => l.reserve(spend(2, { destination: 'btc:b' }), T0, 60_000), (e) => isCustodianError(e, 'E_POLICY_VELOCITY_EXCEEDED'));
  l.reserve(spend(3, { destination: 'btc:c' }), T0, 60_000);
  const sealed = parseJson(canonicalJson(l.toJSON())) as { entries: Record<string, unknown>[] };
  assert.deepEqual(VelocityLedger.fromJSON(perDestination, sealed as unknown as Json).toJSON(), l.toJSON());
  for (const bad of [[], [{ destination: 1, valueMinor: '1', baseUnits: '1' }], [{ destination: 'x', valueMinor: '01', baseUnits: '1' }], 'x']) {
    const broken = { ...sealed, entries: sealed.entries.map((e, i) => (i === 0 ? { ...e, destinations: bad } : e)) };
    assert.throws(() => VelocityLedger.fromJSON(perDestination, broken as never), (e) => isCustodianError(e, 'E_STATE_INVALID'), JSON.stringify(bad));
  }
});

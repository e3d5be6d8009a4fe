import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { systemRandom } from '@custodian/core/clock';
import { isCustodianError } from '@custodian/core/errors';
import { inboxOf } from './local-run.js';
import { EcdsaPresignSession } from './sign.js';
import { dealKeySharesForTests } from './trusted-dealer.js';
import type { EcdsaMessage } from './message.js';

const shares = dealKeySharesForTests(2, 2, systemRandom);

function sessions(): [EcdsaPresignSession, EcdsaPresignSession] {
  const sid = systemRandom.bytes(32);
  // A fresh status per run: a failed KOS check burns the pair in the status it is given.
  const fresh = (id: bigint) => ({ ...shares.get(id)!, status: { frozen: false, excluded: new Set<bigint>() } });
  return [1n, 2n].map((id) => new EcdsaPresignSession(fresh(id), { sessionId: sid, signers: [1n, 2n], random: systemRandom })) as [EcdsaPresignSession, EcdsaPresignSession];
}

/** Two fresh sessions with both pre-signing rounds run honestly. */
function throughRound2(): { a: EcdsaPresignSession; b: EcdsaPresignSession; r2a: EcdsaMessage[]; r2b: EcdsaMessage[] } {
  const [a, b] = sessions();
  const r1a = a.round1();
  const r1b = b.round1();
  return { a, b, r2a: a.round2(r1b), r2b: b.round2(r1a) };
}

function mutate(messages: readonly EcdsaMessage[], pos: number, byte: number, cut: boolean): EcdsaMessage[] {
  return messages.map((m) => {
    const p = pos % (m.body.length + 1);
    const body = cut ? m.body.slice(0, p) : m.body.map((b, i) => (i === p ? byte : b));
    return { ...m, body };
  });
}

const mutation = fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 }), fc.boolean());

test('property: only typed errors escape pre-signing round 2 on mutated round-1 messages', () => {
  fc.assert(
    fc.property(mutation, ([pos, byte, cut]) => {
      const [a, b] = sessions();
      b.round1();
      try {
        b.round2(mutate(a.round1(), pos, byte, cut));
      } catch (e) {
        assert.ok(isCustodianError(e), String(e));
      }
    }),
    { numRuns: 25 },
  );
});

test('property: only typed errors escape the end of pre-signing on mutated round-2 messages', () => {
  fc.assert(
    fc.property(mutation, ([pos, byte, cut]) => {
      const { b, r2a } = throughRound2();
      try {
        b.finish(mutate(inboxOf(r2a, 2n), pos, byte, cut));
      } catch (e) {
        assert.ok(isCustodianError(e), String(e));
      }
    }),
    { numRuns: 20 },
  );
});

test('property: only typed errors escape the online round on mutated (u, w) messages, and nothing unverified is returned', () => {
  fc.assert(
    fc.property(mutation, ([pos, byte, cut]) => {
      const { a, b, r2a, r2b } = throughRound2();
      const pa = a.finish(r2b);
      const pb = b.finish(r2a);
      const digest = new Uint8Array(32).fill(9);
      const m3 = pa.online(digest);
      pb.online(digest);
      try {
        const sig = pb.combine(mutate(m3, pos, byte, cut));
        assert.equal(sig.compact.length, 64);
      } catch (e) {
        assert.ok(isCustodianError(e, 'E_SIGNATURE_INVALID_TERMINAL', 'E_MPC_SHAPE'), String(e));
      }
    }),
    { numRuns: 15 },
  );
});

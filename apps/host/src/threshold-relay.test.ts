// The relay's choice of signing sets (F04): unavailable or blamed participants are set aside, terminal refusals end it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CustodianError, isCustodianError } from '@custodian/core/errors';
import type { Json } from '@custodian/core/canonical-json';
import { culpritOf, ThresholdRelay, type MpcEndpoint } from './threshold-relay.js';

type Fault = (signerId: string, op: string, signers: readonly string[]) => CustodianError | null;

/** Scripted participants: one round, the combiner (first signer) answers a result. */
function relay(fault: Fault): { relay: ThresholdRelay; sets: string[][]; aborts: string[] } {
  const sets: string[][] = [];
  const aborts: string[] = [];
  let current: readonly string[] = [];
  const endpoint = (signerId: string): MpcEndpoint => ({
    signerId,
    call: async (op: string, body: Json): Promise<Json> => {
      if (op === 'mpc.open') current = ((body as Record<string, Json>)['signers'] as string[]) ?? [];
      const f = fault(signerId, op, current);
      if (f) throw f;
      switch (op) {
        case 'mpc.open':
          return { nonce: signerId };
        case 'mpc.start':
          return { sessionId: 'ab'.repeat(32), outbox: [], done: false };
        case 'mpc.step':
          return signerId === current[0] ? { sessionId: 'ab'.repeat(32), outbox: [], done: true, result: { signedTx: '0x02', by: [...current] } } : { sessionId: 'ab'.repeat(32), outbox: [], done: true };
        case 'mpc.abort':
          aborts.push(signerId);
          return { aborted: true };
        default:
          throw new CustodianError('E_UNKNOWN_OP', op);
      }
    },
  });
  return {
    relay: new ThresholdRelay(endpoint),
    sets,
    aborts,
  };
}

const body = (sets: string[][]) => (signers: readonly string[], combiner: string): Json => {
  sets.push([...signers]);
  return { kind: 'sign', signers: [...signers], combiner };
};
const up = async (): Promise<boolean> => true;

test('F04 a participant that goes away mid-session is set aside; the next set signs', async () => {
  const r = relay((id, op, signers) => (id === 'b' && op === 'mpc.step' && signers.includes('b') ? new CustodianError('E_UNAVAILABLE', 'connection closed') : null));
  const out = await r.relay.sign(['a', 'b', 'c'], 2, up, body(r.sets));
  assert.deepEqual(r.sets, [['a', 'b'], ['a', 'c']]);
  assert.deepEqual(out.signers, ['a', 'c']);
  assert.ok(r.aborts.includes('a'), 'the other participant of the failed session was told to end it');
});

test('a participant blamed by a peer’s refusal (party id) is set aside; a terminal refusal ends signing', async () => {
  const blamed = relay((id, op, signers) => (id === 'a' && op === 'mpc.step' && signers.includes('b') ? new CustodianError('E_MPC_PROOF_INVALID', 'party 2: bad proof', { culprit: '2' }) : null));
  const out = await blamed.relay.sign(['a', 'b', 'c'], 2, up, body(blamed.sets));
  assert.deepEqual(out.signers, ['a', 'c']);
  const frozen = relay((id, op) => (id === 'a' && op === 'mpc.step' ? new CustodianError('E_SIGNATURE_INVALID_TERMINAL', 'frozen', { culprit: '2' }) : null));
  await assert.rejects(frozen.relay.sign(['a', 'b', 'c'], 2, up, body(frozen.sets)), (e: unknown) => isCustodianError(e, 'E_SIGNATURE_INVALID_TERMINAL'));
  assert.equal(frozen.sets.length, 1);
});

test('too few usable participants: E_QUORUM_UNAVAILABLE before any session', async () => {
  const r = relay(() => null);
  await assert.rejects(r.relay.sign(['a', 'b', 'c'], 2, async (id) => id === 'c', body(r.sets)), (e: unknown) => isCustodianError(e, 'E_QUORUM_UNAVAILABLE'));
  assert.equal(r.sets.length, 0);
  const down = relay((id, op) => (op === 'mpc.open' && id !== 'a' ? new CustodianError('E_SIGNER_UNAVAILABLE', 'down') : null));
  await assert.rejects(down.relay.sign(['a', 'b', 'c'], 2, up, body(down.sets)), (e: unknown) => isCustodianError(e, 'E_QUORUM_UNAVAILABLE'));
});

test('culpritOf maps party ids and signer ids to the wallet’s signers, and nothing else', () => {
  const parties = ['s1', 's2', 's3'];
  assert.equal(culpritOf(new CustodianError('E_X', 'x', { culprit: '3' }), parties), 's3');
  assert.equal(culpritOf(new CustodianError('E_X', 'x', { culprit: 's2' }), parties), 's2');
  assert.equal(culpritOf(new CustodianError('E_X', 'x', { culprit: '9' }), parties), null);
  assert.equal(culpritOf(new CustodianError('E_X', 'x', { culprit: 'mallory' }), parties), null);
  assert.equal(culpritOf(new Error('x'), parties), null);
});

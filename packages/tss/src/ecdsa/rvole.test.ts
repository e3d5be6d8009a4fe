import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isCustodianError } from '@custodian/core/errors';
import { systemRandom } from '@custodian/core/clock';
import { rvoleAliceRespond, rvoleBobFinish, rvoleBobStart } from './rvole.js';
import { cotReceiverFinish, cotReceiverStart, cotSenderRespond, type CotReceiverSetup, type CotSenderSetup } from './ot-extension.js';
import { MUL_BATCH, OT_BASE_COUNT } from './limits.js';
import { mod, randomScalar } from './group.js';

/** Dealer-style base OT outputs (the base OT itself is tested in base-ot.test.ts). */
function dealSetup(): { bob: CotReceiverSetup; alice: CotSenderSetup } {
  const seeds0 = Array.from({ length: OT_BASE_COUNT }, () => systemRandom.bytes(32));
  const seeds1 = Array.from({ length: OT_BASE_COUNT }, () => systemRandom.bytes(32));
  const delta = Array.from(systemRandom.bytes(OT_BASE_COUNT), (b) => b & 1);
  return { bob: { seeds0, seeds1 }, alice: { delta, seeds: delta.map((d, i) => (d === 0 ? seeds0[i]! : seeds1[i]!)) } };
}

const ctx = new Uint8Array(32).fill(1);

test('correlated OT extension: z^A + z^B = x_j · α for every extended OT', () => {
  const { bob, alice } = dealSetup();
  const choices = systemRandom.bytes(MUL_BATCH / 8);
  const st = cotReceiverStart(bob, ctx, choices, systemRandom);
  const alpha = [randomScalar(systemRandom), randomScalar(systemRandom), 5n];
  const { zA, message } = cotSenderRespond(alice, ctx, st.message, alpha);
  const zB = cotReceiverFinish(st, message, alpha.length);
  for (let j = 0; j < MUL_BATCH; j++) {
    const x = BigInt((choices[j >> 3]! >> (j & 7)) & 1);
    for (let w = 0; w < alpha.length; w++) assert.equal(mod(zA[j]![w]! + zB[j]![w]!), mod(x * alpha[w]!));
  }
});

test('KOS check rejects a receiver that flips one column bit (inconsistent choice vector)', () => {
  const { bob, alice } = dealSetup();
  const st = cotReceiverStart(bob, ctx, systemRandom.bytes(MUL_BATCH / 8), systemRandom);
  const bad = st.message.slice();
  bad[32 + 5]! ^= 0x10;
  assert.throws(() => cotSenderRespond(alice, ctx, bad, [1n]), (e) => isCustodianError(e, 'E_MPC_OT_CHECK_FAILED', 'E_MPC_SHAPE'));
});

test('KOS check rejects a receiver whose column is inconsistent where Δ_i = 1 (honestly computed x̃, t̃)', () => {
  const { bob, alice } = dealSetup();
  const i = alice.delta.indexOf(1);
  const lying = { seeds0: bob.seeds0, seeds1: bob.seeds1.map((s, k) => (k === i ? systemRandom.bytes(32) : s)) };
  const st = cotReceiverStart(lying, ctx, systemRandom.bytes(MUL_BATCH / 8), systemRandom);
  assert.throws(() => cotSenderRespond(alice, ctx, st.message, [1n]), (e) => isCustodianError(e, 'E_MPC_OT_CHECK_FAILED'));
  // Where Δ_i = 0 the same lie is invisible to Alice and harmless (KOS: it only tells Bob one bit of Δ by abort or not).
  const j = alice.delta.indexOf(0);
  const harmless = { seeds0: bob.seeds0, seeds1: bob.seeds1.map((s, k) => (k === j ? systemRandom.bytes(32) : s)) };
  const st2 = cotReceiverStart(harmless, ctx, systemRandom.bytes(MUL_BATCH / 8), systemRandom);
  assert.doesNotThrow(() => cotSenderRespond(alice, ctx, st2.message, [1n]));
});

test('OT extension message replayed into another session fails the check (E_MPC_OT_CHECK_FAILED)', () => {
  const { bob, alice } = dealSetup();
  const st = cotReceiverStart(bob, ctx, systemRandom.bytes(MUL_BATCH / 8), systemRandom);
  assert.throws(() => cotSenderRespond(alice, new Uint8Array(32).fill(2), st.message, [1n]), (e) => isCustodianError(e, 'E_MPC_OT_CHECK_FAILED'));
});

test('B31 OT extension rejects messages of the wrong length', () => {
  const { bob, alice } = dealSetup();
  const st = cotReceiverStart(bob, ctx, systemRandom.bytes(MUL_BATCH / 8), systemRandom);
  assert.throws(() => cotSenderRespond(alice, ctx, st.message.subarray(1), [1n]), (e) => isCustodianError(e, 'E_MPC_SHAPE'));
  assert.throws(() => cotReceiverFinish(st, new Uint8Array(10), 1), (e) => isCustodianError(e, 'E_MPC_SHAPE'));
});

test('RVOLE: c_k + d_k = a_k · b', () => {
  const { bob, alice } = dealSetup();
  const a = [randomScalar(systemRandom), randomScalar(systemRandom)];
  const s = rvoleBobStart(bob, ctx, systemRandom);
  const { c, message } = rvoleAliceRespond(alice, ctx, s.message, a, systemRandom);
  const d = rvoleBobFinish(s.state, message);
  for (let k = 0; k < 2; k++) assert.equal(mod(c[k]! + d[k]!), mod(a[k]! * s.state.b));
});

test('RVOLE check rejects Alice using an inconsistent correlation (tampered τ)', () => {
  const { bob, alice } = dealSetup();
  const s = rvoleBobStart(bob, ctx, systemRandom);
  const { message } = rvoleAliceRespond(alice, ctx, s.message, [3n, 4n], systemRandom);
  // Change Alice's correlation in one OT position and keep everything else: the check must catch it
  // unless Bob's choice bit there is 0 (selective failure, which ξ = κ + 2s absorbs); try several positions.
  let caught = 0;
  for (const j of [0, 1, 2, 3, 4, 5, 6, 7]) {
    const bad = message.slice();
    bad[j * 4 * 32 + 31]! ^= 1;
    try {
      rvoleBobFinish(s.state, bad);
    } catch (e) {
      assert.ok(isCustodianError(e, 'E_MPC_PROOF_INVALID', 'E_MPC_SHAPE'));
      caught++;
    }
  }
  assert.ok(caught >= 1, 'at least one tampered position is caught');
});

test('RVOLE check refuses a tampered u or H(r)', () => {
  const { bob, alice } = dealSetup();
  const s = rvoleBobStart(bob, ctx, systemRandom);
  const { message } = rvoleAliceRespond(alice, ctx, s.message, [3n, 4n], systemRandom);
  const tauBytes = MUL_BATCH * 4 * 32;
  for (const off of [tauBytes + 31, tauBytes + 64 + 5]) {
    const bad = message.slice();
    bad[off]! ^= 1;
    assert.throws(() => rvoleBobFinish(s.state, bad), (e) => isCustodianError(e, 'E_MPC_PROOF_INVALID', 'E_MPC_SHAPE'));
  }
});

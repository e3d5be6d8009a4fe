import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isCustodianError } from '@custodian/core/errors';
import { systemRandom } from '@custodian/core/clock';
import { equalBytes } from '@custodian/core/bytes';
import { baseOtReceiverFinish, baseOtReceiverStart, baseOtSenderFinish, baseOtSenderStart } from './base-ot.js';
import { OT_BASE_COUNT } from './limits.js';
import { fastHasher } from './curve.js';
import { encodeParts } from './transcript.js';

const ctx = new Uint8Array(32).fill(7);

function choices(): number[] {
  return Array.from(systemRandom.bytes(OT_BASE_COUNT), (b) => b & 1);
}

const c = choices();
const s = baseOtSenderStart(systemRandom);
const r = baseOtReceiverStart(ctx, c, systemRandom);

test('base OT: the receiver gets exactly the chosen key of every transfer', () => {
  const { k0, k1 } = baseOtSenderFinish(ctx, s.state, r.message);
  const got = baseOtReceiverFinish(ctx, r, s.message);
  for (let i = 0; i < OT_BASE_COUNT; i++) {
    const chosen = c[i] === 0 ? k0[i]! : k1[i]!;
    const other = c[i] === 0 ? k1[i]! : k0[i]!;
    assert.ok(equalBytes(got[i]!, chosen), `transfer ${i}`);
    assert.ok(!equalBytes(got[i]!, other), `transfer ${i} other key`);
  }
});

test('base OT: a receiver message bound to another session yields unrelated keys', () => {
  const { k0, k1 } = baseOtSenderFinish(new Uint8Array(32).fill(8), s.state, r.message);
  const got = baseOtReceiverFinish(ctx, r, s.message);
  assert.ok(!equalBytes(got[0]!, k0[0]!) && !equalBytes(got[0]!, k1[0]!));
});

test('B31 base OT rejects a receiver message of the wrong length', () => {
  for (const bad of [r.message.subarray(0, r.message.length - 1), new Uint8Array([...r.message, 0])]) {
    assert.throws(() => baseOtSenderFinish(ctx, s.state, bad), (e) => isCustodianError(e, 'E_MPC_SHAPE'));
  }
});

test('base OT rejects an off-curve point and an identity B', () => {
  const bad = r.message.slice();
  bad[2] = 0x05; // not a valid SEC1 prefix
  assert.throws(() => baseOtSenderFinish(ctx, s.state, bad), (e) => isCustodianError(e, 'E_MPC_SHAPE'));
  assert.throws(() => baseOtReceiverFinish(ctx, r, new Uint8Array(33)), (e) => isCustodianError(e, 'E_MPC_SHAPE'));
});

test('base OT rejects a transfer whose r_0 cancels H(r_1) (A_0 would be the identity, its key public)', () => {
  const bad = r.message.slice();
  const r1 = bad.subarray(2 + 33, 2 + 66);
  const h = fastHasher.hashToCurve(encodeParts([ctx, new Uint8Array(4), r1]), { DST: 'CUSTODIAN-ECDSA-DKLS23-ENDEMIC-OT-V1_XMD:SHA-256_SSWU_RO_' });
  bad.set(h.negate().toBytes(true), 2);
  assert.throws(() => baseOtSenderFinish(ctx, s.state, bad), (e) => isCustodianError(e, 'E_MPC_SHAPE'));
});

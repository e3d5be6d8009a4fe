import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '@custodian/core/clock';
import { isCustodianError } from '@custodian/core/errors';
import { createSimRoot, verifySimEvidence } from '../sim/sim-evidence.js';
import { SimAttester } from './sim.js';

const root = createSimRoot(new Uint8Array(32).fill(9));
const measurement = new Uint8Array(48).fill(0xab);

test('the sim attester issues sim evidence binding the zero-padded report data', async () => {
  const clock = new ManualClock(1_764_000_000_000);
  const got = await new SimAttester(root, measurement, clock).collect(new Uint8Array([1, 2, 3]));
  assert.equal(got.format, 'sim');
  const expected = new Uint8Array(64);
  expected.set([1, 2, 3]);
  const claims = verifySimEvidence(got.evidence, { rootPublicKey: root.publicKey, nowMs: clock.nowMs(), expectedReportData: expected });
  assert.equal(claims.measurement, 'ab'.repeat(48));
  assert.equal(claims.insecure, true);
});

test('the sim attester refuses bad report data and measurements', async () => {
  const a = new SimAttester(root, measurement, new ManualClock(0));
  await assert.rejects(a.collect(new Uint8Array(65)), (e) => isCustodianError(e, 'E_ATTEST_INPUT'));
  await assert.rejects(a.collect(new Uint8Array(0)), (e) => isCustodianError(e, 'E_ATTEST_INPUT'));
  assert.throws(() => new SimAttester(root, new Uint8Array(32), new ManualClock(0)), (e) => isCustodianError(e, 'E_ATTEST_INPUT'));
});

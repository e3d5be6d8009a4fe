import { test } from 'node:test';
import assert from 'node:assert/strict';
import { p256 } from '@noble/curves/nist.js';
import { isCustodianError } from '@custodian/core/errors';
import { canonicalJsonBytes } from '@custodian/core/canonical-json';
import {
  breakglassExecutionStatement,
  decodeFreezePayload,
  decodeRecoverSignerPayload,
  decodeSignedBreakglassExecution,
  encodeSignedBreakglassExecution,
  payloadHashOf,
  verifySignedBreakglassExecution,
  type BreakglassExecution,
} from './breakglass-execution.js';
import { createHash } from 'node:crypto';

const kbs = p256.utils.randomSecretKey();
const kbsPub = p256.getPublicKey(kbs, false);
const other = p256.getPublicKey(p256.utils.randomSecretKey(), false);

function signed(payload: Parameters<typeof payloadHashOf>[0], over: Partial<BreakglassExecution> = {}) {
  const execution: BreakglassExecution = { id: 'bg-1', action: 'unfreeze', payloadHash: payloadHashOf(payload), approvals: ['alice', 'bob', 'carol'], executedAtMs: 1_700_000_000_000, ...over };
  const signature = p256.sign(breakglassExecutionStatement(execution), kbs, { prehash: true, format: 'compact' });
  return { execution, payload, signature };
}

test('payloadHashOf is SHA-256 of the canonical JSON (the broker computes it with node:crypto)', () => {
  const p = { scope: 'wallet', walletId: 'w1' };
  assert.equal(payloadHashOf(p), createHash('sha256').update(canonicalJsonBytes(p)).digest('hex'));
});

test('a signed execution round-trips through JSON and verifies under the broker key', () => {
  const s = signed({ scope: 'wallet', walletId: 'w1' });
  const back = decodeSignedBreakglassExecution(JSON.parse(JSON.stringify(encodeSignedBreakglassExecution(s))));
  assert.deepEqual(verifySignedBreakglassExecution(kbsPub, back), s.execution);
  assert.deepEqual(decodeFreezePayload('unfreeze', back.payload), { scope: 'wallet', walletId: 'w1' });
});

test('B33 another key, an altered statement or a swapped payload is refused', () => {
  const s = signed({ scope: 'wallet', walletId: 'w1' });
  assert.throws(() => verifySignedBreakglassExecution(other, s), (e) => isCustodianError(e, 'E_BREAKGLASS_EXECUTION_INVALID'));
  assert.throws(() => verifySignedBreakglassExecution(kbsPub, { ...s, execution: { ...s.execution, executedAtMs: s.execution.executedAtMs + 1 } }), (e) => isCustodianError(e, 'E_BREAKGLASS_EXECUTION_INVALID'));
  assert.throws(() => verifySignedBreakglassExecution(kbsPub, { ...s, execution: { ...s.execution, action: 'freeze-wallet' } }), (e) => isCustodianError(e, 'E_BREAKGLASS_EXECUTION_INVALID'));
  assert.throws(() => verifySignedBreakglassExecution(kbsPub, { ...s, payload: { scope: 'wallet', walletId: 'w2' } }), (e) => isCustodianError(e, 'E_BREAKGLASS_PAYLOAD_CHANGED'));
});

test('payload decoders refuse scopes that do not fit the action, and unknown fields', () => {
  assert.throws(() => decodeFreezePayload('freeze-wallet', { scope: 'organisation', orgId: 'acme' }), (e) => isCustodianError(e, 'E_FIELD_INVALID'));
  assert.throws(() => decodeFreezePayload('freeze-organisation', { scope: 'wallet', walletId: 'w1' }), (e) => isCustodianError(e, 'E_FIELD_INVALID'));
  assert.throws(() => decodeFreezePayload('freeze-wallet', { scope: 'wallet', walletId: 'w1', extra: 1 }), (e) => isCustodianError(e, 'E_FIELD_UNKNOWN'));
  assert.deepEqual(decodeFreezePayload('freeze-organisation', { scope: 'organisation', orgId: 'acme' }), { scope: 'organisation', orgId: 'acme' });
  assert.deepEqual(decodeRecoverSignerPayload({ signerId: 'signer-2', backupSha256: 'ab'.repeat(32) }), { signerId: 'signer-2', backupSha256: 'ab'.repeat(32) });
  assert.throws(() => decodeRecoverSignerPayload({ signerId: 'signer-2', backupSha256: 'AB'.repeat(32) }), (e) => isCustodianError(e, 'E_FIELD_INVALID'));
});

test('decoding bounds the approvals and refuses an unknown action', () => {
  const s = encodeSignedBreakglassExecution(signed({ scope: 'wallet', walletId: 'w1' })) as { execution: Record<string, unknown> };
  assert.throws(() => decodeSignedBreakglassExecution({ ...s, execution: { ...s.execution, action: 'launch-missiles' } }), (e) => isCustodianError(e, 'E_FIELD_INVALID'));
  assert.throws(() => decodeSignedBreakglassExecution({ ...s, execution: { ...s.execution, approvals: Array.from({ length: 257 }, (_, i) => `m${i}`) } }), (e) => isCustodianError(e));
});

test('manifest successor and override-policy payloads decode, and refuse other shapes', async () => {
  const { decodeManifestSuccessorPayload, decodeOverridePolicyPayload, isManifestSuccessorAction } = await import('./breakglass-execution.js');
  const h = 'ab'.repeat(32);
  assert.deepEqual(decodeManifestSuccessorPayload('change-root-quorum', { manifestHash: h }), { manifestHash: h });
  assert.throws(() => decodeManifestSuccessorPayload('upgrade-measurement', { manifestHash: h.toUpperCase() }), (e) => isCustodianError(e, 'E_FIELD_INVALID'));
  assert.throws(() => decodeManifestSuccessorPayload('upgrade-measurement', { manifestHash: h, version: 2 }), (e) => isCustodianError(e, 'E_FIELD_UNKNOWN'));
  assert.deepEqual(decodeOverridePolicyPayload({ requestId: h, txDigest: `0x${h}` }), { requestId: h, txDigest: `0x${h}` });
  assert.throws(() => decodeOverridePolicyPayload({ requestId: h, txDigest: h }), (e) => isCustodianError(e, 'E_FIELD_INVALID'));
  assert.throws(() => decodeOverridePolicyPayload({ requestId: h }), (e) => isCustodianError(e));
  assert.equal(isManifestSuccessorAction('upgrade-measurement'), true);
  assert.equal(isManifestSuccessorAction('override-policy'), false);
});

/**
 * Break-glass `override-policy` on an in-process signer (issue 7 item 6): an
 * executed request naming one signing request and its digest lets exactly
 * that request past a policy DENY — with its approvals still required, once,
 * never past a freeze, never for other bytes — audited as overridden.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { p256 } from '@noble/curves/nist.js';
import type { Json } from '@custodian/core/canonical-json';
import { bytesTo0x } from '@custodian/core/bytes';
import { isCustodianError } from '@custodian/core/errors';
import { encodeSignedRequest, signRequest } from '@custodian/protocol/operator-request';
import { APPROVAL_TYPE, TX_PROPOSAL_TYPE } from '@custodian/protocol/payloads';
import type { BreakglassAction } from '@custodian/protocol/breakglass-execution';
import { encodeUnsignedEip1559 } from '@custodian/chains/evm/eip1559';
import { parseAddress } from '@custodian/chains/evm/address';
import type { Enclave } from './enclave.js';
import { EMPTY_AUDIT_MAP_CONTEXT, mapAuditEvent } from './audit-entry-map.js';
import { decodePolicyOverrides, emptyPolicyOverrides, encodePolicyOverrides, overrideFor, POLICY_OVERRIDE_TTL_MS, recordOverride, useOverride } from './policy-override.js';
import type { RecordingHost} from './test-signers.js';
import { orgKeys, orgManifest, rejectsWith, requestNonce, simHardware, singleKeySigner, TestBroker } from './test-signers.js';

type R = Record<string, Json>;
const TO = '0x70997970c51812dc3a010c7d01b50e0d17dc79c8';
const hw = simHardware();
const keys = orgKeys();
/** The first policy: at most 1 000 000 wei to TO, two treasury approvals. */
const manifest = orgManifest(hw, keys, { allowlist: [TO], maxValueWei: '1000000' });
const broker = new TestBroker();
const execution = (id: string, action: BreakglassAction, payload: Json, secret = broker.secret): Json => broker.execution(id, action, payload, { approvals: ['m0', 'm1'] }, secret);
const singleSigner = () => singleKeySigner(hw, manifest, keys, broker.trust);

/** A proposal by dave of `valueWei` to TO (over the limit: denied). */
function proposal(valueWei: bigint, txNonce = 1n): Json {
  const raw = encodeUnsignedEip1559({ chainId: 31337n, nonce: txNonce, maxPriorityFeePerGas: 1n, maxFeePerGas: 2n, gasLimit: 21000n, to: parseAddress(TO), value: valueWei, data: new Uint8Array(0), accessList: [] });
  return encodeSignedRequest(signRequest({ type: TX_PROPOSAL_TYPE, orgId: 'acme', walletId: 'w', chain: 'eth', rawTx: bytesTo0x(raw), nonce: requestNonce(), createdAtMs: Date.now() }, 'dave', keys['dave']!));
}
const propose = (e: Enclave, host: RecordingHost, p: Json): Promise<R> => e.handle('tx.propose', { request: p }, host.peer) as Promise<R>;
const approve = (who: string, answer: R): Json =>
  encodeSignedRequest(signRequest({ type: APPROVAL_TYPE, orgId: 'acme', requestId: String(answer['requestId']), txDigest: String(answer['txDigest']), summaryHash: String(answer['summaryHash']), expiresAtMs: Date.now() + 600_000, nonce: requestNonce() }, who, keys[who]!));
const last = (host: RecordingHost, kind: string): R => host.of(kind).at(-1)!.data;
const apply = (e: Enclave, host: RecordingHost, exec: Json): Promise<R> => e.handle('breakglass.apply', { execution: exec }, host.peer) as Promise<R>;

test('override-policy: the one denied request signs with its normal approvals, audited as overridden; once, and never other bytes', async () => {
  const { host, enclave } = await singleSigner();
  const p = proposal(2_000_000n);
  const denied = await propose(enclave, host, p);
  assert.equal(denied['decision'], 'deny');
  await rejectsWith(enclave.handle('tx.sign', { proposal: p, approvals: [approve('bob', denied), approve('carol', denied)] }, host.peer), String(denied['code']));
  // Another request for the very same bytes (a new proposal nonce) is another request id: the override does not cover it.
  const twin = proposal(2_000_000n);

  const applied = await apply(enclave, host, execution('bg-ov-1', 'override-policy', { requestId: String(denied['requestId']), txDigest: String(denied['txDigest']) }));
  assert.equal(applied['applied'], true);
  const entry = last(host, 'breakglass.applied');
  assert.equal(entry['scope'], 'request');
  const typed = mapAuditEvent('breakglass.applied', String(denied['requestId']), entry, 1, EMPTY_AUDIT_MAP_CONTEXT);
  assert.ok(typed.kind === 'breakglass.step' && typed.target === `request:${String(denied['requestId'])}` && typed.breakglassId === 'bg-ov-1');

  const lifted = await propose(enclave, host, p);
  assert.equal(lifted['decision'], 'needs-approval');
  assert.match(String((lifted['reasons'] as string[])[0]), /^overridden by break-glass bg-ov-1: denied /);
  const decision = last(host, 'policy.decision');
  assert.equal(decision['overriddenBy'], 'bg-ov-1');
  assert.match(String((decision['reasons'] as string[])[0]), /overridden by break-glass bg-ov-1/);

  // The four-eyes rule stands: one approval is not enough, and the override is not spent by the refusal.
  await rejectsWith(enclave.handle('tx.sign', { proposal: p, approvals: [approve('bob', lifted)] }, host.peer), 'E_QUORUM_NOT_MET');
  const signed = (await enclave.handle('tx.sign', { proposal: p, approvals: [approve('bob', lifted), approve('carol', lifted)] }, host.peer)) as R;
  assert.match(String(signed['signedTx']), /^0x02/);
  assert.equal(last(host, 'policy.overridden')['breakglassId'], 'bg-ov-1');
  assert.equal(host.of('signature.released').length, 1);

  // Not a second request: the twin is still denied.
  const twinAnswer = await propose(enclave, host, twin);
  assert.equal(twinAnswer['decision'], 'deny');
  await rejectsWith(enclave.handle('tx.sign', { proposal: twin, approvals: [approve('bob', twinAnswer), approve('carol', twinAnswer)] }, host.peer), String(denied['code']));
  assert.equal(host.of('signature.released').length, 1);
  // Another execution for the same request is refused (it could otherwise renew a spent override).
  await rejectsWith(apply(enclave, host, execution('bg-ov-1b', 'override-policy', { requestId: String(denied['requestId']), txDigest: String(denied['txDigest']) })), 'E_BREAKGLASS_OVERRIDE_EXISTS');
});

test('B33 an override naming another digest, from another broker, or under a freeze lets nothing through, audited', async () => {
  const { host, enclave } = await singleSigner();
  const p = proposal(3_000_000n, 7n);
  const denied = await propose(enclave, host, p);
  const other = await propose(enclave, host, proposal(4_000_000n, 8n));
  // Other bytes: the override names this request with another transaction's digest.
  await apply(enclave, host, execution('bg-ov-2', 'override-policy', { requestId: String(denied['requestId']), txDigest: String(other['txDigest']) }));
  assert.equal((await propose(enclave, host, p))['decision'], 'deny');
  // Another broker's statement is refused and audited.
  await rejectsWith(apply(enclave, host, execution('bg-ov-3', 'override-policy', { requestId: String(other['requestId']), txDigest: String(other['txDigest']) }, p256.utils.randomSecretKey())), 'E_BREAKGLASS_EXECUTION_INVALID');
  assert.equal(last(host, 'breakglass.refused')['code'], 'E_BREAKGLASS_EXECUTION_INVALID');
  assert.equal((await propose(enclave, host, proposal(4_000_000n, 8n)))['decision'], 'deny');
  // A freeze beats an override.
  await apply(enclave, host, execution('bg-ov-4', 'override-policy', { requestId: String(other['requestId']), txDigest: String(other['txDigest']) }));
  await apply(enclave, host, execution('bg-fr-1', 'freeze-wallet', { scope: 'wallet', walletId: 'w' }));
  await rejectsWith(propose(enclave, host, proposal(4_000_000n, 8n)), 'E_WALLET_FROZEN');
  assert.equal(host.of('signature.released').length, 0);
});

test('override records: single use (a retry of the same threshold signing excepted), expiry, floor after eviction, sealed round trip', () => {
  const o = emptyPolicyOverrides();
  const rid = 'ab'.repeat(32);
  const digest = `0x${'cd'.repeat(32)}`;
  const e = { id: 'bg-1', action: 'override-policy' as const, payloadHash: '00'.repeat(32), approvals: [], executedAtMs: 1000 };
  assert.equal(recordOverride(o, e, { requestId: rid, txDigest: digest }, 5000, false), true);
  assert.equal(recordOverride(o, e, { requestId: rid, txDigest: digest }, 5000, false), false);
  assert.equal(overrideFor(o, rid, `0x${'ce'.repeat(32)}`, 5000), null);
  assert.equal(overrideFor(o, rid, digest, 5000 + POLICY_OVERRIDE_TTL_MS), null, 'an unused override expires');
  assert.notEqual(overrideFor(o, rid, digest, 6000), null);
  useOverride(o, rid, 6000, false);
  assert.throws(() => useOverride(o, rid, 7000, false), (x) => isCustodianError(x, 'E_BREAKGLASS_ALREADY_USED'));
  assert.equal(useOverride(o, rid, 7000, true).usedAtMs, 6000);
  const back = decodePolicyOverrides(encodePolicyOverrides(o));
  assert.deepEqual([...back.records.values()], [...o.records.values()]);
  // Full: the used one is forgotten and the floor rises past it, so its statement cannot be applied again.
  for (let i = 1; o.records.size < 256; i++) recordOverride(o, { ...e, id: `bg-f${i}`, executedAtMs: 2000 + i }, { requestId: i.toString(16).padStart(64, '0'), txDigest: digest }, 8000, false);
  recordOverride(o, { ...e, id: 'bg-new', executedAtMs: 9000 }, { requestId: 'ef'.repeat(32), txDigest: digest }, 8000, false);
  assert.equal(o.floorMs, 1000);
  assert.throws(() => recordOverride(o, e, { requestId: rid, txDigest: digest }, 8000, false), (x) => isCustodianError(x, 'E_BREAKGLASS_STALE'));
  assert.throws(() => recordOverride(o, { ...e, id: 'bg-more', executedAtMs: 9001 }, { requestId: 'ee'.repeat(32), txDigest: digest }, 8000, false), (x) => isCustodianError(x, 'E_BREAKGLASS_OVERRIDES_FULL'));
});

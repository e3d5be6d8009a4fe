/**
 * The host's side of break-glass freezes: `POST /v1/breakglass/apply` hands
 * the broker's signed execution to every signer and answers each outcome
 * (recording nothing itself); a malformed statement is refused before any
 * signer sees it; freeze refusals answer 423 and end a threshold signing at
 * once (the relay does not try another signing set).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { CustodianError, isCustodianError } from '@custodian/core/errors';
import type { Json } from '@custodian/core/canonical-json';
import { encodeSignedBreakglassExecution, payloadHashOf } from '@custodian/protocol/breakglass-execution';
import { CustodyService } from './custody-service.js';
import { createHttpApi } from './http-api.js';
import { httpStatusFor } from './http-status.js';
import { TERMINAL_CODES, ThresholdRelay, type MpcEndpoint } from './threshold-relay.js';
import type { SignerLink } from './signer-link.js';
import type { HostStore } from './store.js';

const payload = { scope: 'wallet', walletId: 'w1' };
/** A statement in the broker's wire form (the signature is the signers' business, not the host's). */
const EXECUTION = encodeSignedBreakglassExecution({
  execution: { id: 'bg-1', action: 'freeze-wallet', payloadHash: payloadHashOf(payload), approvals: ['carol'], executedAtMs: 1_800_000_000_000 },
  payload,
  signature: new Uint8Array(64).fill(1),
});

/** Signers that record what they were handed and answer as scripted. */
function fakeLinks(answers: Record<string, (body: Json) => Json>): { links: Map<string, SignerLink>; calls: { signerId: string; op: string; body: Json }[] } {
  const calls: { signerId: string; op: string; body: Json }[] = [];
  const links = new Map(
    Object.entries(answers).map(([signerId, answer]) => [
      signerId,
      {
        signerId,
        call: async (op: string, body: Json): Promise<Json> => {
          calls.push({ signerId, op, body });
          return answer(body);
        },
      } as unknown as SignerLink,
    ]),
  );
  return { links, calls };
}

async function post(service: CustodyService, body: unknown): Promise<{ status: number; json: Record<string, Json> }> {
  const server = createHttpApi(service, {} as HostStore);
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
  try {
    const { port } = server.address() as AddressInfo;
    const r = await fetch(`http://127.0.0.1:${port}/v1/breakglass/apply`, { method: 'POST', body: JSON.stringify(body) });
    return { status: r.status, json: (await r.json()) as Record<string, Json> };
  } finally {
    server.close();
  }
}

test('POST /v1/breakglass/apply hands the statement to every signer and answers each outcome, refusals with their code', async () => {
  const { links, calls } = fakeLinks({
    'signer-1': () => ({ applied: true }),
    'signer-2': () => {
      throw new CustodianError('E_BREAKGLASS_STALE', 'older than the last one applied');
    },
    'signer-3': () => {
      throw new CustodianError('E_SIGNER_UNAVAILABLE', 'connection closed');
    },
  });
  const service = new CustodyService({} as HostStore, links, null, { nowMs: () => 0 });
  const { status, json } = await post(service, EXECUTION);
  assert.equal(status, 200);
  assert.deepEqual(json, {
    applied: [
      { signerId: 'signer-1', ok: true },
      { signerId: 'signer-2', ok: false, code: 'E_BREAKGLASS_STALE' },
      { signerId: 'signer-3', ok: false, code: 'E_SIGNER_UNAVAILABLE' },
    ],
  });
  // Then the signer that applied it backs up again (a restore brings back the freezes its backup holds).
  assert.deepEqual(calls.map((c) => `${c.signerId}:${c.op}`), ['signer-1:breakglass.apply', 'signer-2:breakglass.apply', 'signer-3:breakglass.apply', 'signer-1:backup.export']);
  for (const c of calls.slice(0, 3)) assert.deepEqual(c.body, { execution: EXECUTION });
});

test('POST /v1/breakglass/apply refuses a malformed statement (400) before any signer sees it', async () => {
  const { links, calls } = fakeLinks({ 'signer-1': () => ({ applied: true }) });
  const service = new CustodyService({} as HostStore, links, null, { nowMs: () => 0 });
  const { status, json } = await post(service, { ...(EXECUTION as Record<string, Json>), signature: 'zz' });
  assert.equal(status, 400);
  assert.match(String((json['error'] as Record<string, Json>)['code']), /^E_(FIELD|HEX)_/);
  assert.equal(calls.length, 0);
});

test('freeze refusals are 423 Locked and end a threshold signing at once', async () => {
  assert.equal(httpStatusFor(new CustodianError('E_WALLET_FROZEN', 'frozen')), 423);
  assert.equal(httpStatusFor(new CustodianError('E_ORGANISATION_FROZEN', 'frozen')), 423);
  for (const code of ['E_WALLET_FROZEN', 'E_ORGANISATION_FROZEN']) {
    assert.ok(TERMINAL_CODES.has(code), `${code} is terminal for the relay`);
    const opens: string[] = [];
    const endpoint = (signerId: string): MpcEndpoint => ({
      signerId,
      call: async (op: string): Promise<Json> => {
        if (op === 'mpc.open') opens.push(signerId);
        if (op === 'mpc.open' && signerId === 'a') throw new CustodianError(code, 'frozen', { signerId });
        if (op === 'mpc.open') return { nonce: signerId };
        return { aborted: true };
      },
    });
    const relay = new ThresholdRelay(endpoint);
    await assert.rejects(relay.sign(['a', 'b', 'c'], 2, async () => true, (signers, combiner) => ({ kind: 'sign', signers: [...signers], combiner })), (e: unknown) => isCustodianError(e, code));
    assert.ok(opens.filter((s) => s === 'a').length === 1, `${code}: one signing set tried, not another`);
  }
});

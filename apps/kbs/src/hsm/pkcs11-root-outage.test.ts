/**
 * THREATS.md F10 against a real SoftHSM2 token: a lost session is recovered
 * by a bounded retry; a removed token surfaces E_HSM_UNAVAILABLE after the
 * bounded retries and nothing falls back to a software key. Its own file, so
 * its own process and token store.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pkcs11js from 'pkcs11js';
import { Secret } from '@custodian/core/secret';
import { isCustodianError } from '@custodian/core/errors';
import { createSoftHsmStore, initSoftHsmToken } from './softhsm-token.js';
import { openPkcs11Root, trimTokenLabel } from './pkcs11-root.js';

const PIN = '2468';
const store = createSoftHsmStore(mkdtempSync(join(tmpdir(), 'kbs-f10-')));
initSoftHsmToken(store, 'f10', PIN, '13572468');
process.env['SOFTHSM2_CONF'] = store.confPath;

test('F10 recovers from a lost session with a bounded retry on a fresh session', async () => {
  const events: { ckr: string; final: boolean }[] = [];
  const root = await openPkcs11Root(
    { modulePath: store.modulePath, tokenLabel: 'f10', pin: new Secret(PIN), retryBackoffMs: 1, onError: (e) => events.push(e) },
    { provision: true },
  );
  // Another part of the application closes every session on the slot.
  const p11 = new pkcs11js.PKCS11();
  p11.load(store.modulePath);
  try {
    p11.C_Initialize();
  } catch {
    // already initialised in this process
  }
  const slot = p11.C_GetSlotList(true).find((s) => trimTokenLabel(p11.C_GetTokenInfo(s).label) === 'f10');
  assert.ok(slot);
  p11.C_CloseAllSessions(slot);
  const sig = await root.sign(new Uint8Array([1, 2, 3]));
  assert.equal(sig.length, 64);
  assert.equal(events.length, 1);
  assert.equal(events[0]?.final, false);
  await root.close();
});

test('F10 token removed: E_HSM_UNAVAILABLE after bounded retries, never a software fallback', async () => {
  const events: { ckr: string; final: boolean; attempt: number }[] = [];
  const sleeps: number[] = [];
  const root = await openPkcs11Root(
    {
      modulePath: store.modulePath,
      tokenLabel: 'f10',
      pin: new Secret(PIN),
      retryAttempts: 4,
      retryBackoffMs: 10,
      sleep: async (ms) => void sleeps.push(ms),
      onError: (e) => events.push(e),
    },
    { provision: true },
  );
  const wrapped = await root.wrapKey(new Secret(new Uint8Array(32).fill(5)));
  for (const d of readdirSync(store.tokenDir)) rmSync(join(store.tokenDir, d), { recursive: true, force: true });

  for (const op of [() => root.unwrapKey(wrapped), () => root.sign(new Uint8Array([9])), () => root.wrapKey(new Secret(new Uint8Array(32)))]) {
    events.length = 0;
    sleeps.length = 0;
    await assert.rejects(op(), (e) => isCustodianError(e, 'E_HSM_UNAVAILABLE') && /no software fallback/.test(e.message));
    assert.ok(events.length >= 1 && events.length <= 4, `bounded attempts, got ${events.length}`);
    assert.equal(events.at(-1)?.final, true);
    assert.ok(sleeps.every((ms, i) => ms === 10 * 2 ** i), `doubling back-off: ${sleeps.join(',')}`);
  }
  assert.equal(root.kind, 'pkcs11');
  const health = await root.health();
  assert.equal(health.ok, false);
  assert.equal(health.kind, 'pkcs11');
});

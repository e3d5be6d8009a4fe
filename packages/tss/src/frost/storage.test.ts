// Key material codecs and the durable nonce journal.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { systemRandom } from '@custodian/core/clock';
import { CustodianError, isCustodianError } from '@custodian/core/errors';
import { Secret } from '@custodian/core/secret';
import { JournalNonceStore } from './journal-nonce-store.js';
import { decodeKeyShare, decodePublicKeyPackage, encodeKeyShareForSealing, encodePublicKeyPackage } from './key-share-codec.js';
import { runLocalDkg, signLocally } from './local.js';

const keys = runLocalDkg('frost-ed25519', 2, 3, systemRandom, 'storage');

test('key shares and public packages round-trip and still sign', async () => {
  const back = keys.map((k) => decodeKeyShare(encodeKeyShareForSealing(k)));
  assert.deepEqual(decodePublicKeyPackage(encodePublicKeyPackage(keys[0]!.publicPackage)), keys[0]!.publicPackage);
  await signLocally([back[1]!, back[2]!], Uint8Array.of(5), systemRandom, 'storage-sign');
});

test('rejects a key share whose secret does not match its package, and a swapped party', () => {
  const blob = new TextDecoder().decode(encodeKeyShareForSealing(keys[0]!).expose());
  const swapped = blob.replace('"party":1', '"party":2');
  assert.throws(() => decodeKeyShare(new Secret(new TextEncoder().encode(swapped))), (e: unknown) => isCustodianError(e, 'E_DKG_SHARE_INVALID'));
  const shortened = blob.replace(/"commitments":\["[0-9a-f]+",/, '"commitments":[');
  assert.throws(() => decodeKeyShare(new Secret(new TextEncoder().encode(shortened))), (e: unknown) => e instanceof CustodianError);
});

test('the nonce journal survives reopen, ignores a torn last line, refuses a corrupt record and a wrong key', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'journal-'));
  const path = join(dir, 'j');
  const key = new Secret(new Uint8Array(32).fill(1));
  try {
    const a = JournalNonceStore.open(path, key, systemRandom);
    const nonces = { hiding: new Uint8Array(32).fill(3), binding: new Uint8Array(32).fill(4) };
    await a.reserve('aa'.repeat(32), { sessionId: 's', nonces: new Secret(nonces) });
    await a.reserve('bb'.repeat(32), { sessionId: 's', nonces: new Secret(nonces) });
    const took = await a.consume('aa'.repeat(32));
    assert.equal(took.state, 'fresh');
    if (took.state === 'fresh') assert.deepEqual(took.record.nonces.expose(), nonces);
    a.close();
    appendFileSync(path, '{"op":"consume","key":"bbbb'); // torn write: its promise never resolved
    const b = JournalNonceStore.open(path, key, systemRandom);
    assert.equal((await b.lookup('aa'.repeat(32))).state, 'consumed');
    assert.equal((await b.lookup('bb'.repeat(32))).state, 'fresh');
    await assert.rejects(b.reserve('aa'.repeat(32), { sessionId: 's', nonces: new Secret(nonces) }), (e: unknown) => isCustodianError(e, 'E_NONCE_REUSED'));
    b.close();
    const wrong = JournalNonceStore.open(path, new Secret(new Uint8Array(32).fill(2)), systemRandom);
    await assert.rejects(wrong.consume('bb'.repeat(32)), (e: unknown) => isCustodianError(e, 'E_NONCE_STORE_INVALID'));
    wrong.close();
    writeFileSync(path, 'garbage\n');
    assert.throws(() => JournalNonceStore.open(path, key, systemRandom), (e: unknown) => isCustodianError(e, 'E_NONCE_STORE_INVALID'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

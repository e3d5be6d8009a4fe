// The sealed FROST nonce store: nonces sealed before a commitment leaves, consumed (sealed) before a share exists, never fresh again across a restart.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ed25519 } from '@noble/curves/ed25519.js';
import { systemRandom } from '@custodian/core/clock';
import { isCustodianError } from '@custodian/core/errors';
import { runLocalDkg } from '@custodian/tss/frost/local';
import { commitNonces, signPackage } from '@custodian/tss/frost/signer';
import { aggregateSignature, createSigningPackage } from '@custodian/tss/frost/coordinator';
import { decodeState, encodeState, initialState, type EnclaveState } from './state.js';
import { SealedNonceStore } from './sealed-nonce-store.js';

/** A signer whose state is sealed on every persist; `restart` reloads it from the last sealed bytes only. */
function signer(): { store: () => SealedNonceStore; restart: () => void; sealedCount: () => number } {
  let state: EnclaveState = initialState(...([0, 1, 2, 3].map(() => systemRandom.bytes(32)) as [Uint8Array, Uint8Array, Uint8Array, Uint8Array]));
  let sealed = encodeState(state);
  let count = 0;
  let now = 1_000;
  const make = (): SealedNonceStore =>
    new SealedNonceStore(
      () => state,
      async () => {
        sealed = encodeState(state);
        count++;
      },
      () => now++,
    );
  let current = make();
  return {
    store: () => current,
    restart: () => {
      state = decodeState(sealed, 0n);
      current = make();
    },
    sealedCount: () => count,
  };
}

test('B30 a FROST signature through the sealed store verifies; each nonce is sealed at commit and consumed (sealed) before its share', async () => {
  const shares = runLocalDkg('frost-ed25519', 2, 3, systemRandom);
  const [a, b] = [signer(), signer()];
  const msg = new Uint8Array([1, 2, 3]);
  const ca = await commitNonces(shares[0]!, 'sess-1', systemRandom, a.store());
  const cb = await commitNonces(shares[1]!, 'sess-1', systemRandom, b.store());
  assert.equal(a.sealedCount(), 1, 'the nonce is sealed before the commitment is returned');
  // Both restart between rounds: the sealed nonces are still there.
  a.restart();
  b.restart();
  const pkg = createSigningPackage(shares[0]!.publicPackage, 'sess-1', msg, [ca, cb]);
  const za = await signPackage(shares[0]!, pkg, a.store());
  assert.equal(a.sealedCount(), 2, 'consumed and sealed before the share was returned');
  const zb = await signPackage(shares[1]!, pkg, b.store());
  const sig = aggregateSignature(shares[0]!.publicPackage, pkg, [za, zb]);
  assert.ok(ed25519.verify(sig, msg, shares[0]!.publicPackage.groupPublicKey));
});

test('B30 a coordinator asking twice for the same nonce gets E_NONCE_REUSED, also after a restart', async () => {
  const shares = runLocalDkg('frost-ed25519', 2, 3, systemRandom);
  const [a, b] = [signer(), signer()];
  const ca = await commitNonces(shares[0]!, 'sess-2', systemRandom, a.store());
  const cb = await commitNonces(shares[1]!, 'sess-2', systemRandom, b.store());
  const pkg = createSigningPackage(shares[0]!.publicPackage, 'sess-2', new Uint8Array([7]), [ca, cb]);
  await signPackage(shares[0]!, pkg, a.store());
  await assert.rejects(signPackage(shares[0]!, pkg, a.store()), (e: unknown) => isCustodianError(e, 'E_NONCE_REUSED'));
  a.restart();
  await assert.rejects(signPackage(shares[0]!, pkg, a.store()), (e: unknown) => isCustodianError(e, 'E_NONCE_REUSED'));
  const other = createSigningPackage(shares[0]!.publicPackage, 'sess-2', new Uint8Array([8]), [ca, cb]);
  await assert.rejects(signPackage(shares[0]!, other, a.store()), (e: unknown) => isCustodianError(e, 'E_NONCE_REUSED'));
});

test('L06 outstanding nonces are bounded (E_NONCE_POOL_EXHAUSTED); pruned nonces read as unknown and sign nothing', async () => {
  const shares = runLocalDkg('frost-ed25519', 2, 2, systemRandom);
  const a = signer();
  const small = new SealedNonceStore(() => decodeState(encodeState(initialState(...([0, 1, 2, 3].map(() => systemRandom.bytes(32)) as [Uint8Array, Uint8Array, Uint8Array, Uint8Array]))), 0n), async () => undefined, () => 0, 0);
  await assert.rejects(commitNonces(shares[0]!, 's', systemRandom, small), (e: unknown) => isCustodianError(e, 'E_NONCE_POOL_EXHAUSTED'));
  const ca = await commitNonces(shares[0]!, 'sess-3', systemRandom, a.store());
  const cb = await commitNonces(shares[1]!, 'sess-3', systemRandom, signer().store());
  a.store().prune(0);
  const pkg = createSigningPackage(shares[0]!.publicPackage, 'sess-3', new Uint8Array([9]), [ca, cb]);
  await assert.rejects(signPackage(shares[0]!, pkg, a.store()), (e: unknown) => isCustodianError(e, 'E_NONCE_UNKNOWN'));
});

// Signing: nonce consumption (B30, F02), session binding (L08), verifiable
// shares, and the robust coordinator (F04).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { systemRandom } from '@custodian/core/clock';
import { isCustodianError } from '@custodian/core/errors';
import { aggregateSignature, createSigningPackage, verifySignatureShare } from './coordinator.js';
import type { FrostKeyShare } from './key-package.js';
import { verifierKeyOf } from './key-package.js';
import { runLocalDkg, signLocally } from './local.js';
import { MemoryNonceStore, type NonceLookup, type NonceStore, type StoredNonce } from './nonce-store.js';
import type { PartyId } from './party-id.js';
import { signRobustly, type SigningTransport } from './robust-signing.js';
import { commitNonces, signPackage } from './signer.js';
import type { SigningCommitment } from './signing-messages.js';
import { frostSuite } from './suite.js';

const msg = new TextEncoder().encode('pay 1 BTC to bc1q…');
const keys23 = runLocalDkg('frost-secp256k1-tr', 2, 3, systemRandom, 'sign-tests');
const keys35 = runLocalDkg('frost-ed25519', 3, 5, systemRandom, 'robust-tests');

async function rejectsAsync(p: Promise<unknown>, code: string, party?: number): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(isCustodianError(e, code), `expected ${code}, got ${String(e)}`);
    if (party !== undefined) assert.equal(e.detail['party'], party, 'culprit');
    return true;
  });
}

function rejects(f: () => unknown, code: string, party?: number): void {
  assert.throws(f, (e: unknown) => {
    assert.ok(isCustodianError(e, code), `expected ${code}, got ${String(e)}`);
    if (party !== undefined) assert.equal(e.detail['party'], party, 'culprit');
    return true;
  });
}

async function round1(shares: readonly FrostKeyShare[], sessionId: string, stores: Map<number, NonceStore>): Promise<SigningCommitment[]> {
  return Promise.all(shares.map((s) => commitNonces(s, sessionId, systemRandom, stores.get(s.party)!)));
}

function storesFor(shares: readonly FrostKeyShare[]): Map<number, NonceStore> {
  return new Map(shares.map((s) => [s.party, new MemoryNonceStore()]));
}

test('B30 a coordinator that asks twice for the same nonce gets E_NONCE_REUSED', async () => {
  const signers = [keys23[0]!, keys23[1]!];
  const stores = storesFor(signers);
  const pkg = createSigningPackage(signers[0]!.publicPackage, 's1', msg, await round1(signers, 's1', stores));
  await signPackage(signers[0]!, pkg, stores.get(1)!);
  await rejectsAsync(signPackage(signers[0]!, pkg, stores.get(1)!), 'E_NONCE_REUSED', 1);
  // and for another message with the same commitments
  const other = createSigningPackage(signers[0]!.publicPackage, 's1', new Uint8Array([9]), pkg.commitments);
  await rejectsAsync(signPackage(signers[0]!, other, stores.get(1)!), 'E_NONCE_REUSED', 1);
});

/** A durable store wrapper that "crashes" the signer right after the consume is durable. */
class CrashAfterConsume implements NonceStore {
  crashed = false;
  constructor(readonly inner: NonceStore) {}
  reserve(key: string, record: StoredNonce): Promise<void> {
    return this.inner.reserve(key, record);
  }
  lookup(key: string): Promise<NonceLookup> {
    return this.inner.lookup(key);
  }
  async consume(key: string): Promise<NonceLookup> {
    await this.inner.consume(key);
    this.crashed = true;
    throw new Error('signer killed between nonce consumption and share release');
  }
}

test('B30/F02 a signer killed between rounds never reuses the nonce after restart', async () => {
  const signers = [keys23[0]!, keys23[2]!];
  const durable = new MemoryNonceStore(); // survives the "process"
  const stores = new Map<number, NonceStore>([[1, new CrashAfterConsume(durable)], [3, new MemoryNonceStore()]]);
  const pkg = createSigningPackage(signers[0]!.publicPackage, 'crash', msg, await round1(signers, 'crash', stores));
  await assert.rejects(signPackage(signers[0]!, pkg, stores.get(1)!), /killed/);
  // restart: a fresh signer object over the same durable store
  await rejectsAsync(signPackage(signers[0]!, pkg, durable), 'E_NONCE_REUSED', 1);
  // a restarted signer also refuses when killed before consumption finished? the nonce is still fresh
  // and usable exactly once:
  const stores2 = storesFor(signers);
  const pkg2 = createSigningPackage(signers[0]!.publicPackage, 'crash-2', msg, await round1(signers, 'crash-2', stores2));
  const z = await signPackage(signers[0]!, pkg2, stores2.get(1)!);
  await rejectsAsync(signPackage(signers[0]!, pkg2, stores2.get(1)!), 'E_NONCE_REUSED');
  verifySignatureShare(signers[0]!.publicPackage, pkg2, z);
});

test('rejects a commitment this signer never made (E_NONCE_UNKNOWN)', async () => {
  const signers = [keys23[0]!, keys23[1]!];
  const stores = storesFor(signers);
  const c = await round1(signers, 's2', stores);
  const pkg = createSigningPackage(signers[0]!.publicPackage, 's2', msg, [{ ...c[0]!, hiding: c[1]!.hiding }, c[1]!]);
  await rejectsAsync(signPackage(signers[0]!, pkg, stores.get(1)!), 'E_NONCE_UNKNOWN', 1);
});

test('L08 a commitment made for session A is refused in session B (no nonce burned)', async () => {
  const signers = [keys23[0]!, keys23[1]!];
  const stores = storesFor(signers);
  const a = await round1(signers, 'session-A', stores);
  const forged = a.map((c) => ({ ...c, sessionId: 'session-B' }));
  const pkgB = createSigningPackage(signers[0]!.publicPackage, 'session-B', msg, forged);
  await rejectsAsync(signPackage(signers[0]!, pkgB, stores.get(1)!), 'E_SESSION_MISMATCH', 1);
  // mixing commitments of two sessions in one package is refused up front
  rejects(() => createSigningPackage(signers[0]!.publicPackage, 'session-A', msg, [a[0]!, forged[1]!]), 'E_SESSION_MISMATCH', 2);
  // session A still completes
  const pkgA = createSigningPackage(signers[0]!.publicPackage, 'session-A', msg, a);
  const shares = await Promise.all(signers.map((s) => signPackage(s, pkgA, stores.get(s.party)!)));
  const sig = aggregateSignature(signers[0]!.publicPackage, pkgA, shares);
  assert.ok(frostSuite('frost-secp256k1-tr').verifyPlain(sig, msg, verifierKeyOf(signers[0]!.publicPackage)));
});

test('L08 a signature share from session A injected into session B gives E_SESSION_MISMATCH', async () => {
  const signers = [keys23[1]!, keys23[2]!];
  const stores = storesFor(signers);
  const pkgA = createSigningPackage(signers[0]!.publicPackage, 'A', msg, await round1(signers, 'A', stores));
  const pkgB = createSigningPackage(signers[0]!.publicPackage, 'B', msg, await round1(signers, 'B', stores));
  const zA = await signPackage(signers[0]!, pkgA, stores.get(2)!);
  rejects(() => verifySignatureShare(signers[0]!.publicPackage, pkgB, zA), 'E_SESSION_MISMATCH', 2);
  rejects(() => verifySignatureShare(signers[0]!.publicPackage, pkgB, { ...zA, sessionId: 'B' }), 'E_SIGNATURE_SHARE_INVALID', 2);
});

test('L08 16 concurrent sessions on one key all verify, no cross-session mixing', async () => {
  const signers = [keys23[0]!, keys23[2]!];
  const stores = storesFor(signers);
  const sigs = await Promise.all(
    Array.from({ length: 16 }, (_, i) => signLocally(signers, Uint8Array.of(i), systemRandom, `par-${i}`, stores as Map<PartyId, NonceStore>)),
  );
  sigs.forEach((sig, i) => assert.ok(frostSuite('frost-secp256k1-tr').verifyPlain(sig, Uint8Array.of(i), verifierKeyOf(signers[0]!.publicPackage))));
});

test('rejects a share from a party not in the signing set, an invalid share, and an out-of-range scalar', async () => {
  const signers = [keys23[0]!, keys23[1]!];
  const stores = storesFor(signers);
  const pkg = createSigningPackage(signers[0]!.publicPackage, 's3', msg, await round1(signers, 's3', stores));
  const z1 = await signPackage(signers[0]!, pkg, stores.get(1)!);
  rejects(() => verifySignatureShare(signers[0]!.publicPackage, pkg, { ...z1, party: 3 as PartyId }), 'E_SIGNER_NOT_IN_SET', 3);
  const flipped = z1.share.slice();
  flipped[31] = flipped[31]! ^ 1;
  rejects(() => verifySignatureShare(signers[0]!.publicPackage, pkg, { ...z1, share: flipped }), 'E_SIGNATURE_SHARE_INVALID', 1);
  rejects(() => verifySignatureShare(signers[0]!.publicPackage, pkg, { ...z1, share: new Uint8Array(32).fill(0xff) }), 'E_FROST_ELEMENT_INVALID');
  rejects(() => aggregateSignature(signers[0]!.publicPackage, pkg, [z1, { ...z1 }]), 'E_PARTY_ID_INVALID', 1);
});

test('rejects a signing package with too few signers, a duplicate signer, an identity commitment', async () => {
  const signers = [keys23[0]!, keys23[1]!];
  const stores = storesFor(signers);
  const c = await round1(signers, 's4', stores);
  rejects(() => createSigningPackage(signers[0]!.publicPackage, 's4', msg, [c[0]!]), 'E_MPC_SHAPE');
  rejects(() => createSigningPackage(signers[0]!.publicPackage, 's4', msg, [c[0]!, c[0]!]), 'E_PARTY_ID_INVALID', 1);
  rejects(() => createSigningPackage(signers[0]!.publicPackage, 's4', msg, [c[0]!, { ...c[1]!, binding: new Uint8Array(33) }]), 'E_FROST_ELEMENT_INVALID');
  rejects(() => createSigningPackage(signers[0]!.publicPackage, 's4', msg, [c[0]!, { ...c[1]!, party: 7 as PartyId }]), 'E_SIGNER_NOT_IN_SET', 7);
});

/** Local transport over in-process signers, with per-party misbehaviour. */
function transportFor(shares: readonly FrostKeyShare[], behaviour: Record<number, 'silent' | 'bad-share' | 'silent-round2' | 'identity-commitment'>): SigningTransport & { calls: string[] } {
  const stores = storesFor(shares);
  const calls: string[] = [];
  return {
    calls,
    async commit(party, sessionId) {
      calls.push(`commit ${party} ${sessionId}`);
      if (behaviour[party] === 'silent') throw new Error('timeout');
      const c = await commitNonces(shares.find((s) => s.party === party)!, sessionId, systemRandom, stores.get(party)!);
      if (behaviour[party] === 'identity-commitment') return { ...c, binding: Uint8Array.of(1, ...new Uint8Array(31)) }; // Ed25519 neutral element
      return c;
    },
    async sign(party, signing) {
      if (behaviour[party] === 'silent-round2') throw new Error('timeout');
      const z = await signPackage(shares.find((s) => s.party === party)!, signing, stores.get(party)!);
      if (behaviour[party] === 'bad-share') {
        const share = z.share.slice();
        share[0] = share[0]! ^ 1;
        return { ...z, share };
      }
      return z;
    },
  };
}

test('F04 a silent signer and an invalid-share signer are named, excluded, and signing completes within n−t+1 sessions', async () => {
  const transport = transportFor(keys35, { 2: 'silent', 3: 'bad-share' });
  const pkg = keys35[0]!.publicPackage;
  const r = await signRobustly({ publicPackage: pkg, message: msg, transport, sessionIdFor: (i) => `robust-${i}` });
  assert.ok(frostSuite('frost-ed25519').verifyPlain(r.signature, msg, verifierKeyOf(pkg)));
  assert.ok(r.sessions <= pkg.parties.length - pkg.threshold + 1);
  assert.deepEqual([...r.signers], [1, 4, 5]);
  assert.deepEqual(
    r.blamed.map((b) => [b.party, b.reason]),
    [
      [2, 'unresponsive'],
      [3, 'invalid-share'],
    ],
  );
});

test('F04 a signer silent in round two is excluded and nonces are never reused across sessions', async () => {
  const transport = transportFor(keys35, { 1: 'silent-round2' });
  const r = await signRobustly({ publicPackage: keys35[0]!.publicPackage, message: msg, transport, sessionIdFor: (i) => `r2-${i}` });
  assert.deepEqual(r.blamed.map((b) => b.party), [1]);
  assert.equal(r.sessions, 2);
  // every commit call used a distinct session id per party
  assert.equal(new Set(transport.calls).size, transport.calls.length);
});

test('F04 with fewer than t honest signers: E_QUORUM_UNAVAILABLE and nothing signed', async () => {
  const transport = transportFor(keys35, { 1: 'silent', 2: 'bad-share', 3: 'silent' });
  await rejectsAsync(signRobustly({ publicPackage: keys35[0]!.publicPackage, message: msg, transport, sessionIdFor: (i) => `q-${i}` }), 'E_QUORUM_UNAVAILABLE');
});

test('F04 a signer that sends an identity commitment is named and excluded', async () => {
  const transport = transportFor(keys35, { 1: 'identity-commitment' });
  const r = await signRobustly({ publicPackage: keys35[0]!.publicPackage, message: msg, transport, sessionIdFor: (i) => `id-${i}` });
  assert.deepEqual(r.blamed.map((b) => [b.party, b.reason, b.code]), [[1, 'invalid-commitment', 'E_FROST_ELEMENT_INVALID']]);
});

test('binding factor mismatch: a share computed over another commitment list is refused and nothing is aggregated', async () => {
  const signers = [keys35[0]!, keys35[1]!, keys35[2]!];
  const stores = storesFor(signers);
  const c = await round1(signers, 'bf', stores);
  const pkg = createSigningPackage(signers[0]!.publicPackage, 'bf', msg, c);
  // a relay shows signer 1 a package whose message differs, so its binding factors differ
  const forged = createSigningPackage(signers[0]!.publicPackage, 'bf', Uint8Array.of(0), c);
  const z1 = await signPackage(signers[0]!, forged, stores.get(1)!);
  const rest = await Promise.all([signers[1]!, signers[2]!].map((s) => signPackage(s, pkg, stores.get(s.party)!)));
  rejects(() => aggregateSignature(signers[0]!.publicPackage, pkg, [z1, ...rest]), 'E_SIGNATURE_SHARE_INVALID', 1);
});

test('L06 an exhausted nonce pool gives E_NONCE_POOL_EXHAUSTED (retryable), never a reused nonce', async () => {
  const store = new MemoryNonceStore(2);
  await commitNonces(keys23[0]!, 'pool-1', systemRandom, store);
  await commitNonces(keys23[0]!, 'pool-2', systemRandom, store);
  await rejectsAsync(commitNonces(keys23[0]!, 'pool-3', systemRandom, store), 'E_NONCE_POOL_EXHAUSTED');
  assert.equal(store.freshCount, 2);
});

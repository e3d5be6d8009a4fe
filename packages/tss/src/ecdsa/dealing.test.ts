import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sha256 } from '@noble/hashes/sha2.js';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { systemRandom } from '@custodian/core/clock';
import { isCustodianError } from '@custodian/core/errors';
import { mod, mulBase, pointToBytes } from './group.js';
import { lagrangeAtZero } from './party-id.js';
import { inboxOf, runDealing, runKeygen, runOnline, runPresign } from './local-run.js';
import { EcdsaDealing, previousKeyOf, type DealingConfig } from './dealing.js';
import type { EcdsaKeyShare } from './key-share.js';
import type { EcdsaMessage } from './message.js';
import { testAuthenticators } from './test-auth.js';

const shares = runKeygen(2, 3, systemRandom.bytes(32), systemRandom);

function sign(sh: ReadonlyMap<bigint, EcdsaKeyShare>, signers: bigint[]): void {
  const digest = sha256(systemRandom.bytes(16));
  const sig = runOnline(runPresign(sh, signers, systemRandom.bytes(32), systemRandom), digest).get(signers[0]!)!;
  assert.ok(secp256k1.verify(sig.compact, digest, pointToBytes(sh.get(signers[0]!)!.publicKey), { prehash: false }));
}

test('2-of-3 keygen: shares interpolate to the key and the pairwise OT setups match in both directions', () => {
  const [a, b] = [shares.get(1n)!, shares.get(3n)!];
  const sk = mod(lagrangeAtZero(1n, [1n, 3n]) * a.secret.expose().share + lagrangeAtZero(3n, [1n, 3n]) * b.secret.expose().share);
  assert.ok(mulBase(sk).equals(a.publicKey));
  assert.ok(a.publicKey.equals(b.publicKey));
  const ab = a.secret.expose().pairs.get(3n)!;
  const ba = b.secret.expose().pairs.get(1n)!;
  ab.alice.delta.forEach((d, i) => assert.deepEqual(ab.alice.seeds[i], d === 0 ? ba.bob.seeds0[i] : ba.bob.seeds1[i]));
  ba.alice.delta.forEach((d, i) => assert.deepEqual(ba.alice.seeds[i], d === 0 ? ab.bob.seeds0[i] : ab.bob.seeds1[i]));
});

function keygenConfigs(t: number, n: number, sid = systemRandom.bytes(32)): DealingConfig[] {
  const ids = Array.from({ length: n }, (_, i) => BigInt(i + 1));
  return ids.map((self) => ({ sessionId: sid, self, mode: 'keygen' as const, threshold: t, receivers: ids, random: systemRandom }));
}

/**
 * Round 1 of parties 1 and 3, run once: their round-1 messages do not depend
 * on party 2's state, so each test starts a fresh party 2, lets `tamper`
 * change what it receives and runs its round 2.
 */
const tamperConfigs = keygenConfigs(2, 3);
const tamperR1 = [tamperConfigs[0]!, tamperConfigs[2]!].flatMap((c) => new EcdsaDealing(c).round1());

function round2With(tamper: (m: EcdsaMessage) => EcdsaMessage): () => void {
  const victim = new EcdsaDealing(tamperConfigs[1]!);
  victim.round1();
  return () => victim.round2(inboxOf(tamperR1, 2n).map(tamper));
}

const POK_Z_OFFSET = 2 + 2 * 33 + 33; // count, t commitments, proof R

test('B28 rejects an invalid proof of knowledge of the constant term (E_DKG_POK_INVALID)', () => {
  const run = round2With((m) => {
    if (m.from !== 1n) return m;
    const body = m.body.slice();
    body[POK_Z_OFFSET + 31]! ^= 1;
    return { ...m, body };
  });
  assert.throws(run, (e) => isCustodianError(e, 'E_DKG_POK_INVALID') && e.detail['culprit'] === '1');
});

test('B28 rejects a constant commitment that the proof of knowledge does not cover (rogue key)', () => {
  const run = round2With((m) => {
    if (m.from !== 1n) return m;
    return { ...m, body: swapConstant(m.body.slice()) };
  });
  assert.throws(run, (e) => isCustodianError(e, 'E_DKG_POK_INVALID', 'E_DKG_SHARE_INVALID'));
});

/** Replaces C_0 by G: the proof no longer matches the commitment. */
function swapConstant(body: Uint8Array): Uint8Array {
  body.set(pointToBytes(mulBase(1n)), 2);
  return body;
}

test('B31 rejects a Feldman commitment vector of length t+1 (E_MPC_SHAPE, no silent threshold raise)', () => {
  const sid = systemRandom.bytes(32);
  const honest = keygenConfigs(2, 3, sid).map((c) => new EcdsaDealing(c));
  const raiser = new EcdsaDealing({ ...keygenConfigs(3, 3, sid)[0]! });
  const r1 = [...raiser.round1(), ...honest.slice(1).flatMap((s) => s.round1())];
  assert.throws(() => honest[1]!.round2(inboxOf(r1, 2n)), (e) => isCustodianError(e, 'E_MPC_SHAPE') && e.detail['culprit'] === '1');
});

test('rejects a share that does not match the dealer commitments (E_DKG_SHARE_INVALID)', () => {
  const run = round2With((m) => {
    if (m.from !== 1n) return m;
    const body = m.body.slice();
    body[POK_Z_OFFSET + 32 + 31]! ^= 1; // the share follows the proof
    return { ...m, body };
  });
  assert.throws(run, (e) => isCustodianError(e, 'E_DKG_SHARE_INVALID') && e.detail['culprit'] === '1');
});

test('L08 rejects a DKG message replayed from another session (E_SESSION_MISMATCH)', () => {
  const other = keygenConfigs(2, 3).map((c) => new EcdsaDealing(c));
  const replay = other[0]!.round1();
  const run = round2With((m) => (m.from === 1n ? replay.find((r) => r.to === m.to)! : m));
  assert.throws(run, (e) => isCustodianError(e, 'E_SESSION_MISMATCH') && e.detail['culprit'] === '1');
});

test('F05 a dealer that signs different commitments for different peers is convicted (E_BROADCAST_EQUIVOCATION, both copies as evidence)', () => {
  const auth = testAuthenticators(3, systemRandom);
  const configs = keygenConfigs(2, 3).map((c) => ({ ...c, auth: auth.get(BigInt(c.self))! }));
  const sessions = configs.map((c) => new EcdsaDealing(c));
  const twin = new EcdsaDealing(configs[0]!);
  const r1 = [...sessions[0]!.round1().filter((m) => m.to === 2n), ...twin.round1().filter((m) => m.to === 3n), ...sessions.slice(1).flatMap((s) => s.round1())];
  const r2 = sessions.flatMap((s) => s.round2(inboxOf(r1, s.self)));
  assert.throws(
    () => sessions[1]!.finish(inboxOf(r2, 2n)),
    (e) => isCustodianError(e, 'E_BROADCAST_EQUIVOCATION') && e.detail['culprit'] === '1' && Array.isArray(e.detail['evidence']),
  );
});

test('refresh: same public key, new shares, fresh OT setups; it also lifts a freeze and a burned pair (F06 re-key path)', () => {
  const prev = previousKeyOf(shares.get(1n)!);
  const frozen = { ...shares.get(1n)!, status: { frozen: true, excluded: new Set([2n]) } };
  const dealt = new Map([...shares, [1n, frozen]]);
  const sid = systemRandom.bytes(32);
  const fresh = runDealing(
    [1n, 2n, 3n].map((self) => ({ sessionId: sid, self, mode: 'refresh' as const, threshold: 2, receivers: [1n, 2n, 3n], previous: prev, share: dealt.get(self)!, random: systemRandom })),
  );
  assert.equal(fresh.get(1n)!.status.frozen, false);
  assert.equal(fresh.get(1n)!.status.excluded.size, 0);
  for (const id of [1n, 2n, 3n]) {
    assert.ok(fresh.get(id)!.publicKey.equals(prev.publicKey));
    assert.notEqual(fresh.get(id)!.secret.expose().share, shares.get(id)!.secret.expose().share);
  }
  sign(fresh, [1n, 2n]);
});

test('reshare 2-of-3 → 3-of-3 committee {2,3,4} (one member leaves, one joins): same public key, new committee signs', () => {
  const prev = previousKeyOf(shares.get(1n)!);
  const sid = systemRandom.bytes(32);
  const dealers = [1n, 3n];
  const receivers = [2n, 3n, 4n];
  const all = [1n, 2n, 3n, 4n];
  const next = runDealing(
    all.map((self) => ({
      sessionId: sid,
      self,
      mode: 'reshare' as const,
      threshold: 3,
      receivers,
      dealers,
      previous: prev,
      ...(dealers.includes(self) ? { share: shares.get(self)! } : {}),
      random: systemRandom,
    })),
  );
  assert.deepEqual([...next.keys()].sort(), receivers);
  for (const s of next.values()) assert.ok(s.publicKey.equals(prev.publicKey));
  sign(next, [2n, 3n, 4n]);
});

test('reshare refuses a dealer set below the old threshold (E_THRESHOLD_INVALID)', () => {
  const prev = previousKeyOf(shares.get(1n)!);
  assert.throws(
    () => new EcdsaDealing({ sessionId: systemRandom.bytes(32), self: 1n, mode: 'reshare', threshold: 2, receivers: [1n, 4n], dealers: [1n], previous: prev, share: shares.get(1n)!, random: systemRandom }),
    (e) => isCustodianError(e, 'E_THRESHOLD_INVALID'),
  );
});

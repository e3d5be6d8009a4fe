import { test } from 'node:test';
import assert from 'node:assert/strict';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { systemRandom } from '@custodian/core/clock';
import { isCustodianError } from '@custodian/core/errors';
import { inboxOf, runOnline, runPresign } from './local-run.js';
import { dealKeySharesForTests } from './trusted-dealer.js';
import { testAuthenticators } from './test-auth.js';
import { EcdsaPresignSession } from './sign.js';
import { pointToBytes } from './group.js';

const shares = dealKeySharesForTests(2, 3, systemRandom);

test('2-of-3 signing: the signature verifies under plain secp256k1, is low-S and recovers the group key', () => {
  for (const signers of [[1n, 2n], [2n, 3n]]) {
    const digest = sha256(systemRandom.bytes(40));
    const sigs = runOnline(runPresign(shares, signers, systemRandom.bytes(32), systemRandom), digest);
    const sig = sigs.get(signers[0]!)!;
    const pk = pointToBytes(shares.get(1n)!.publicKey);
    assert.ok(secp256k1.verify(sig.compact, digest, pk, { prehash: false }));
    assert.ok(sig.s <= secp256k1.Point.Fn.ORDER >> 1n);
    const rec = new secp256k1.Signature(sig.r, sig.s, sig.recovery).recoverPublicKey(digest);
    assert.ok(rec.equals(shares.get(1n)!.publicKey));
    for (const other of sigs.values()) assert.deepEqual(other.compact, sig.compact);
  }
});

test('L08 concurrent sessions on one key: 8 interleaved pre-signings all verify, none mixes', () => {
  const signers = [1n, 2n];
  const sids = Array.from({ length: 8 }, () => systemRandom.bytes(32));
  const sessions = sids.map((sid) => signers.map((id) => new EcdsaPresignSession(shares.get(id)!, { sessionId: sid, signers, random: systemRandom })));
  const r1 = sessions.map((ss) => ss.flatMap((s) => s.round1()));
  const r2 = sessions.map((ss, k) => ss.flatMap((s, i) => s.round2(inboxOf(r1[k]!, signers[i]!))));
  const pre = sessions.map((ss, k) => new Map(ss.map((s, i) => [signers[i]!, s.finish(inboxOf(r2[k]!, signers[i]!))])));
  const pk = pointToBytes(shares.get(1n)!.publicKey);
  pre.forEach((p, k) => {
    const digest = sha256(new Uint8Array([k]));
    assert.ok(secp256k1.verify(runOnline(p, digest).get(1n)!.compact, digest, pk, { prehash: false }));
  });
});

test('E_PRESIGNATURE_REUSED: a pre-signature signs once', () => {
  const pre = runPresign(shares, [1n, 3n], systemRandom.bytes(32), systemRandom);
  runOnline(pre, sha256(new Uint8Array([1])));
  assert.throws(() => pre.get(1n)!.online(sha256(new Uint8Array([2]))), (e) => isCustodianError(e, 'E_PRESIGNATURE_REUSED'));
});

function startRound1(sid: Uint8Array) {
  const a = new EcdsaPresignSession(shares.get(1n)!, { sessionId: sid, signers: [1n, 2n], random: systemRandom });
  const b = new EcdsaPresignSession(shares.get(2n)!, { sessionId: sid, signers: [1n, 2n], random: systemRandom });
  return { a, b, ra: a.round1(), rb: b.round1() };
}

test('L08 a round-1 message replayed from another session is refused (E_SESSION_MISMATCH) and names the sender', () => {
  const one = startRound1(systemRandom.bytes(32));
  const two = startRound1(systemRandom.bytes(32));
  assert.throws(() => one.b.round2(two.ra), (e) => isCustodianError(e, 'E_SESSION_MISMATCH') && e.detail['culprit'] === '1');
});

test('a session that refused a message is dead: no retry with other messages (E_MPC_PHASE)', () => {
  const one = startRound1(systemRandom.bytes(32));
  const two = startRound1(systemRandom.bytes(32));
  assert.throws(() => one.b.round2(two.ra), (e) => isCustodianError(e, 'E_SESSION_MISMATCH'));
  assert.throws(() => one.b.round2(one.ra), (e) => isCustodianError(e, 'E_MPC_PHASE'));
});

test('B31 a round with a missing or duplicated peer message is refused (E_MPC_SHAPE)', () => {
  const s = startRound1(systemRandom.bytes(32));
  assert.throws(() => s.b.round2([]), (e) => isCustodianError(e, 'E_MPC_SHAPE'));
  const s2 = startRound1(systemRandom.bytes(32));
  assert.throws(() => s2.b.round2([...s2.ra, ...s2.ra]), (e) => isCustodianError(e, 'E_MPC_SHAPE'));
});

test('an OT-extension message with inconsistent columns fails the KOS check, blames its sender and burns the pair setup (E_PEER_EXCLUDED)', () => {
  const local = dealKeySharesForTests(2, 3, systemRandom);
  const sid = systemRandom.bytes(32);
  const a = new EcdsaPresignSession(local.get(1n)!, { sessionId: sid, signers: [1n, 2n], random: systemRandom });
  const b = new EcdsaPresignSession(local.get(2n)!, { sessionId: sid, signers: [1n, 2n], random: systemRandom });
  b.round1();
  const bad = a.round1().map((m) => {
    const body = m.body.slice();
    body[32 + 32 + 7]! ^= 4; // a column byte of party 1's extension message (after commitment and nonce)
    return { ...m, body };
  });
  assert.throws(() => b.round2(bad), (e) => isCustodianError(e, 'E_MPC_OT_CHECK_FAILED') && e.detail['culprit'] === '1');
  assert.ok(local.get(2n)!.status.excluded.has(1n));
  const again = () => new EcdsaPresignSession(local.get(2n)!, { sessionId: systemRandom.bytes(32), signers: [1n, 2n], random: systemRandom });
  assert.throws(again, (e) => isCustodianError(e, 'E_PEER_EXCLUDED') && e.detail['party'] === '1');
  // Party 2 still signs with party 3.
  const digest = sha256(new Uint8Array([5]));
  const sig = runOnline(runPresign(local, [2n, 3n], systemRandom.bytes(32), systemRandom), digest).get(2n)!;
  assert.ok(secp256k1.verify(sig.compact, digest, pointToBytes(local.get(2n)!.publicKey), { prehash: false }));
});

test('a message from a party outside the session is refused (E_PARTY_UNKNOWN)', () => {
  const s = startRound1(systemRandom.bytes(32));
  const forged = s.ra.map((m) => ({ ...m, from: 3n }));
  assert.throws(() => s.b.round2(forged), (e) => isCustodianError(e, 'E_PARTY_UNKNOWN'));
});

test('B31 a truncated round-1 body is refused (E_MPC_SHAPE) and blames its sender', () => {
  const s = startRound1(systemRandom.bytes(32));
  const bad = s.ra.map((m) => ({ ...m, body: m.body.subarray(0, m.body.length - 1) }));
  assert.throws(() => s.b.round2(bad), (e) => isCustodianError(e, 'E_MPC_SHAPE') && e.detail['culprit'] === '1');
});

function runToRound2(sid: Uint8Array, signers: bigint[]) {
  const sessions = signers.map((id) => new EcdsaPresignSession(shares.get(id)!, { sessionId: sid, signers, random: systemRandom }));
  const r1 = sessions.flatMap((s) => s.round1());
  const r2 = sessions.flatMap((s, i) => s.round2(inboxOf(r1, signers[i]!)));
  return { sessions, r2 };
}

test('a commitment opened to a different R is refused (E_MPC_COMMITMENT_INVALID) and blames the opener', () => {
  const { sessions, r2 } = runToRound2(systemRandom.bytes(32), [1n, 2n]);
  const tampered = inboxOf(r2, 2n).map((m) => {
    const body = m.body.slice();
    const echoLen = 2 + 2 * 32;
    body.set(pointToBytes(secp256k1.Point.BASE), echoLen); // another R
    return { ...m, body };
  });
  assert.throws(() => sessions[1]!.finish(tampered), (e) => isCustodianError(e, 'E_MPC_COMMITMENT_INVALID') && e.detail['culprit'] === '1');
});

test('a multiplication input inconsistent with the key share is refused (E_MPC_PROOF_INVALID)', () => {
  const { sessions, r2 } = runToRound2(systemRandom.bytes(32), [1n, 2n]);
  const tampered = inboxOf(r2, 2n).map((m) => {
    const body = m.body.slice();
    // Γ^v sits after echo, R, salt, RVOLE answer and Γ^u: replace it with G.
    const off = body.length - 32 - 33;
    body.set(pointToBytes(secp256k1.Point.BASE), off);
    return { ...m, body };
  });
  assert.throws(() => sessions[1]!.finish(tampered), (e) => isCustodianError(e, 'E_MPC_PROOF_INVALID') && e.detail['culprit'] === '1');
});

const sh3 = dealKeySharesForTests(3, 3, systemRandom);

/** Pre-signing among 1, 2, 3 where party 1 shows party 3 another commitment; returns party 2's finish. */
function equivocate(auth: ReturnType<typeof testAuthenticators> | undefined, forgeEchoOf3 = false): () => void {
  const signers = [1n, 2n, 3n];
  const sid = systemRandom.bytes(32);
  const sessions = signers.map((id) => new EcdsaPresignSession(sh3.get(id)!, { sessionId: sid, signers, random: systemRandom, ...(auth ? { auth: auth.get(id)! } : {}) }));
  const twin = new EcdsaPresignSession(sh3.get(1n)!, { sessionId: sid, signers, random: systemRandom, ...(auth ? { auth: auth.get(1n)! } : {}) });
  const twinR1 = twin.round1();
  const r1 = sessions.flatMap((s) => s.round1()).map((m) => (!forgeEchoOf3 && m.from === 1n && m.to === 3n ? twinR1.find((t) => t.to === 3n)! : m));
  let r2 = sessions.flatMap((s, i) => (i === 0 ? [] : s.round2(inboxOf(r1, signers[i]!))));
  r2 = [...r2, ...sessions[0]!.round2(inboxOf(r1, 1n))];
  if (forgeEchoOf3) {
    // Party 3 lies about party 1's commitment in its echo to party 2 (no equivocation by 1 this time).
    r2 = r2.map((m) => {
      if (m.from !== 3n || m.to !== 2n) return m;
      const body = m.body.slice();
      body[2 + 2 + 5]! ^= 1; // first echoed broadcast (party 1's commitment), after count and its length
      return { ...m, body };
    });
  }
  return () => sessions[1]!.finish(inboxOf(r2, 2n));
}

test('F05 with identity keys: a signer that signs two commitments for one round is convicted, with both signed copies as evidence', () => {
  assert.throws(equivocate(testAuthenticators(3, systemRandom)), (e) => {
    return isCustodianError(e, 'E_BROADCAST_EQUIVOCATION') && e.detail['culprit'] === '1' && Array.isArray(e.detail['evidence']) && (e.detail['evidence'] as unknown[]).length === 2;
  });
});

test('F05 with identity keys: an echo of a broadcast its sender never signed convicts the echoer, not the sender', () => {
  assert.throws(equivocate(testAuthenticators(3, systemRandom), true), (e) => isCustodianError(e, 'E_BROADCAST_EQUIVOCATION') && e.detail['culprit'] === '3');
});

test('a broadcast whose identity-key signature does not verify is refused (E_BROADCAST_SIGNATURE_INVALID)', () => {
  const auth = testAuthenticators(2, systemRandom);
  const sid = systemRandom.bytes(32);
  const a = new EcdsaPresignSession(shares.get(1n)!, { sessionId: sid, signers: [1n, 2n], random: systemRandom, auth: auth.get(1n)! });
  const b = new EcdsaPresignSession(shares.get(2n)!, { sessionId: sid, signers: [1n, 2n], random: systemRandom, auth: auth.get(2n)! });
  b.round1();
  const bad = a.round1().map((m) => {
    const body = m.body.slice();
    body[32 + 10]! ^= 1; // inside the signature that follows the 32-byte commitment
    return { ...m, body };
  });
  assert.throws(() => b.round2(bad), (e) => isCustodianError(e, 'E_BROADCAST_SIGNATURE_INVALID') && e.detail['culprit'] === '1');
});

test('F05 without identity keys: an equivocation about a third party names two suspects and blames nobody outright', () => {
  assert.throws(equivocate(undefined), (e) => {
    return isCustodianError(e, 'E_BROADCAST_EQUIVOCATION') && e.detail['culprit'] === undefined && JSON.stringify(e.detail['suspects']) === '["1","3"]';
  });
});

test('F06 a signature that fails to verify is terminal: E_SIGNATURE_INVALID_TERMINAL, key frozen, no retry', () => {
  // Runs last: it freezes party 2's share of the file's key.
  const sh = shares;
  const pre = runPresign(sh, [1n, 2n], systemRandom.bytes(32), systemRandom);
  const digest = sha256(new Uint8Array([9]));
  const m1 = pre.get(1n)!.online(digest);
  pre.get(2n)!.online(digest);
  const bad = m1.map((m) => {
    const body = m.body.slice();
    body[63]! ^= 1; // party 1 sends a wrong w
    return { ...m, body };
  });
  assert.throws(() => pre.get(2n)!.combine(bad), (e) => isCustodianError(e, 'E_SIGNATURE_INVALID_TERMINAL'));
  assert.equal(sh.get(2n)!.status.frozen, true);
  assert.throws(() => new EcdsaPresignSession(sh.get(2n)!, { sessionId: systemRandom.bytes(32), signers: [1n, 2n], random: systemRandom }), (e) => isCustodianError(e, 'E_KEY_FROZEN'));
});

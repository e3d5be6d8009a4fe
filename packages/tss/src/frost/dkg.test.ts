// DKG orchestration: the happy path and every refusal, each naming its culprit.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ed25519 } from '@noble/curves/ed25519.js';
import { systemRandom } from '@custodian/core/clock';
import { isCustodianError } from '@custodian/core/errors';
import { Secret } from '@custodian/core/secret';
import type { BroadcastAuthenticator } from './broadcast-auth.js';
import { dkgEcho, dkgFinish, dkgShares, dkgStart, type DkgRound1Message, type DkgShareMessage } from './dkg.js';
import type { EchoMessage } from './echo.js';
import { validateKeyShare } from './key-package.js';
import type { PartyId } from './party-id.js';
import { frostSuite } from './suite.js';

const P = (...ids: number[]): PartyId[] => ids as PartyId[];
const parties = P(1, 2, 3);

function start(suite: 'frost-ed25519' | 'frost-secp256k1' | 'frost-secp256k1-tr' = 'frost-ed25519', threshold = 2, ids = parties, sessionId = 'dkg-1') {
  return ids.map((self) => dkgStart({ suite, sessionId, threshold, parties: ids, self }, systemRandom));
}

function rejects(f: () => unknown, code: string, party?: number): void {
  assert.throws(f, (e: unknown) => {
    assert.ok(isCustodianError(e, code), `expected ${code}, got ${String(e)}`);
    if (party !== undefined) assert.equal(e.detail['party'], party, 'culprit');
    return true;
  });
}

test('DKG among 3 parties yields consistent shares and no party holds the key', () => {
  const s = start('frost-secp256k1', 2);
  const echoes = s.map(({ state }) => dkgEcho(state, s.filter((o) => o.state !== state).map((o) => o.broadcast)));
  const out = s.flatMap(({ state }) => dkgShares(state, echoes.filter((e) => e.from !== state.config.self)));
  const keys = s.map(({ state }) => dkgFinish(state, out.filter((m) => m.to === state.config.self)));
  for (const k of keys) {
    validateKeyShare(k);
    assert.deepEqual(k.publicPackage.commitments, keys[0]!.publicPackage.commitments);
    assert.equal(String(k.signingShare), '[Secret]');
  }
  assert.throws(() => JSON.stringify(keys[0]!.signingShare));
});

test('B28 rejects an invalid proof of knowledge and names the sender', () => {
  const s = start();
  const bad: DkgRound1Message = { ...s[1]!.broadcast, proofOfKnowledge: s[2]!.broadcast.proofOfKnowledge };
  rejects(() => dkgEcho(s[0]!.state, [bad, s[2]!.broadcast]), 'E_DKG_POK_INVALID', 2);
});

test('B28 rejects a rogue key that copies another party’s commitment (PoK bound to the identifier)', () => {
  const s = start();
  const rogue: DkgRound1Message = { ...s[2]!.broadcast, commitment: s[1]!.broadcast.commitment, proofOfKnowledge: s[1]!.broadcast.proofOfKnowledge };
  rejects(() => dkgEcho(s[0]!.state, [s[1]!.broadcast, rogue]), 'E_DKG_POK_INVALID', 3);
});

test('B28 rejects a rogue key that cancels another party’s commitment', () => {
  const s = start();
  const { group } = frostSuite('frost-ed25519');
  const negated = group.encodeElement(group.decodeElement(s[1]!.broadcast.commitment[0]!, 'c').negate());
  const rogue: DkgRound1Message = { ...s[2]!.broadcast, commitment: [negated, ...s[2]!.broadcast.commitment.slice(1)] };
  rejects(() => dkgEcho(s[0]!.state, [s[1]!.broadcast, rogue]), 'E_DKG_POK_INVALID', 3);
});

test('B31 rejects a commitment vector of length t+1 (silent threshold raise)', () => {
  const s = start();
  const longer: DkgRound1Message = { ...s[1]!.broadcast, commitment: [...s[1]!.broadcast.commitment, s[2]!.broadcast.commitment[1]!] };
  rejects(() => dkgEcho(s[0]!.state, [longer, s[2]!.broadcast]), 'E_MPC_SHAPE', 2);
});

test('B31 rejects n−2 round-1 messages where n−1 are expected', () => {
  const s = start();
  rejects(() => dkgEcho(s[0]!.state, [s[1]!.broadcast]), 'E_MPC_SHAPE');
});

test('B31 rejects an empty proof-of-knowledge', () => {
  const s = start();
  rejects(() => dkgEcho(s[0]!.state, [{ ...s[1]!.broadcast, proofOfKnowledge: new Uint8Array(0) }, s[2]!.broadcast]), 'E_MPC_SHAPE', 2);
});

test('B29 rejects identifiers 0, q, q+1 (≡ 1), out of range and duplicates', () => {
  const q = frostSuite('frost-ed25519').group.Fn.ORDER;
  for (const bad of [[0, 1, 2], [q, 1, 2], [q + 1n, 2, 3], [1, 2, 70_000], [1, 2, 2], [1, -1, 2]]) {
    rejects(() => dkgStart({ suite: 'frost-ed25519', sessionId: 's', threshold: 2, parties: bad as unknown as PartyId[], self: 1 as PartyId }, systemRandom), 'E_PARTY_ID_INVALID');
  }
});

test('B29 rejects a round-1 message from a party outside the committee, and a duplicate sender', () => {
  const s = start();
  rejects(() => dkgEcho(s[0]!.state, [s[1]!.broadcast, { ...s[2]!.broadcast, from: 9 as PartyId }]), 'E_PARTY_ID_INVALID', 9);
  rejects(() => dkgEcho(start()[0]!.state, [s[1]!.broadcast, s[1]!.broadcast]), 'E_PARTY_ID_INVALID', 2);
});

test('rejects an identity element in a commitment', () => {
  const s = start('frost-ed25519');
  const identity = new Uint8Array(32);
  identity[0] = 1; // Ed25519 encoding of the neutral element (0, 1)
  const bad: DkgRound1Message = { ...s[1]!.broadcast, commitment: [s[1]!.broadcast.commitment[0]!, identity] };
  rejects(() => dkgEcho(s[0]!.state, [bad, s[2]!.broadcast]), 'E_FROST_ELEMENT_INVALID');
});

test('L08 rejects a round-1 message from another session', () => {
  const s = start();
  const other = start('frost-ed25519', 2, parties, 'dkg-other');
  rejects(() => dkgEcho(s[0]!.state, [other[1]!.broadcast, s[2]!.broadcast]), 'E_SESSION_MISMATCH', 2);
});

test('F05 detects equivocation in round 1 through the echo and names the equivocator', () => {
  const s = start();
  // party 2 sends one commitment to party 1 and another to party 3
  const twin = dkgStart({ suite: 'frost-ed25519', sessionId: 'dkg-1', threshold: 2, parties, self: 2 as PartyId }, systemRandom);
  const e1 = dkgEcho(s[0]!.state, [s[1]!.broadcast, s[2]!.broadcast]);
  const e2 = dkgEcho(s[1]!.state, [s[0]!.broadcast, s[2]!.broadcast]);
  const e3 = dkgEcho(s[2]!.state, [s[0]!.broadcast, twin.broadcast]);
  assert.throws(
    () => dkgShares(s[0]!.state, [e2, e3]),
    (e: unknown) => isCustodianError(e, 'E_BROADCAST_EQUIVOCATION') && e.detail['party'] === 2 && Array.isArray(e.detail['evidence']),
  );
  rejects(() => dkgShares(s[2]!.state, [e1, e2]), 'E_BROADCAST_EQUIVOCATION', 2);
});

test('F05/B31 rejects a missing echo', () => {
  const s = start();
  const echoes: EchoMessage[] = s.map(({ state }) => dkgEcho(state, s.filter((o) => o.state !== state).map((o) => o.broadcast)));
  rejects(() => dkgShares(s[0]!.state, [echoes[1]!]), 'E_MPC_SHAPE');
});

test('rejects an inconsistent share and names the sender', () => {
  const s = start('frost-secp256k1-tr', 2);
  const echoes = s.map(({ state }) => dkgEcho(state, s.filter((o) => o.state !== state).map((o) => o.broadcast)));
  const out = s.flatMap(({ state }) => dkgShares(state, echoes.filter((e) => e.from !== state.config.self)));
  const toOne = out.filter((m) => m.to === 1);
  const forged = toOne.map((m): DkgShareMessage => (m.from === 3 ? { ...m, signingShare: new Secret(out.find((o) => o.from === 3 && o.to === 2)!.signingShare.expose()) } : m));
  rejects(() => dkgFinish(s[0]!.state, forged), 'E_DKG_SHARE_INVALID', 3);
});

test('rejects a share from a party that did not take part, and steps run out of order', () => {
  const s = start();
  rejects(() => dkgShares(s[0]!.state, []), 'E_MPC_SHAPE');
  rejects(() => dkgFinish(s[0]!.state, []), 'E_MPC_SHAPE');
});

// --- F05 with signed broadcasts: attributable blame -------------------------

const identity = new Map(parties.map((p) => [p, ed25519.utils.randomSecretKey()]));
const authFor = (self: PartyId): BroadcastAuthenticator => ({
  sign: (m) => ed25519.sign(m, identity.get(self)!),
  verify: (party, m, sig) => {
    const sk = identity.get(party);
    return sk !== undefined && ed25519.verify(sig, m, ed25519.getPublicKey(sk));
  },
});
const startSigned = (sessionId = 'dkg-signed') => parties.map((self) => dkgStart({ suite: 'frost-ed25519', sessionId, threshold: 2, parties, self, authenticator: authFor(self) }, systemRandom));

test('DKG with signed broadcasts completes, echoes carry the senders’ signatures', () => {
  const s = startSigned();
  const echoes = s.map(({ state }) => dkgEcho(state, s.filter((o) => o.state !== state).map((o) => o.broadcast)));
  assert.equal(Object.keys(echoes[0]!.signatures ?? {}).length, 3);
  const out = s.flatMap(({ state }) => dkgShares(state, echoes.filter((e) => e.from !== state.config.self)));
  for (const { state } of s) validateKeyShare(dkgFinish(state, out.filter((m) => m.to === state.config.self)));
});

test('F05 signed equivocation is proven: the sender is named with both signed digests as evidence', () => {
  const s = startSigned('dkg-eq-signed');
  const twin = dkgStart({ suite: 'frost-ed25519', sessionId: 'dkg-eq-signed', threshold: 2, parties, self: 2 as PartyId, authenticator: authFor(2 as PartyId) }, systemRandom);
  dkgEcho(s[0]!.state, [s[1]!.broadcast, s[2]!.broadcast]);
  const e2 = dkgEcho(s[1]!.state, [s[0]!.broadcast, s[2]!.broadcast]);
  const e3 = dkgEcho(s[2]!.state, [s[0]!.broadcast, twin.broadcast]);
  assert.throws(
    () => dkgShares(s[0]!.state, [e2, e3]),
    (e: unknown) => isCustodianError(e, 'E_BROADCAST_EQUIVOCATION') && e.detail['party'] === 2 && e.detail['attributable'] === true && (e.detail['evidence'] as unknown[]).length === 2,
  );
});

test('F05 a reporter that lies about another party’s message is named, never the honest sender (E_ECHO_FORGED)', () => {
  const s = startSigned('dkg-liar');
  dkgEcho(s[0]!.state, [s[1]!.broadcast, s[2]!.broadcast]);
  const e2 = dkgEcho(s[1]!.state, [s[0]!.broadcast, s[2]!.broadcast]);
  const honest3 = dkgEcho(s[2]!.state, [s[0]!.broadcast, s[1]!.broadcast]);
  const lie: EchoMessage = { ...honest3, digests: { ...honest3.digests, 2: 'ab'.repeat(32) } };
  rejects(() => dkgShares(s[0]!.state, [e2, lie]), 'E_ECHO_FORGED', 3);
});

test('rejects an unsigned or wrongly signed round-1 message when broadcasts are signed', () => {
  const s = startSigned('dkg-unsigned');
  const { signature: _drop, ...unsigned } = s[1]!.broadcast;
  rejects(() => dkgEcho(s[0]!.state, [unsigned, s[2]!.broadcast]), 'E_BROADCAST_SIGNATURE_INVALID', 2);
  const s2 = startSigned('dkg-wrongsig');
  rejects(() => dkgEcho(s2[0]!.state, [{ ...s2[1]!.broadcast, signature: s2[2]!.broadcast.signature! }, s2[2]!.broadcast]), 'E_BROADCAST_SIGNATURE_INVALID', 2);
});

test('rejects an out-of-range share scalar and names the sender', () => {
  const s = start('frost-secp256k1', 2);
  const echoes = s.map(({ state }) => dkgEcho(state, s.filter((o) => o.state !== state).map((o) => o.broadcast)));
  const out = s.flatMap(({ state }) => dkgShares(state, echoes.filter((e) => e.from !== state.config.self)));
  const toOne = out.filter((m) => m.to === 1).map((m): DkgShareMessage => (m.from === 2 ? { ...m, signingShare: new Secret(new Uint8Array(32).fill(0xff)) } : m));
  rejects(() => dkgFinish(s[0]!.state, toOne), 'E_DKG_SHARE_INVALID', 2);
});

// Proactive refresh and resharing to a new committee: same group key, and the
// new shares sign (checked by the plain verifier); refusals name the culprit.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ed25519 } from '@noble/curves/ed25519.js';
import { systemRandom } from '@custodian/core/clock';
import { isCustodianError } from '@custodian/core/errors';
import { Secret } from '@custodian/core/secret';
import type { BroadcastAuthenticator } from './broadcast-auth.js';
import type { EchoMessage } from './echo.js';
import { verifierKeyOf, type FrostKeyShare } from './key-package.js';
import { runLocalDkg, signLocally } from './local.js';
import type { PartyId } from './party-id.js';
import { refreshEcho, refreshFinish, refreshStart, type RefreshShareMessage } from './refresh.js';
import { reshareDeal, reshareEcho, reshareFinish, type ReshareConfig, type ReshareShareMessage } from './reshare.js';
import { frostSuite, FROST_SUITE_IDS, type FrostSuiteId } from './suite.js';
import { tweakKeyShare } from './taproot.js';

const msg = new TextEncoder().encode('rotate me');

function rejects(f: () => unknown, code: string, party?: number): void {
  assert.throws(f, (e: unknown) => {
    assert.ok(isCustodianError(e, code), `expected ${code}, got ${String(e)}`);
    if (party !== undefined) assert.equal(e.detail['party'], party, 'culprit');
    return true;
  });
}

async function assertSigns(shares: readonly FrostKeyShare[], suite: FrostSuiteId, expectedKey: Uint8Array): Promise<void> {
  const sig = await signLocally(shares, msg, systemRandom, `check-${Math.random()}`);
  assert.ok(frostSuite(suite).verifyPlain(sig, msg, verifierKeyOf(shares[0]!.publicPackage)));
  assert.deepEqual(verifierKeyOf(shares[0]!.publicPackage), verifierKeyOf({ ...shares[0]!.publicPackage, groupPublicKey: expectedKey }));
}

function runRefresh(shares: readonly FrostKeyShare[], sessionId: string, tamper?: (m: RefreshShareMessage) => RefreshShareMessage) {
  const started = shares.map((s) => refreshStart(s, sessionId, systemRandom));
  const echoes = started.map(({ state }) => refreshEcho(state, started.filter((o) => o.state !== state).map((o) => o.broadcast)));
  const outbox = started.flatMap((s) => s.shares).map((m) => (tamper ? tamper(m) : m));
  return started.map(({ state }) => () => refreshFinish(state, echoes.filter((e) => e.from !== state.share.party), outbox.filter((m) => m.to === state.share.party)));
}

for (const suite of FROST_SUITE_IDS) {
  test(`refresh (${suite}, 2-of-3) gives new shares for the same group key that sign`, async () => {
    const old = runLocalDkg(suite, 2, 3, systemRandom, `dkg-${suite}`);
    const fresh = runRefresh(old, 'refresh-1').map((f) => f());
    assert.deepEqual(fresh[0]!.publicPackage.groupPublicKey, old[0]!.publicPackage.groupPublicKey);
    for (let i = 0; i < 3; i++) assert.notDeepEqual(fresh[i]!.signingShare.expose(), old[i]!.signingShare.expose());
    await assertSigns([fresh[0]!, fresh[2]!], suite, old[0]!.publicPackage.groupPublicKey);
    // old and new shares do not mix
    await assert.rejects(signLocally([old[0]!, fresh[2]!], msg, systemRandom, 'mix'));
  });
}

test('refresh rejects a share off the zero-constant polynomial and names the sender', () => {
  const old = runLocalDkg('frost-ed25519', 3, 4, systemRandom, 'dkg-r');
  const { group } = frostSuite('frost-ed25519');
  const finishers = runRefresh(old, 'refresh-bad', (m) =>
    m.from === 2 && m.to === 1 ? { ...m, delta: new Secret(group.encodeScalar(group.Fn.add(group.decodeScalar(m.delta.expose(), 'd'), 1n))) } : m,
  );
  rejects(() => finishers[0]!(), 'E_REFRESH_NOT_ZERO', 2);
});

test('B31 refresh rejects a commitment vector of the wrong length', () => {
  const old = runLocalDkg('frost-secp256k1', 2, 3, systemRandom, 'dkg-s');
  const started = old.map((s) => refreshStart(s, 'refresh-shape', systemRandom));
  const bad = { ...started[1]!.broadcast, commitment: [...started[1]!.broadcast.commitment, ...started[2]!.broadcast.commitment] };
  rejects(() => refreshEcho(started[0]!.state, [bad, started[2]!.broadcast]), 'E_MPC_SHAPE', 2);
});

test('F05 refresh detects an equivocating dealer', () => {
  const old = runLocalDkg('frost-ed25519', 2, 3, systemRandom, 'dkg-e');
  const started = old.map((s) => refreshStart(s, 'refresh-eq', systemRandom));
  const twin = refreshStart(old[1]!, 'refresh-eq', systemRandom);
  const e1 = refreshEcho(started[0]!.state, [started[1]!.broadcast, started[2]!.broadcast]);
  const e2 = refreshEcho(started[1]!.state, [started[0]!.broadcast, started[2]!.broadcast]);
  const e3: EchoMessage = refreshEcho(started[2]!.state, [started[0]!.broadcast, twin.broadcast]);
  void e1;
  rejects(() => refreshFinish(started[0]!.state, [e2, e3], []), 'E_BROADCAST_EQUIVOCATION', 2);
});

function runReshare(cfg: ReshareConfig, old: readonly FrostKeyShare[], tamper?: (m: ReshareShareMessage) => ReshareShareMessage) {
  const dealt = old.filter((s) => cfg.dealers.includes(s.party)).map((s) => reshareDeal(cfg, s, systemRandom));
  const broadcasts = dealt.map((d) => d.broadcast);
  const receivers = cfg.newParties.map((p) => reshareEcho(cfg, p, broadcasts));
  const outbox = dealt.flatMap((d) => d.shares).map((m) => (tamper ? tamper(m) : m));
  return receivers.map(({ state }) => () => reshareFinish(state, receivers.filter((r) => r.state !== state).map((r) => r.echo), outbox.filter((m) => m.to === state.self)));
}

for (const suite of FROST_SUITE_IDS) {
  test(`reshare (${suite}) from 2-of-3 {1,2,3} to 3-of-5 {4..8} keeps the key and the new shares sign`, async () => {
    const old = runLocalDkg(suite, 2, 3, systemRandom, `dkg-rs-${suite}`);
    const cfg: ReshareConfig = { sessionId: 'reshare-1', oldPackage: old[0]!.publicPackage, dealers: [1, 3] as PartyId[], newParties: [4, 5, 6, 7, 8] as PartyId[], newThreshold: 3 };
    const fresh = runReshare(cfg, old).map((f) => f());
    assert.deepEqual(fresh[0]!.publicPackage.groupPublicKey, old[0]!.publicPackage.groupPublicKey);
    assert.equal(fresh[0]!.publicPackage.threshold, 3);
    await assertSigns([fresh[1]!, fresh[3]!, fresh[4]!], suite, old[0]!.publicPackage.groupPublicKey);
    await assert.rejects(signLocally([fresh[1]!, fresh[3]!], msg, systemRandom, 'too-few'), (e: unknown) => isCustodianError(e, 'E_MPC_SHAPE'));
  });
}

test('reshare then refresh then taproot tweak still signs a BIP340 signature for the P2TR output key', async () => {
  const old = runLocalDkg('frost-secp256k1-tr', 3, 4, systemRandom, 'dkg-tr');
  const cfg: ReshareConfig = { sessionId: 'reshare-tr', oldPackage: old[0]!.publicPackage, dealers: [1, 2, 4] as PartyId[], newParties: [2, 9, 10] as PartyId[], newThreshold: 2 };
  const moved = runReshare(cfg, old).map((f) => f());
  const fresh = runRefresh(moved, 'refresh-tr').map((f) => f());
  const tweaked = [fresh[0]!, fresh[2]!].map((s) => tweakKeyShare(s));
  const sig = await signLocally(tweaked, msg, systemRandom, 'tr-sign');
  assert.ok(frostSuite('frost-secp256k1-tr').verifyPlain(sig, msg, verifierKeyOf(tweaked[0]!.publicPackage)));
});

test('reshare names a dealer that deals something other than its share', () => {
  const old = runLocalDkg('frost-ed25519', 2, 3, systemRandom, 'dkg-rb');
  const cfg: ReshareConfig = { sessionId: 'reshare-bad', oldPackage: old[0]!.publicPackage, dealers: [1, 2] as PartyId[], newParties: [5, 6, 7] as PartyId[], newThreshold: 2 };
  const liar: FrostKeyShare = { ...old[1]!, signingShare: new Secret(old[2]!.signingShare.expose()) };
  // the liar's deal is refused locally (its share does not match its package)...
  rejects(() => reshareDeal(cfg, liar, systemRandom), 'E_DKG_SHARE_INVALID', 2);
  // ...and a dealer that bypasses that check is named by every receiver
  const honest = reshareDeal(cfg, old[0]!, systemRandom);
  const other = reshareDeal({ ...cfg, dealers: [2, 3] as PartyId[] }, old[1]!, systemRandom);
  rejects(() => reshareEcho(cfg, 5 as PartyId, [honest.broadcast, other.broadcast]), 'E_RESHARE_INVALID', 2);
});

test('reshare names a dealer whose sub-share does not match its commitment; rejects too few dealers', () => {
  const old = runLocalDkg('frost-secp256k1', 2, 3, systemRandom, 'dkg-rc');
  const cfg: ReshareConfig = { sessionId: 'reshare-c', oldPackage: old[0]!.publicPackage, dealers: [2, 3] as PartyId[], newParties: [1, 2, 3, 4] as PartyId[], newThreshold: 3 };
  const { group } = frostSuite('frost-secp256k1');
  const finishers = runReshare(cfg, old, (m) => (m.from === 3 && m.to === 4 ? { ...m, subShare: new Secret(group.encodeScalar(1n)) } : m));
  rejects(() => finishers[3]!(), 'E_RESHARE_INVALID', 3);
  rejects(() => reshareDeal({ ...cfg, dealers: [2] as PartyId[] }, old[1]!, systemRandom), 'E_MPC_SHAPE');
});

test('refresh and reshare with signed broadcasts: complete, and a forged dealer broadcast is refused', async () => {
  const sk = new Map([1, 2, 3, 4, 5, 6].map((p) => [p, ed25519.utils.randomSecretKey()]));
  const auth = (self: number): BroadcastAuthenticator => ({
    sign: (m) => ed25519.sign(m, sk.get(self)!),
    verify: (p, m, s) => sk.has(p) && ed25519.verify(s, m, ed25519.getPublicKey(sk.get(p)!)),
  });
  const old = runLocalDkg('frost-secp256k1', 2, 3, systemRandom, 'dkg-signed-rr');
  const started = old.map((s) => refreshStart(s, 'refresh-signed', systemRandom, auth(s.party)));
  const echoes = started.map(({ state }) => refreshEcho(state, started.filter((o) => o.state !== state).map((o) => o.broadcast)));
  assert.equal(Object.keys(echoes[0]!.signatures ?? {}).length, 3);
  const outbox = started.flatMap((s) => s.shares);
  const fresh = started.map(({ state }) => refreshFinish(state, echoes.filter((e) => e.from !== state.share.party), outbox.filter((m) => m.to === state.share.party)));
  const cfg: ReshareConfig = { sessionId: 'reshare-signed', oldPackage: fresh[0]!.publicPackage, dealers: [1, 2] as PartyId[], newParties: [4, 5, 6] as PartyId[], newThreshold: 2 };
  const dealt = [fresh[0]!, fresh[1]!].map((s) => reshareDeal(cfg, s, systemRandom, auth(s.party)));
  const recv = cfg.newParties.map((p) => reshareEcho(cfg, p, dealt.map((d) => d.broadcast), auth(p)));
  const moved = recv.map(({ state }) => reshareFinish(state, recv.filter((r) => r.state !== state).map((r) => r.echo), dealt.flatMap((d) => d.shares).filter((m) => m.to === state.self)));
  await assertSigns([moved[0]!, moved[2]!], 'frost-secp256k1', old[0]!.publicPackage.groupPublicKey);
  const forged = { ...dealt[1]!.broadcast, signature: dealt[0]!.broadcast.signature! };
  rejects(() => reshareEcho(cfg, 4 as PartyId, [dealt[0]!.broadcast, forged], auth(4)), 'E_BROADCAST_SIGNATURE_INVALID', 2);
});

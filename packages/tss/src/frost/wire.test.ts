// Wire codecs: a whole DKG + refresh + signing run with every message passing
// through encode → decode, and "only typed errors escape" on mutated messages.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ed25519 } from '@noble/curves/ed25519.js';
import { systemRandom } from '@custodian/core/clock';
import { CustodianError } from '@custodian/core/errors';
import { aggregateSignature, createSigningPackage } from './coordinator.js';
import { dkgEcho, dkgFinish, dkgShares, dkgStart, type DkgRound1Message } from './dkg.js';
import type { EchoMessage } from './echo.js';
import { verifierKeyOf } from './key-package.js';
import { MemoryNonceStore } from './nonce-store.js';
import type { PartyId } from './party-id.js';
import { refreshEcho, refreshFinish, refreshStart, type RefreshCommitMessage } from './refresh.js';
import { commitNonces, signPackage } from './signer.js';
import type { SignatureShare, SigningCommitment, SigningPackage } from './signing-messages.js';
import { frostSuite } from './suite.js';
import { decodeFrostMessage, decodeShareMessage, encodeFrostMessage, encodeShareForSealing, toDkgShareMessage, toRefreshShareMessage } from './wire.js';

const parties = [1, 2, 3] as PartyId[];
const samples: Uint8Array[] = [];

function via<T>(kind: Parameters<typeof encodeFrostMessage>[0], m: Parameters<typeof encodeFrostMessage>[1]): T {
  const bytes = encodeFrostMessage(kind, m);
  samples.push(bytes);
  const d = decodeFrostMessage(bytes);
  assert.equal(d.kind, kind);
  return d.message as T;
}

test('DKG, refresh and signing run with every message through the wire codecs', async () => {
  for (const suite of ['frost-ed25519', 'frost-secp256k1-tr'] as const) {
    const s = parties.map((self) => dkgStart({ suite, sessionId: `wire-${suite}`, threshold: 2, parties, self }, systemRandom));
    const r1 = s.map((x) => via<DkgRound1Message>('frost/dkg-round1', x.broadcast));
    const echoes = s.map(({ state }) => via<EchoMessage>('frost/echo', dkgEcho(state, r1.filter((m) => m.from !== state.config.self))));
    const sealed = s.flatMap(({ state }) => dkgShares(state, echoes.filter((e) => e.from !== state.config.self)).map((m) => ({ to: m.to, bytes: encodeShareForSealing('frost/dkg-share', m) })));
    const keys = s.map(({ state }) => dkgFinish(state, sealed.filter((m) => m.to === state.config.self).map((m) => toDkgShareMessage(decodeShareMessage(m.bytes.expose(), 'frost/dkg-share')))));

    const rs = keys.map((k) => refreshStart(k, `wire-refresh-${suite}`, systemRandom));
    const rb = rs.map((x) => via<RefreshCommitMessage>('frost/refresh-commit', x.broadcast));
    const re = rs.map(({ state }) => via<EchoMessage>('frost/echo', refreshEcho(state, rb.filter((m) => m.from !== state.share.party))));
    const rshares = rs.flatMap((x) => x.shares.map((m) => ({ to: m.to, bytes: encodeShareForSealing('frost/refresh-share', m) })));
    const fresh = rs.map(({ state }) =>
      refreshFinish(
        state,
        re.filter((e) => e.from !== state.share.party),
        rshares.filter((m) => m.to === state.share.party).map((m) => toRefreshShareMessage(decodeShareMessage(m.bytes.expose(), 'frost/refresh-share'))),
      ),
    );

    const signers = [fresh[0]!, fresh[2]!];
    const stores = new Map(signers.map((k) => [k.party, new MemoryNonceStore()]));
    const commitments = await Promise.all(signers.map(async (k) => via<SigningCommitment>('frost/commitment', await commitNonces(k, 'wire-sign', systemRandom, stores.get(k.party)!))));
    const pkg = via<SigningPackage>('frost/signing-package', createSigningPackage(signers[0]!.publicPackage, 'wire-sign', Uint8Array.of(1, 2, 3), commitments));
    const shares = await Promise.all(signers.map(async (k) => via<SignatureShare>('frost/signature-share', await signPackage(k, pkg, stores.get(k.party)!))));
    const sig = aggregateSignature(signers[0]!.publicPackage, pkg, shares);
    assert.ok(frostSuite(suite).verifyPlain(sig, Uint8Array.of(1, 2, 3), verifierKeyOf(signers[0]!.publicPackage)));
  }
});

test('only typed errors escape the decoder on mutated real messages (property)', () => {
  assert.ok(samples.length > 10);
  fc.assert(
    fc.property(fc.constantFrom(...samples), fc.nat(), fc.integer({ min: 1, max: 255 }), fc.boolean(), (bytes, at, x, cut) => {
      const i = at % bytes.length;
      const bad = cut ? bytes.slice(0, i) : bytes.slice();
      if (!cut) bad[i] = bad[i]! ^ x;
      try {
        decodeFrostMessage(bad);
      } catch (e) {
        return e instanceof CustodianError;
      }
      return true; // some mutations stay well-formed (e.g. another hex digit); semantic checks catch those
    }),
    { numRuns: 2000 },
  );
});

test('rejects unknown kinds, extra fields, party 0 and oversized identifiers', () => {
  const ok = samples.find((b) => new TextDecoder().decode(b).includes('"frost/signature-share"'))!;
  const obj = JSON.parse(new TextDecoder().decode(ok)) as Record<string, unknown>;
  const enc = (o: Record<string, unknown>) => new TextEncoder().encode(JSON.stringify(Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : 1)))));
  for (const [o, code] of [
    [{ ...obj, kind: 'frost/other' }, 'E_FROST_MESSAGE_INVALID'],
    [{ ...obj, zzz: 1 }, 'E_FIELD_UNKNOWN'],
    [{ ...obj, party: 0 }, 'E_PARTY_ID_INVALID'],
    [{ ...obj, party: 70000 }, 'E_PARTY_ID_INVALID'],
  ] as const) {
    assert.throws(() => decodeFrostMessage(enc(o)), (e: unknown) => e instanceof CustodianError && e.code === code);
  }
  assert.throws(() => decodeFrostMessage(new TextEncoder().encode(' ' + new TextDecoder().decode(ok))), (e: unknown) => e instanceof CustodianError);
});

test('signed round-1 messages and echoes with signatures round-trip', () => {
  const sk = new Map(parties.map((p) => [p, ed25519.utils.randomSecretKey()]));
  const auth = (self: PartyId) => ({ sign: (m: Uint8Array) => ed25519.sign(m, sk.get(self)!), verify: (p: PartyId, m: Uint8Array, s: Uint8Array) => ed25519.verify(s, m, ed25519.getPublicKey(sk.get(p)!)) });
  const s = parties.map((self) => dkgStart({ suite: 'frost-secp256k1', sessionId: 'wire-signed', threshold: 2, parties, self, authenticator: auth(self) }, systemRandom));
  const r1 = s.map((x) => via<DkgRound1Message>('frost/dkg-round1', x.broadcast));
  assert.deepEqual(r1[0]!.signature, s[0]!.broadcast.signature);
  const echoes = s.map(({ state }) => via<EchoMessage>('frost/echo', dkgEcho(state, r1.filter((m) => m.from !== state.config.self))));
  assert.equal(Object.keys(echoes[1]!.signatures ?? {}).length, 3);
  for (const { state } of s) assert.equal(dkgShares(state, echoes.filter((e) => e.from !== state.config.self)).length, 2);
});

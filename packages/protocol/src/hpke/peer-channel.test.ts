// Peer channel: round trip, and every refusal (tamper, replay, forged sender, misrouting).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { systemRandom } from '@custodian/core/clock';
import { CustodianError, isCustodianError } from '@custodian/core/errors';
import { Secret } from '@custodian/core/secret';
import { PeerChannel } from './peer-channel.js';
import { decodePeerEnvelope, encodePeerEnvelope } from './peer-envelope.js';
import { derivePeerKeyPair, generatePeerKeyPair } from './peer-key.js';

const a = (await generatePeerKeyPair(systemRandom)).keyPair;
const b = (await generatePeerKeyPair(systemRandom)).keyPair;
const mallory = (await generatePeerKeyPair(systemRandom)).keyPair;
const peers = new Map([
  ['enclave-a', a.publicKey],
  ['enclave-b', b.publicKey],
]);
const channel = (self: 'enclave-a' | 'enclave-b') => new PeerChannel({ self, keyPair: self === 'enclave-a' ? a : b, peers: new Map([...peers].filter(([n]) => n !== self)) });
const text = (s: string) => new TextEncoder().encode(s);

async function rejectsCode(p: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(isCustodianError(e, code), `expected ${code}, got ${String(e)}`);
    return true;
  });
}

test('a sealed message opens at the peer, in order, with sender and session', async () => {
  const A = channel('enclave-a');
  const B = channel('enclave-b');
  for (let i = 0; i < 3; i++) {
    const m = await B.open(await A.seal('enclave-b', 'dkg-7', text(`round ${i}`)), 'dkg-7');
    assert.deepEqual(m, { from: 'enclave-a', sessionId: 'dkg-7', seq: i, plaintext: text(`round ${i}`) });
  }
  // the relay sees ciphertext only
  const wire = await A.seal('enclave-b', 'dkg-7', text('secret share 0xdeadbeef'));
  assert.ok(!Buffer.from(wire).toString('utf8').includes('deadbeef'));
});

test('the key pair is reproducible from its sealed seed', async () => {
  const seed = new Secret(new Uint8Array(32).fill(7));
  const k1 = await derivePeerKeyPair(seed);
  const k2 = await derivePeerKeyPair(new Secret(new Uint8Array(32).fill(7)));
  assert.deepEqual(k1.publicKey, k2.publicKey);
  assert.equal(String(k1.keyPair), '[Secret]');
});

test('rejects a replayed message (E_PEER_REPLAY) and a reordered one', async () => {
  const A = channel('enclave-a');
  const B = channel('enclave-b');
  const m0 = await A.seal('enclave-b', 's', text('0'));
  const m1 = await A.seal('enclave-b', 's', text('1'));
  await B.open(m1);
  await rejectsCode(B.open(m1), 'E_PEER_REPLAY');
  await rejectsCode(B.open(m0), 'E_PEER_REPLAY');
});

test('rejects a tampered ciphertext and a tampered header (E_PEER_AUTH_FAILED)', async () => {
  const A = channel('enclave-a');
  const B = channel('enclave-b');
  const env = decodePeerEnvelope(await A.seal('enclave-b', 's', text('pay 1')));
  const ct = env.ct.slice();
  ct[0] = ct[0]! ^ 1;
  await rejectsCode(B.open(encodePeerEnvelope({ ...env, ct })), 'E_PEER_AUTH_FAILED');
  // a relay that renumbers the message (to slip a replay past the counter) breaks the AAD
  await rejectsCode(B.open(encodePeerEnvelope({ ...env, seq: env.seq + 5 })), 'E_PEER_AUTH_FAILED');
  // or moves it into another session
  await rejectsCode(B.open(encodePeerEnvelope({ ...env, sessionId: 'other' })), 'E_PEER_AUTH_FAILED');
  // the untouched message still opens: failed attempts did not advance the counter
  assert.deepEqual((await B.open(encodePeerEnvelope(env))).plaintext, text('pay 1'));
});

test('rejects a forged sender: mallory seals with her own key but claims to be enclave-a', async () => {
  const M = new PeerChannel({ self: 'enclave-a', keyPair: mallory, peers: new Map([['enclave-b', b.publicKey]]) });
  await rejectsCode(channel('enclave-b').open(await M.seal('enclave-b', 's', text('x'))), 'E_PEER_AUTH_FAILED');
});

test('rejects misrouted messages, unknown peers and another session (E_PEER_UNKNOWN, E_SESSION_MISMATCH)', async () => {
  const A = channel('enclave-a');
  const B = channel('enclave-b');
  const env = decodePeerEnvelope(await A.seal('enclave-b', 's1', text('x')));
  await rejectsCode(A.open(encodePeerEnvelope(env)), 'E_PEER_UNKNOWN');
  await rejectsCode(B.open(encodePeerEnvelope({ ...env, from: 'enclave-z' })), 'E_PEER_UNKNOWN');
  await rejectsCode(B.open(encodePeerEnvelope(env), 's2'), 'E_SESSION_MISMATCH');
  await rejectsCode(A.seal('enclave-z', 's', text('x')), 'E_PEER_UNKNOWN');
});

test('rejects non-canonical, oversized and malformed envelopes', async () => {
  const B = channel('enclave-b');
  const good = await channel('enclave-a').seal('enclave-b', 's', text('x'));
  const spaced = new TextEncoder().encode(new TextDecoder().decode(good).replace('{', '{ '));
  await assert.rejects(B.open(spaced), (e: unknown) => e instanceof CustodianError);
  const json = JSON.parse(new TextDecoder().decode(good)) as Record<string, unknown>;
  await assert.rejects(B.open(new TextEncoder().encode(JSON.stringify({ ...json, extra: 1 }))), (e: unknown) => e instanceof CustodianError);
  await assert.rejects(B.open(new Uint8Array(5 * 1024 * 1024)), (e: unknown) => isCustodianError(e, 'E_PEER_MESSAGE_INVALID'));
});

test('only typed errors escape open() on mutated envelopes (property)', async () => {
  const A = channel('enclave-a');
  const B = channel('enclave-b');
  const good = await A.seal('enclave-b', 'prop', text('payload'));
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 0, max: good.length - 1 }), fc.integer({ min: 1, max: 255 }), async (i, x) => {
      const bad = good.slice();
      bad[i] = bad[i]! ^ x;
      try {
        await B.open(bad);
        return false; // any single-byte change must be refused
      } catch (e) {
        return e instanceof CustodianError;
      }
    }),
    { numRuns: 150 },
  );
});

test('replays are refused across a receiver restart (sealed state) and after a session is closed', async () => {
  const A = channel('enclave-a');
  const B = channel('enclave-b');
  const m0 = await A.seal('enclave-b', 'live', text('0'));
  await B.open(m0);
  const restarted = PeerChannel.restore({ self: 'enclave-b', keyPair: b, peers: new Map([['enclave-a', a.publicKey]]) }, JSON.parse(JSON.stringify(B.exportState())) as ReturnType<PeerChannel['exportState']>);
  await rejectsCode(restarted.open(m0), 'E_PEER_REPLAY');
  const m1 = await A.seal('enclave-b', 'live', text('1'));
  restarted.closeSession('live');
  await rejectsCode(restarted.open(m1), 'E_SESSION_CLOSED');
  await rejectsCode(restarted.seal('enclave-a', 'live', text('x')), 'E_SESSION_CLOSED');
});

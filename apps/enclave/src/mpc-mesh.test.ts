// The mesh binds a protocol message to the channel's authenticated sender and to us as recipient.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ed25519 } from '@noble/curves/ed25519.js';
import { systemRandom } from '@custodian/core/clock';
import { isCustodianError } from '@custodian/core/errors';
import { PeerChannel } from '@custodian/protocol/hpke/peer-channel';
import { generatePeerKeyPair } from '@custodian/protocol/hpke/peer-key';
import type { EcdsaMessage } from '@custodian/tss/ecdsa/message';
import { identityAuthenticator, openMessages, PartyMap, sealMessages } from './mpc-mesh.js';

const map = new PartyMap(['signer-1', 'signer-2', 'signer-3']);
const keys = await Promise.all([0, 1, 2].map(async () => (await generatePeerKeyPair(systemRandom)).keyPair));
const channel = (i: number): PeerChannel =>
  new PeerChannel({ self: map.parties[i]!, keyPair: keys[i]!, peers: new Map(map.parties.map((id, j) => [id, keys[j]!.publicKey] as const).filter(([, ], j) => j !== i)) });
const msg = (from: bigint, to: bigint): EcdsaMessage => ({ sessionId: new Uint8Array(32).fill(5), protocol: 'sign', round: 1, from, to, body: new Uint8Array([1, 2, 3]) });

test('a sealed message opens at its recipient as the same protocol message', async () => {
  const out = await sealMessages(channel(1), 's', map, [msg(2n, 1n)]);
  assert.equal(out[0]!.to, 'signer-1');
  assert.deepEqual(await openMessages(channel(0), 's', map, 1n, out), [msg(2n, 1n)]);
});

test('rejects a message whose claimed party is not the authenticated sender (E_PEER_AUTH_FAILED)', async () => {
  // signer-2 authenticates as itself but claims to speak for party 3
  const out = await sealMessages(channel(1), 's', map, [msg(3n, 1n)]);
  await assert.rejects(openMessages(channel(0), 's', map, 1n, out), (e: unknown) => isCustodianError(e, 'E_PEER_AUTH_FAILED'));
});

test('rejects a message for another party, another session, or from outside the wallet', async () => {
  const toThree = await sealMessages(channel(1), 's', map, [{ ...msg(2n, 3n) }]);
  // re-addressed at the envelope level it does not open for signer-1; sealed to signer-3 it names party 3
  await assert.rejects(openMessages(channel(0), 's', map, 1n, toThree), (e: unknown) => isCustodianError(e, 'E_PEER_UNKNOWN'));
  await assert.rejects(openMessages(channel(2), 's', map, 1n, toThree), (e: unknown) => isCustodianError(e, 'E_SESSION_MISMATCH'));
  const other = await sealMessages(channel(1), 't', map, [msg(2n, 1n)]);
  await assert.rejects(openMessages(channel(0), 's', map, 1n, other), (e: unknown) => isCustodianError(e, 'E_SESSION_MISMATCH'));
  assert.throws(() => map.signerOf(4n), (e: unknown) => isCustodianError(e, 'E_PARTY_UNKNOWN'));
  assert.throws(() => map.idOf('signer-9'), (e: unknown) => isCustodianError(e, 'E_PARTY_UNKNOWN'));
});

test('broadcast signatures verify only under the named party’s identity key', () => {
  const secrets = [0, 1, 2].map(() => ed25519.utils.randomSecretKey());
  const pubs = new Map(map.parties.map((id, i) => [id, ed25519.getPublicKey(secrets[i]!)]));
  const a1 = identityAuthenticator(map, secrets[0]!, (id) => pubs.get(id));
  const a2 = identityAuthenticator(map, secrets[1]!, (id) => pubs.get(id));
  const st = new Uint8Array([9, 9]);
  const sig = a1.sign(st);
  assert.ok(a2.verify(1n, st, sig));
  assert.ok(!a2.verify(2n, st, sig));
  assert.ok(!a2.verify(7n, st, sig));
  assert.ok(!a2.verify(1n, new Uint8Array([9]), sig));
});

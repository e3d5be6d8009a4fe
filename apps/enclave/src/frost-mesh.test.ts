// The FROST mesh: a whole DKG through sealed envelopes, and the binding of each message to its authenticated sender, kind and recipient.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ed25519 } from '@noble/curves/ed25519.js';
import { systemRandom } from '@custodian/core/clock';
import { bytesToHex } from '@custodian/core/bytes';
import { isCustodianError } from '@custodian/core/errors';
import { Secret } from '@custodian/core/secret';
import { PeerChannel } from '@custodian/protocol/hpke/peer-channel';
import { generatePeerKeyPair } from '@custodian/protocol/hpke/peer-key';
import { dkgEcho, dkgFinish, dkgShares, dkgStart } from '@custodian/tss/frost/dkg';
import { encodeShareForSealing } from '@custodian/tss/frost/wire';
import type { PartyId } from '@custodian/tss/frost/party-id';
import { identityAuthenticator, PartyMap } from './mpc-mesh.js';
import { frostAuthenticator, frostParty, openEchoes, openRound1, openShares, sealFrost } from './frost-mesh.js';

const map = new PartyMap(['signer-1', 'signer-2', 'signer-3']);
const ids = map.parties;
const keys = await Promise.all([0, 1, 2].map(async () => (await generatePeerKeyPair(systemRandom)).keyPair));
const channel = (i: number): PeerChannel =>
  new PeerChannel({ self: ids[i]!, keyPair: keys[i]!, peers: new Map(ids.map((id, j) => [id, keys[j]!.publicKey] as const).filter(([, ], j) => j !== i)) });
const secrets = [0, 1, 2].map(() => ed25519.utils.randomSecretKey());
const pubs = new Map(ids.map((id, i) => [id, ed25519.getPublicKey(secrets[i]!)]));
const parties = ids.map((id) => frostParty(map, id));

test('a 2-of-3 frost-ed25519 DKG through sealed envelopes: every party derives the same group key', async () => {
  const ch = [0, 1, 2].map(channel);
  const st = ids.map((id, i) => dkgStart({ suite: 'frost-ed25519', sessionId: 'mesh-dkg', threshold: 2, parties, self: parties[i]!, authenticator: frostAuthenticator(identityAuthenticator(map, secrets[i]!, (x) => pubs.get(x))) }, systemRandom));
  const r1 = (await Promise.all(ids.map((id, i) => sealFrost(ch[i]!, 's', map, id, ids, { kind: 'frost/dkg-round1', message: st[i]!.broadcast })))).flat();
  const echoes = [];
  for (const [i, id] of ids.entries()) echoes.push(...(await sealFrost(ch[i]!, 's', map, id, ids, { kind: 'frost/echo', message: dkgEcho(st[i]!.state, await openRound1(ch[i]!, 's', map, r1.filter((e) => e.to === id))) })));
  const shares = [];
  for (const [i, id] of ids.entries()) shares.push(...(await sealFrost(ch[i]!, 's', map, id, ids, { kind: 'frost/dkg-share', messages: dkgShares(st[i]!.state, await openEchoes(ch[i]!, 's', map, echoes.filter((e) => e.to === id))) })));
  assert.equal(shares.length, 6);
  const keysOut = [];
  for (const [i, id] of ids.entries()) keysOut.push(dkgFinish(st[i]!.state, await openShares(ch[i]!, 's', map, parties[i]!, shares.filter((e) => e.to === id))));
  assert.equal(new Set(keysOut.map((k) => bytesToHex(k.publicPackage.groupPublicKey))).size, 1);
});

test('rejects a DKG message whose claimed party is not the authenticated sender (E_PEER_AUTH_FAILED)', async () => {
  const { broadcast } = dkgStart({ suite: 'frost-ed25519', sessionId: 'mesh-dkg', threshold: 2, parties, self: 3 as PartyId }, systemRandom);
  // signer-2 authenticates as itself but forwards party 3's broadcast as its own
  const out = await sealFrost(channel(1), 's', map, 'signer-2', ids, { kind: 'frost/dkg-round1', message: broadcast });
  await assert.rejects(openRound1(channel(0), 's', map, out.filter((e) => e.to === 'signer-1')), (e: unknown) => isCustodianError(e, 'E_PEER_AUTH_FAILED'));
});

test('rejects a message of another kind than the step expects (E_FROST_MESSAGE_INVALID)', async () => {
  const { broadcast } = dkgStart({ suite: 'frost-ed25519', sessionId: 'mesh-dkg', threshold: 2, parties, self: 2 as PartyId }, systemRandom);
  const out = await sealFrost(channel(1), 's', map, 'signer-2', ids, { kind: 'frost/dkg-round1', message: broadcast });
  await assert.rejects(openEchoes(channel(0), 's', map, out.filter((e) => e.to === 'signer-1')), (e: unknown) => isCustodianError(e, 'E_FROST_MESSAGE_INVALID'));
});

test('rejects a secret share addressed to another party (E_SESSION_MISMATCH)', async () => {
  const share = { sessionId: 'mesh-dkg', from: 2 as PartyId, to: 3 as PartyId, signingShare: new Secret(new Uint8Array(32).fill(1)) };
  const env = await channel(1).seal('signer-1', 's', encodeShareForSealing('frost/dkg-share', share).expose());
  await assert.rejects(openShares(channel(0), 's', map, 1 as PartyId, [{ to: 'signer-1', envelope: new TextDecoder().decode(env) }]), (e: unknown) => isCustodianError(e, 'E_SESSION_MISMATCH'));
});

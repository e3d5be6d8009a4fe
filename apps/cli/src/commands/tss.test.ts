// `custodian tss sign-demo`: the printed key verifies the printed signature
// under the plain verifiers, per CONTRACTS.md; usage errors exit 2.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ed25519 } from '@noble/curves/ed25519.js';
import { schnorr } from '@noble/curves/secp256k1.js';
import { hexToBytes } from '@custodian/core/bytes';
import type { PartyId } from '@custodian/tss/frost/party-id';
import { tssCommand } from './tss.js';

async function capture(args: string[]): Promise<{ code: number; last: Record<string, unknown> }> {
  const out: string[] = [];
  const write = process.stdout.write.bind(process.stdout);
  const writeErr = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((chunk: string) => (out.push(String(chunk)), true)) as typeof process.stdout.write;
  process.stderr.write = (() => true) as typeof process.stderr.write;
  try {
    const code = await tssCommand(args);
    const lines = out.join('').trim().split('\n');
    return { code, last: JSON.parse(lines[lines.length - 1]!) as Record<string, unknown> };
  } finally {
    process.stdout.write = write;
    process.stderr.write = writeErr;
  }
}

test('sign-demo frost-ed25519 3-of-4 prints a key and an RFC 8032 signature that verifies', async () => {
  const { code, last } = await capture(['sign-demo', '--scheme', 'frost-ed25519', '--threshold', '3', '--parties', '4', '--message', 'cafe', '--json']);
  assert.equal(code, 0);
  assert.deepEqual(Object.keys(last).sort(), ['groupPublicKey', 'signature']);
  assert.ok(ed25519.verify(hexToBytes(last['signature'] as string), hexToBytes('cafe'), hexToBytes(last['groupPublicKey'] as string)));
});

test('sign-demo frost-secp256k1-tr prints the untweaked x-only key and a BIP340 signature', async () => {
  const { code, last } = await capture(['sign-demo', '--scheme', 'frost-secp256k1-tr', '--threshold', '2', '--parties', '3', '--message', '0x00ff', '--json']);
  assert.equal(code, 0);
  assert.equal((last['groupPublicKey'] as string).length, 64);
  assert.ok(schnorr.verify(hexToBytes(last['signature'] as string), hexToBytes('00ff'), hexToBytes(last['groupPublicKey'] as string)));
});

test('sign-demo refuses bad usage with exit 2 and a JSON error', async () => {
  for (const args of [
    ['sign-demo', '--scheme', 'frost-ed448', '--threshold', '2', '--parties', '3', '--message', '00'],
    ['sign-demo', '--scheme', 'frost-ed25519', '--threshold', '1', '--parties', '3', '--message', '00'],
    ['sign-demo', '--scheme', 'frost-ed25519', '--threshold', '2', '--parties', '3', '--message', 'xyz'],
    ['sign-demo', '--scheme', 'frost-ed25519', '--threshold', '2', '--message', '00'],
    ['nope'],
  ]) {
    const { code, last } = await capture([...args, '--json']);
    assert.equal(code, 2, args.join(' '));
    assert.equal(last['ok'], false);
  }
});

// How the pieces fit for the lead's wiring: three parties run DKG and signing
// through an untrusted relay; public messages go through the FROST wire
// codecs, secret shares are sealed with the HPKE peer channel, and the relay
// never sees a share in plaintext.
test('DKG + signing among 3 parties through an untrusted relay with HPKE peer channels', async () => {
  const { systemRandom } = await import('@custodian/core/clock');
  const { generatePeerKeyPair } = await import('@custodian/protocol/hpke/peer-key');
  const { PeerChannel } = await import('@custodian/protocol/hpke/peer-channel');
  const { dkgEcho, dkgFinish, dkgShares, dkgStart } = await import('@custodian/tss/frost/dkg');
  const wire = await import('@custodian/tss/frost/wire');
  const { signLocally } = await import('@custodian/tss/frost/local');
  const { verifierKeyOf } = await import('@custodian/tss/frost/key-package');

  const parties = [1, 2, 3] as PartyId[];
  const name = (p: number) => `signer-${p}`;
  const keys = await Promise.all(parties.map(async () => (await generatePeerKeyPair(systemRandom)).keyPair));
  const channels = parties.map((p, i) => new PeerChannel({ self: name(p), keyPair: keys[i]!, peers: new Map(parties.filter((q) => q !== p).map((q) => [name(q), keys[q - 1]!.publicKey])) }));
  const relayLog: Uint8Array[] = [];

  const st = parties.map((self) => dkgStart({ suite: 'frost-ed25519', sessionId: 'relay-dkg', threshold: 2, parties, self }, systemRandom));
  const r1 = st.map((s) => wire.encodeFrostMessage('frost/dkg-round1', s.broadcast)).map((b) => (relayLog.push(b), wire.decodeFrostMessage(b).message));
  const echoes = st.map(({ state }) => dkgEcho(state, r1.filter((m) => 'from' in m && m.from !== state.config.self) as Parameters<typeof dkgEcho>[1]));
  const sealed: { to: PartyId; bytes: Uint8Array }[] = [];
  const plainShares: string[] = [];
  for (const [i, { state }] of st.entries()) {
    for (const m of dkgShares(state, echoes.filter((e) => e.from !== state.config.self))) {
      plainShares.push(Buffer.from(m.signingShare.expose()).toString('hex'));
      const bytes = await channels[i]!.seal(name(m.to), 'relay-dkg', wire.encodeShareForSealing('frost/dkg-share', m).expose());
      relayLog.push(bytes);
      sealed.push({ to: m.to, bytes });
    }
  }
  const shares = [];
  for (const [i, { state }] of st.entries()) {
    const mine = [];
    for (const s of sealed.filter((x) => x.to === state.config.self)) {
      const opened = await channels[i]!.open(s.bytes, 'relay-dkg');
      mine.push(wire.toDkgShareMessage(wire.decodeShareMessage(opened.plaintext, 'frost/dkg-share')));
    }
    shares.push(dkgFinish(state, mine));
  }
  // the relay saw no DKG share in plaintext
  const seen = Buffer.concat(relayLog.map((b) => Buffer.from(b))).toString('latin1');
  assert.equal(plainShares.length, 6);
  for (const h of plainShares) assert.ok(!seen.includes(h));
  const sig = await signLocally([shares[0]!, shares[1]!], new TextEncoder().encode('relay'), systemRandom, 'relay-sign');
  assert.ok(ed25519.verify(sig, new TextEncoder().encode('relay'), verifierKeyOf(shares[0]!.publicPackage)));
});

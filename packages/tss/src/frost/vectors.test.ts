// RFC 9591 and ZcashFoundation/frost vectors, run through our wrapper (not the library directly).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readJsonVector } from '@custodian/core/vectors';
import { bytesToHex, hexToBytes } from '@custodian/core/bytes';
import type { Random } from '@custodian/core/clock';
import { Secret } from '@custodian/core/secret';
import { aggregateSignature, createSigningPackage } from './coordinator.js';
import { dkgEcho, dkgFinish, dkgShares, restoreDkgState, type DkgShareMessage } from './dkg.js';
import { publicPackageFromCommitments, validateKeyShare, verifierKeyOf, type FrostKeyShare } from './key-package.js';
import { MemoryNonceStore } from './nonce-store.js';
import type { PartyId } from './party-id.js';
import { commitNonces, signPackage } from './signer.js';
import { frostSuite, type FrostSuiteId } from './suite.js';
import { tweakKeyShare } from './taproot.js';

interface SigningVector {
  config: { MIN_PARTICIPANTS: string | number };
  inputs: {
    participant_list: number[];
    group_secret_key: string;
    group_public_key?: string;
    verifying_key_key?: string;
    message: string;
    share_polynomial_coefficients: string[];
    participant_shares: { identifier: number; participant_share: string }[];
  };
  round_one_outputs: { outputs: { identifier: number; hiding_nonce_randomness: string; binding_nonce_randomness: string; hiding_nonce_commitment: string; binding_nonce_commitment: string }[] };
  round_two_outputs: { outputs: { identifier: number; sig_share: string }[] };
  final_output: { sig: string };
}

/** Randomness that replays the vector's bytes in order. */
function replay(chunks: string[]): Random {
  const queue = chunks.map((c) => hexToBytes(c));
  return {
    bytes(n) {
      const next = queue.shift();
      assert.ok(next !== undefined && next.length === n, 'vector randomness exhausted or wrong size');
      return next;
    },
  };
}

async function runSigningVector(suiteId: FrostSuiteId, v: SigningVector): Promise<void> {
  const { group } = frostSuite(suiteId);
  const secret = hexToBytes(v.inputs.group_secret_key);
  const coeffs = [secret, ...v.inputs.share_polynomial_coefficients.map((c) => hexToBytes(c))];
  const commitments = coeffs.map((c) => group.encodeElement(group.base.multiply(group.decodeScalar(c, 'coefficient'))));
  const signers = v.inputs.participant_list as PartyId[];
  const pkg = publicPackageFromCommitments(suiteId, signers, commitments);
  assert.equal(bytesToHex(pkg.groupPublicKey), v.inputs.group_public_key ?? v.inputs.verifying_key_key);
  const shares = new Map<PartyId, FrostKeyShare>();
  for (const s of v.inputs.participant_shares) {
    if (!signers.includes(s.identifier as PartyId)) continue;
    const share: FrostKeyShare = { suite: suiteId, party: s.identifier as PartyId, publicPackage: pkg, signingShare: new Secret(hexToBytes(s.participant_share)) };
    validateKeyShare(share);
    shares.set(share.party, share);
  }
  const sessionId = 'vector';
  const stores = new Map(signers.map((p) => [p, new MemoryNonceStore()]));
  const round1 = [];
  for (const out of v.round_one_outputs.outputs) {
    const party = out.identifier as PartyId;
    const c = await commitNonces(shares.get(party)!, sessionId, replay([out.hiding_nonce_randomness, out.binding_nonce_randomness]), stores.get(party)!);
    assert.equal(bytesToHex(c.hiding), out.hiding_nonce_commitment, `hiding commitment of ${party}`);
    assert.equal(bytesToHex(c.binding), out.binding_nonce_commitment, `binding commitment of ${party}`);
    round1.push(c);
  }
  const signing = createSigningPackage(pkg, sessionId, hexToBytes(v.inputs.message), round1);
  const sigShares = [];
  for (const out of v.round_two_outputs.outputs) {
    const party = out.identifier as PartyId;
    const z = await signPackage(shares.get(party)!, signing, stores.get(party)!);
    assert.equal(bytesToHex(z.share), out.sig_share, `sig share of ${party}`);
    sigShares.push(z);
  }
  const sig = aggregateSignature(pkg, signing, sigShares);
  assert.equal(bytesToHex(sig), v.final_output.sig);
  assert.ok(frostSuite(suiteId).verifyPlain(sig, hexToBytes(v.inputs.message), verifierKeyOf(pkg)));
}

const SIGNING_FILES: [FrostSuiteId, string[]][] = [
  ['frost-ed25519', ['rfc9591/frost-ed25519-sha512.json', 'zcashfoundation/frost-ed25519/vectors.json', 'zcashfoundation/frost-ed25519/vectors-big-identifier.json']],
  ['frost-secp256k1', ['rfc9591/frost-secp256k1-sha256.json', 'zcashfoundation/frost-secp256k1/vectors.json', 'zcashfoundation/frost-secp256k1/vectors-big-identifier.json']],
  ['frost-secp256k1-tr', ['zcashfoundation/frost-secp256k1-tr/vectors.json', 'zcashfoundation/frost-secp256k1-tr/vectors-big-identifier.json']],
];

for (const [suiteId, files] of SIGNING_FILES) {
  for (const file of files) {
    test(`signing vector ${file} passes through the ${suiteId} wrapper`, async () => {
      await runSigningVector(suiteId, readJsonVector<SigningVector>('frost', file));
    });
  }
}

interface DkgPartyVector {
  identifier: number;
  signing_key: string;
  coefficient: string;
  vss_commitments: string[];
  proof_of_knowledge: string;
  signing_shares: Record<string, string>;
  verifying_share: string;
  signing_share: string;
}

for (const suiteId of ['frost-ed25519', 'frost-secp256k1', 'frost-secp256k1-tr'] as const) {
  test(`DKG vector ${suiteId}/vectors_dkg.json passes through our DKG orchestration`, () => {
    const dir = suiteId === 'frost-ed25519' ? 'frost-ed25519' : suiteId === 'frost-secp256k1' ? 'frost-secp256k1' : 'frost-secp256k1-tr';
    const v = readJsonVector<{ config: { MIN_PARTICIPANTS: number }; inputs: Record<string, DkgPartyVector | string> }>('frost', 'zcashfoundation', dir, 'vectors_dkg.json');
    const { group } = frostSuite(suiteId);
    const parties = [1, 2, 3] as PartyId[];
    const vp = (p: number): DkgPartyVector => v.inputs[String(p)] as DkgPartyVector;
    const started = parties.map((self) => {
      const coeffs = [vp(self).signing_key, vp(self).coefficient].map((c) => group.decodeScalar(hexToBytes(c), 'coefficient'));
      const r = restoreDkgState({ suite: suiteId, sessionId: 'dkg-vector', threshold: v.config.MIN_PARTICIPANTS, parties, self }, new Secret(coeffs), hexToBytes(vp(self).proof_of_knowledge));
      assert.deepEqual(r.broadcast.commitment.map(bytesToHex), vp(self).vss_commitments);
      return r;
    });
    const echoes = started.map(({ state }) => dkgEcho(state, started.filter((o) => o.state !== state).map((o) => o.broadcast)));
    const outbox: DkgShareMessage[] = started.flatMap(({ state }) => dkgShares(state, echoes.filter((e) => e.from !== state.config.self)));
    for (const m of outbox) assert.equal(bytesToHex(m.signingShare.expose()), vp(m.to).signing_shares[String(m.from)], `share ${m.from}→${m.to} (the vector lists shares by receiver)`);
    for (const { state } of started) {
      const share = dkgFinish(state, outbox.filter((m) => m.to === state.config.self));
      const self = state.config.self;
      // Our stored taproot key is the internal key; the vector (frost-rs) stores the BIP86-tweaked one.
      const compare = suiteId === 'frost-secp256k1-tr' ? tweakKeyShare(share) : share;
      assert.equal(bytesToHex(compare.publicPackage.groupPublicKey), v.inputs['verifying_key']);
      assert.equal(bytesToHex(compare.signingShare.expose()), vp(self).signing_share);
      assert.equal(bytesToHex(compare.publicPackage.verifyingShares.get(self)!), vp(self).verifying_share);
    }
  });
}

/**
 * Binary form of an EcdsaKeyShare for sealing (it holds the secret share and
 * the pairwise OT seeds: encrypt it before it leaves the enclave). The decoder
 * checks the shape, then that the secret share matches its public share and
 * that the OT setups cover exactly the other committee members.
 *
 *   version (1) ‖ id (2) ‖ threshold (1) ‖ frozen (1) ‖ n (1) ‖ parties (2 each) ‖
 *   excluded count (1) ‖ excluded peers (2 each) ‖
 *   publicKey (33) ‖ publicShares (33 each) ‖ share (32) ‖
 *   per other party in order: Δ (16) ‖ Alice seeds (128 × 32) ‖ Bob seeds0 ‖ Bob seeds1
 */
import { Secret } from '@custodian/core/secret';
import { fail } from './errors.js';
import { OT_BASE_COUNT, PARTIES_MAX } from './limits.js';
import { mulBase } from './group.js';
import { normalizePartyIds, partyIdBytes, checkThreshold } from './party-id.js';
import { Reader, Writer } from './wire.js';
import type { EcdsaKeyShare, PairSetup } from './key-share.js';
import type { Point } from './group.js';

const VERSION = 1;
const SEED_BYTES = 32;

/** Encodes a key share (secret: seal it). */
export function encodeKeyShare(share: EcdsaKeyShare): Uint8Array {
  const secret = share.secret.expose();
  const w = new Writer().fixed(new Uint8Array([VERSION])).fixed(partyIdBytes(share.id));
  w.fixed(new Uint8Array([share.threshold, share.status.frozen ? 1 : 0, share.parties.length]));
  for (const p of share.parties) w.fixed(partyIdBytes(p));
  const excluded = [...share.status.excluded].sort((a, b) => (a < b ? -1 : 1));
  w.fixed(new Uint8Array([excluded.length]));
  for (const p of excluded) w.fixed(partyIdBytes(p));
  w.point(share.publicKey);
  for (const p of share.parties) w.point(share.publicShares.get(p)!);
  w.scalar(secret.share);
  for (const p of share.parties) {
    if (p === share.id) continue;
    const pair = secret.pairs.get(p)!;
    const delta = new Uint8Array(OT_BASE_COUNT / 8);
    pair.alice.delta.forEach((d, i) => (delta[i >> 3]! |= d << (i & 7)));
    w.fixed(delta);
    for (const s of [...pair.alice.seeds, ...pair.bob.seeds0, ...pair.bob.seeds1]) w.fixed(s);
  }
  return w.bytes();
}

/** Decodes a key share unsealed by its owner. */
export function decodeKeyShare(bytes: Uint8Array): EcdsaKeyShare {
  const rd = new Reader(bytes, 'key share');
  if (rd.fixed(1, 'version')[0] !== VERSION) fail('E_MPC_SHAPE', 'unknown key share version');
  const id = BigInt(rd.u16('id'));
  const [threshold, frozen, n] = rd.fixed(3, 'header');
  if (n === undefined || n < 2 || n > PARTIES_MAX || frozen === undefined || frozen > 1 || threshold === undefined) fail('E_MPC_SHAPE', 'key share header is invalid');
  checkThreshold(threshold, n);
  const parties = normalizePartyIds(Array.from({ length: n }, (_, i) => rd.u16(`parties[${i}]`)));
  if (!parties.includes(id)) fail('E_MPC_SHAPE', 'key share owner is not in its committee');
  const excludedCount = rd.fixed(1, 'excludedCount')[0]!;
  if (excludedCount >= n) fail('E_MPC_SHAPE', 'key share excludes too many peers');
  const excluded = new Set<bigint>();
  for (let i = 0; i < excludedCount; i++) {
    const p = BigInt(rd.u16('excluded'));
    if (!parties.includes(p) || p === id || excluded.has(p)) fail('E_MPC_SHAPE', 'key share excludes an unknown peer');
    excluded.add(p);
  }
  const publicKey = rd.point('publicKey');
  const publicShares = new Map<bigint, Point>(parties.map((p) => [p, rd.point(`publicShares[${p}]`)]));
  const share = rd.scalar('share');
  const pairs = new Map<bigint, PairSetup>();
  for (const p of parties) {
    if (p === id) continue;
    const deltaBytes = rd.fixed(OT_BASE_COUNT / 8, 'delta');
    const delta = Array.from({ length: OT_BASE_COUNT }, (_, i) => (deltaBytes[i >> 3]! >> (i & 7)) & 1);
    const seeds = (what: string) => Array.from({ length: OT_BASE_COUNT }, (_, i) => rd.fixed(SEED_BYTES, `${what}[${i}]`));
    pairs.set(p, { alice: { delta, seeds: seeds('alice') }, bob: { seeds0: seeds('bob0'), seeds1: seeds('bob1') } });
  }
  rd.end();
  if (!mulBase(share).equals(publicShares.get(id)!)) fail('E_DKG_SHARE_INVALID', 'the secret share does not match its public share');
  return { id, threshold, parties, publicKey, publicShares, secret: new Secret({ share, pairs }), status: { frozen: frozen === 1, excluded } };
}

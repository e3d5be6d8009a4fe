/**
 * All parties of a ceremony in one process: the DKG and signing steps wired
 * to each other directly. For `custodian tss sign-demo`, tests and benches;
 * never for custody (it holds every share in one place by construction).
 */
import type { Random } from '@custodian/core/clock';
import { aggregateSignature, createSigningPackage } from './coordinator.js';
import { dkgEcho, dkgFinish, dkgShares, dkgStart, type DkgShareMessage } from './dkg.js';
import type { FrostKeyShare } from './key-package.js';
import { MemoryNonceStore, type NonceStore } from './nonce-store.js';
import type { PartyId } from './party-id.js';
import { commitNonces, signPackage } from './signer.js';
import type { FrostSuiteId } from './suite.js';

/** Runs a full DKG among parties 1..n (or `parties`) in this process and returns every party's share. */
export function runLocalDkg(suite: FrostSuiteId, threshold: number, n: number, random: Random, sessionId = 'local-dkg', parties?: readonly PartyId[]): FrostKeyShare[] {
  const ids = parties ?? Array.from({ length: n }, (_, i) => (i + 1) as PartyId);
  const started = ids.map((self) => dkgStart({ suite, sessionId, threshold, parties: ids, self }, random));
  const echoes = started.map(({ state }) => dkgEcho(state, started.filter((o) => o.state !== state).map((o) => o.broadcast)));
  const outbox: DkgShareMessage[] = started.flatMap(({ state }) => dkgShares(state, echoes.filter((e) => e.from !== state.config.self)));
  return started.map(({ state }) => dkgFinish(state, outbox.filter((m) => m.to === state.config.self)));
}

/** Signs `message` with the given t (or more) shares in this process; returns the group signature. */
export async function signLocally(shares: readonly FrostKeyShare[], message: Uint8Array, random: Random, sessionId = 'local-sign', stores?: ReadonlyMap<PartyId, NonceStore>): Promise<Uint8Array> {
  const first = shares[0];
  if (first === undefined) throw new Error('no shares');
  const storeOf = (p: PartyId): NonceStore => stores?.get(p) ?? new MemoryNonceStore();
  const used = new Map(shares.map((s) => [s.party, storeOf(s.party)]));
  const commitments = await Promise.all(shares.map((s) => commitNonces(s, sessionId, random, used.get(s.party)!)));
  const pkg = createSigningPackage(first.publicPackage, sessionId, message, commitments);
  const sigShares = await Promise.all(shares.map((s) => signPackage(s, pkg, used.get(s.party)!)));
  return aggregateSignature(first.publicPackage, pkg, sigShares);
}

/**
 * In-process driver for the protocols: routes every party's messages to their
 * recipients round by round. For tests, the demo and the benchmark only; the
 * signers move the same messages through the host relay.
 */
import type { Random } from '@custodian/core/clock';
import type { EcdsaMessage } from './message.js';
import { EcdsaDealing, type DealingConfig } from './dealing.js';
import type { EcdsaKeyShare } from './key-share.js';
import { EcdsaPresignSession, type EcdsaPresignature, type EcdsaSignature } from './sign.js';

/** Messages addressed to `to`. */
export function inboxOf(messages: readonly EcdsaMessage[], to: bigint): EcdsaMessage[] {
  return messages.filter((m) => m.to === to);
}

/** Runs one dealing (keygen, refresh or reshare) among all `configs`; returns the receivers' shares. */
export function runDealing(configs: readonly DealingConfig[]): Map<bigint, EcdsaKeyShare> {
  const sessions = configs.map((c) => new EcdsaDealing(c));
  const r1 = sessions.flatMap((s) => s.round1());
  const receivers = sessions.filter((s) => s.isReceiver);
  const r2 = receivers.flatMap((s) => s.round2(inboxOf(r1, s.self)));
  const out = new Map<bigint, EcdsaKeyShare>();
  for (const s of receivers) out.set(s.self, s.finish(inboxOf(r2, s.self)));
  return out;
}

/** Runs a fresh t-of-n key generation among parties 1..n. */
export function runKeygen(threshold: number, parties: number, sessionId: Uint8Array, random: Random): Map<bigint, EcdsaKeyShare> {
  const ids = Array.from({ length: parties }, (_, i) => BigInt(i + 1));
  return runDealing(ids.map((self) => ({ sessionId, self, mode: 'keygen' as const, threshold, receivers: ids, random })));
}

/** Runs pre-signing among `signers` (their shares from `shares`); returns each signer's pre-signature. */
export function runPresign(shares: ReadonlyMap<bigint, EcdsaKeyShare>, signers: readonly bigint[], sessionId: Uint8Array, random: Random): Map<bigint, EcdsaPresignature> {
  const sessions = signers.map((id) => new EcdsaPresignSession(shares.get(id)!, { sessionId, signers, random }));
  const r1 = sessions.flatMap((s) => s.round1());
  const r2 = sessions.flatMap((s, i) => s.round2(inboxOf(r1, signers[i]!)));
  return new Map(sessions.map((s, i) => [signers[i]!, s.finish(inboxOf(r2, signers[i]!))]));
}

/** Runs the online round on pre-signatures and returns every signer's (identical, verified) signature. */
export function runOnline(presigs: ReadonlyMap<bigint, EcdsaPresignature>, digest: Uint8Array): Map<bigint, EcdsaSignature> {
  const r3 = [...presigs.values()].flatMap((p) => p.online(digest));
  return new Map([...presigs].map(([id, p]) => [id, p.combine(inboxOf(r3, id))]));
}

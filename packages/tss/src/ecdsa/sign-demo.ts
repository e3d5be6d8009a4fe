/**
 * `custodian tss sign-demo --scheme ecdsa-dkls`: runs a fresh t-of-n DKLs23 key
 * generation and one signing session in process (all parties local, system
 * randomness) and returns what a plain verifier needs (CONTRACTS.md).
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex } from '@custodian/core/bytes';
import { systemRandom } from '@custodian/core/clock';
import { pointToBytes } from './group.js';
import { runKeygen, runOnline, runPresign } from './local-run.js';
import { checkThreshold } from './party-id.js';
import { fail } from './errors.js';
import { PARTIES_MAX } from './limits.js';

/** Signs SHA-256(message) with a fresh t-of-n threshold key; returns the compressed group key and r‖s, both hex. */
export async function signDemoEcdsa(threshold: number, parties: number, message: Uint8Array): Promise<{ groupPublicKey: string; signature: string }> {
  if (!Number.isSafeInteger(parties) || parties < 2 || parties > PARTIES_MAX) fail('E_MPC_SHAPE', `parties must be between 2 and ${PARTIES_MAX}`, { parties });
  checkThreshold(threshold, parties);
  const shares = runKeygen(threshold, parties, systemRandom.bytes(32), systemRandom);
  // Any t parties sign; a random subset shows that any t suffice.
  const order = [...shares.keys()].map((id) => ({ id, k: bytesToHex(systemRandom.bytes(4)) })).sort((a, b) => a.k.localeCompare(b.k));
  const signers = order.slice(0, threshold).map((o) => o.id);
  const digest = sha256(message);
  const sig = runOnline(runPresign(shares, signers, systemRandom.bytes(32), systemRandom), digest).get(signers[0]!)!;
  return { groupPublicKey: bytesToHex(pointToBytes(shares.get(signers[0]!)!.publicKey)), signature: bytesToHex(sig.compact) };
}

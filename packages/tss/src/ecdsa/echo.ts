/**
 * Echo broadcast (F05): values meant to be broadcast travel point to point, so
 * in the next round every party echoes a digest of each broadcast it received;
 * a mismatch aborts with E_BROADCAST_EQUIVOCATION naming the sender whose
 * copies differ (or the echoer, when it misreports our own broadcast or its
 * own), with the reporter in `detail.reportedBy`.
 */
import { equalBytes } from '@custodian/core/bytes';
import { blame } from './errors.js';
import { hashTranscript } from './transcript.js';
import { partyIdBytes } from './party-id.js';
import { Writer, type Reader } from './wire.js';

/** Digest of one sender's broadcast, bound to the session. */
export function echoDigest(sessionId: Uint8Array, sender: bigint, broadcast: Uint8Array): Uint8Array {
  return hashTranscript('custodian/ecdsa/echo/v1', sessionId, partyIdBytes(sender), broadcast);
}

/** The echo body: a count and one digest per sender, in `senders` order. */
export function writeEcho(sessionId: Uint8Array, senders: readonly bigint[], broadcastOf: (sender: bigint) => Uint8Array): Uint8Array {
  const w = new Writer().count(senders.length);
  for (const s of senders) w.fixed(echoDigest(sessionId, s, broadcastOf(s)));
  return w.bytes();
}

/** Reads one echo body (E_MPC_SHAPE when malformed); returns the digests. */
export function readEcho(reader: Reader, count: number): Uint8Array[] {
  reader.count('echo', count);
  return Array.from({ length: count }, (_, i) => reader.fixed(32, `echo[${i}]`));
}

/** Compares one peer's echoed digests with ours. */
export function compareEcho(senders: readonly bigint[], mine: readonly Uint8Array[], theirs: readonly Uint8Array[], from: bigint, self?: bigint): void {
  senders.forEach((s, i) => {
    if (!equalBytes(mine[i]!, theirs[i]!)) {
      const culprit = s === self ? from : s;
      blame('E_BROADCAST_EQUIVOCATION', culprit, `party ${s}'s broadcast differs between what we received and what party ${from} received`, {
        sender: s.toString(),
        reportedBy: from.toString(),
      });
    }
  });
}

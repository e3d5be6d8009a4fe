/**
 * How a signer's FROST DKG messages cross the untrusted host: every message
 * (round-1 broadcast, echo, secret share) is sealed with the HPKE peer channel
 * to its recipient's attested channel key, one copy per peer. An opened
 * message is accepted only when it decodes as the kind this step expects,
 * claims the authenticated sender as its `from`, and (shares) is addressed to
 * us. Broadcasts are also signed with the enclaves' identity keys (F05).
 */
import { CustodianError } from '@custodian/core/errors';
import { utf8 } from '@custodian/core/bytes';
import type { PeerChannel } from '@custodian/protocol/hpke/peer-channel';
import type { RelayedEnvelope } from '@custodian/protocol/mpc-relay';
import type { BroadcastAuthenticator as EcdsaAuthenticator } from '@custodian/tss/ecdsa/echo';
import type { BroadcastAuthenticator } from '@custodian/tss/frost/broadcast-auth';
import type { DkgRound1Message, DkgShareMessage } from '@custodian/tss/frost/dkg';
import type { EchoMessage } from '@custodian/tss/frost/echo';
import type { PartyId } from '@custodian/tss/frost/party-id';
import type { SignatureShare, SigningCommitment } from '@custodian/tss/frost/signing-messages';
import { decodeFrostMessage, decodeShareMessage, encodeFrostMessage, encodeShareForSealing, toDkgShareMessage, toRefreshShareMessage } from '@custodian/tss/frost/wire';
import type { RefreshCommitMessage, RefreshShareMessage } from '@custodian/tss/frost/refresh';
import type { PartyMap } from './mpc-mesh.js';

/** What a FROST DKG step sends: the step's kind decides how each message is encoded. */
export type FrostDkgOutbound =
  | { readonly kind: 'frost/dkg-round1'; readonly message: DkgRound1Message }
  | { readonly kind: 'frost/echo'; readonly message: EchoMessage }
  | { readonly kind: 'frost/dkg-share'; readonly messages: readonly DkgShareMessage[] }
  | { readonly kind: 'frost/refresh-commit'; readonly message: RefreshCommitMessage }
  | { readonly kind: 'frost/refresh-share'; readonly messages: readonly RefreshShareMessage[] };

/** The party id of a signer in the FROST library's type. */
export function frostParty(map: PartyMap, signerId: string): PartyId {
  return Number(map.idOf(signerId)) as PartyId;
}

/** Seals one step's messages: a broadcast to every other participant, each share to its recipient. */
export async function sealFrost(channel: PeerChannel, session: string, map: PartyMap, self: string, participants: readonly string[], out: FrostDkgOutbound): Promise<RelayedEnvelope[]> {
  const envelopes: RelayedEnvelope[] = [];
  const push = async (to: string, bytes: Uint8Array): Promise<void> => {
    envelopes.push({ to, envelope: new TextDecoder().decode(await channel.seal(to, session, bytes)) });
  };
  if (out.kind === 'frost/dkg-share' || out.kind === 'frost/refresh-share') {
    for (const m of out.messages) await push(map.signerOf(BigInt(m.to)), encodeShareForSealing(out.kind, m).expose());
    return envelopes;
  }
  const bytes = encodeFrostMessage(out.kind, out.message);
  for (const id of participants) if (id !== self) await push(id, bytes);
  return envelopes;
}

/** Opens an inbox and returns the plaintexts with their authenticated senders (channel checks: tamper, forgery, replay, session). */
async function openAll(channel: PeerChannel, session: string, inbox: readonly RelayedEnvelope[]): Promise<{ from: string; plaintext: Uint8Array }[]> {
  const out: { from: string; plaintext: Uint8Array }[] = [];
  for (const e of inbox) {
    const opened = await channel.open(utf8(e.envelope), session);
    out.push({ from: opened.from, plaintext: opened.plaintext });
  }
  return out;
}

function checkFrom(map: PartyMap, sender: string, claimed: PartyId): void {
  if (map.signerOf(BigInt(claimed)) !== sender) throw new CustodianError('E_PEER_AUTH_FAILED', `${sender} sent a message claiming to come from party ${claimed}`, { culprit: sender });
}

/** The broadcast kinds of a DKG or refresh, and what each carries. */
interface FrostBroadcasts {
  readonly 'frost/dkg-round1': DkgRound1Message;
  readonly 'frost/echo': EchoMessage;
  readonly 'frost/refresh-commit': RefreshCommitMessage;
}

/** Opens an inbox of broadcasts that must all be of `kind` (`what` names it in errors), each claiming its authenticated sender's party. */
async function openBroadcasts<K extends keyof FrostBroadcasts>(
  channel: PeerChannel,
  session: string,
  map: PartyMap,
  kind: K,
  what: string,
  inbox: readonly RelayedEnvelope[],
): Promise<FrostBroadcasts[K][]> {
  return (await openAll(channel, session, inbox)).map(({ from, plaintext }) => {
    const d = decodeFrostMessage(plaintext);
    if (d.kind !== kind) throw new CustodianError('E_FROST_MESSAGE_INVALID', `${from} sent a ${d.kind} message where ${what} was due`, { culprit: from });
    const m = d.message as FrostBroadcasts[K];
    checkFrom(map, from, m.from);
    return m;
  });
}

/** Opens the round-1 broadcasts of a DKG. */
export function openRound1(channel: PeerChannel, session: string, map: PartyMap, inbox: readonly RelayedEnvelope[]): Promise<DkgRound1Message[]> {
  return openBroadcasts(channel, session, map, 'frost/dkg-round1', 'a DKG round-1 message', inbox);
}

/** Opens the echoes of a DKG's round 1. */
export function openEchoes(channel: PeerChannel, session: string, map: PartyMap, inbox: readonly RelayedEnvelope[]): Promise<EchoMessage[]> {
  return openBroadcasts(channel, session, map, 'frost/echo', 'an echo', inbox);
}

/** Opens the secret shares sent to us (the shares stay wrapped as secrets). */
export async function openShares(channel: PeerChannel, session: string, map: PartyMap, self: PartyId, inbox: readonly RelayedEnvelope[]): Promise<DkgShareMessage[]> {
  return (await openAll(channel, session, inbox)).map(({ from, plaintext }) => {
    const d = decodeShareMessage(plaintext, 'frost/dkg-share');
    checkFrom(map, from, d.from);
    if (d.to !== self) throw new CustodianError('E_SESSION_MISMATCH', `${from} sent a share for party ${d.to}`, { culprit: from });
    return toDkgShareMessage(d);
  });
}

/** Opens the commitment broadcasts of a refresh. */
export function openRefreshCommits(channel: PeerChannel, session: string, map: PartyMap, inbox: readonly RelayedEnvelope[]): Promise<RefreshCommitMessage[]> {
  return openBroadcasts(channel, session, map, 'frost/refresh-commit', 'a refresh commitment', inbox);
}

/** Opens the refresh sub-shares sent to us (kept secret). */
export async function openRefreshShares(channel: PeerChannel, session: string, map: PartyMap, self: PartyId, inbox: readonly RelayedEnvelope[]): Promise<RefreshShareMessage[]> {
  return (await openAll(channel, session, inbox)).map(({ from, plaintext }) => {
    const d = decodeShareMessage(plaintext, 'frost/refresh-share');
    checkFrom(map, from, d.from);
    if (d.to !== self) throw new CustodianError('E_SESSION_MISMATCH', `${from} sent a refresh share for party ${d.to}`, { culprit: from });
    return toRefreshShareMessage(d);
  });
}

/** The enclave's identity-key broadcast authenticator, in the FROST library's party type. */
export function frostAuthenticator(inner: EcdsaAuthenticator): BroadcastAuthenticator {
  return { sign: (m) => inner.sign(m), verify: (party, m, sig) => inner.verify(BigInt(party), m, sig) };
}

/** What a FROST signing step sends: round-one commitments to every other signer, or signature shares to the combiner. */
export type FrostSignOutbound =
  | { readonly kind: 'frost/commitment'; readonly messages: readonly SigningCommitment[] }
  | { readonly kind: 'frost/signature-share'; readonly messages: readonly SignatureShare[]; readonly to: string };

/** Seals a signing step: each commitment to every other participant (in message order), each share to the combiner. */
export async function sealFrostSigning(channel: PeerChannel, session: string, self: string, participants: readonly string[], out: FrostSignOutbound): Promise<RelayedEnvelope[]> {
  const envelopes: RelayedEnvelope[] = [];
  const targets = out.kind === 'frost/commitment' ? participants.filter((id) => id !== self) : out.to === self ? [] : [out.to];
  for (const to of targets) {
    for (const m of out.messages) envelopes.push({ to, envelope: new TextDecoder().decode(await channel.seal(to, session, encodeFrostMessage(out.kind, m))) });
  }
  return envelopes;
}

/**
 * Opens one signing step's inbox: exactly one message of `kind` per sender in
 * `senders` and per per-message session id in `sessionIds`, each claiming its
 * authenticated sender's party. Anything missing, extra, of another kind or
 * of another session names the sender that caused it.
 */
async function openSigning<K extends 'frost/commitment' | 'frost/signature-share'>(
  channel: PeerChannel,
  session: string,
  map: PartyMap,
  senders: readonly string[],
  sessionIds: readonly string[],
  kind: K,
  inbox: readonly RelayedEnvelope[],
): Promise<Map<string, (K extends 'frost/commitment' ? SigningCommitment : SignatureShare)[]>> {
  type M = K extends 'frost/commitment' ? SigningCommitment : SignatureShare;
  const got = new Map<string, Map<string, M>>(senders.map((s) => [s, new Map()]));
  for (const { from, plaintext } of await openAll(channel, session, inbox)) {
    const mine = got.get(from);
    if (!mine) throw new CustodianError('E_SIGNER_NOT_IN_SET', `${from} is not expected to send in this step`, { culprit: from });
    const d = decodeFrostMessage(plaintext);
    if (d.kind !== kind) throw new CustodianError('E_FROST_MESSAGE_INVALID', `${from} sent a ${d.kind} message where a ${kind} was due`, { culprit: from });
    const m = d.message as SigningCommitment | SignatureShare;
    checkFrom(map, from, m.party);
    if (!sessionIds.includes(m.sessionId)) throw new CustodianError('E_SESSION_MISMATCH', `${from} sent a message for another session`, { culprit: from });
    if (mine.has(m.sessionId)) throw new CustodianError('E_FROST_MESSAGE_INVALID', `${from} sent two messages for one signature`, { culprit: from });
    mine.set(m.sessionId, m as M);
  }
  const out = new Map<string, M[]>();
  for (const [from, mine] of got) {
    const missing = sessionIds.filter((id) => !mine.has(id));
    if (missing.length > 0) throw new CustodianError('E_FROST_MESSAGE_INVALID', `${from} did not send its ${kind} for ${missing.length} signature(s)`, { culprit: from });
    out.set(from, sessionIds.map((id) => mine.get(id)!));
  }
  return out;
}

/** Opens the round-one commitments of every other signer, per sender in signature order. */
export function openCommitments(channel: PeerChannel, session: string, map: PartyMap, senders: readonly string[], sessionIds: readonly string[], inbox: readonly RelayedEnvelope[]): Promise<Map<string, SigningCommitment[]>> {
  return openSigning(channel, session, map, senders, sessionIds, 'frost/commitment', inbox);
}

/** Opens the signature shares sent to the combiner, per sender in signature order. */
export function openSignatureShares(channel: PeerChannel, session: string, map: PartyMap, senders: readonly string[], sessionIds: readonly string[], inbox: readonly RelayedEnvelope[]): Promise<Map<string, SignatureShare[]>> {
  return openSigning(channel, session, map, senders, sessionIds, 'frost/signature-share', inbox);
}

/**
 * Proactive refresh of a threshold wallet's shares across its signers (FROST
 * and ecdsa-dkls alike): every party runs the scheme's refresh (new shares,
 * same key), keeps its new share *pending* (sealed), and signs a confirmation
 * naming the session and a digest of the new public key data. A party swaps
 * its share only when it holds every party's confirmation of the same digest
 * — so no party ever signs with a new share while another still holds the
 * old one unknowingly — and keeps those confirmations, so a party that missed
 * the last round can be handed them and commit too.
 *
 * The confirmations travel through the same sealed peer channel as the
 * protocol messages (authenticated sender, session-bound, replay-checked).
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { CustodianError } from '@custodian/core/errors';
import { bytesToHex, concatBytes, utf8 } from '@custodian/core/bytes';
import { canonicalJsonBytes, parseJson, type Json } from '@custodian/core/canonical-json';
import { Fields } from '@custodian/core/fields';
import { decodeEnclaveSigned, encodeEnclaveSigned, signStatement, verifyStatement } from '@custodian/protocol/enclave-signed';
import type { PeerChannel } from '@custodian/protocol/hpke/peer-channel';
import type { RelayedEnvelope } from '@custodian/protocol/mpc-relay';
import type { EcdsaKeyShare } from '@custodian/tss/ecdsa/key-share';
import { pointToBytes } from '@custodian/tss/ecdsa/group';
import type { FrostKeyShare } from '@custodian/tss/frost/key-package';

/** Statement kind of a party's refresh confirmation. */
export const REFRESH_CONFIRM_KIND = 'wallet-refresh.v1';
/** Longest sealed confirmation message accepted from a peer. */
export const REFRESH_CONFIRM_BYTES_MAX = 4096;

const DIGEST_DOMAIN = utf8('custodian/wallet-refresh/public-data/v1');

/** SHA-256 (hex) of a FROST key's public data: group key, VSS commitments, every verifying share by party. */
export function frostPublicDigest(share: FrostKeyShare): string {
  const p = share.publicPackage;
  const shares = [...p.verifyingShares].sort(([a], [b]) => a - b).flatMap(([party, v]) => [utf8(`${party}:`), v]);
  return bytesToHex(sha256(concatBytes(DIGEST_DOMAIN, utf8(`${p.suite}\n${p.threshold}\n`), p.groupPublicKey, ...p.commitments, ...shares)));
}

/** SHA-256 (hex) of an ECDSA key's public data: the group key and every party's public share. */
export function ecdsaPublicDigest(share: EcdsaKeyShare): string {
  const shares = [...share.publicShares].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).flatMap(([party, v]) => [utf8(`${party}:`), pointToBytes(v)]);
  return bytesToHex(sha256(concatBytes(DIGEST_DOMAIN, utf8(`ecdsa-dkls\n${share.threshold}\n`), pointToBytes(share.publicKey), ...shares)));
}

/** What a party confirms. */
export interface RefreshConfirmation {
  readonly walletId: string;
  readonly sessionId: string;
  readonly signerId: string;
  readonly digest: string;
}

/** This party's signed confirmation (an enclave-signed statement, JSON). */
export function signConfirmation(c: RefreshConfirmation, identitySecret: Uint8Array): Json {
  return encodeEnclaveSigned(signStatement(REFRESH_CONFIRM_KIND, { ...c }, identitySecret));
}

/**
 * Checks a full set of confirmations: exactly one per party, each signed by
 * that party's attested identity key, all for this wallet, session and
 * digest. Throws E_REFRESH_UNCONFIRMED naming the party at fault.
 */
export function verifyConfirmations(expect: { walletId: string; sessionId: string; digest: string; parties: readonly string[] }, confirmations: readonly Json[], keyOf: (signerId: string) => Uint8Array | undefined): void {
  const seen = new Set<string>();
  for (const json of confirmations) {
    const signed = decodeEnclaveSigned(json, 'confirmation');
    const f = new Fields(signed.statement, 'confirmation.statement');
    const c = { walletId: f.str('walletId', 64), sessionId: f.str('sessionId', 64), signerId: f.str('signerId', 64), digest: f.str('digest', 64) };
    f.done();
    const key = keyOf(c.signerId);
    if (!expect.parties.includes(c.signerId) || seen.has(c.signerId)) throw new CustodianError('E_REFRESH_UNCONFIRMED', `a confirmation from ${c.signerId} is not expected (not a party, or twice)`, { culprit: c.signerId });
    if (!key || !verifyStatement(REFRESH_CONFIRM_KIND, signed, key)) throw new CustodianError('E_REFRESH_UNCONFIRMED', `the confirmation of ${c.signerId} is not signed by its attested identity key`, { culprit: c.signerId });
    if (c.walletId !== expect.walletId || c.sessionId !== expect.sessionId) throw new CustodianError('E_REFRESH_UNCONFIRMED', `${c.signerId} confirmed another refresh`, { culprit: c.signerId });
    if (c.digest !== expect.digest) throw new CustodianError('E_REFRESH_UNCONFIRMED', `${c.signerId} holds other public key data after the refresh than this signer`, { culprit: c.signerId });
    seen.add(c.signerId);
  }
  const missing = expect.parties.filter((p) => !seen.has(p));
  if (missing.length > 0) throw new CustodianError('E_REFRESH_UNCONFIRMED', `no confirmation from ${missing.join(', ')}`, { missing });
}

/** Seals this party's confirmation to every other participant. */
export async function sealConfirmation(channel: PeerChannel, session: string, self: string, participants: readonly string[], confirmation: Json): Promise<RelayedEnvelope[]> {
  const bytes = canonicalJsonBytes({ kind: 'refresh-confirm', confirmation });
  const out: RelayedEnvelope[] = [];
  for (const to of participants) if (to !== self) out.push({ to, envelope: new TextDecoder().decode(await channel.seal(to, session, bytes)) });
  return out;
}

/** Opens the confirmations of the other participants (one each; the channel authenticates the sender). */
export async function openConfirmations(channel: PeerChannel, session: string, senders: readonly string[], inbox: readonly RelayedEnvelope[]): Promise<Json[]> {
  const got = new Map<string, Json>();
  for (const e of inbox) {
    const opened = await channel.open(utf8(e.envelope), session);
    if (!senders.includes(opened.from) || got.has(opened.from)) throw new CustodianError('E_REFRESH_UNCONFIRMED', `${opened.from} sent an unexpected confirmation`, { culprit: opened.from });
    const f = new Fields(parseJson(opened.plaintext, REFRESH_CONFIRM_BYTES_MAX), 'refresh-confirm');
    if (f.str('kind', 32) !== 'refresh-confirm') throw new CustodianError('E_REFRESH_UNCONFIRMED', `${opened.from} sent another message where a confirmation was due`, { culprit: opened.from });
    got.set(opened.from, f.raw('confirmation'));
    f.done();
  }
  const missing = senders.filter((s) => !got.has(s));
  if (missing.length > 0) throw new CustodianError('E_REFRESH_UNCONFIRMED', `no confirmation from ${missing.join(', ')}`, { culprit: missing[0]! });
  return senders.map((s) => got.get(s)!);
}

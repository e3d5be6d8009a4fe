/**
 * Participant identifiers (RFC 9591 §2: non-zero scalars). We use small
 * positive integers 1..FROST_PARTY_ID_MAX, and map them to the library's
 * canonical scalar encoding. THREATS.md B29: id = 0, id = q, an id ≡ another
 * mod q and out-of-range ids are rejected at the input boundary, after
 * reduction mod q.
 */
import { FROST_PARTIES_MAX, FROST_PARTY_ID_MAX } from './limits.js';
import { frostError } from './errors.js';
import type { FrostSuite } from './suite.js';

/** A participant identifier: an integer in 1..FROST_PARTY_ID_MAX. */
export type PartyId = number & { readonly __partyId: unique symbol };

/** Parses one identifier given as a number, a bigint or a decimal string; throws E_PARTY_ID_INVALID. */
export function parsePartyId(value: unknown, q: bigint, field = 'party'): PartyId {
  let n: bigint;
  if (typeof value === 'number' && Number.isSafeInteger(value)) n = BigInt(value);
  else if (typeof value === 'bigint') n = value;
  else if (typeof value === 'string' && /^[0-9]{1,100}$/.test(value)) n = BigInt(value);
  else throw frostError('E_PARTY_ID_INVALID', `${field} is not an integer identifier`, { field });
  const reduced = ((n % q) + q) % q;
  if (reduced === 0n) throw frostError('E_PARTY_ID_INVALID', `${field} is zero modulo the group order`, { field, value: String(value) });
  // An identifier ≥ q aliases a smaller one: refuse it rather than reduce silently.
  if (reduced !== n) throw frostError('E_PARTY_ID_INVALID', `${field} is not reduced modulo the group order`, { field, value: String(value) });
  if (n > BigInt(FROST_PARTY_ID_MAX)) throw frostError('E_PARTY_ID_INVALID', `${field} exceeds ${FROST_PARTY_ID_MAX}`, { field, value: String(value) });
  return Number(n) as PartyId;
}

/** Parses a committee: 2..FROST_PARTIES_MAX distinct identifiers, returned sorted. */
export function parseCommittee(values: readonly unknown[], q: bigint, field = 'parties'): readonly PartyId[] {
  if (!Array.isArray(values) || values.length < 2 || values.length > FROST_PARTIES_MAX) {
    throw frostError('E_MPC_SHAPE', `${field} must list 2..${FROST_PARTIES_MAX} parties`, { field, count: Array.isArray(values) ? values.length : null });
  }
  const ids = values.map((v, i) => parsePartyId(v, q, `${field}[${i}]`));
  const seen = new Set<number>();
  for (const id of ids) {
    if (seen.has(id)) throw frostError('E_PARTY_ID_INVALID', `${field} lists party ${id} twice`, { field, party: id });
    seen.add(id);
  }
  return Object.freeze([...ids].sort((a, b) => a - b));
}

/** The library's canonical serialised identifier for a party. */
export function libraryIdentifier(suite: FrostSuite, party: PartyId): string {
  return suite.frost.Identifier.fromNumber(party);
}

/** Maps a library identifier back to the party number, or throws E_PARTY_ID_INVALID. */
export function partyFromLibraryIdentifier(suite: FrostSuite, identifier: string, committee: readonly PartyId[]): PartyId {
  for (const p of committee) if (libraryIdentifier(suite, p) === identifier) return p;
  throw frostError('E_PARTY_ID_INVALID', 'identifier is not a member of the committee', { identifier });
}

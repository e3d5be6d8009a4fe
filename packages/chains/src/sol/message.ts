/**
 * Solana transaction messages, legacy and v0: the one strict decoder, the
 * encoder, and the account roles rebuilt from the header. The message bytes
 * are exactly what the fee payer's Ed25519 signature covers.
 *
 * Order of checks: size (≤ one packet), then shape (header, account keys,
 * blockhash, instructions, v0 lookups, no trailing bytes), then meaning (the
 * Solana SDK's sanitize rules: header consistent with the key count, program
 * ids are static non-fee-payer keys, every index in range, no duplicate
 * keys), then canonical form (re-encoding gives the same bytes).
 */
import { CustodianError } from '@custodian/core/errors';
import { bytesToHex, concatBytes, equalBytes } from '@custodian/core/bytes';
import { ByteReader } from '../btc/byte-reader.js';
import { base58Encode } from './base58.js';
import { encodeShortVec, readShortVec } from './short-vec.js';

/** Solana's packet data size (1280 IPv6 MTU − 48 header bytes): the largest transaction, so also the largest message. */
export const SOLANA_PACKET_BYTES_MAX = 1232;
/** Most accounts one message may reference (indexes are one byte). */
export const SOLANA_ACCOUNTS_MAX = 256;
/** Bit 7 of the first byte marks a versioned message (solana-sdk MESSAGE_VERSION_PREFIX). */
export const MESSAGE_VERSION_PREFIX = 0x80;
/** A public key, blockhash or lookup table address: 32 bytes. */
export const SOLANA_KEY_BYTES = 32;

/** The message header (counts that give every static account its role). */
export interface SolanaMessageHeader {
  readonly numRequiredSignatures: number;
  readonly numReadonlySignedAccounts: number;
  readonly numReadonlyUnsignedAccounts: number;
}

/** An instruction with its program and accounts as indexes into the message's accounts. */
export interface CompiledInstruction {
  readonly programIdIndex: number;
  readonly accountIndexes: readonly number[];
  readonly data: Uint8Array;
}

/** A v0 address table lookup: which entries of an on-chain table are loaded, writable then read-only. */
export interface AddressTableLookup {
  readonly accountKey: Uint8Array;
  readonly writableIndexes: readonly number[];
  readonly readonlyIndexes: readonly number[];
}

/** A decoded message. */
export interface SolanaMessage {
  readonly version: 'legacy' | 0;
  readonly header: SolanaMessageHeader;
  readonly staticAccountKeys: readonly Uint8Array[];
  readonly recentBlockhash: Uint8Array;
  readonly instructions: readonly CompiledInstruction[];
  /** Empty for legacy messages. */
  readonly addressTableLookups: readonly AddressTableLookup[];
}

/** One account of a message with the role the header (or its lookup) gives it. */
export interface SolanaAccountRole {
  readonly index: number;
  /** Base58 address; null for an account loaded from an address table (its key is on chain, not in the message). */
  readonly address: string | null;
  /** For a table-loaded account: the table (base58) and the entry. */
  readonly lookup: { readonly table: string; readonly entry: number } | null;
  readonly isSigner: boolean;
  readonly isWritable: boolean;
}

const CODE = 'E_SOLANA_MESSAGE_MALFORMED';

function fail(message: string, detail: Record<string, unknown> = {}): never {
  throw new CustodianError(CODE, message, detail);
}

function readIndexes(r: ByteReader, what: string): number[] {
  const n = readShortVec(r, `${what} count`, SOLANA_ACCOUNTS_MAX);
  return Array.from(r.take(n, what));
}

/** Decodes a legacy or v0 message. Only CustodianError escapes. */
export function decodeSolanaMessage(bytes: Uint8Array): SolanaMessage {
  if (bytes.length > SOLANA_PACKET_BYTES_MAX) fail(`message of ${bytes.length} bytes exceeds ${SOLANA_PACKET_BYTES_MAX}`);
  const r = new ByteReader(bytes, CODE);
  let version: 'legacy' | 0 = 'legacy';
  if (r.remaining > 0 && (bytes[0]! & MESSAGE_VERSION_PREFIX) !== 0) {
    const v = r.u8('version') & ~MESSAGE_VERSION_PREFIX;
    if (v !== 0) fail(`message version ${v} is not supported (only legacy and v0)`);
    version = 0;
  }
  const header: SolanaMessageHeader = Object.freeze({
    numRequiredSignatures: r.u8('numRequiredSignatures'),
    numReadonlySignedAccounts: r.u8('numReadonlySignedAccounts'),
    numReadonlyUnsignedAccounts: r.u8('numReadonlyUnsignedAccounts'),
  });
  const nKeys = readShortVec(r, 'account key count', SOLANA_ACCOUNTS_MAX);
  const staticAccountKeys = Array.from({ length: nKeys }, () => new Uint8Array(r.take(SOLANA_KEY_BYTES, 'account key')));
  const recentBlockhash = new Uint8Array(r.take(SOLANA_KEY_BYTES, 'recent blockhash'));
  // Each instruction takes at least 3 bytes, so the remaining length bounds the count.
  const nInstructions = readShortVec(r, 'instruction count', Math.floor(r.remaining / 3));
  const instructions = Array.from({ length: nInstructions }, () =>
    Object.freeze({ programIdIndex: r.u8('program id index'), accountIndexes: Object.freeze(readIndexes(r, 'instruction accounts')), data: new Uint8Array(r.take(readShortVec(r, 'instruction data length', SOLANA_PACKET_BYTES_MAX), 'instruction data')) }),
  );
  const addressTableLookups: AddressTableLookup[] = [];
  if (version === 0) {
    const nLookups = readShortVec(r, 'address table lookup count', Math.floor(r.remaining / (SOLANA_KEY_BYTES + 2)));
    for (let i = 0; i < nLookups; i++) {
      addressTableLookups.push(Object.freeze({ accountKey: new Uint8Array(r.take(SOLANA_KEY_BYTES, 'lookup table address')), writableIndexes: Object.freeze(readIndexes(r, 'lookup writable indexes')), readonlyIndexes: Object.freeze(readIndexes(r, 'lookup readonly indexes')) }));
    }
  }
  if (r.remaining !== 0) fail('trailing bytes after the message', { offset: r.pos });
  const message: SolanaMessage = Object.freeze({ version, header, staticAccountKeys: Object.freeze(staticAccountKeys), recentBlockhash, instructions: Object.freeze(instructions), addressTableLookups: Object.freeze(addressTableLookups) });
  sanitize(message);
  if (!equalBytes(encodeSolanaMessage(message), bytes)) fail('message is not in canonical form');
  return message;
}

/** The Solana SDK's sanitize rules (legacy Message::sanitize, v0::Message::sanitize), failing closed. */
function sanitize(m: SolanaMessage): void {
  const { numRequiredSignatures: sig, numReadonlySignedAccounts: roSigned, numReadonlyUnsignedAccounts: roUnsigned } = m.header;
  const nStatic = m.staticAccountKeys.length;
  if (sig === 0) fail('a message needs a fee payer (numRequiredSignatures ≥ 1)');
  // The fee payer must be writable, so not every signer may be read-only.
  if (roSigned >= sig) fail('numReadonlySignedAccounts must be below numRequiredSignatures');
  if (sig + roUnsigned > nStatic) fail('the header counts more accounts than the message lists', { nStatic });
  const nLoaded = m.addressTableLookups.reduce((n, l) => n + l.writableIndexes.length + l.readonlyIndexes.length, 0);
  if (nStatic + nLoaded > SOLANA_ACCOUNTS_MAX) fail(`more than ${SOLANA_ACCOUNTS_MAX} accounts`);
  for (const [i, l] of m.addressTableLookups.entries()) if (l.writableIndexes.length + l.readonlyIndexes.length === 0) fail(`address table lookup ${i} loads no account`);
  const total = nStatic + nLoaded;
  for (const [i, ix] of m.instructions.entries()) {
    // A program is never the fee payer and is never loaded from a table.
    if (ix.programIdIndex === 0 || ix.programIdIndex >= nStatic) fail(`instruction ${i}: program id index ${ix.programIdIndex} is not a static non-payer account`, { instruction: i });
    for (const a of ix.accountIndexes) if (a >= total) fail(`instruction ${i}: account index ${a} is out of range`, { instruction: i });
  }
  const seen = new Set<string>();
  for (const k of m.staticAccountKeys) {
    const h = bytesToHex(k);
    if (seen.has(h)) fail('an account key is listed twice');
    seen.add(h);
  }
  const tables = new Set<string>();
  for (const l of m.addressTableLookups) {
    const h = bytesToHex(l.accountKey);
    if (tables.has(h)) fail('an address table is looked up twice');
    tables.add(h);
  }
}

/** Encodes a message (the bytes its signatures cover). */
export function encodeSolanaMessage(m: SolanaMessage): Uint8Array {
  const parts: Uint8Array[] = [];
  if (m.version === 0) parts.push(Uint8Array.of(MESSAGE_VERSION_PREFIX));
  const h = m.header;
  parts.push(Uint8Array.of(h.numRequiredSignatures, h.numReadonlySignedAccounts, h.numReadonlyUnsignedAccounts));
  parts.push(encodeShortVec(m.staticAccountKeys.length), ...m.staticAccountKeys, m.recentBlockhash, encodeShortVec(m.instructions.length));
  for (const ix of m.instructions) parts.push(Uint8Array.of(ix.programIdIndex), encodeShortVec(ix.accountIndexes.length), Uint8Array.from(ix.accountIndexes), encodeShortVec(ix.data.length), ix.data);
  if (m.version === 0) {
    parts.push(encodeShortVec(m.addressTableLookups.length));
    for (const l of m.addressTableLookups) parts.push(l.accountKey, encodeShortVec(l.writableIndexes.length), Uint8Array.from(l.writableIndexes), encodeShortVec(l.readonlyIndexes.length), Uint8Array.from(l.readonlyIndexes));
  }
  return concatBytes(...parts);
}

/**
 * Every account's role, rebuilt from the header: static keys
 * `[signed writable | signed read-only | unsigned writable | unsigned read-only]`,
 * then table-loaded accounts, all lookups' writable entries before all
 * read-only ones (solana-sdk LoadedAddresses order).
 */
export function solanaAccountRoles(m: SolanaMessage): SolanaAccountRole[] {
  const { numRequiredSignatures: sig, numReadonlySignedAccounts: roSigned, numReadonlyUnsignedAccounts: roUnsigned } = m.header;
  const nStatic = m.staticAccountKeys.length;
  const roles: SolanaAccountRole[] = m.staticAccountKeys.map((k, index) => {
    const isSigner = index < sig;
    const isWritable = isSigner ? index < sig - roSigned : index < nStatic - roUnsigned;
    return Object.freeze({ index, address: base58Encode(k), lookup: null, isSigner, isWritable });
  });
  for (const writable of [true, false]) {
    for (const l of m.addressTableLookups) {
      const table = base58Encode(l.accountKey);
      for (const entry of writable ? l.writableIndexes : l.readonlyIndexes) roles.push(Object.freeze({ index: roles.length, address: null, lookup: Object.freeze({ table, entry }), isSigner: false, isWritable: writable }));
    }
  }
  return roles;
}

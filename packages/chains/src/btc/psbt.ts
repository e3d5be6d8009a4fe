/**
 * PSBT version 0 (BIP 174): the one decoder of partially signed Bitcoin
 * transactions a signer accepts. Size is bounded first, every map is read
 * with bounded counts, duplicate keys are refused (BIP 174: "must be
 * unique"), the unsigned transaction must carry no scriptSigs or witnesses,
 * and the maps must match its input and output counts.
 */
import { CustodianError } from '@custodian/core/errors';
import { bytesToHex } from '@custodian/core/bytes';
import { ByteReader } from './byte-reader.js';
import { BTC_MAX_MONEY, BTC_SCRIPT_BYTES_MAX, decodeBitcoinTx, type BitcoinTx, type TxOut } from './transaction.js';

/** Largest PSBT accepted. */
export const PSBT_BYTES_MAX = 1024 * 1024;
/** Most key-value pairs in one map. */
export const PSBT_MAP_ENTRIES_MAX = 1000;
/** BIP 174 magic: "psbt" 0xff. */
export const PSBT_MAGIC = Uint8Array.of(0x70, 0x73, 0x62, 0x74, 0xff);

const PSBT_GLOBAL_UNSIGNED_TX = 0x00;
const PSBT_IN_NON_WITNESS_UTXO = 0x00;
const PSBT_IN_WITNESS_UTXO = 0x01;
const PSBT_IN_PARTIAL_SIG = 0x02;
const PSBT_IN_SIGHASH_TYPE = 0x03;
// BIP 371 taproot input fields.
const PSBT_IN_TAP_KEY_SIG = 0x13;
const PSBT_IN_TAP_INTERNAL_KEY = 0x17;
const PSBT_IN_TAP_MERKLE_ROOT = 0x18;

/** One input's PSBT fields that a signer uses. */
export interface PsbtInput {
  readonly witnessUtxo: TxOut | null;
  readonly nonWitnessUtxo: Uint8Array | null;
  readonly sighashType: number | null;
  /** Partial signatures by public key (hex). */
  readonly partialSigs: ReadonlyMap<string, Uint8Array>;
  /** BIP 371 PSBT_IN_TAP_KEY_SIG: a 64- or 65-byte key-path Schnorr signature. */
  readonly tapKeySig: Uint8Array | null;
  /** BIP 371 PSBT_IN_TAP_INTERNAL_KEY: the 32-byte x-only internal key. */
  readonly tapInternalKey: Uint8Array | null;
  /** BIP 371 PSBT_IN_TAP_MERKLE_ROOT: the 32-byte script tree root. */
  readonly tapMerkleRoot: Uint8Array | null;
}

/** A decoded PSBT. */
export interface Psbt {
  readonly tx: BitcoinTx;
  readonly inputs: readonly PsbtInput[];
  /** Output maps are kept only as their raw pairs (derivation paths etc.). */
  readonly outputs: readonly ReadonlyMap<string, Uint8Array>[];
}

const CODE = 'E_PSBT_MALFORMED';

function fail(message: string, detail: Record<string, unknown> = {}): never {
  throw new CustodianError(CODE, message, detail);
}

/** Reads one map: key → value, keys as hex of their full key bytes. */
function readMap(r: ByteReader, where: string): Map<string, Uint8Array> {
  const map = new Map<string, Uint8Array>();
  for (;;) {
    const keyLen = r.compactSize(`${where} key length`, BTC_SCRIPT_BYTES_MAX);
    if (keyLen === 0) return map;
    if (map.size >= PSBT_MAP_ENTRIES_MAX) r.fail(`${where} has more than ${PSBT_MAP_ENTRIES_MAX} entries`);
    const key = bytesToHex(r.take(keyLen, `${where} key`));
    const value = new Uint8Array(r.varBytes(`${where} value`, PSBT_BYTES_MAX));
    if (map.has(key)) throw new CustodianError('E_PSBT_DUPLICATE_KEY', `${where} repeats key ${key.slice(0, 70)}`, { where });
    map.set(key, value);
  }
}

function keyType(hexKey: string): number {
  return parseInt(hexKey.slice(0, 2), 16);
}

function decodeInput(map: Map<string, Uint8Array>, i: number): PsbtInput {
  let witnessUtxo: TxOut | null = null;
  let nonWitnessUtxo: Uint8Array | null = null;
  let sighashType: number | null = null;
  const partialSigs = new Map<string, Uint8Array>();
  const tap = { tapKeySig: null as Uint8Array | null, tapInternalKey: null as Uint8Array | null, tapMerkleRoot: null as Uint8Array | null };
  for (const [k, v] of map) {
    const t = keyType(k);
    if (t === PSBT_IN_WITNESS_UTXO) {
      if (k.length !== 2) fail(`input ${i}: witness UTXO key has data`);
      const r = new ByteReader(v, CODE);
      const amount = r.u64('witness UTXO amount');
      if (amount > BTC_MAX_MONEY) fail(`input ${i}: witness UTXO amount exceeds the money supply`);
      witnessUtxo = { amount, script: new Uint8Array(r.varBytes('witness UTXO script', BTC_SCRIPT_BYTES_MAX)) };
      if (r.remaining !== 0) fail(`input ${i}: trailing bytes in the witness UTXO`);
    } else if (t === PSBT_IN_NON_WITNESS_UTXO) {
      if (k.length !== 2) fail(`input ${i}: non-witness UTXO key has data`);
      nonWitnessUtxo = v;
    } else if (t === PSBT_IN_PARTIAL_SIG) {
      if (k.length !== 2 + 66 && k.length !== 2 + 130) fail(`input ${i}: partial signature key must carry a public key`);
      partialSigs.set(k.slice(2), v);
    } else if (t === PSBT_IN_SIGHASH_TYPE) {
      if (k.length !== 2 || v.length !== 4) fail(`input ${i}: sighash type must be 4 bytes`);
      sighashType = new DataView(v.buffer, v.byteOffset, 4).getUint32(0, true);
    } else if (t === PSBT_IN_TAP_KEY_SIG) {
      if (k.length !== 2 || (v.length !== 64 && v.length !== 65)) fail(`input ${i}: taproot key signature must be 64 or 65 bytes under a bare key`);
      tap.tapKeySig = v;
    } else if (t === PSBT_IN_TAP_INTERNAL_KEY) {
      if (k.length !== 2 || v.length !== 32) fail(`input ${i}: taproot internal key must be 32 bytes under a bare key`);
      tap.tapInternalKey = v;
    } else if (t === PSBT_IN_TAP_MERKLE_ROOT) {
      if (k.length !== 2 || v.length !== 32) fail(`input ${i}: taproot merkle root must be 32 bytes under a bare key`);
      tap.tapMerkleRoot = v;
    }
  }
  return { witnessUtxo, nonWitnessUtxo, sighashType, partialSigs, ...tap };
}

/** Decodes a PSBT (version 0). Only CustodianError escapes. */
export function decodePsbt(bytes: Uint8Array): Psbt {
  if (bytes.length > PSBT_BYTES_MAX) fail(`PSBT of ${bytes.length} bytes exceeds ${PSBT_BYTES_MAX}`);
  const r = new ByteReader(bytes, CODE);
  const magic = r.take(PSBT_MAGIC.length, 'magic');
  if (!PSBT_MAGIC.every((b, i) => magic[i] === b)) fail('not a PSBT (bad magic)');
  const global = readMap(r, 'global map');
  const unsigned = global.get(bytesToHex(Uint8Array.of(PSBT_GLOBAL_UNSIGNED_TX)));
  if (!unsigned) fail('PSBT has no unsigned transaction');
  for (const k of global.keys()) if (k === 'fb' && global.get(k)!.length === 4 && global.get(k)![0] !== 0) fail('only PSBT version 0 is supported');
  const tx = decodeBitcoinTx(unsigned, { allowWitness: false });
  if (tx.inputs.some((i) => i.scriptSig.length > 0)) fail('the unsigned transaction carries a scriptSig');
  const inputs = tx.inputs.map((_, i) => decodeInput(readMap(r, `input ${i} map`), i));
  const outputs = tx.outputs.map((_, i) => readMap(r, `output ${i} map`));
  if (r.remaining !== 0) fail('trailing bytes after the PSBT');
  return { tx, inputs, outputs };
}

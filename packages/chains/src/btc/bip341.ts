/**
 * BIP 341 signature hashing for taproot key-path spends (SigMsg with
 * ext_flag = 0, no annex), the BIP 341 output key Q = P + int(hash_TapTweak(P ‖ root))·G
 * and the P2TR output script. The hash covers the amounts and scripts of
 * EVERY spent output, so the caller passes all of them (`prevouts`).
 */
import { schnorr, secp256k1 } from '@noble/curves/secp256k1.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { CustodianError } from '@custodian/core/errors';
import { concatBytes } from '@custodian/core/bytes';
import { compactSize, u32le, u64le } from './byte-reader.js';
import type { BitcoinTx, TxOut } from './transaction.js';

/** BIP 341 SIGHASH_DEFAULT: like ALL, and the signature stays 64 bytes. */
export const SIGHASH_DEFAULT = 0x00;
/** SIGHASH_ALL (BIP 341 value 0x01: 65-byte signature). */
export const TAPROOT_SIGHASH_ALL = 0x01;
/** SIGHASH_NONE. */
export const SIGHASH_NONE = 0x02;
/** SIGHASH_SINGLE. */
export const SIGHASH_SINGLE = 0x03;
/** SIGHASH_ANYONECANPAY flag. */
export const SIGHASH_ANYONECANPAY = 0x80;
/** The hash types BIP 341 defines ("hash_type not in 0x00, 0x01, 0x02, 0x03, 0x81, 0x82, 0x83" fails). */
export const TAPROOT_SIGHASH_TYPES: readonly number[] = Object.freeze([0x00, 0x01, 0x02, 0x03, 0x81, 0x82, 0x83]);
/** BIP 341: the epoch byte prefixed to SigMsg before hash_TapSighash. */
export const TAPSIGHASH_EPOCH = 0x00;
/** Segwit version 1 OP_1 followed by a 32-byte push. */
const P2TR_PREFIX = Uint8Array.of(0x51, 0x20);

const CODE = 'E_BTC_SIGHASH';

function fail(message: string, detail: Record<string, unknown> = {}): never {
  throw new CustodianError(CODE, message, detail);
}

function serialiseOutput(o: TxOut): Uint8Array {
  return concatBytes(u64le(o.amount), compactSize(o.script.length), o.script);
}

/**
 * BIP 341 SigMsg(hash_type, 0) for input `index` (key path, no annex); every
 * hash type BIP 341 defines, so the published vectors can be checked. What a
 * signer signs is narrowed by the caller (see taproot-psbt.ts).
 */
export function taprootSigMsg(tx: BitcoinTx, index: number, prevouts: readonly TxOut[], hashType: number): Uint8Array {
  if (!TAPROOT_SIGHASH_TYPES.includes(hashType)) fail(`hash type ${hashType} is not defined by BIP 341`, { hashType });
  if (prevouts.length !== tx.inputs.length) fail(`${prevouts.length} spent outputs for ${tx.inputs.length} inputs`, { index });
  const input = tx.inputs[index];
  if (!input) fail(`no input ${index}`, { index });
  const outputType = hashType & 0x03;
  const anyoneCanPay = (hashType & SIGHASH_ANYONECANPAY) !== 0;
  const parts: Uint8Array[] = [Uint8Array.of(hashType), u32le(tx.version), u32le(tx.lockTime)];
  if (!anyoneCanPay) {
    parts.push(
      sha256(concatBytes(...tx.inputs.flatMap((i) => [i.prevTxid, u32le(i.prevIndex)]))), // sha_prevouts
      sha256(concatBytes(...prevouts.map((p) => u64le(p.amount)))), // sha_amounts
      sha256(concatBytes(...prevouts.flatMap((p) => [compactSize(p.script.length), p.script]))), // sha_scriptpubkeys
      sha256(concatBytes(...tx.inputs.map((i) => u32le(i.sequence)))), // sha_sequences
    );
  }
  if (outputType !== SIGHASH_NONE && outputType !== SIGHASH_SINGLE) parts.push(sha256(concatBytes(...tx.outputs.map(serialiseOutput))));
  parts.push(Uint8Array.of(0)); // spend_type = ext_flag·2 + annex_present = 0 (key path, no annex)
  if (anyoneCanPay) {
    const spent = prevouts[index]!;
    parts.push(input.prevTxid, u32le(input.prevIndex), u64le(spent.amount), compactSize(spent.script.length), spent.script, u32le(input.sequence));
  } else {
    parts.push(u32le(index));
  }
  if (outputType === SIGHASH_SINGLE) {
    // BIP 341: "fail if ... index >= number of outputs".
    const out = tx.outputs[index];
    if (!out) fail(`SIGHASH_SINGLE for input ${index} without a matching output`, { index });
    parts.push(sha256(serialiseOutput(out)));
  }
  return concatBytes(...parts);
}

/** BIP 341 key-path signature hash: hash_TapSighash(0x00 ‖ SigMsg). */
export function taprootKeyPathSighash(tx: BitcoinTx, index: number, prevouts: readonly TxOut[], hashType: number): Uint8Array {
  return schnorr.utils.taggedHash('TapSighash', Uint8Array.of(TAPSIGHASH_EPOCH), taprootSigMsg(tx, index, prevouts, hashType));
}

/** The x-only output key of a P2TR script, or null when `script` is not `OP_1 <32 bytes>`. */
export function p2trProgram(script: Uint8Array): Uint8Array | null {
  return script.length === 34 && script[0] === P2TR_PREFIX[0] && script[1] === P2TR_PREFIX[1] ? script.subarray(2) : null;
}

/** The P2TR output script `OP_1 <x-only output key>`. */
export function p2trScript(outputKey: Uint8Array): Uint8Array {
  if (outputKey.length !== 32) throw new CustodianError('E_BTC_KEY', 'a P2TR output key is 32 bytes (x-only)');
  return concatBytes(P2TR_PREFIX, outputKey);
}

/**
 * BIP 341 taproot_tweak_pubkey: Q = lift_x(P) + int(hash_TapTweak(P ‖ merkleRoot))·G,
 * x-only. An empty `merkleRoot` is the key-path-only (BIP 86) commitment.
 */
export function taprootTweakPublicKey(internalKey: Uint8Array, merkleRoot: Uint8Array = new Uint8Array(0)): Uint8Array {
  if (internalKey.length !== 32) throw new CustodianError('E_BTC_KEY', 'a taproot internal key is 32 bytes (x-only)');
  if (merkleRoot.length !== 0 && merkleRoot.length !== 32) throw new CustodianError('E_BTC_KEY', 'a taproot merkle root is 32 bytes');
  const Fn = secp256k1.Point.Fn;
  const t = Fn.fromBytes(schnorr.utils.taggedHash('TapTweak', internalKey, merkleRoot), true);
  if (!Fn.isValid(t)) throw new CustodianError('E_BTC_KEY', 'TapTweak hash is not a valid scalar');
  let P: InstanceType<typeof secp256k1.Point>;
  try {
    P = secp256k1.Point.fromBytes(concatBytes(Uint8Array.of(0x02), internalKey));
  } catch {
    throw new CustodianError('E_BTC_KEY', 'the internal key is not an x coordinate on secp256k1');
  }
  const Q = P.add(secp256k1.Point.BASE.multiply(t));
  return Q.toBytes(true).subarray(1);
}

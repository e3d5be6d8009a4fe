/**
 * BIP 143 signature hashing for segwit v0 inputs, and the P2WPKH specifics:
 * the script code `OP_DUP OP_HASH160 <20> OP_EQUALVERIFY OP_CHECKSIG`, the
 * witness program check, and the witness `[DER signature ‖ hashType, pubkey]`.
 */
import { ripemd160 } from '@noble/hashes/legacy.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { CustodianError } from '@custodian/core/errors';
import { concatBytes, equalBytes } from '@custodian/core/bytes';
import { compactSize, u32le, u64le } from './byte-reader.js';
import { sha256d, type BitcoinTx } from './transaction.js';

/** SIGHASH_ALL: the only hash type Custodian signs (it commits to every input and output). */
export const SIGHASH_ALL = 0x01;

/** HASH160 = RIPEMD-160(SHA-256(x)). */
export function hash160(b: Uint8Array): Uint8Array {
  return ripemd160(sha256(b));
}

/** The P2WPKH output script for a compressed public key: `0x00 0x14 <hash160>`. */
export function p2wpkhScript(publicKey: Uint8Array): Uint8Array {
  if (publicKey.length !== 33) throw new CustodianError('E_BTC_KEY', 'P2WPKH needs a 33-byte compressed public key');
  return concatBytes(Uint8Array.of(0x00, 0x14), hash160(publicKey));
}

/** BIP 143: the script code of a P2WPKH input. */
export function p2wpkhScriptCode(pubkeyHash: Uint8Array): Uint8Array {
  return concatBytes(Uint8Array.of(0x76, 0xa9, 0x14), pubkeyHash, Uint8Array.of(0x88, 0xac));
}

/** The 20-byte key hash of a P2WPKH output script, or null. */
export function p2wpkhProgram(script: Uint8Array): Uint8Array | null {
  return script.length === 22 && script[0] === 0x00 && script[1] === 0x14 ? script.subarray(2) : null;
}

/** BIP 143 sighash of input `index` (SIGHASH_ALL only). */
export function segwitV0Sighash(tx: BitcoinTx, index: number, scriptCode: Uint8Array, amount: bigint, hashType = SIGHASH_ALL): Uint8Array {
  if (hashType !== SIGHASH_ALL) throw new CustodianError('E_BTC_SIGHASH', 'only SIGHASH_ALL is signed');
  const input = tx.inputs[index];
  if (!input) throw new CustodianError('E_BTC_SIGHASH', `no input ${index}`);
  const hashPrevouts = sha256d(concatBytes(...tx.inputs.flatMap((i) => [i.prevTxid, u32le(i.prevIndex)])));
  const hashSequence = sha256d(concatBytes(...tx.inputs.map((i) => u32le(i.sequence))));
  const hashOutputs = sha256d(concatBytes(...tx.outputs.flatMap((o) => [u64le(o.amount), compactSize(o.script.length), o.script])));
  const preimage = concatBytes(
    u32le(tx.version),
    hashPrevouts,
    hashSequence,
    input.prevTxid,
    u32le(input.prevIndex),
    compactSize(scriptCode.length),
    scriptCode,
    u64le(amount),
    u32le(input.sequence),
    hashOutputs,
    u32le(tx.lockTime),
    u32le(hashType),
  );
  return sha256d(preimage);
}

/** The sighash a key signs for a P2WPKH input spending `prevScript` of `amount`. */
export function p2wpkhSighash(tx: BitcoinTx, index: number, prevScript: Uint8Array, amount: bigint, publicKey: Uint8Array): Uint8Array {
  const program = p2wpkhProgram(prevScript);
  if (!program) throw new CustodianError('E_BTC_NOT_P2WPKH', `input ${index} does not spend a P2WPKH output`);
  if (!equalBytes(program, hash160(publicKey))) throw new CustodianError('E_BTC_KEY_MISMATCH', `input ${index} is not locked to this wallet's key`);
  return segwitV0Sighash(tx, index, p2wpkhScriptCode(program), amount);
}

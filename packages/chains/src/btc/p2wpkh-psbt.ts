/**
 * Signing a PSBT whose inputs all spend P2WPKH outputs of one key: the
 * digests to sign (BIP 143, SIGHASH_ALL, computed from the PSBT's own
 * witness UTXOs, which a signer must check against its policy's view of the
 * coins), and the finalised transaction with witnesses `[sig ‖ 0x01, pubkey]`.
 */
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { CustodianError } from '@custodian/core/errors';
import { concatBytes } from '@custodian/core/bytes';
import { p2wpkhSighash, SIGHASH_ALL } from './bip143.js';
import { encodeBitcoinTx } from './transaction.js';
import type { Psbt } from './psbt.js';

/** One BIP 143 digest per input; every input must be P2WPKH of `publicKey`, SIGHASH_ALL. */
export function p2wpkhSigningDigests(psbt: Psbt, publicKey: Uint8Array): Uint8Array[] {
  return psbt.tx.inputs.map((_, i) => {
    const input = psbt.inputs[i]!;
    if (!input.witnessUtxo) throw new CustodianError('E_BTC_UTXO_MISSING', `input ${i} has no witness UTXO: its amount cannot be committed to`);
    if (input.sighashType !== null && input.sighashType !== SIGHASH_ALL) throw new CustodianError('E_BTC_SIGHASH', `input ${i} asks for sighash type ${input.sighashType}; only SIGHASH_ALL is signed`);
    return p2wpkhSighash(psbt.tx, i, input.witnessUtxo.script, input.witnessUtxo.amount, publicKey);
  });
}

/** Builds the final transaction from one low-S compact (r‖s) or Signature per input. */
export function finalizeP2wpkh(psbt: Psbt, publicKey: Uint8Array, signatures: readonly Uint8Array[]): Uint8Array {
  if (signatures.length !== psbt.tx.inputs.length) throw new CustodianError('E_BTC_SIGNATURES', 'one signature per input is needed');
  const digests = p2wpkhSigningDigests(psbt, publicKey);
  const inputs = psbt.tx.inputs.map((input, i) => {
    const sig = secp256k1.Signature.fromBytes(signatures[i]!, 'compact');
    if (sig.hasHighS() || !secp256k1.verify(signatures[i]!, digests[i]!, publicKey, { prehash: false })) throw new CustodianError('E_SIG_INVALID', `signature for input ${i} does not verify (or is high-S)`);
    return { ...input, witness: [concatBytes(sig.toBytes('der'), Uint8Array.of(SIGHASH_ALL)), publicKey] };
  });
  return encodeBitcoinTx({ ...psbt.tx, inputs });
}

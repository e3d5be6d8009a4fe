/**
 * Taproot key-path spends from a PSBT (BIP 174 + BIP 371) whose inputs all
 * spend P2TR outputs of one wallet output key Q: the view a policy reads
 * (inputs with amounts, outputs with addresses, fee), the BIP 341 digests to
 * sign (SIGHASH_DEFAULT or SIGHASH_ALL only) and the finalised transaction
 * with witness `[sig]` (DEFAULT) or `[sig ‖ 0x01]` (ALL).
 *
 * BIP 341 commits to the amount and script of every spent output, so every
 * input needs its witness UTXO: without one the digest cannot be computed and
 * nothing is signed. The UTXOs are the PSBT's claims; a signer compares them
 * with its own view of the wallet's coins before trusting amounts or fee.
 */
import { schnorr } from '@noble/curves/secp256k1.js';
import { CustodianError } from '@custodian/core/errors';
import { bytesToHex, concatBytes, equalBytes } from '@custodian/core/bytes';
import { p2trProgram, SIGHASH_DEFAULT, TAPROOT_SIGHASH_ALL, taprootKeyPathSighash, taprootTweakPublicKey } from './bip341.js';
import { segwitAddressOf, type BtcNetwork } from './segwit-address.js';
import { encodeBitcoinTx, txid, type TxOut } from './transaction.js';
import type { Psbt } from './psbt.js';

/** The hash types Custodian signs for taproot: both commit to every input and output. */
export const TAPROOT_SIGNED_HASH_TYPES: readonly number[] = Object.freeze([SIGHASH_DEFAULT, TAPROOT_SIGHASH_ALL]);

/** One input as a policy sees it. */
export interface TaprootInputView {
  readonly index: number;
  /** `txid:vout`, txid in display order. */
  readonly outpoint: string;
  readonly amountSat: bigint;
  readonly address: string;
  readonly sequence: number;
}

/** One output as a policy sees it. */
export interface TaprootOutputView {
  readonly index: number;
  readonly amountSat: bigint;
  /** The output script, hex. */
  readonly script: string;
  /** bech32 (v0) or bech32m (v1+) address; null for non-segwit scripts (P2PKH, P2SH, OP_RETURN …). */
  readonly address: string | null;
  /** True when the output pays the wallet's own output key (change). */
  readonly toWallet: boolean;
}

/** The decoded spend a policy evaluates. */
export interface TaprootSpendView {
  readonly network: BtcNetwork;
  /** The txid the signed transaction will have (segwit: signatures do not change it). */
  readonly txid: string;
  readonly version: number;
  readonly lockTime: number;
  readonly inputs: readonly TaprootInputView[];
  readonly outputs: readonly TaprootOutputView[];
  readonly totalInSat: bigint;
  readonly totalOutSat: bigint;
  readonly feeSat: bigint;
}

/** A digest to sign for one input. */
export interface TaprootSigningDigest {
  readonly index: number;
  /** SIGHASH_DEFAULT (0x00) or SIGHASH_ALL (0x01). */
  readonly hashType: number;
  /** BIP 341 sighash: the 32-byte message of the BIP 340 signature. */
  readonly sighash: Uint8Array;
}

/**
 * Checks every input against the wallet and returns the spent outputs in
 * input order. Refuses: a missing witness UTXO (E_BTC_UTXO_MISSING), a
 * non-P2TR input (E_BTC_NOT_P2TR), a P2TR input of another key or whose
 * BIP 371 internal key/merkle root do not tweak to it (E_BTC_KEY_MISMATCH),
 * a hash type other than DEFAULT or ALL (E_BTC_SIGHASH), an outpoint spent
 * twice (E_BTC_TX_MALFORMED).
 */
function walletPrevouts(psbt: Psbt, outputKey: Uint8Array): { prevouts: TxOut[]; hashTypes: number[] } {
  if (outputKey.length !== 32) throw new CustodianError('E_BTC_KEY', 'the wallet output key must be 32 bytes (x-only)');
  const prevouts: TxOut[] = [];
  const hashTypes: number[] = [];
  // Consensus refuses a transaction spending one outpoint twice (CVE-2018-17144); a view would count its amount twice.
  const outpoints = new Set(psbt.tx.inputs.map((x) => `${bytesToHex(x.prevTxid)}:${x.prevIndex}`));
  if (outpoints.size !== psbt.tx.inputs.length) throw new CustodianError('E_BTC_TX_MALFORMED', 'the transaction spends one outpoint twice');
  // Inputs of one wallet usually carry the same internal key and root: tweak each distinct pair once (a tweak is a point multiplication).
  const tweaked = new Map<string, Uint8Array>();
  psbt.inputs.forEach((input, i) => {
    if (!input.witnessUtxo) throw new CustodianError('E_BTC_UTXO_MISSING', `input ${i} has no witness UTXO: BIP 341 commits to every spent amount and script`, { index: i });
    const program = p2trProgram(input.witnessUtxo.script);
    if (!program) throw new CustodianError('E_BTC_NOT_P2TR', `input ${i} does not spend a P2TR output`, { index: i });
    if (!equalBytes(program, outputKey)) throw new CustodianError('E_BTC_KEY_MISMATCH', `input ${i} is not locked to this wallet's output key`, { index: i });
    if (input.tapInternalKey) {
      const root = input.tapMerkleRoot ?? new Uint8Array(0);
      const pair = `${bytesToHex(input.tapInternalKey)}:${bytesToHex(root)}`;
      const q = tweaked.get(pair) ?? taprootTweakPublicKey(input.tapInternalKey, root);
      tweaked.set(pair, q);
      if (!equalBytes(q, outputKey)) throw new CustodianError('E_BTC_KEY_MISMATCH', `input ${i}: its taproot internal key and merkle root do not give the wallet's output key`, { index: i });
    }
    const hashType = input.sighashType ?? SIGHASH_DEFAULT;
    if (!TAPROOT_SIGNED_HASH_TYPES.includes(hashType)) throw new CustodianError('E_BTC_SIGHASH', `input ${i} asks for sighash type ${hashType}; only SIGHASH_DEFAULT and SIGHASH_ALL are signed`, { index: i, hashType });
    prevouts.push(input.witnessUtxo);
    hashTypes.push(hashType);
  });
  return { prevouts, hashTypes };
}

/** The view of a wallet's taproot spend: inputs with amounts and addresses, outputs with addresses, fee. */
export function taprootSpendView(psbt: Psbt, outputKey: Uint8Array, network: BtcNetwork): TaprootSpendView {
  const { prevouts } = walletPrevouts(psbt, outputKey);
  const totalInSat = prevouts.reduce((n, p) => n + p.amount, 0n);
  const totalOutSat = psbt.tx.outputs.reduce((n, o) => n + o.amount, 0n);
  if (totalOutSat > totalInSat) throw new CustodianError('E_BTC_FEE_NEGATIVE', `outputs (${totalOutSat} sat) exceed inputs (${totalInSat} sat)`, { totalInSat: String(totalInSat), totalOutSat: String(totalOutSat) });
  const address = (script: Uint8Array): string | null => segwitAddressOf(network, script);
  return Object.freeze({
    network,
    txid: txid(psbt.tx),
    version: psbt.tx.version,
    lockTime: psbt.tx.lockTime,
    inputs: Object.freeze(
      psbt.tx.inputs.map((input, index) =>
        Object.freeze({ index, outpoint: `${Buffer.from(input.prevTxid).reverse().toString('hex')}:${input.prevIndex}`, amountSat: prevouts[index]!.amount, address: address(prevouts[index]!.script)!, sequence: input.sequence }),
      ),
    ),
    outputs: Object.freeze(
      psbt.tx.outputs.map((o, index) => {
        const program = p2trProgram(o.script);
        return Object.freeze({ index, amountSat: o.amount, script: bytesToHex(o.script), address: address(o.script), toWallet: program !== null && equalBytes(program, outputKey) });
      }),
    ),
    totalInSat,
    totalOutSat,
    feeSat: totalInSat - totalOutSat,
  });
}

/** One BIP 341 key-path digest per input; every input must be P2TR of `outputKey`, SIGHASH_DEFAULT or ALL. */
export function taprootSigningDigests(psbt: Psbt, outputKey: Uint8Array): TaprootSigningDigest[] {
  const { prevouts, hashTypes } = walletPrevouts(psbt, outputKey);
  return psbt.tx.inputs.map((_, index) => Object.freeze({ index, hashType: hashTypes[index]!, sighash: taprootKeyPathSighash(psbt.tx, index, prevouts, hashTypes[index]!) }));
}

/**
 * Builds the final transaction from one 64-byte BIP 340 signature per input
 * (each checked under `outputKey` first: E_SIG_INVALID). The witness is
 * `[sig]` for SIGHASH_DEFAULT and `[sig ‖ 0x01]` for SIGHASH_ALL (BIP 341).
 */
export function finalizeTaprootKeyPath(psbt: Psbt, outputKey: Uint8Array, signatures: readonly Uint8Array[]): Uint8Array {
  if (signatures.length !== psbt.tx.inputs.length) throw new CustodianError('E_BTC_SIGNATURES', 'one signature per input is needed');
  const digests = taprootSigningDigests(psbt, outputKey);
  const inputs = psbt.tx.inputs.map((input, i) => {
    const sig = signatures[i]!;
    const { sighash, hashType } = digests[i]!;
    if (sig.length !== 64 || !verifySchnorr(sig, sighash, outputKey)) throw new CustodianError('E_SIG_INVALID', `signature for input ${i} does not verify under the wallet's output key`, { index: i });
    return { ...input, witness: [hashType === SIGHASH_DEFAULT ? sig.slice() : concatBytes(sig, Uint8Array.of(hashType))] };
  });
  return encodeBitcoinTx({ ...psbt.tx, inputs });
}

// A verifier answers yes or no; malformed input is a no.
function verifySchnorr(sig: Uint8Array, msg: Uint8Array, key: Uint8Array): boolean {
  try {
    return schnorr.verify(sig, msg, key);
  } catch {
    return false;
  }
}

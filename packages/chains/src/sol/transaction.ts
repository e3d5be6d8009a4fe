/**
 * Signed Solana transactions: `compact-u16 count ‖ 64-byte Ed25519 signatures ‖ message`,
 * one signature per required signer in account-key order. Each signature is
 * RFC 8032 Ed25519 over the serialised message bytes; a FROST(Ed25519)
 * group signature is one, so it goes in unchanged. Signatures are verified
 * before a transaction is built (strict RFC 8032, no ZIP 215 leniency).
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { CustodianError } from '@custodian/core/errors';
import { concatBytes } from '@custodian/core/bytes';
import { ByteReader } from '../btc/byte-reader.js';
import { base58Encode } from './base58.js';
import { decodeSolanaMessage, SOLANA_PACKET_BYTES_MAX, type SolanaMessage } from './message.js';
import { encodeShortVec, readShortVec } from './short-vec.js';

/** Ed25519 signature length. */
export const SOLANA_SIGNATURE_BYTES = 64;

/** A decoded signed transaction. */
export interface SolanaTransaction {
  readonly signatures: readonly Uint8Array[];
  readonly message: SolanaMessage;
  /** The exact message bytes the signatures cover. */
  readonly messageBytes: Uint8Array;
}

/** Strict RFC 8032 verification; malformed input is a no. */
export function verifySolanaSignature(signature: Uint8Array, messageBytes: Uint8Array, publicKey: Uint8Array): boolean {
  try {
    return ed25519.verify(signature, messageBytes, publicKey, { zip215: false });
  } catch {
    return false;
  }
}

/**
 * Builds the signed transaction from the message bytes and one signature per
 * required signer (in order), each verified under its signer's key first
 * (E_SIG_INVALID); the whole must fit one packet (E_SOLANA_TX_TOO_LARGE).
 */
export function encodeSignedSolanaTransaction(messageBytes: Uint8Array, signatures: readonly Uint8Array[]): Uint8Array {
  const message = decodeSolanaMessage(messageBytes);
  const n = message.header.numRequiredSignatures;
  if (signatures.length !== n) throw new CustodianError('E_SOLANA_SIGNATURES', `the message needs ${n} signatures, got ${signatures.length}`);
  signatures.forEach((sig, i) => {
    if (sig.length !== SOLANA_SIGNATURE_BYTES || !verifySolanaSignature(sig, messageBytes, message.staticAccountKeys[i]!)) {
      throw new CustodianError('E_SIG_INVALID', `signature ${i} does not verify under ${base58Encode(message.staticAccountKeys[i]!)}`, { index: i });
    }
  });
  const tx = concatBytes(encodeShortVec(n), ...signatures, messageBytes);
  if (tx.length > SOLANA_PACKET_BYTES_MAX) throw new CustodianError('E_SOLANA_TX_TOO_LARGE', `transaction of ${tx.length} bytes exceeds ${SOLANA_PACKET_BYTES_MAX}`);
  return tx;
}

/** Decodes a signed transaction (signatures are not verified here; see verifySolanaSignature). */
export function decodeSolanaTransaction(bytes: Uint8Array): SolanaTransaction {
  if (bytes.length > SOLANA_PACKET_BYTES_MAX) throw new CustodianError('E_SOLANA_TX_TOO_LARGE', `transaction of ${bytes.length} bytes exceeds ${SOLANA_PACKET_BYTES_MAX}`);
  const r = new ByteReader(bytes, 'E_SOLANA_MESSAGE_MALFORMED');
  const n = readShortVec(r, 'signature count', Math.floor(bytes.length / SOLANA_SIGNATURE_BYTES));
  const signatures = Array.from({ length: n }, () => new Uint8Array(r.take(SOLANA_SIGNATURE_BYTES, 'signature')));
  const messageBytes = new Uint8Array(r.take(r.remaining, 'message'));
  const message = decodeSolanaMessage(messageBytes);
  if (message.header.numRequiredSignatures !== n) throw new CustodianError('E_SOLANA_MESSAGE_MALFORMED', `${n} signatures for ${message.header.numRequiredSignatures} required signers`);
  return Object.freeze({ signatures: Object.freeze(signatures), message, messageBytes });
}

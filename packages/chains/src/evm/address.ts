/** Ethereum addresses: derivation from a public key and EIP-55 checksums. */
import { keccak_256 } from '@noble/hashes/sha3.js';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { CustodianError } from '@custodian/core/errors';
import { hexToBytes } from '@custodian/core/bytes';

/** The 20-byte address of a secp256k1 public key (compressed or not). */
export function addressFromPublicKey(publicKey: Uint8Array): Uint8Array {
  const uncompressed = secp256k1.Point.fromBytes(publicKey).toBytes(false);
  return keccak_256(uncompressed.subarray(1)).subarray(12);
}

/** EIP-55 mixed-case checksum encoding of an address. */
export function toChecksumAddress(address: Uint8Array): string {
  const hex = Buffer.from(address).toString('hex');
  const hash = Buffer.from(keccak_256(new TextEncoder().encode(hex))).toString('hex');
  let out = '0x';
  for (let i = 0; i < 40; i++) out += parseInt(hash[i]!, 16) >= 8 ? hex[i]!.toUpperCase() : hex[i]!;
  return out;
}

/** Parses a 0x address; a mixed-case input must carry a valid EIP-55 checksum. */
export function parseAddress(s: string): Uint8Array {
  if (!/^0x[0-9a-fA-F]{40}$/.test(s)) throw new CustodianError('E_ADDRESS_INVALID', `"${s.slice(0, 64)}" is not an Ethereum address`);
  const bytes = hexToBytes(s);
  const lower = s.slice(2) === s.slice(2).toLowerCase() || s.slice(2) === s.slice(2).toUpperCase();
  if (!lower && toChecksumAddress(bytes) !== s) throw new CustodianError('E_ADDRESS_CHECKSUM', `address ${s} has a wrong EIP-55 checksum`);
  return bytes;
}

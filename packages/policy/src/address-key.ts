/**
 * Per-chain address normalisation for lookups (address book, screening):
 * EVM addresses compare case-insensitively but a mixed-case address must carry
 * a valid EIP-55 checksum; bech32 addresses are compared lower-case (BIP 173
 * forbids mixed case); base58 and every other format compare exactly. On a
 * Solana chain an address is base58 of 32 bytes and compares exactly, even
 * when it happens to look like bech32 (`chainAddressKey`).
 */
import { CustodianError } from '@custodian/core/errors';
import { parseAddress } from '@custodian/chains/evm/address';
import { base58Encode, solanaAddressBytes } from '@custodian/chains/sol/base58';
import type { ChainFamily } from './chain-config.js';

/** Longest address string accepted by any chain we screen. */
export const ADDRESS_CHARS_MAX = 128;

const EVM_RE = /^0x[0-9a-fA-F]{40}$/;
const BECH32_RE = /^(bc|tb|bcrt|ltc|tltc)1[02-9ac-hj-np-z]{6,87}$/i;
const PRINTABLE_RE = /^[\x21-\x7e]+$/;

/** The lookup key of an address as written by a user or a list; strict about EIP-55 and bech32 case. */
export function addressKey(address: string): string {
  if (address.length === 0 || address.length > ADDRESS_CHARS_MAX || !PRINTABLE_RE.test(address)) {
    throw new CustodianError('E_ADDRESS_INVALID', `"${address.slice(0, 64)}" is not an address`);
  }
  if (EVM_RE.test(address)) {
    try {
      parseAddress(address);
    } catch (e) {
      throw new CustodianError('E_ADDRESS_CHECKSUM', `address ${address} has a wrong EIP-55 checksum`, { cause: e instanceof Error ? e.message : String(e) });
    }
    return address.toLowerCase();
  }
  if (BECH32_RE.test(address)) {
    if (address !== address.toLowerCase() && address !== address.toUpperCase()) {
      throw new CustodianError('E_ADDRESS_INVALID', `bech32 address ${address.slice(0, 64)} mixes upper and lower case`);
    }
    return address.toLowerCase();
  }
  return address;
}

/**
 * The lookup key of an address published by a screening list. Lists are
 * copied from their publisher verbatim, so a wrong EVM checksum there still
 * names the address: it is normalised, not refused.
 */
export function listedAddressKey(address: string): string {
  if (EVM_RE.test(address) || BECH32_RE.test(address)) return address.toLowerCase();
  return address;
}

/** Lookup key of a 20-byte EVM address decoded from a transaction. */
export function evmAddressKey(bytes: Uint8Array): string {
  return '0x' + Buffer.from(bytes).toString('hex');
}

/**
 * The lookup key of `address` on a chain of `family`: EVM and Bitcoin as
 * `addressKey` (EIP-55, bech32 lower-case, base58 exact); Solana as the
 * canonical base58 of exactly 32 bytes, compared exactly (base58 is case
 * sensitive, so no lower-casing ever applies). Throws E_ADDRESS_INVALID.
 */
export function chainAddressKey(family: ChainFamily, address: string): string {
  if (family !== 'solana') return addressKey(address);
  if (address.length === 0 || address.length > ADDRESS_CHARS_MAX) throw new CustodianError('E_ADDRESS_INVALID', `"${address.slice(0, 64)}" is not a Solana address`);
  const canonical = base58Encode(solanaAddressBytes(address));
  if (canonical !== address) throw new CustodianError('E_ADDRESS_INVALID', `${address.slice(0, 64)} is not canonical base58`);
  return address;
}

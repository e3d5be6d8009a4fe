/**
 * EIP-1559 (type 2) transactions: the decoder the signer enclave runs on the
 * raw bytes it is asked to sign (it never trusts the host's summary), the
 * signing digest, and the signed encoding.
 *
 * Unsigned form: 0x02 || rlp([chainId, nonce, maxPriorityFeePerGas,
 * maxFeePerGas, gasLimit, to, value, data, accessList]); the signing digest is
 * keccak256 of it (EIP-1559, EIP-2718). Signed form appends
 * [yParity, r, s].
 */
import { keccak_256 } from '@noble/hashes/sha3.js';
import { CustodianError } from '@custodian/core/errors';
import { RAW_TX_BYTES_MAX } from '@custodian/core/limits';
import { concatBytes } from '@custodian/core/bytes';
import { decodeRlp, encodeRlp, bytesToUint, uintToBytes, type RlpItem } from './rlp.js';

/** EIP-2718 type byte of EIP-1559 transactions. */
export const EIP1559_TX_TYPE = 0x02;
/** Most access-list entries accepted. */
export const ACCESS_LIST_ENTRIES_MAX = 256;
/** Most calldata bytes accepted. */
export const CALLDATA_BYTES_MAX = 64 * 1024;

/** One access-list entry: an address and its storage keys. */
export interface AccessListEntry {
  readonly address: Uint8Array;
  readonly storageKeys: readonly Uint8Array[];
}

/** A decoded unsigned EIP-1559 transaction. */
export interface Eip1559Tx {
  readonly chainId: bigint;
  readonly nonce: bigint;
  readonly maxPriorityFeePerGas: bigint;
  readonly maxFeePerGas: bigint;
  readonly gasLimit: bigint;
  /** 20-byte recipient, or null for contract creation. */
  readonly to: Uint8Array | null;
  readonly value: bigint;
  readonly data: Uint8Array;
  readonly accessList: readonly AccessListEntry[];
}

function fail(message: string, detail: Record<string, unknown> = {}): never {
  throw new CustodianError('E_TX_MALFORMED', message, detail);
}

function bytesField(item: RlpItem | undefined, field: string): Uint8Array {
  if (!(item instanceof Uint8Array)) fail(`${field} must be a byte string`, { field });
  return item;
}

function uintField(item: RlpItem | undefined, field: string, maxBytes = 32): bigint {
  try {
    return bytesToUint(bytesField(item, field), field, maxBytes);
  } catch (e) {
    if (e instanceof CustodianError) fail(e.message, { field });
    throw e;
  }
}

function decodeAccessList(item: RlpItem | undefined): AccessListEntry[] {
  if (!Array.isArray(item)) fail('accessList must be a list', { field: 'accessList' });
  const list = item as readonly RlpItem[];
  if (list.length > ACCESS_LIST_ENTRIES_MAX) fail('accessList is too long', { field: 'accessList' });
  return list.map((e, i) => {
    if (!Array.isArray(e) || e.length !== 2) fail('accessList entry must be [address, keys]', { field: `accessList[${i}]` });
    const [addr, keys] = e as readonly RlpItem[];
    const address = bytesField(addr, `accessList[${i}].address`);
    if (address.length !== 20) fail('accessList address must be 20 bytes', { field: `accessList[${i}].address` });
    if (!Array.isArray(keys)) fail('storage keys must be a list', { field: `accessList[${i}].storageKeys` });
    const storageKeys = (keys as readonly RlpItem[]).map((k, j) => {
      const key = bytesField(k, `accessList[${i}].storageKeys[${j}]`);
      if (key.length !== 32) fail('storage key must be 32 bytes', { field: `accessList[${i}].storageKeys[${j}]` });
      return key;
    });
    return { address, storageKeys };
  });
}

function decodeFields(fields: readonly RlpItem[]): Eip1559Tx {
  const to = bytesField(fields[5], 'to');
  if (to.length !== 0 && to.length !== 20) fail('to must be 20 bytes or empty', { field: 'to', length: to.length });
  const data = bytesField(fields[7], 'data');
  if (data.length > CALLDATA_BYTES_MAX) fail('data is too long', { field: 'data', length: data.length });
  return Object.freeze({
    chainId: uintField(fields[0], 'chainId', 8),
    nonce: uintField(fields[1], 'nonce', 8),
    maxPriorityFeePerGas: uintField(fields[2], 'maxPriorityFeePerGas'),
    maxFeePerGas: uintField(fields[3], 'maxFeePerGas'),
    gasLimit: uintField(fields[4], 'gasLimit', 8),
    to: to.length === 0 ? null : new Uint8Array(to),
    value: uintField(fields[6], 'value'),
    data: new Uint8Array(data),
    accessList: decodeAccessList(fields[8]),
  });
}

function decodeEnvelope(raw: Uint8Array, fieldCount: number): readonly RlpItem[] {
  if (raw.length > RAW_TX_BYTES_MAX) fail(`transaction of ${raw.length} bytes exceeds ${RAW_TX_BYTES_MAX}`);
  if (raw.length === 0) fail('empty transaction');
  if (raw[0] !== EIP1559_TX_TYPE) fail(`transaction type 0x${raw[0]!.toString(16).padStart(2, '0')} is not EIP-1559 (0x02)`, { type: raw[0] });
  let item: RlpItem;
  try {
    item = decodeRlp(raw.subarray(1), RAW_TX_BYTES_MAX);
  } catch (e) {
    if (e instanceof CustodianError) fail(`transaction RLP is invalid: ${e.message}`, e.detail as Record<string, unknown>);
    throw e;
  }
  if (!Array.isArray(item)) fail('transaction payload must be an RLP list');
  const fields = item as readonly RlpItem[];
  if (fields.length !== fieldCount) fail(`expected ${fieldCount} fields, got ${fields.length}`, { fields: fields.length });
  return fields;
}

/** Decodes an unsigned EIP-1559 transaction from its raw bytes. */
export function decodeUnsignedEip1559(raw: Uint8Array): Eip1559Tx {
  const tx = decodeFields(decodeEnvelope(raw, 9));
  // The canonical form is unique; refuse anything our encoder would not produce.
  if (!Buffer.from(encodeUnsignedEip1559(tx)).equals(Buffer.from(raw))) fail('transaction is not canonically encoded');
  return tx;
}

function txFields(tx: Eip1559Tx): RlpItem[] {
  return [
    uintToBytes(tx.chainId),
    uintToBytes(tx.nonce),
    uintToBytes(tx.maxPriorityFeePerGas),
    uintToBytes(tx.maxFeePerGas),
    uintToBytes(tx.gasLimit),
    tx.to ?? new Uint8Array(0),
    uintToBytes(tx.value),
    tx.data,
    tx.accessList.map((e) => [e.address, [...e.storageKeys]]),
  ];
}

/** Encodes the unsigned transaction (the bytes whose hash is signed). */
export function encodeUnsignedEip1559(tx: Eip1559Tx): Uint8Array {
  return concatBytes(Uint8Array.of(EIP1559_TX_TYPE), encodeRlp(txFields(tx)));
}

/** keccak256 of the unsigned encoding: the digest the wallet key signs. */
export function eip1559SigningDigest(tx: Eip1559Tx): Uint8Array {
  return keccak_256(encodeUnsignedEip1559(tx));
}

/** An ECDSA signature as Ethereum carries it. */
export interface EcdsaSignature {
  readonly r: bigint;
  readonly s: bigint;
  readonly yParity: 0 | 1;
}

/** Encodes the signed transaction for `eth_sendRawTransaction`. */
export function encodeSignedEip1559(tx: Eip1559Tx, sig: EcdsaSignature): Uint8Array {
  const fields = [...txFields(tx), uintToBytes(BigInt(sig.yParity)), uintToBytes(sig.r), uintToBytes(sig.s)];
  return concatBytes(Uint8Array.of(EIP1559_TX_TYPE), encodeRlp(fields));
}

/** Decodes a signed EIP-1559 transaction (used by tests and the host's checks). */
export function decodeSignedEip1559(raw: Uint8Array): { tx: Eip1559Tx; signature: EcdsaSignature } {
  const fields = decodeEnvelope(raw, 12);
  const tx = decodeFields(fields.slice(0, 9));
  const v = uintField(fields[9], 'yParity', 1);
  if (v > 1n) fail('yParity must be 0 or 1', { field: 'yParity' });
  const signature = { yParity: Number(v) as 0 | 1, r: uintField(fields[10], 'r'), s: uintField(fields[11], 's') };
  if (!Buffer.from(encodeSignedEip1559(tx, signature)).equals(Buffer.from(raw))) fail('transaction is not canonically encoded');
  return { tx, signature };
}

/** The transaction hash of a signed transaction (keccak256 of its bytes). */
export function txHash(signedRaw: Uint8Array): Uint8Array {
  return keccak_256(signedRaw);
}

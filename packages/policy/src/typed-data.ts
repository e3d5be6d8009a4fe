/**
 * EIP-712 typed data as the policy engine reads it: a bounded decoder of the
 * `eth_signTypedData_v4` JSON form and the recognition of token permits
 * (EIP-2612, DAI-style, Uniswap Permit2). A permit signature is a spend
 * (THREATS.md B17): it is decided as `approve-token`. A type is recognised
 * only when its full EIP-712 `encodeType` string equals the standard one, so
 * a look-alike `Permit` with other fields is not mistaken for one.
 */
import { CustodianError } from '@custodian/core/errors';
import { parseJson, type Json } from '@custodian/core/canonical-json';
import { addressKey } from './address-key.js';

/** Largest typed-data document accepted. */
export const TYPED_DATA_BYTES_MAX = 64 * 1024;
/** Most struct types in one document. */
export const TYPED_DATA_TYPES_MAX = 32;
/** Most fields in one struct type. */
export const TYPED_DATA_FIELDS_MAX = 32;
/** Most permit details in one Permit2 batch. */
export const PERMIT_BATCH_MAX = 64;
/** Uniswap Permit2, the same address on every chain. */
export const PERMIT2_ADDRESS = '0x000000000022d473030f116ddee9f6b43ac78ba3';

/** A decoded typed-data document. */
export interface TypedData {
  readonly types: ReadonlyMap<string, readonly { readonly name: string; readonly type: string }[]>;
  readonly primaryType: string;
  readonly domain: { readonly [k: string]: Json };
  readonly message: { readonly [k: string]: Json };
}

/** One grant of spending authority a permit makes. */
export interface PermitGrant {
  readonly token: string;
  readonly spender: string;
  readonly amount: bigint;
  /** Unlimited by amount (or DAI's `allowed: true`). */
  readonly unlimited: boolean;
  /** When the signature or the allowance stops being usable (seconds), the later of both. */
  readonly deadlineSec: bigint;
}

/** What a recognised permit authorises. */
export interface Permit {
  readonly kind: 'eip2612' | 'dai' | 'permit2-single' | 'permit2-batch' | 'permit2-transfer' | 'permit2-batch-transfer';
  readonly grants: readonly PermitGrant[];
}

const PERMIT_DETAILS = 'PermitDetails(address token,uint160 amount,uint48 expiration,uint48 nonce)';
const TOKEN_PERMISSIONS = 'TokenPermissions(address token,uint256 amount)';
const KNOWN: Record<string, Permit['kind']> = {
  'Permit(address owner,address spender,uint256 value,uint256 nonce,uint256 deadline)': 'eip2612',
  'Permit(address holder,address spender,uint256 nonce,uint256 expiry,bool allowed)': 'dai',
  [`PermitSingle(PermitDetails details,address spender,uint256 sigDeadline)${PERMIT_DETAILS}`]: 'permit2-single',
  [`PermitBatch(PermitDetails[] details,address spender,uint256 sigDeadline)${PERMIT_DETAILS}`]: 'permit2-batch',
  [`PermitTransferFrom(TokenPermissions permitted,address spender,uint256 nonce,uint256 deadline)${TOKEN_PERMISSIONS}`]: 'permit2-transfer',
  [`PermitBatchTransferFrom(TokenPermissions[] permitted,address spender,uint256 nonce,uint256 deadline)${TOKEN_PERMISSIONS}`]: 'permit2-batch-transfer',
};
const NAME_RE = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;
const TYPE_RE = /^[A-Za-z_][A-Za-z0-9_]{0,63}(\[[0-9]{0,4}\])*$/;
const UNLIMITED = 1n << 128n;

function invalid(message: string): never {
  throw new CustodianError('E_TYPED_DATA_INVALID', message);
}

function object(v: Json | undefined, where: string): { readonly [k: string]: Json } {
  if (v === null || v === undefined || typeof v !== 'object' || Array.isArray(v)) invalid(`${where} must be an object`);
  return v as { readonly [k: string]: Json };
}

/** Decodes `{ types, primaryType, domain, message }` (bounded, strict JSON). */
export function decodeTypedData(bytes: Uint8Array): TypedData {
  const root = object(parseJson(bytes, TYPED_DATA_BYTES_MAX), 'typed data');
  for (const k of Object.keys(root)) if (!['types', 'primaryType', 'domain', 'message'].includes(k)) invalid(`typed data has an unknown field ${k.slice(0, 40)}`);
  const rawTypes = object(root['types'], 'types');
  if (Object.keys(rawTypes).length > TYPED_DATA_TYPES_MAX) invalid(`more than ${TYPED_DATA_TYPES_MAX} types`);
  const types = new Map<string, { name: string; type: string }[]>();
  for (const [name, fields] of Object.entries(rawTypes)) {
    if (!NAME_RE.test(name)) invalid(`type name ${name.slice(0, 40)} is invalid`);
    if (!Array.isArray(fields) || fields.length > TYPED_DATA_FIELDS_MAX) invalid(`type ${name} must list at most ${TYPED_DATA_FIELDS_MAX} fields`);
    types.set(name, (fields as readonly Json[]).map((f) => {
      const o = object(f, `type ${name} field`);
      if (typeof o['name'] !== 'string' || typeof o['type'] !== 'string' || !NAME_RE.test(o['name']) || !TYPE_RE.test(o['type']) || Object.keys(o).length !== 2) invalid(`type ${name} has an invalid field`);
      return { name: o['name'], type: o['type'] };
    }));
  }
  const primaryType = root['primaryType'];
  if (typeof primaryType !== 'string' || !types.has(primaryType)) invalid('primaryType must name a listed type');
  return { types, primaryType, domain: object(root['domain'], 'domain'), message: object(root['message'], 'message') };
}

/** EIP-712 `encodeType`: the primary type, then referenced struct types sorted by name. */
export function encodeType(types: TypedData['types'], primary: string): string {
  const seen = new Set<string>();
  const visit = (t: string, depth: number): void => {
    if (depth > TYPED_DATA_TYPES_MAX) invalid('typed data types nest too deeply');
    const fields = types.get(t);
    if (fields === undefined || seen.has(t)) return;
    seen.add(t);
    for (const f of fields) visit(f.type.replace(/(\[[0-9]*\])+$/, ''), depth + 1);
  };
  visit(primary, 0);
  const deps = [...seen].filter((t) => t !== primary).sort();
  return [primary, ...deps].map((t) => `${t}(${types.get(t)!.map((f) => `${f.type} ${f.name}`).join(',')})`).join('');
}

/** Reads an EIP-712 uint from a JSON number or a decimal / 0x-hex string. */
export function readUint(v: Json | undefined, where: string, bits = 256): bigint {
  let n: bigint;
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) n = BigInt(v);
  else if (typeof v === 'string' && /^(0|[1-9][0-9]{0,77})$/.test(v)) n = BigInt(v);
  else if (typeof v === 'string' && /^0x[0-9a-fA-F]{1,64}$/.test(v)) n = BigInt(v);
  else return invalid(`${where} must be an unsigned integer`);
  if (n >> BigInt(bits) !== 0n) invalid(`${where} does not fit uint${bits}`);
  return n;
}

function readAddress(v: Json | undefined, where: string): string {
  if (typeof v !== 'string') invalid(`${where} must be an address`);
  const key = addressKey(v);
  if (!/^0x[0-9a-f]{40}$/.test(key)) invalid(`${where} must be an EVM address`);
  return key;
}

/** The permit `td` makes, or null when it is not a recognised permit. */
export function readPermit(td: TypedData): Permit | null {
  const kind = KNOWN[encodeType(td.types, td.primaryType)];
  if (kind === undefined) return null;
  const m = td.message;
  const grant = (token: string, spender: string, amount: bigint, deadlineSec: bigint, unlimited = amount >= UNLIMITED): PermitGrant => ({ token, spender, amount, unlimited, deadlineSec });
  const verifying = readAddress(td.domain['verifyingContract'], 'domain.verifyingContract');
  switch (kind) {
    case 'eip2612':
      return { kind, grants: [grant(verifying, readAddress(m['spender'], 'message.spender'), readUint(m['value'], 'message.value'), readUint(m['deadline'], 'message.deadline'))] };
    case 'dai': {
      const allowed = m['allowed'];
      if (typeof allowed !== 'boolean') invalid('message.allowed must be a boolean');
      return { kind, grants: [grant(verifying, readAddress(m['spender'], 'message.spender'), 0n, readUint(m['expiry'], 'message.expiry'), allowed)] };
    }
    case 'permit2-single':
    case 'permit2-batch': {
      const details = kind === 'permit2-single' ? [m['details']] : m['details'];
      if (!Array.isArray(details) || details.length === 0 || details.length > PERMIT_BATCH_MAX) invalid(`message.details must hold 1..${PERMIT_BATCH_MAX} entries`);
      const spender = readAddress(m['spender'], 'message.spender');
      const sigDeadline = readUint(m['sigDeadline'], 'message.sigDeadline');
      return {
        kind,
        grants: (details as readonly Json[]).map((d, i) => {
          const o = object(d, `message.details[${i}]`);
          const expiration = readUint(o['expiration'], `message.details[${i}].expiration`, 48);
          return grant(readAddress(o['token'], `message.details[${i}].token`), spender, readUint(o['amount'], `message.details[${i}].amount`, 160), expiration > sigDeadline ? expiration : sigDeadline);
        }),
      };
    }
    case 'permit2-transfer':
    case 'permit2-batch-transfer': {
      const permitted = kind === 'permit2-transfer' ? [m['permitted']] : m['permitted'];
      if (!Array.isArray(permitted) || permitted.length === 0 || permitted.length > PERMIT_BATCH_MAX) invalid(`message.permitted must hold 1..${PERMIT_BATCH_MAX} entries`);
      const spender = readAddress(m['spender'], 'message.spender');
      const deadline = readUint(m['deadline'], 'message.deadline');
      return {
        kind,
        grants: (permitted as readonly Json[]).map((p, i) => {
          const o = object(p, `message.permitted[${i}]`);
          return grant(readAddress(o['token'], `message.permitted[${i}].token`), spender, readUint(o['amount'], `message.permitted[${i}].amount`), deadline);
        }),
      };
    }
  }
}

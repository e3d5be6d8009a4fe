/**
 * What an EVM transaction does, read only from its decoded bytes: value and
 * token movements, token approvals, delegatecalls, privileged methods and
 * calls the decoder does not understand, across Safe and MultiSend nesting
 * (THREATS.md B15, B17, B18).
 */
import { CustodianError, isCustodianError } from '@custodian/core/errors';
import type { Eip1559Tx } from '@custodian/chains/evm/eip1559';
import { decodeCall } from '@custodian/chains/evm/calldata/decode-call';
import type { DecodedCall } from '@custodian/chains/evm/calldata/decoded-call';
import { evmAddressKey } from './address-key.js';
import { NATIVE_ASSET } from './price-table.js';

/** Approvals at or above this many base units count as unlimited (beyond any real token supply). */
export const UNLIMITED_APPROVAL_THRESHOLD = 1n << 128n;

/** Value leaving the wallet. */
export interface Movement {
  /** NATIVE_ASSET or the token contract's lookup key. */
  readonly asset: string;
  readonly destination: string;
  readonly amount: bigint;
}

/** Spending authority granted. */
export interface Approval {
  readonly token: string;
  readonly spender: string;
  readonly amount: bigint;
  readonly unlimited: boolean;
  readonly method: string;
}

/** Everything the transaction does. */
export interface EvmEffects {
  /** Outer call kind: `none`, `create`, or a DecodedCall kind. */
  readonly kind: string;
  /** Method path, e.g. `execTransaction>multiSend>transfer`. */
  readonly method: string;
  /** The contract whose code runs the (innermost single) call. */
  readonly target: string | null;
  readonly movements: readonly Movement[];
  readonly approvals: readonly Approval[];
  readonly delegatecalls: readonly string[];
  readonly privileged: readonly string[];
  readonly unknown: readonly { readonly target: string; readonly selector: string }[];
  /** Every address the transaction names (for screening). */
  readonly addresses: readonly string[];
  /** Set when calldata for a recognised method was malformed. */
  readonly malformed: string | null;
}

interface Acc {
  movements: Movement[];
  approvals: Approval[];
  delegatecalls: string[];
  privileged: string[];
  unknown: { target: string; selector: string }[];
  addresses: Set<string>;
  methods: string[];
  target: string | null;
}

const METHOD: Record<DecodedCall['kind'], string> = {
  none: 'value',
  'erc20-transfer': 'transfer',
  'erc20-transfer-from': 'transferFrom',
  'erc20-approve': 'approve',
  'erc20-increase-allowance': 'increaseAllowance',
  'erc20-permit': 'permit',
  'set-approval-for-all': 'setApprovalForAll',
  'safe-exec-transaction': 'execTransaction',
  multisend: 'multiSend',
  privileged: 'privileged',
  unknown: 'unknown',
};

/** Reads the effects of a decoded EIP-1559 transaction. */
export function readEvmEffects(tx: Eip1559Tx): EvmEffects {
  const acc: Acc = { movements: [], approvals: [], delegatecalls: [], privileged: [], unknown: [], addresses: new Set(), methods: [], target: null };
  if (tx.to === null) {
    return { kind: 'create', method: 'create', target: null, movements: [], approvals: [], delegatecalls: [], privileged: ['create'], unknown: [], addresses: [], malformed: null };
  }
  let call: DecodedCall;
  try {
    call = decodeCall(tx.data);
  } catch (e) {
    if (!isCustodianError(e, 'E_CALLDATA_INVALID')) throw e;
    const to = evmAddressKey(tx.to);
    return { kind: 'malformed', method: 'malformed', target: to, movements: [], approvals: [], delegatecalls: [], privileged: [], unknown: [], addresses: [to], malformed: e.message };
  }
  walk(acc, call, evmAddressKey(tx.to), tx.value, 0);
  return {
    kind: call.kind,
    method: acc.methods.join('>') || 'value',
    target: acc.target,
    movements: acc.movements,
    approvals: acc.approvals,
    delegatecalls: acc.delegatecalls,
    privileged: acc.privileged,
    unknown: acc.unknown,
    addresses: [...acc.addresses],
    malformed: null,
  };
}

function walk(acc: Acc, call: DecodedCall, to: string, value: bigint, depth: number): void {
  acc.addresses.add(to);
  if (depth === acc.methods.length) acc.methods.push(call.kind === 'privileged' ? call.method : METHOD[call.kind]);
  if (value > 0n) acc.movements.push({ asset: NATIVE_ASSET, destination: to, amount: value });
  if (call.kind !== 'none') acc.target = to;
  switch (call.kind) {
    case 'none':
      return;
    case 'erc20-transfer':
    case 'erc20-transfer-from':
      acc.addresses.add(evmAddressKey(call.recipient));
      acc.movements.push({ asset: to, destination: evmAddressKey(call.recipient), amount: call.amount });
      return;
    case 'erc20-approve':
    case 'erc20-increase-allowance':
    case 'erc20-permit':
      acc.addresses.add(evmAddressKey(call.spender));
      acc.approvals.push({ token: to, spender: evmAddressKey(call.spender), amount: call.amount, unlimited: call.amount >= UNLIMITED_APPROVAL_THRESHOLD, method: METHOD[call.kind] });
      return;
    case 'set-approval-for-all':
      acc.addresses.add(evmAddressKey(call.operator));
      if (call.approved) acc.approvals.push({ token: to, spender: evmAddressKey(call.operator), amount: 0n, unlimited: true, method: 'setApprovalForAll' });
      return;
    case 'safe-exec-transaction': {
      const inner = evmAddressKey(call.inner.to);
      acc.addresses.add(evmAddressKey(call.refundReceiver));
      if (call.inner.operation === 'delegatecall') acc.delegatecalls.push(inner);
      walk(acc, call.inner.call, inner, call.inner.value, depth + 1);
      return;
    }
    case 'multisend':
      for (const c of call.calls) {
        const target = evmAddressKey(c.to);
        if (c.operation === 'delegatecall') acc.delegatecalls.push(target);
        walk(acc, c.call, target, c.value, depth + 1);
      }
      return;
    case 'privileged':
      acc.privileged.push(call.method);
      return;
    case 'unknown':
      acc.unknown.push({ target: to, selector: call.selector });
      return;
    default: {
      const never: never = call;
      throw new CustodianError('E_INTERNAL', `unhandled call kind ${String(never)}`);
    }
  }
}

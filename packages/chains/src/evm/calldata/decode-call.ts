/**
 * Decodes EVM calldata into what it does: ERC-20 transfer / transferFrom /
 * approve / increaseAllowance, EIP-2612 permit, setApprovalForAll, Safe
 * execTransaction (operation and nested call), MultiSend batches, and the
 * privileged methods of THREATS.md B15. Anything else is `unknown`, never safe.
 * A recognised selector with malformed arguments throws E_CALLDATA_INVALID:
 * the caller must refuse, not guess.
 */
import { AbiReader, failCalldata } from './abi-reader.js';
import type { DecodedCall, InnerCall, SafeOperation } from './decoded-call.js';
import {
  ERC20_SELECTORS,
  MULTISEND_SELECTOR,
  PRIVILEGED_SELECTORS,
  SAFE_EXEC_TRANSACTION_SELECTOR,
  SET_APPROVAL_FOR_ALL_SELECTOR,
} from './selectors.js';

/** Deepest nesting of Safe / MultiSend calls decoded (a Safe call holding a MultiSend holding calls is depth 2). */
export const CALL_NESTING_MAX = 3;
/** Most calls in one MultiSend batch. */
export const MULTISEND_CALLS_MAX = 64;
/** Largest calldata decoded (matches the EIP-1559 decoder's CALLDATA_BYTES_MAX). */
export const CALLDATA_DECODE_BYTES_MAX = 64 * 1024;

/** Decodes calldata sent to a contract; `depth` counts enclosing Safe/MultiSend calls. */
export function decodeCall(data: Uint8Array, depth = 0): DecodedCall {
  if (data.length > CALLDATA_DECODE_BYTES_MAX) failCalldata(`calldata of ${data.length} bytes exceeds ${CALLDATA_DECODE_BYTES_MAX}`, { length: data.length });
  if (depth > CALL_NESTING_MAX) failCalldata(`calls nest deeper than ${CALL_NESTING_MAX} levels`, { depth });
  if (data.length === 0) return { kind: 'none' };
  if (data.length < 4) failCalldata('calldata is shorter than a selector', { length: data.length });
  const selector = Buffer.from(data.subarray(0, 4)).toString('hex');
  const args = data.subarray(4);
  switch (selector) {
    case ERC20_SELECTORS.transfer:
      return decodeStatic(args, 'transfer', 2, (r) => ({ kind: 'erc20-transfer', recipient: r.address(0), amount: r.uint(1) }));
    case ERC20_SELECTORS.transferFrom:
      return decodeStatic(args, 'transferFrom', 3, (r) => ({ kind: 'erc20-transfer-from', from: r.address(0), recipient: r.address(1), amount: r.uint(2) }));
    case ERC20_SELECTORS.approve:
      return decodeStatic(args, 'approve', 2, (r) => ({ kind: 'erc20-approve', spender: r.address(0), amount: r.uint(1) }));
    case ERC20_SELECTORS.increaseAllowance:
      return decodeStatic(args, 'increaseAllowance', 2, (r) => ({ kind: 'erc20-increase-allowance', spender: r.address(0), amount: r.uint(1) }));
    case ERC20_SELECTORS.permit:
      return decodeStatic(args, 'permit', 7, (r) => {
        r.uintN(4, 8); // v
        return { kind: 'erc20-permit', owner: r.address(0), spender: r.address(1), amount: r.uint(2), deadline: r.uint(3) };
      });
    case SET_APPROVAL_FOR_ALL_SELECTOR:
      return decodeStatic(args, 'setApprovalForAll', 2, (r) => ({ kind: 'set-approval-for-all', operator: r.address(0), approved: r.bool(1) }));
    case SAFE_EXEC_TRANSACTION_SELECTOR:
      return decodeSafeExecTransaction(args, depth);
    case MULTISEND_SELECTOR:
      return decodeMultiSend(args, depth);
    default: {
      const method = PRIVILEGED_SELECTORS.get(selector);
      if (method !== undefined) return { kind: 'privileged', method };
      return { kind: 'unknown', selector };
    }
  }
}

function decodeStatic(args: Uint8Array, method: string, words: number, read: (r: AbiReader) => DecodedCall): DecodedCall {
  const r = new AbiReader(args, method);
  r.expectStaticLength(words);
  return read(r);
}

function operationOf(v: bigint, method: string): SafeOperation {
  if (v === 0n) return 'call';
  if (v === 1n) return 'delegatecall';
  return failCalldata(`${method} operation must be 0 (call) or 1 (delegatecall)`, { method, operation: v.toString() });
}

// execTransaction(to, value, data, operation, safeTxGas, baseGas, gasPrice, gasToken, refundReceiver, signatures)
function decodeSafeExecTransaction(args: Uint8Array, depth: number): DecodedCall {
  const r = new AbiReader(args, 'execTransaction');
  const to = r.address(0);
  const value = r.uint(1);
  const data = r.bytes(2, CALLDATA_DECODE_BYTES_MAX);
  const operation = operationOf(r.uintN(3, 8), 'execTransaction');
  const gasPrice = r.uint(6);
  const gasToken = r.address(7);
  const refundReceiver = r.address(8);
  r.bytes(9, CALLDATA_DECODE_BYTES_MAX); // signatures: checked for shape only
  const inner: InnerCall = { operation, to, value, data, call: decodeCall(data, depth + 1) };
  return { kind: 'safe-exec-transaction', inner, gasToken, refundReceiver, gasPrice };
}

// multiSend(bytes transactions): packed (uint8 operation, address to, uint256 value, uint256 dataLength, bytes data)*
function decodeMultiSend(args: Uint8Array, depth: number): DecodedCall {
  const r = new AbiReader(args, 'multiSend');
  const packed = r.bytes(0, CALLDATA_DECODE_BYTES_MAX);
  const calls: InnerCall[] = [];
  let off = 0;
  while (off < packed.length) {
    if (calls.length >= MULTISEND_CALLS_MAX) failCalldata(`multiSend batch has more than ${MULTISEND_CALLS_MAX} calls`);
    if (off + 85 > packed.length) failCalldata('multiSend entry is truncated', { offset: off });
    const operation = operationOf(BigInt(packed[off]!), 'multiSend');
    const to = new Uint8Array(packed.subarray(off + 1, off + 21));
    const value = BigInt('0x' + Buffer.from(packed.subarray(off + 21, off + 53)).toString('hex'));
    const len = BigInt('0x' + Buffer.from(packed.subarray(off + 53, off + 85)).toString('hex'));
    if (len > BigInt(packed.length - off - 85)) failCalldata('multiSend entry data runs past the batch', { offset: off });
    const data = new Uint8Array(packed.subarray(off + 85, off + 85 + Number(len)));
    calls.push({ operation, to, value, data, call: decodeCall(data, depth + 1) });
    off += 85 + Number(len);
  }
  return { kind: 'multisend', calls };
}

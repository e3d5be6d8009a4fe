import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { encodeFunctionData, encodePacked, parseAbi, maxUint256, toFunctionSelector, type Hex } from 'viem';
import { isCustodianError } from '@custodian/core/errors';
import { bytesTo0x, hexToBytes } from '@custodian/core/bytes';
import { decodeCall, MULTISEND_CALLS_MAX } from './decode-call.js';
import { ERC20_SELECTORS, MULTISEND_SELECTOR, SAFE_EXEC_TRANSACTION_SELECTOR, SET_APPROVAL_FOR_ALL_SELECTOR, PRIVILEGED_SELECTORS } from './selectors.js';

const abi = parseAbi([
  'function transfer(address to, uint256 amount)',
  'function transferFrom(address from, address to, uint256 amount)',
  'function approve(address spender, uint256 amount)',
  'function increaseAllowance(address spender, uint256 amount)',
  'function permit(address owner, address spender, uint256 value, uint256 deadline, uint8 v, bytes32 r, bytes32 s)',
  'function setApprovalForAll(address operator, bool approved)',
  'function execTransaction(address to, uint256 value, bytes data, uint8 operation, uint256 safeTxGas, uint256 baseGas, uint256 gasPrice, address gasToken, address refundReceiver, bytes signatures)',
  'function multiSend(bytes transactions)',
  'function upgradeTo(address impl)',
  'function enableModule(address module)',
]);

const A = '0x1111111111111111111111111111111111111111';
const B = '0x2222222222222222222222222222222222222222';
const Z = '0x0000000000000000000000000000000000000000';
const b = (h: Hex): Uint8Array => hexToBytes(h);
const hex = (u: Uint8Array): string => bytesTo0x(u);

function safeExec(to: Hex, data: Hex, operation: number, value = 0n): Hex {
  return encodeFunctionData({ abi, functionName: 'execTransaction', args: [to, value, data, operation, 0n, 0n, 0n, Z, Z, '0x1234'] });
}

test('selectors match viem (keccak256 of the canonical signatures)', () => {
  assert.equal('0x' + ERC20_SELECTORS.transfer, toFunctionSelector('transfer(address,uint256)'));
  assert.equal(ERC20_SELECTORS.transfer, 'a9059cbb');
  assert.equal(ERC20_SELECTORS.approve, '095ea7b3');
  assert.equal(ERC20_SELECTORS.permit, 'd505accf');
  assert.equal(SAFE_EXEC_TRANSACTION_SELECTOR, '6a761202');
  assert.equal(MULTISEND_SELECTOR, '8d80ff0a');
  assert.equal(SET_APPROVAL_FOR_ALL_SELECTOR, 'a22cb465');
  assert.equal(PRIVILEGED_SELECTORS.get('7de7edef'), 'changeMasterCopy');
});

test('decodes ERC-20 transfer, transferFrom, approve, increaseAllowance and permit', () => {
  const t = decodeCall(b(encodeFunctionData({ abi, functionName: 'transfer', args: [A, 5n] })));
  assert.equal(t.kind, 'erc20-transfer');
  assert.ok(t.kind === 'erc20-transfer' && hex(t.recipient) === A && t.amount === 5n);
  const tf = decodeCall(b(encodeFunctionData({ abi, functionName: 'transferFrom', args: [A, B, 7n] })));
  assert.ok(tf.kind === 'erc20-transfer-from' && hex(tf.from) === A && hex(tf.recipient) === B && tf.amount === 7n);
  const ap = decodeCall(b(encodeFunctionData({ abi, functionName: 'approve', args: [B, maxUint256] })));
  assert.ok(ap.kind === 'erc20-approve' && hex(ap.spender) === B && ap.amount === maxUint256);
  const ia = decodeCall(b(encodeFunctionData({ abi, functionName: 'increaseAllowance', args: [B, 9n] })));
  assert.ok(ia.kind === 'erc20-increase-allowance' && ia.amount === 9n);
  const p = decodeCall(b(encodeFunctionData({ abi, functionName: 'permit', args: [A, B, 3n, 1700000000n, 27, `0x${'11'.repeat(32)}`, `0x${'22'.repeat(32)}`] })));
  assert.ok(p.kind === 'erc20-permit' && hex(p.owner) === A && hex(p.spender) === B && p.amount === 3n && p.deadline === 1700000000n);
  const sa = decodeCall(b(encodeFunctionData({ abi, functionName: 'setApprovalForAll', args: [B, true] })));
  assert.ok(sa.kind === 'set-approval-for-all' && sa.approved);
});

test('empty calldata is a plain value transfer; unrecognised selectors are unknown, never safe', () => {
  assert.deepEqual(decodeCall(new Uint8Array(0)), { kind: 'none' });
  assert.deepEqual(decodeCall(b('0xdeadbeef')), { kind: 'unknown', selector: 'deadbeef' });
});

test('B15 decodes a Safe execTransaction with delegatecall and its nested privileged call', () => {
  const inner = encodeFunctionData({ abi, functionName: 'enableModule', args: [B] });
  const d = decodeCall(b(safeExec(A, inner, 1)));
  assert.equal(d.kind, 'safe-exec-transaction');
  assert.ok(d.kind === 'safe-exec-transaction');
  assert.equal(d.inner.operation, 'delegatecall');
  assert.equal(hex(d.inner.to), A);
  assert.deepEqual(d.inner.call, { kind: 'privileged', method: 'enableModule' });
  const up = decodeCall(b(encodeFunctionData({ abi, functionName: 'upgradeTo', args: [B] })));
  assert.deepEqual(up, { kind: 'privileged', method: 'upgradeTo' });
});

test('decodes a Safe execTransaction carrying a MultiSend batch of ERC-20 transfers', () => {
  const t1 = encodeFunctionData({ abi, functionName: 'transfer', args: [B, 11n] });
  const packed = encodePacked(['uint8', 'address', 'uint256', 'uint256', 'bytes', 'uint8', 'address', 'uint256', 'uint256', 'bytes'], [0, A, 0n, BigInt((t1.length - 2) / 2), t1, 0, B, 5n, 0n, '0x']);
  const ms = encodeFunctionData({ abi, functionName: 'multiSend', args: [packed] });
  const d = decodeCall(b(safeExec(A, ms, 1)));
  assert.ok(d.kind === 'safe-exec-transaction' && d.inner.call.kind === 'multisend');
  const calls = d.inner.call.calls;
  assert.equal(calls.length, 2);
  assert.ok(calls[0]!.call.kind === 'erc20-transfer' && calls[0]!.call.amount === 11n);
  assert.equal(calls[1]!.value, 5n);
  assert.deepEqual(calls[1]!.call, { kind: 'none' });
});

test('rejects ERC-20 calldata with trailing bytes or a dirty address word', () => {
  const t = encodeFunctionData({ abi, functionName: 'transfer', args: [A, 5n] });
  assert.throws(() => decodeCall(b((t + '00') as Hex)), (e) => isCustodianError(e, 'E_CALLDATA_INVALID'));
  const dirty = ('0xa9059cbb' + 'ff' + t.slice(12)) as Hex;
  assert.throws(() => decodeCall(b(dirty)), (e) => isCustodianError(e, 'E_CALLDATA_INVALID'));
  assert.throws(() => decodeCall(b('0xa905')), (e) => isCustodianError(e, 'E_CALLDATA_INVALID'));
});

test('rejects a Safe operation other than call or delegatecall', () => {
  assert.throws(() => decodeCall(b(safeExec(A, '0x', 2))), (e) => isCustodianError(e, 'E_CALLDATA_INVALID'));
});

test('rejects Safe calls nested deeper than the limit', () => {
  let data: Hex = '0x';
  for (let i = 0; i < 6; i++) data = safeExec(A, data, 0);
  assert.throws(() => decodeCall(b(data)), (e) => isCustodianError(e, 'E_CALLDATA_INVALID'));
});

test('rejects a MultiSend batch above the call limit and truncated entries', () => {
  const one = encodePacked(['uint8', 'address', 'uint256', 'uint256'], [0, A, 1n, 0n]);
  const many = ('0x' + one.slice(2).repeat(MULTISEND_CALLS_MAX + 1)) as Hex;
  assert.throws(() => decodeCall(b(encodeFunctionData({ abi, functionName: 'multiSend', args: [many] }))), (e) => isCustodianError(e, 'E_CALLDATA_INVALID'));
  const cut = one.slice(0, -2) as Hex;
  assert.throws(() => decodeCall(b(encodeFunctionData({ abi, functionName: 'multiSend', args: [cut] }))), (e) => isCustodianError(e, 'E_CALLDATA_INVALID'));
});

test('only typed errors escape for mutated Safe and ERC-20 calldata', () => {
  const seeds = [
    b(safeExec(A, encodeFunctionData({ abi, functionName: 'transfer', args: [B, 1n] }), 0)),
    b(encodeFunctionData({ abi, functionName: 'permit', args: [A, B, 3n, 1n, 27, `0x${'11'.repeat(32)}`, `0x${'22'.repeat(32)}`] })),
  ];
  fc.assert(
    fc.property(fc.constantFrom(...seeds), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }), fc.nat(), (seed, edits, cut) => {
      const m = new Uint8Array(seed);
      for (const [i, v] of edits) m[i % m.length] = v;
      const input = m.subarray(0, m.length - (cut % 40));
      try {
        decodeCall(input);
      } catch (e) {
        assert.ok(isCustodianError(e, 'E_CALLDATA_INVALID'), String(e));
      }
    }),
    { numRuns: 1500 },
  );
});

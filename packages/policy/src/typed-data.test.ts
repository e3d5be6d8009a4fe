import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { keccak256, toHex } from 'viem';
import { isCustodianError } from '@custodian/core/errors';
import { REPO_ROOT } from '@custodian/core/vectors';
import { utf8 } from '@custodian/core/bytes';
import { loadRulebookDir } from './rulebook-dir.js';
import { decideTypedData, type TypedDataRequest } from './engine.js';
import { decodeTypedData, encodeType, readPermit } from './typed-data.js';

const rulebook = loadRulebookDir(join(REPO_ROOT, 'examples/policies/default'));
const NOW = Date.parse('2026-11-25T12:00:00Z');
const NOW_SEC = Math.floor(NOW / 1000);
const USDC = '0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48';
const PERMIT2 = '0x000000000022D473030F116dDEE9F6B43aC78BA3';
const STRANGER = '0x3333333333333333333333333333333333333333';
const OWNER = '0x4444444444444444444444444444444444444444';
const DOMAIN_TYPE = [{ name: 'name', type: 'string' }, { name: 'version', type: 'string' }, { name: 'chainId', type: 'uint256' }, { name: 'verifyingContract', type: 'address' }];
const PERMIT_TYPE = [{ name: 'owner', type: 'address' }, { name: 'spender', type: 'address' }, { name: 'value', type: 'uint256' }, { name: 'nonce', type: 'uint256' }, { name: 'deadline', type: 'uint256' }];

function eip2612(spender: string, value: string, deadline: number, domain: Record<string, unknown> = { name: 'USD Coin', version: '2', chainId: 1, verifyingContract: USDC }): Record<string, unknown> {
  return { types: { EIP712Domain: DOMAIN_TYPE, Permit: PERMIT_TYPE }, primaryType: 'Permit', domain, message: { owner: OWNER, spender, value, nonce: 0, deadline } };
}

function permit2Single(spender: string, amount: string, verifyingContract = PERMIT2): Record<string, unknown> {
  return {
    types: {
      EIP712Domain: [{ name: 'name', type: 'string' }, { name: 'chainId', type: 'uint256' }, { name: 'verifyingContract', type: 'address' }],
      PermitSingle: [{ name: 'details', type: 'PermitDetails' }, { name: 'spender', type: 'address' }, { name: 'sigDeadline', type: 'uint256' }],
      PermitDetails: [{ name: 'token', type: 'address' }, { name: 'amount', type: 'uint160' }, { name: 'expiration', type: 'uint48' }, { name: 'nonce', type: 'uint48' }],
    },
    primaryType: 'PermitSingle',
    domain: { name: 'Permit2', chainId: 1, verifyingContract },
    message: { details: { token: USDC, amount, expiration: NOW_SEC + 3600, nonce: 0 }, spender, sigDeadline: String(NOW_SEC + 600) },
  };
}

function decide(td: Record<string, unknown>, over: Partial<TypedDataRequest> = {}): ReturnType<typeof decideTypedData>['decision'] {
  const req: TypedDataRequest = { requestId: 't', chain: 'eth', typedData: decodeTypedData(utf8(JSON.stringify(td))), initiator: { id: 'alice', groups: ['initiators'] }, wallet: { id: 'hot-1', groups: ['hot'], chainIds: [1n] }, approvals: {}, requestedAtMs: NOW, ...over };
  return decideTypedData(rulebook, req, NOW, null).decision;
}

test('encodeType matches the standard type hashes (EIP-2612 PERMIT_TYPEHASH, Permit2 PERMIT_SINGLE_TYPEHASH)', () => {
  const a = decodeTypedData(utf8(JSON.stringify(eip2612(STRANGER, '1', NOW_SEC))));
  assert.equal(keccak256(toHex(encodeType(a.types, a.primaryType))), '0x6e71edae12b1b97f4d1f60370fef10105fa2faae0126114a169c64845d6126c9');
  const b = decodeTypedData(utf8(JSON.stringify(permit2Single(STRANGER, '1'))));
  assert.equal(keccak256(toHex(encodeType(b.types, b.primaryType))), '0xf3841cd1ff0085026a6327b620b67997ce40f282c88a8e905a7a5626e310f3d0');
  assert.equal(readPermit(b)!.kind, 'permit2-single');
});

test('B17 an unlimited EIP-2612 permit to an unknown spender is a spend and is denied (E_UNLIMITED_APPROVAL)', () => {
  const d = decide(eip2612(STRANGER, ((1n << 256n) - 1n).toString(), NOW_SEC + 600));
  assert.equal(d.decision, 'deny');
  assert.ok(d.codes.includes('E_UNLIMITED_APPROVAL'));
  const limited = decide(eip2612(STRANGER, '5', NOW_SEC + 600));
  assert.ok(limited.codes.includes('E_SPENDER_NOT_ALLOWLISTED'));
});

test('B17 a permit to an allow-listed spender is decided as approve-token; a far deadline is refused', () => {
  const ok = decide(eip2612(PERMIT2, '1000000', NOW_SEC + 600));
  assert.equal(ok.decision, 'needs-approval');
  assert.deepEqual(ok.policies, ['approve-allow-listed-spender']);
  const far = decide(eip2612(PERMIT2, '1000000', NOW_SEC + 365 * 86400));
  assert.equal(far.decision, 'deny');
  assert.ok(far.codes.includes('E_UNLIMITED_APPROVAL'));
});

test('B17 Permit2 PermitSingle to an unknown spender is denied; to another verifying contract is E_DOMAIN_MISMATCH', () => {
  assert.ok(decide(permit2Single(STRANGER, '100')).codes.includes('E_SPENDER_NOT_ALLOWLISTED'));
  assert.ok(decide(permit2Single(PERMIT2, '100', STRANGER)).codes.includes('E_DOMAIN_MISMATCH'));
});

test('B16 an EIP-712 domain without chainId is E_REPLAYABLE_TX; with another chainId E_CHAIN_ID_MISMATCH', () => {
  assert.ok(decide(eip2612(PERMIT2, '1', NOW_SEC + 60, { name: 'USD Coin', version: '2', verifyingContract: USDC })).codes.includes('E_REPLAYABLE_TX'));
  assert.ok(decide(eip2612(PERMIT2, '1', NOW_SEC + 60, { name: 'USD Coin', version: '2', chainId: 137, verifyingContract: USDC })).codes.includes('E_CHAIN_ID_MISMATCH'));
});

test('a look-alike Permit with other fields is not a permit: it is sign-message, denied by default', () => {
  const td = eip2612(PERMIT2, '1', NOW_SEC + 60);
  (td['types'] as Record<string, unknown>)['Permit'] = [...PERMIT_TYPE, { name: 'extra', type: 'uint256' }];
  const d = decide(td);
  assert.equal(d.decision, 'deny');
  assert.deepEqual(d.codes, ['E_POLICY_NO_PERMIT']);
});

test('rejects malformed typed data: unknown fields, bad types, a primaryType not listed, malformed permit values', () => {
  const bad = (v: unknown): void => assert.throws(() => decodeTypedData(utf8(JSON.stringify(v))), (e) => isCustodianError(e), JSON.stringify(v).slice(0, 80));
  bad({ ...eip2612(PERMIT2, '1', 1), extra: 1 });
  bad({ ...eip2612(PERMIT2, '1', 1), primaryType: 'Nope' });
  bad({ ...eip2612(PERMIT2, '1', 1), types: { Permit: [{ name: 'a b', type: 'uint256' }] } });
  const d = decide(eip2612(PERMIT2, '-1', NOW_SEC));
  assert.equal(d.decision, 'deny');
  assert.ok(d.codes.includes('E_TYPED_DATA_INVALID'));
  const checksum = decide(eip2612('0x000000000022d473030F116dDEE9F6B43aC78BA3', '1', NOW_SEC));
  assert.ok(checksum.codes.includes('E_ADDRESS_CHECKSUM'));
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isCustodianError } from '@custodian/core/errors';
import { quantity } from './eth-rpc.js';

test('node quantities decode only as canonical 0x hex', () => {
  assert.equal(quantity('0x7a69', 'chain id'), 31337n);
  assert.equal(quantity('0x0', 'nonce'), 0n);
  for (const bad of ['7a69', '0x', '0x07', '0xzz', 12, null, '0x' + 'f'.repeat(65)]) {
    assert.throws(() => quantity(bad, 'x'), (e) => isCustodianError(e, 'E_CHAIN_RPC'), String(bad));
  }
});

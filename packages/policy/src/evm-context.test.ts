import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { join } from 'node:path';
import { REPO_ROOT } from '@custodian/core/vectors';
import { hexToBytes } from '@custodian/core/bytes';
import type { Eip1559Tx } from '@custodian/chains/evm/eip1559';
import { ERC20_SELECTORS, MULTISEND_SELECTOR, SAFE_EXEC_TRANSACTION_SELECTOR } from '@custodian/chains/evm/calldata/selectors';
import { loadRulebookDir } from './rulebook-dir.js';
import { decideEvmTransaction } from './engine.js';

const rulebook = loadRulebookDir(join(REPO_ROOT, 'examples/policies/default'));
const NOW = Date.parse('2026-11-25T12:00:00Z');

test('arbitrary calldata to a contract that is not allow-listed never yields allow, and decisions never throw', () => {
  const selectors = [ERC20_SELECTORS.transfer, ERC20_SELECTORS.approve, ERC20_SELECTORS.permit, SAFE_EXEC_TRANSACTION_SELECTOR, MULTISEND_SELECTOR, 'deadbeef'];
  fc.assert(
    fc.property(fc.constantFrom(...selectors), fc.uint8Array({ maxLength: 400 }), fc.bigInt({ min: 0n, max: (1n << 256n) - 1n }), (sel, body, value) => {
      const tx: Eip1559Tx = { chainId: 1n, nonce: 0n, maxPriorityFeePerGas: 1n, maxFeePerGas: 1n, gasLimit: 21_000n, to: hexToBytes('0x' + '77'.repeat(20)), value, data: new Uint8Array([...hexToBytes(sel), ...body]), accessList: [] };
      const { decision } = decideEvmTransaction(rulebook, { requestId: 'p', chain: 'eth', tx, initiator: { id: 'a', groups: ['initiators'] }, wallet: { id: 'w', groups: [], chainIds: [1n] }, intent: null, approvals: { treasury: 5, risk: 5, admin: 5 }, requestedAtMs: NOW - 100 * 3_600_000 }, NOW, null);
      // Well-formed ERC-20 transfers to a first-time destination may be permitted;
      // anything else sent to an unknown contract must not be.
      if (decision.decision === 'allow') assert.equal(sel, ERC20_SELECTORS.transfer);
    }),
    { numRuns: 300 },
  );
});

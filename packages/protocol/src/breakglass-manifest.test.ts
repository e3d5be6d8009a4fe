import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isCustodianError } from '@custodian/core/errors';
import type { Json } from '@custodian/core/canonical-json';
import { checkBreakglassSuccessor } from './breakglass-manifest.js';

type R = Record<string, Json>;
const op = (id: string, key: string): R => ({ id, name: id, roles: ['admin'], groups: [], publicKey: { alg: 'ed25519', key } });
const base: R = {
  type: 'custodian.manifest.v1', orgId: 'acme', version: 1, previousHash: '', chainId: '1',
  operators: [op('alice', '01'), op('bob', '02'), op('dave', '03')],
  quorum: { threshold: 2, members: ['alice', 'bob'] },
  enclave: { platform: 'sim', measurements: ['aa'], simRoot: 'ff' },
  policy: { maxValueWei: '1', allowlist: [], approvals: { group: 'g', count: 1 } },
};
const next = (over: R): R => ({ ...base, version: 2, previousHash: '11'.repeat(32), ...over });
const scope = (e: unknown, changed: string[]): boolean => isCustodianError(e, 'E_BREAKGLASS_SUCCESSOR_SCOPE') && JSON.stringify(e.detail['changed']) === JSON.stringify(changed);

test('upgrade-measurement allows the measurement list and the sequence fields only', () => {
  checkBreakglassSuccessor('upgrade-measurement', base, next({ enclave: { platform: 'sim', measurements: ['aa', 'bb'], simRoot: 'ff' } }));
  assert.throws(() => checkBreakglassSuccessor('upgrade-measurement', base, next({ enclave: { platform: 'sim', measurements: ['bb'], simRoot: 'ee' } })), (e) => scope(e, ['enclave.simRoot']));
  assert.throws(() => checkBreakglassSuccessor('upgrade-measurement', base, next({ quorum: { threshold: 1, members: ['alice'] } })), (e) => scope(e, ['quorum']));
});

test('change-root-quorum allows the quorum and its members (old or new) to change, never another operator or the policy', () => {
  // bob replaced by erin; dave's entry kept, listed in another order
  checkBreakglassSuccessor('change-root-quorum', base, next({ operators: [op('dave', '03'), op('alice', '01'), op('erin', '04')], quorum: { threshold: 2, members: ['alice', 'erin'] } }));
  assert.throws(() => checkBreakglassSuccessor('change-root-quorum', base, next({ operators: [op('alice', '01'), op('bob', '02'), op('dave', '09')] })), (e) => scope(e, ['operators.dave']));
  assert.throws(() => checkBreakglassSuccessor('change-root-quorum', base, next({ operators: [op('alice', '01'), op('bob', '02'), op('dave', '03'), op('mallory', '05')] })), (e) => scope(e, ['operators.mallory']));
  assert.throws(() => checkBreakglassSuccessor('change-root-quorum', base, next({ policy: { maxValueWei: '2', allowlist: [], approvals: { group: 'g', count: 1 } } })), (e) => scope(e, ['policy']));
  assert.throws(() => checkBreakglassSuccessor('change-root-quorum', base, next({ enclave: { platform: 'sim', measurements: ['bb'], simRoot: 'ff' } })), (e) => scope(e, ['enclave.measurements']));
});

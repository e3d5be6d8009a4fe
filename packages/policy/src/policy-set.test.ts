import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isCustodianError } from '@custodian/core/errors';
import { compilePolicySet } from './policy-set.js';
import { parseApprovals, parseDelay } from './annotations.js';

const ok = `@id("p") @approvals("treasury:2, risk:1") @delay("24h")
permit (principal in Custodian::Group::"initiators", action == Custodian::Action::"transfer", resource)
when { context.amount.valueMinor > 100 };`;

const rejects = (text: string, why: RegExp): void => {
  assert.throws(() => compilePolicySet([{ name: 't.cedar', text }]), (e) => isCustodianError(e, 'E_POLICY_INVALID') && why.test(e.message + JSON.stringify(e.detail)));
};

test('compiles a policy and reads its annotations', () => {
  const set = compilePolicySet([{ name: 't.cedar', text: ok }]);
  const p = set.policies.get('p')!;
  assert.deepEqual(p.approvals, { treasury: 2, risk: 1 });
  assert.equal(p.delayMs, 24 * 3600 * 1000);
  assert.equal(p.effect, 'permit');
  assert.match(set.hash, /^[0-9a-f]{64}$/);
});

test('the set hash changes with the policy text', () => {
  const a = compilePolicySet([{ name: 't.cedar', text: ok }]).hash;
  const b = compilePolicySet([{ name: 't.cedar', text: ok.replace('100', '101') }]).hash;
  assert.notEqual(a, b);
});

test('rejects a policy that reads a context field the schema does not have', () => {
  rejects(ok.replace('context.amount.valueMinor', 'context.amount.usd'), /usd|attribute/);
});

test('rejects a policy comparing a string with a number (strict validation)', () => {
  rejects(ok.replace('context.amount.valueMinor > 100', 'context.chain > 100'), /validate|type/);
});

test('rejects an unknown action', () => {
  rejects(ok.replace('"transfer"', '"teleport"'), /teleport|action|validate/);
});

test('rejects a policy without @id, a duplicate @id and an unknown annotation', () => {
  rejects(ok.replace('@id("p") ', ''), /@id/);
  rejects(ok + '\n' + ok, /twice/);
  rejects(ok.replace('@delay', '@dealy'), /unknown annotation/);
});

test('rejects approvals or a delay on a forbid', () => {
  rejects(ok.replace('permit', 'forbid'), /forbid cannot demand/);
});

test('rejects text that does not parse and policy templates', () => {
  rejects('permit (principal, action, resource) when {', /parse/);
  rejects('@id("t") permit (principal == ?principal, action, resource);', /template/);
});

test('annotation parsers refuse malformed demands', () => {
  assert.deepEqual(parseApprovals('a:1,b-c:3', 'x'), { a: 1, 'b-c': 3 });
  for (const bad of ['treasury', 'treasury:0', 'treasury:99', 'Treasury:1', 'a:1, a:2', '']) {
    assert.throws(() => parseApprovals(bad, 'x'), (e) => isCustodianError(e, 'E_POLICY_INVALID'), bad);
  }
  assert.equal(parseDelay('90s', 'x'), 90_000);
  assert.equal(parseDelay('2d', 'x'), 2 * 86_400_000);
  for (const bad of ['24', '1w', '-1h', '0h', '31d', '1.5h']) {
    assert.throws(() => parseDelay(bad, 'x'), (e) => isCustodianError(e, 'E_POLICY_INVALID'), bad);
  }
});

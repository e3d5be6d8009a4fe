import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { isCustodianError } from '@custodian/core/errors';
import { REPO_ROOT } from '@custodian/core/vectors';
import { utf8 } from '@custodian/core/bytes';
import { readRulebookFiles } from './rulebook-dir.js';
import { decodeRulebook } from './rulebook.js';
import { decideRulebookChange } from './governance.js';

const files = readRulebookFiles(join(REPO_ROOT, 'examples/policies/default'));
const current = decodeRulebook(files);
const NOW = Date.parse('2026-11-25T12:00:00Z');
const admin = { principal: { id: 'root', groups: ['admins'] }, organisation: { id: 'org', groups: [] }, approvals: {}, requestedAtMs: NOW };

test('a rulebook change is a policy-change request: 2 admins and 24 h under the default rulebook', () => {
  const next = new Map(files);
  next.set('limits.json', utf8(new TextDecoder().decode(files.get('limits.json')!).replace('"100000000"', '"200000000"')));
  const c = decideRulebookChange(current, next, admin, NOW);
  assert.deepEqual(c.changed, ['limits']);
  assert.equal(c.decision.decision, 'needs-approval');
  assert.deepEqual(c.decision.missingApprovals, { admin: 2 });
  assert.equal(decideRulebookChange(current, next, { ...admin, approvals: { admin: 2 } }, NOW + 24 * 3_600_000).decision.decision, 'allow');
  assert.equal(decideRulebookChange(current, next, { ...admin, principal: { id: 'alice', groups: ['initiators'] } }, NOW).decision.decision, 'deny');
});

test('rejects at change time a proposed policy that fails schema validation', () => {
  const next = new Map(files);
  next.set('policies/30-governance.cedar', utf8('@id("x") permit (principal, action, resource) when { context.amount.usd > 1 };'));
  assert.throws(() => decideRulebookChange(current, next, admin, NOW), (e) => isCustodianError(e, 'E_POLICY_INVALID'));
});

test('rejects a rulebook whose schema copy differs from the shipped schema', () => {
  const next = new Map(files);
  next.set('custodian.cedarschema', utf8('namespace Custodian {}'));
  assert.throws(() => decodeRulebook(next), (e) => isCustodianError(e, 'E_RULEBOOK_INVALID'));
});

test('rejects a rulebook naming a file outside its directory', () => {
  const next = new Map(files);
  next.set('rulebook.json', utf8(new TextDecoder().decode(files.get('rulebook.json')!).replace('"prices.json"', '"../prices.json"')));
  assert.throws(() => decodeRulebook(next), (e) => isCustodianError(e, 'E_RULEBOOK_INVALID'));
});

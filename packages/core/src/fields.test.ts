// Fields: the one reader of decoded JSON objects — exact byte bounds on hex, unknown fields refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isCustodianError } from './errors.js';
import { Fields } from './fields.js';

test('hex: exactly maxLen bytes pass, one more is refused (with or without 0x)', () => {
  assert.equal(new Fields({ h: 'ab'.repeat(4) }, 't').hex('h', undefined, 4).length, 4);
  assert.throws(() => new Fields({ h: 'ab'.repeat(5) }, 't').hex('h', undefined, 4), (e) => isCustodianError(e, 'E_FIELD_INVALID'));
  assert.throws(() => new Fields({ h: 'AB' }, 't').hex('h'), (e) => isCustodianError(e, 'E_FIELD_INVALID'));
  assert.throws(() => new Fields({ h: 'abcd' }, 't').hex('h', 3), (e) => isCustodianError(e, 'E_FIELD_INVALID'));
});

test('done() refuses fields nobody read', () => {
  const f = new Fields({ a: 1, b: 2 }, 't');
  f.int('a');
  assert.throws(() => f.done(), (e) => isCustodianError(e));
});

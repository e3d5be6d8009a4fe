import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { canonicalJson, domainStatementBytes, parseJson, isCanonicalJson } from './canonical-json.js';
import { isCustodianError } from './errors.js';

test('encodes with sorted keys and no white space', () => {
  assert.equal(canonicalJson({ b: 1, a: [true, null, 'x'], c: { z: 1, y: 2 } }), '{"a":[true,null,"x"],"b":1,"c":{"y":2,"z":1}}');
});

test('a statement is domain, one newline, then the canonical body (what the broker and quorums sign)', () => {
  const bytes = domainStatementBytes('custodian/test/v1', { b: 'é', a: 1 });
  assert.deepEqual(bytes, new Uint8Array(Buffer.from('custodian/test/v1\n{"a":1,"b":"é"}', 'utf8')));
  assert.equal(bytes[17], 0x0a);
});

test('rejects duplicate keys instead of last-wins', () => {
  assert.throws(() => parseJson('{"to":"A","to":"B"}'), (e) => isCustodianError(e, 'E_JSON_DUPLICATE_KEY'));
});

test('rejects floats, exponents and unsafe integers', () => {
  for (const t of ['1.5', '1e400', '9007199254740993', '[-1e3]']) {
    assert.throws(() => parseJson(t), (e) => isCustodianError(e, 'E_JSON_NUMBER'), t);
  }
});

test('rejects deep nesting without a RangeError', () => {
  const deep = '['.repeat(200_000) + ']'.repeat(200_000);
  assert.throws(() => parseJson(deep, 1 << 20), (e) => isCustodianError(e, 'E_JSON_DEPTH'));
});

test('rejects oversized documents before parsing', () => {
  assert.throws(() => parseJson('"' + 'a'.repeat(100) + '"', 50), (e) => isCustodianError(e, 'E_JSON_TOO_LARGE'));
});

test('rejects trailing data and invalid UTF-8', () => {
  assert.throws(() => parseJson('{} {}'), (e) => isCustodianError(e, 'E_JSON_SYNTAX'));
  assert.throws(() => parseJson(new Uint8Array([0x22, 0xff, 0x22])), (e) => isCustodianError(e, 'E_JSON_SYNTAX'));
});

test('property: canonical encoding round-trips and is recognised as canonical', () => {
  const leaf = fc.oneof(fc.constant(null), fc.boolean(), fc.integer(), fc.string());
  const value = fc.letrec((tie) => ({
    v: fc.oneof({ depthSize: 'small' }, leaf, fc.array(tie('v'), { maxLength: 4 }), fc.dictionary(fc.string(), tie('v'), { maxKeys: 4 })),
  })).v;
  fc.assert(
    fc.property(value, (v) => {
      const text = canonicalJson(v);
      assert.deepEqual(parseJson(text), JSON.parse(text));
      assert.ok(isCanonicalJson(new TextEncoder().encode(text)));
    }),
  );
});

test('property: only typed errors escape the parser on mutated input', () => {
  const seed = '{"a":[1,2,{"b":"c"}],"d":null,"e":true}';
  fc.assert(
    fc.property(fc.integer({ min: 0, max: seed.length - 1 }), fc.integer({ min: 0, max: 127 }), (pos, ch) => {
      const mutated = seed.slice(0, pos) + String.fromCharCode(ch) + seed.slice(pos + 1);
      try {
        parseJson(mutated);
      } catch (e) {
        assert.ok(isCustodianError(e), String(e));
      }
    }),
    { numRuns: 3000 },
  );
});

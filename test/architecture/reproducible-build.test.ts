/**
 * The enclave measurement is the SHA-384 of its bundle, so two builds of one
 * commit must give identical bytes (DESIGN.md: reproducible build).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { REPO_ROOT } from '@custodian/core/vectors';
import { buildEnclave, ENCLAVE_BUNDLE } from '../../scripts/build-enclave.js';

test('two builds of the enclave give the same bytes and the printed measurement is their SHA-384', async () => {
  const first = await buildEnclave(REPO_ROOT);
  const bytes1 = readFileSync(join(REPO_ROOT, ENCLAVE_BUNDLE));
  const second = await buildEnclave(REPO_ROOT);
  const bytes2 = readFileSync(join(REPO_ROOT, ENCLAVE_BUNDLE));
  assert.equal(first, second);
  assert.ok(bytes1.equals(bytes2));
  assert.match(first, /^[0-9a-f]{96}$/);
  assert.equal(createHash('sha384').update(bytes2).digest('hex'), first);
  assert.ok(!bytes2.toString('utf8').includes(REPO_ROOT), 'no absolute paths in the bundle');
});

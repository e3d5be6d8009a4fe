import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createECDH, createPublicKey, verify } from 'node:crypto';
import { Secret } from '@custodian/core/secret';
import { isCustodianError } from '@custodian/core/errors';
import { openSoftwareRoot, SOFTWARE_ROOT_WARNING } from './software-root.js';

test('the software root says loudly what it is, and round-trips wrap, sign and agree', async () => {
  const lines: string[] = [];
  const file = join(mkdtempSync(join(tmpdir(), 'kbs-sw-')), 'root.json');
  const root = await openSoftwareRoot({ file, warn: (l) => lines.push(l) });
  assert.deepEqual(lines, [SOFTWARE_ROOT_WARNING]);
  assert.equal(root.kind, 'software');
  assert.match((await root.health()).description, /SOFTWARE/);
  const key = new Uint8Array(32).fill(3);
  const wrapped = await root.wrapKey(new Secret(key));
  assert.deepEqual((await root.unwrapKey(wrapped)).expose(), key);

  const msg = new TextEncoder().encode('m');
  const pub = await root.publicKey('kbs-signing');
  const jwk = { kty: 'EC', crv: 'P-256', x: Buffer.from(pub.subarray(1, 33)).toString('base64url'), y: Buffer.from(pub.subarray(33)).toString('base64url') };
  assert.ok(verify('sha256', msg, { key: createPublicKey({ key: jwk, format: 'jwk' }), dsaEncoding: 'ieee-p1363' }, await root.sign(msg)));

  const eph = createECDH('prime256v1');
  eph.generateKeys();
  assert.deepEqual(Buffer.from((await root.recoveryAgree(new Uint8Array(eph.getPublicKey()))).expose()), eph.computeSecret(await root.publicKey('recovery')));

  // Reopening from the file gives the same keys.
  const again = await openSoftwareRoot({ file, warn: () => undefined });
  assert.deepEqual((await again.unwrapKey(wrapped)).expose(), key);
});

test('the software root refuses tampered and foreign blobs like the HSM does', async () => {
  const a = await openSoftwareRoot({ warn: () => undefined });
  const b = await openSoftwareRoot({ warn: () => undefined });
  const wrapped = await a.wrapKey(new Secret(new Uint8Array(32).fill(4)));
  const bad = Uint8Array.from(wrapped);
  bad[bad.length - 1]! ^= 1;
  await assert.rejects(a.unwrapKey(bad), (e) => isCustodianError(e, 'E_HSM_UNWRAP_FAILED'));
  await assert.rejects(b.unwrapKey(wrapped), (e) => isCustodianError(e, 'E_HSM_POLICY'));
  await assert.rejects(a.unwrapKey(wrapped.subarray(0, 20)), (e) => isCustodianError(e, 'E_HSM_UNWRAP_FAILED'));
  await assert.rejects(a.wrapKey(new Secret(new Uint8Array(4))), (e) => isCustodianError(e, 'E_HSM_OPERATION_FAILED'));
  await a.close();
  await assert.rejects(a.sign(new Uint8Array(1)), (e) => isCustodianError(e, 'E_HSM_UNAVAILABLE'));
});

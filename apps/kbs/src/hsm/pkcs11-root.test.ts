/**
 * The PKCS#11 root against a real SoftHSM2 token in a temporary directory.
 * SOFTHSM2_CONF is set for this process before the module is first loaded.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createECDH, createPublicKey, verify } from 'node:crypto';
import pkcs11js from 'pkcs11js';
import { Secret } from '@custodian/core/secret';
import { isCustodianError } from '@custodian/core/errors';
import { createSoftHsmStore, initSoftHsmToken, type SoftHsmStore } from './softhsm-token.js';
import { generateRootKey, openPkcs11Root, trimTokenLabel } from './pkcs11-root.js';
import { ROOT_KEY_USAGE } from './key-policy.js';
import { pkcs11ErrorToCustodian } from './pkcs11-errors.js';

const PIN = '4321';
let store: SoftHsmStore;

before(() => {
  store = createSoftHsmStore(mkdtempSync(join(tmpdir(), 'kbs-hsm-')));
  for (const label of ['main', 'planted', 'mixed', 'fresh', 'pin']) initSoftHsmToken(store, label, PIN, '87654321');
  process.env['SOFTHSM2_CONF'] = store.confPath;
});

function config(tokenLabel: string, pin = PIN) {
  return { modulePath: store.modulePath, tokenLabel, pin: new Secret(pin), retryBackoffMs: 1 };
}

/** A raw session on a token, for planting objects behind the wrapper's back. */
function rawSession(label: string): { p11: pkcs11js.PKCS11; session: Buffer } {
  const p11 = new pkcs11js.PKCS11();
  p11.load(store.modulePath);
  try {
    p11.C_Initialize();
  } catch {
    // already initialised by the root in this process
  }
  const slot = p11.C_GetSlotList(true).find((s) => trimTokenLabel(p11.C_GetTokenInfo(s).label) === label);
  assert.ok(slot);
  const session = p11.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION);
  try {
    p11.C_Login(session, pkcs11js.CKU_USER, PIN);
  } catch {
    // already logged in through another session of this application
  }
  return { p11, session };
}

test('provisions non-extractable root keys and wraps, unwraps, signs and agrees through SoftHSM2', async () => {
  const root = await openPkcs11Root(config('main'), { provision: true });
  assert.equal(root.kind, 'pkcs11');
  const key = new Uint8Array(32).fill(7);
  const wrapped = await root.wrapKey(new Secret(key));
  assert.notDeepEqual(wrapped.subarray(17), key);
  assert.deepEqual((await root.unwrapKey(wrapped)).expose(), key);

  const msg = new TextEncoder().encode('release receipt');
  const sig = await root.sign(msg);
  const pub = await root.publicKey('kbs-signing');
  const jwk = { kty: 'EC', crv: 'P-256', x: Buffer.from(pub.subarray(1, 33)).toString('base64url'), y: Buffer.from(pub.subarray(33)).toString('base64url') };
  assert.ok(verify('sha256', msg, { key: createPublicKey({ key: jwk, format: 'jwk' }), dsaEncoding: 'ieee-p1363' }, sig));

  const eph = createECDH('prime256v1');
  eph.generateKeys();
  const shared = await root.recoveryAgree(new Uint8Array(eph.getPublicKey()));
  assert.deepEqual(Buffer.from(shared.expose()), eph.computeSecret(await root.publicKey('recovery')));
  assert.equal((await root.health()).ok, true);
  await root.close();

  // A second start finds the same keys (no re-provisioning) and unwraps the old blob.
  const again = await openPkcs11Root(config('main'), { provision: false });
  assert.deepEqual((await again.unwrapKey(wrapped)).expose(), key);
  await again.close();
});

test('refuses a tampered wrapped key with E_HSM_UNWRAP_FAILED, not as an outage', async () => {
  const root = await openPkcs11Root(config('main'), { provision: true });
  const wrapped = await root.wrapKey(new Secret(new Uint8Array(32).fill(1)));
  const bad = Uint8Array.from(wrapped);
  bad[bad.length - 3]! ^= 1;
  await assert.rejects(root.unwrapKey(bad), (e) => isCustodianError(e, 'E_HSM_UNWRAP_FAILED'));
  assert.equal((await root.health()).ok, true);
  await root.close();
});

test('B35 refuses to unwrap a blob made under an untrusted wrapping key (E_HSM_POLICY)', async () => {
  const root = await openPkcs11Root(config('main'), { provision: true });
  const wrapped = await root.wrapKey(new Secret(new Uint8Array(32).fill(2)));
  const other = await openPkcs11Root(config('fresh'), { provision: true });
  await assert.rejects(other.unwrapKey(wrapped), (e) => isCustodianError(e, 'E_HSM_POLICY'));
  await root.close();
  await other.close();
});

test('B35 refuses an extractable root-key template before it reaches the module (E_HSM_POLICY)', () => {
  const { p11, session } = rawSession('fresh');
  assert.throws(
    () => generateRootKey(p11, session, 'kbs-wrapping', 'x-kbs-wrapping', { ...ROOT_KEY_USAGE['kbs-wrapping'], extractable: true }),
    (e) => isCustodianError(e, 'E_HSM_POLICY'),
  );
  assert.throws(
    () => generateRootKey(p11, session, 'kbs-wrapping', 'x-kbs-wrapping', { ...ROOT_KEY_USAGE['kbs-wrapping'], decrypt: true }),
    (e) => isCustodianError(e, 'E_HSM_POLICY') && /mixes key wrapping/.test(e.message),
  );
  assert.throws(
    () => generateRootKey(p11, session, 'recovery', 'x-recovery', { ...ROOT_KEY_USAGE.recovery, sign: true }),
    (e) => isCustodianError(e, 'E_HSM_POLICY'),
  );
  p11.C_CloseSession(session);
});

test('B35 refuses to open a token whose root key was planted extractable (E_HSM_POLICY)', async () => {
  const { p11, session } = rawSession('planted');
  p11.C_GenerateKey(session, { mechanism: pkcs11js.CKM_AES_KEY_GEN }, [
    { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY },
    { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_AES },
    { type: pkcs11js.CKA_VALUE_LEN, value: 32 },
    { type: pkcs11js.CKA_TOKEN, value: true },
    { type: pkcs11js.CKA_LABEL, value: 'custodian-kbs-wrapping' },
    { type: pkcs11js.CKA_ID, value: Buffer.alloc(16, 1) },
    { type: pkcs11js.CKA_WRAP, value: true },
    { type: pkcs11js.CKA_UNWRAP, value: true },
    { type: pkcs11js.CKA_EXTRACTABLE, value: true },
    { type: pkcs11js.CKA_SENSITIVE, value: false },
  ]);
  p11.C_CloseSession(session);
  await assert.rejects(openPkcs11Root(config('planted'), { provision: true }), (e) => isCustodianError(e, 'E_HSM_POLICY') && /extractable/.test(e.message));
});

test('B35 refuses to open a token whose wrapping key also decrypts (E_HSM_POLICY)', async () => {
  const { p11, session } = rawSession('mixed');
  p11.C_GenerateKey(session, { mechanism: pkcs11js.CKM_AES_KEY_GEN }, [
    { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY },
    { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_AES },
    { type: pkcs11js.CKA_VALUE_LEN, value: 32 },
    { type: pkcs11js.CKA_TOKEN, value: true },
    { type: pkcs11js.CKA_LABEL, value: 'custodian-kbs-wrapping' },
    { type: pkcs11js.CKA_ID, value: Buffer.alloc(16, 2) },
    { type: pkcs11js.CKA_WRAP, value: true },
    { type: pkcs11js.CKA_UNWRAP, value: true },
    { type: pkcs11js.CKA_DECRYPT, value: true },
    { type: pkcs11js.CKA_EXTRACTABLE, value: false },
    { type: pkcs11js.CKA_SENSITIVE, value: true },
  ]);
  p11.C_CloseSession(session);
  await assert.rejects(openPkcs11Root(config('mixed'), { provision: true }), (e) => isCustodianError(e, 'E_HSM_POLICY') && /mixes key wrapping/.test(e.message));
});

test('B35 the module itself refuses to make a root key extractable; the wrapper surfaces E_HSM_POLICY', async () => {
  const root = await openPkcs11Root(config('main'), { provision: true });
  await root.close();
  const { p11, session } = rawSession('main');
  p11.C_FindObjectsInit(session, [{ type: pkcs11js.CKA_LABEL, value: 'custodian-kbs-wrapping' }]);
  const kek = p11.C_FindObjects(session, 1)[0];
  p11.C_FindObjectsFinal(session);
  assert.ok(kek);
  let caught: unknown;
  try {
    p11.C_SetAttributeValue(session, kek, [{ type: pkcs11js.CKA_EXTRACTABLE, value: true }]);
  } catch (e) {
    caught = e;
  }
  assert.ok(caught, 'SoftHSM must refuse');
  assert.equal(pkcs11ErrorToCustodian(caught, 'setAttribute').code, 'E_HSM_POLICY', String(caught) + ' ' + String((caught as {code?: unknown}).code));
  // And the HSM will not wrap the non-extractable root out under itself.
  caught = undefined;
  try {
    p11.C_WrapKey(session, { mechanism: pkcs11js.CKM_AES_KEY_WRAP_PAD }, kek, kek, Buffer.alloc(128));
  } catch (e) {
    caught = e;
  }
  assert.equal(pkcs11ErrorToCustodian(caught, 'wrapKey').code, 'E_HSM_POLICY', String(caught));
  p11.C_CloseSession(session);
});

test('a wrong PIN is E_HSM_LOGIN_FAILED, and a missing key without provisioning is E_HSM_KEY_MISSING', async () => {
  await assert.rejects(openPkcs11Root(config('pin', '0000'), { provision: false }), (e) => isCustodianError(e, 'E_HSM_LOGIN_FAILED'));
  await assert.rejects(openPkcs11Root({ ...config('fresh'), keyLabelPrefix: 'nothing-here' }, { provision: false }), (e) => isCustodianError(e, 'E_HSM_KEY_MISSING'));
});

test('an unknown token label is E_HSM_UNAVAILABLE after bounded retries; a missing module is E_HSM_CONFIG', async () => {
  let sleeps = 0;
  await assert.rejects(
    openPkcs11Root({ ...config('no-such-token'), retryAttempts: 3, sleep: async () => void sleeps++ }, { provision: false }),
    (e) => isCustodianError(e, 'E_HSM_UNAVAILABLE') && e.detail['attempts'] === 3,
  );
  assert.equal(sleeps, 2);
  await assert.rejects(openPkcs11Root({ ...config('main'), modulePath: '/nonexistent/libpkcs11.so' }, { provision: false }), (e) => isCustodianError(e, 'E_HSM_CONFIG'));
});

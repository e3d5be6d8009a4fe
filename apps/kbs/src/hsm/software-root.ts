/**
 * SOFTWARE ROOT OF TRUST — NOT AN HSM. The embedded default for one-machine
 * development and the demo: the root keys live in this process's memory (and,
 * when a file is given, in that file, unencrypted). Anyone who can read the
 * process or the file has every root key. Production uses `pkcs11-root.ts`.
 * It reports itself as `kind: 'software'` everywhere (health, demo output)
 * and prints a warning when opened, so it is never mistaken for an HSM.
 */
import { createCipheriv, createDecipheriv, createECDH, createPrivateKey, sign as nodeSign, randomBytes, type KeyObject } from 'node:crypto';
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { CustodianError } from '@custodian/core/errors';
import { bytesToHex, hexToBytes } from '@custodian/core/bytes';
import { Secret } from '@custodian/core/secret';
import type { AsymmetricRootRole, RootHealth, RootOfTrust } from './root-of-trust.js';
import { KEY_ID_BYTES, checkWrapInput, decodeWrappedBlob, encodeWrappedBlob, parseP256Point } from './wrapped-blob.js';

/** The warning printed when a software root is opened. */
export const SOFTWARE_ROOT_WARNING =
  'WARNING: using the SOFTWARE root of trust (no HSM). Root keys are held in process memory and in plain files. For development only; configure a PKCS#11 HSM for production.';

/** RFC 5649 initial value prefix (AIV constant) used by Node's id-aes256-wrap-pad. */
const AES_WRAP_PAD_IV = Buffer.from('a65959a6', 'hex');

interface SoftwareKeys {
  readonly wrappingKey: Uint8Array;
  readonly wrappingId: Uint8Array;
  readonly recoveryPrivate: Uint8Array;
  readonly signingPrivate: Uint8Array;
}

/** Options of `openSoftwareRoot`. */
export interface SoftwareRootOptions {
  /** Persist the root keys to this file (plaintext!) and reuse them on the next start. */
  readonly file?: string;
  /** Where the loud warning goes; stderr by default. */
  readonly warn?: (line: string) => void;
}

/** Opens the software root (generating keys on first use). */
export async function openSoftwareRoot(options: SoftwareRootOptions = {}): Promise<RootOfTrust> {
  (options.warn ?? ((l: string) => process.stderr.write(l + '\n')))(SOFTWARE_ROOT_WARNING);
  let keys: SoftwareKeys;
  if (options.file !== undefined && existsSync(options.file)) keys = loadKeys(options.file);
  else {
    keys = {
      wrappingKey: new Uint8Array(randomBytes(32)),
      wrappingId: new Uint8Array(randomBytes(KEY_ID_BYTES)),
      recoveryPrivate: newP256Private(),
      signingPrivate: newP256Private(),
    };
    if (options.file !== undefined) saveKeys(options.file, keys);
  }
  return new SoftwareRoot(keys);
}

function newP256Private(): Uint8Array {
  const ecdh = createECDH('prime256v1');
  ecdh.generateKeys();
  return new Uint8Array(ecdh.getPrivateKey());
}

function p256Public(priv: Uint8Array): Uint8Array {
  const ecdh = createECDH('prime256v1');
  ecdh.setPrivateKey(priv);
  return new Uint8Array(ecdh.getPublicKey());
}

function saveKeys(file: string, k: SoftwareKeys): void {
  const doc = {
    warning: SOFTWARE_ROOT_WARNING,
    wrappingKey: bytesToHex(k.wrappingKey),
    wrappingId: bytesToHex(k.wrappingId),
    recoveryPrivate: bytesToHex(k.recoveryPrivate),
    signingPrivate: bytesToHex(k.signingPrivate),
  };
  writeFileSync(file, JSON.stringify(doc, null, 2) + '\n', { mode: 0o600 });
}

function loadKeys(file: string): SoftwareKeys {
  try {
    const doc = JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>;
    return {
      wrappingKey: hexToBytes(doc['wrappingKey'] ?? '', 'wrappingKey'),
      wrappingId: hexToBytes(doc['wrappingId'] ?? '', 'wrappingId'),
      recoveryPrivate: hexToBytes(doc['recoveryPrivate'] ?? '', 'recoveryPrivate'),
      signingPrivate: hexToBytes(doc['signingPrivate'] ?? '', 'signingPrivate'),
    };
  } catch (e) {
    throw new CustodianError('E_HSM_CONFIG', `cannot read the software root file ${file}`, { cause: e instanceof Error ? e.message : String(e) });
  }
}

class SoftwareRoot implements RootOfTrust {
  readonly kind = 'software' as const;
  #keys: SoftwareKeys | undefined;
  readonly #signingKey: KeyObject;

  constructor(keys: SoftwareKeys) {
    this.#keys = keys;
    const pub = p256Public(keys.signingPrivate);
    this.#signingKey = createPrivateKey({
      key: { kty: 'EC', crv: 'P-256', d: b64u(keys.signingPrivate), x: b64u(pub.subarray(1, 33)), y: b64u(pub.subarray(33, 65)) },
      format: 'jwk',
    });
  }

  #k(): SoftwareKeys {
    if (!this.#keys) throw new CustodianError('E_HSM_UNAVAILABLE', 'the software root was closed', {});
    return this.#keys;
  }

  async wrapKey(key: Secret<Uint8Array>): Promise<Uint8Array> {
    const bytes = key.expose();
    checkWrapInput(bytes);
    const k = this.#k();
    const c = createCipheriv('id-aes256-wrap-pad', k.wrappingKey, AES_WRAP_PAD_IV);
    return encodeWrappedBlob(k.wrappingId, new Uint8Array(Buffer.concat([c.update(bytes), c.final()])));
  }

  async unwrapKey(wrapped: Uint8Array): Promise<Secret<Uint8Array>> {
    const k = this.#k();
    const body = decodeWrappedBlob(wrapped, k.wrappingId);
    try {
      const d = createDecipheriv('id-aes256-wrap-pad', k.wrappingKey, AES_WRAP_PAD_IV);
      return new Secret(new Uint8Array(Buffer.concat([d.update(body), d.final()])));
    } catch {
      throw new CustodianError('E_HSM_UNWRAP_FAILED', 'the wrapped key does not authenticate under the KBS wrapping key', {});
    }
  }

  async sign(message: Uint8Array): Promise<Uint8Array> {
    this.#k();
    return new Uint8Array(nodeSign('sha256', message, { key: this.#signingKey, dsaEncoding: 'ieee-p1363' }));
  }

  async publicKey(role: AsymmetricRootRole): Promise<Uint8Array> {
    const k = this.#k();
    return p256Public(role === 'recovery' ? k.recoveryPrivate : k.signingPrivate);
  }

  async recoveryAgree(peerPublicKey: Uint8Array): Promise<Secret<Uint8Array>> {
    const k = this.#k();
    const peer = parseP256Point(peerPublicKey);
    const ecdh = createECDH('prime256v1');
    ecdh.setPrivateKey(k.recoveryPrivate);
    try {
      return new Secret(new Uint8Array(ecdh.computeSecret(peer)));
    } catch {
      throw new CustodianError('E_HSM_OPERATION_FAILED', 'the peer public key is not a valid P-256 point', {});
    }
  }

  async health(): Promise<RootHealth> {
    const ok = this.#keys !== undefined;
    return { ok, kind: 'software', description: 'SOFTWARE root of trust (no HSM; development only)', reasons: ok ? [] : ['closed'] };
  }

  async close(): Promise<void> {
    const k = this.#keys;
    this.#keys = undefined;
    if (k) for (const b of [k.wrappingKey, k.recoveryPrivate, k.signingPrivate]) b.fill(0);
  }
}

function b64u(b: Uint8Array): string {
  return Buffer.from(b).toString('base64url');
}


/**
 * A root of trust in a PKCS#11 HSM (SoftHSM2 in development and tests; Thales
 * Luna, AWS CloudHSM, YubiHSM 2 in production: configured by module path,
 * token label or slot, and PIN — see apps/kbs/README.md).
 *
 * Root keys are generated inside the token, non-extractable and sensitive,
 * and are checked against the root-key policy every time they are found
 * (key-policy.ts, THREATS.md B35). Failures of the module or the session are
 * retried a bounded number of times on a fresh session and then surface as
 * E_HSM_UNAVAILABLE; there is no fallback to a software key (THREATS.md F10).
 */
import { createHash, randomBytes } from 'node:crypto';
import pkcs11js from 'pkcs11js';
import { CustodianError } from '@custodian/core/errors';
import { Secret } from '@custodian/core/secret';
import { ROOT_KEY_USAGE, assertRootKeyPolicy, type KeyUsage } from './key-policy.js';
import { classifyPkcs11Failure, ckrNameOf, ckrOf, pkcs11ErrorToCustodian } from './pkcs11-errors.js';
import { WRAPPED_BYTES_MAX, type AsymmetricRootRole, type RootHealth, type RootKeyRole, type RootOfTrust } from './root-of-trust.js';
import { decodeWrappedBlob, encodeWrappedBlob, checkWrapInput, ecdsaSignatureToP1363Checked, parseP256Point, KEY_ID_BYTES } from './wrapped-blob.js';

/** Default number of attempts for one operation before E_HSM_UNAVAILABLE. */
export const HSM_RETRY_ATTEMPTS_DEFAULT = 3;
/** Default first back-off between attempts; doubles each time. */
export const HSM_RETRY_BACKOFF_MS_DEFAULT = 50;
/** Upper bound on attempts whatever the configuration says. */
export const HSM_RETRY_ATTEMPTS_MAX = 10;
/** Longest single back-off. */
export const HSM_RETRY_BACKOFF_MS_MAX = 5_000;
/** Most objects inspected when searching one label (a token full of look-alikes is refused). */
export const HSM_OBJECTS_PER_LABEL_MAX = 4;

/** DER OID of prime256v1 / secp256r1, the value of CKA_EC_PARAMS. */
const P256_EC_PARAMS = Buffer.from('06082a8648ce3d030107', 'hex');

/** Mechanisms every root needs: key generation, RFC 5649 wrap, ECDSA, ECDH. */
export const REQUIRED_MECHANISMS: readonly (readonly [number, string])[] = [
  [pkcs11js.CKM_AES_KEY_GEN, 'CKM_AES_KEY_GEN'],
  [pkcs11js.CKM_AES_KEY_WRAP_PAD, 'CKM_AES_KEY_WRAP_PAD'],
  [pkcs11js.CKM_EC_KEY_PAIR_GEN, 'CKM_EC_KEY_PAIR_GEN'],
  [pkcs11js.CKM_ECDSA, 'CKM_ECDSA'],
  [pkcs11js.CKM_ECDH1_DERIVE, 'CKM_ECDH1_DERIVE'],
];

/** How to reach the token. */
export interface Pkcs11RootConfig {
  /** Path of the vendor's PKCS#11 module (`/usr/lib/softhsm/libsofthsm2.so`, `/opt/cloudhsm/lib/libcloudhsm_pkcs11.so`, ...). */
  readonly modulePath: string;
  /** The token's label (preferred) ... */
  readonly tokenLabel?: string;
  /** ... or the index in the module's list of slots with a token present. */
  readonly slotIndex?: number;
  /** The crypto-user PIN (CloudHSM: `user:password`). */
  readonly pin: Secret<string>;
  /** Prefix of the root keys' CKA_LABELs (`<prefix>-kbs-wrapping`, ...). */
  readonly keyLabelPrefix?: string;
  /** Attempts per operation (bounded by HSM_RETRY_ATTEMPTS_MAX). */
  readonly retryAttempts?: number;
  /** First back-off in ms (bounded by HSM_RETRY_BACKOFF_MS_MAX). */
  readonly retryBackoffMs?: number;
  /** Injected sleep, for tests. */
  readonly sleep?: (ms: number) => Promise<void>;
  /** Called on every module error, retried or not (the caller audits `hsm.error`). */
  readonly onError?: (event: { operation: string; ckr: string; attempt: number; final: boolean }) => void;
}

/** Options of `openPkcs11Root`. */
export interface OpenPkcs11Options {
  /** Generate missing root keys (first start); otherwise a missing key is E_HSM_KEY_MISSING. */
  readonly provision: boolean;
}

const modules = new Map<string, pkcs11js.PKCS11>();

/** Loads and initialises a module once per process (a second C_Initialize is an error in PKCS#11). */
function loadModule(path: string): pkcs11js.PKCS11 {
  const known = modules.get(path);
  if (known) return known;
  const p11 = new pkcs11js.PKCS11();
  try {
    p11.load(path);
  } catch (e) {
    throw new CustodianError('E_HSM_CONFIG', `cannot load the PKCS#11 module ${path}`, { modulePath: path, cause: e instanceof Error ? e.message : String(e) });
  }
  try {
    p11.C_Initialize({ flags: pkcs11js.CKF_OS_LOCKING_OK });
  } catch (e) {
    if (ckrOf(e) !== pkcs11js.CKR_CRYPTOKI_ALREADY_INITIALIZED) throw pkcs11ErrorToCustodian(e, 'C_Initialize');
  }
  modules.set(path, p11);
  return p11;
}

/** A token label as the module reports it, without the padding (spaces per spec, NULs from some tools). */
export function trimTokenLabel(label: string): string {
  // eslint-disable-next-line no-control-regex -- PKCS#11 labels are fixed-width; pkcs11js's C_InitToken pads with NUL
  return label.replace(/[\s\u0000]+$/u, '');
}

interface Handles {
  readonly session: Buffer;
  readonly wrapping: Buffer;
  readonly wrappingId: Uint8Array;
  readonly recovery: Buffer;
  readonly recoveryPublic: Uint8Array;
  readonly signing: Buffer;
  readonly signingPublic: Uint8Array;
}

/** Opens (and with `provision`, initialises) the root keys on a PKCS#11 token. */
export async function openPkcs11Root(config: Pkcs11RootConfig, options: OpenPkcs11Options): Promise<RootOfTrust> {
  if ((config.tokenLabel === undefined) === (config.slotIndex === undefined)) {
    throw new CustodianError('E_HSM_CONFIG', 'give exactly one of tokenLabel and slotIndex', {});
  }
  const root = new Pkcs11Root(config, loadModule(config.modulePath));
  await root.run('open', (h) => h, options.provision);
  return root;
}

class Pkcs11Root implements RootOfTrust {
  readonly kind = 'pkcs11' as const;
  #handles: Handles | undefined;
  #closed = false;
  readonly #attempts: number;
  readonly #backoffMs: number;
  readonly #sleep: (ms: number) => Promise<void>;

  constructor(
    readonly config: Pkcs11RootConfig,
    readonly p11: pkcs11js.PKCS11,
  ) {
    this.#attempts = Math.min(Math.max(1, config.retryAttempts ?? HSM_RETRY_ATTEMPTS_DEFAULT), HSM_RETRY_ATTEMPTS_MAX);
    this.#backoffMs = Math.min(Math.max(0, config.retryBackoffMs ?? HSM_RETRY_BACKOFF_MS_DEFAULT), HSM_RETRY_BACKOFF_MS_MAX);
    this.#sleep = config.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
  }

  get #label(): string {
    return this.config.tokenLabel !== undefined ? `token "${this.config.tokenLabel}"` : `slot #${String(this.config.slotIndex)}`;
  }

  /**
   * Runs `fn` on a live session: transient failures drop the session and
   * retry with doubling back-off up to the bound, then E_HSM_UNAVAILABLE.
   */
  async run<T>(operation: string, fn: (h: Handles) => T, provision = false): Promise<T> {
    if (this.#closed) throw new CustodianError('E_HSM_UNAVAILABLE', 'the HSM root was closed', { operation });
    let lastCkr = 'unknown';
    for (let attempt = 1; attempt <= this.#attempts; attempt++) {
      try {
        this.#handles ??= this.#connect(provision);
        return fn(this.#handles);
      } catch (e) {
        if (e instanceof CustodianError) throw e;
        const kind = classifyPkcs11Failure(e);
        lastCkr = ckrNameOf(e);
        const retry = kind === 'transient' || (kind === 'ambiguous' && !this.#probeAfterFailure());
        this.config.onError?.({ operation, ckr: lastCkr, attempt, final: !retry || attempt === this.#attempts });
        if (!retry) {
          // An ambiguous failure on a healthy device is the input's fault.
          throw pkcs11ErrorToCustodian(kind === 'ambiguous' ? new pkcs11js.Pkcs11Error(`CKR_WRAPPED_KEY_INVALID (${lastCkr})`, pkcs11js.CKR_WRAPPED_KEY_INVALID, operation) : e, operation);
        }
        this.#dropSession();
        if (attempt < this.#attempts) await this.#sleep(Math.min(this.#backoffMs * 2 ** (attempt - 1), HSM_RETRY_BACKOFF_MS_MAX));
      }
    }
    throw new CustodianError('E_HSM_UNAVAILABLE', `the HSM (${this.#label}) is unavailable for ${operation} after ${this.#attempts} attempts (${lastCkr}); no software fallback is used`, {
      operation,
      attempts: this.#attempts,
      ckr: lastCkr,
    });
  }

  /** True when a fresh session can be opened and the root keys found (used to tell bad input from a dead device). */
  #probeAfterFailure(): boolean {
    this.#dropSession();
    try {
      this.#handles = this.#connect(false);
      return true;
    } catch {
      this.#handles = undefined;
      return false;
    }
  }

  #dropSession(): void {
    const h = this.#handles;
    this.#handles = undefined;
    if (h) {
      try {
        this.p11.C_CloseSession(h.session);
      } catch {
        // The session is already gone with the device; nothing to release.
      }
    }
  }

  #findSlot(): Buffer {
    const slots = this.p11.C_GetSlotList(true);
    if (this.config.slotIndex !== undefined) {
      const s = slots[this.config.slotIndex];
      if (!s) throw new pkcs11js.Pkcs11Error('CKR_TOKEN_NOT_PRESENT', pkcs11js.CKR_TOKEN_NOT_PRESENT, 'C_GetSlotList');
      return s;
    }
    const found = slots.filter((s) => trimTokenLabel(this.p11.C_GetTokenInfo(s).label) === this.config.tokenLabel);
    if (found.length > 1) throw new CustodianError('E_HSM_CONFIG', `more than one token is labelled "${this.config.tokenLabel}"`, {});
    const slot = found[0];
    if (!slot) throw new pkcs11js.Pkcs11Error('CKR_TOKEN_NOT_PRESENT', pkcs11js.CKR_TOKEN_NOT_PRESENT, 'C_GetSlotList');
    return slot;
  }

  #connect(provision: boolean): Handles {
    const slot = this.#findSlot();
    const available = new Set(this.p11.C_GetMechanismList(slot));
    const missing = REQUIRED_MECHANISMS.filter(([m]) => !available.has(m)).map(([, name]) => name);
    if (missing.length > 0) {
      throw new CustodianError('E_HSM_CONFIG', `the token (${this.#label}) lacks mechanisms the key broker needs: ${missing.join(', ')}`, { missing });
    }
    const session = this.p11.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION);
    try {
      try {
        this.p11.C_Login(session, pkcs11js.CKU_USER, this.config.pin.expose());
      } catch (e) {
        if (ckrOf(e) !== pkcs11js.CKR_USER_ALREADY_LOGGED_IN) throw e;
      }
      const wrapping = this.#findOrCreate(session, 'kbs-wrapping', provision);
      const recovery = this.#findOrCreate(session, 'recovery', provision);
      const signing = this.#findOrCreate(session, 'kbs-signing', provision);
      return {
        session,
        wrapping: wrapping.handle,
        wrappingId: wrapping.id,
        recovery: recovery.handle,
        recoveryPublic: recovery.publicPoint,
        signing: signing.handle,
        signingPublic: signing.publicPoint,
      };
    } catch (e) {
      try {
        this.p11.C_CloseSession(session);
      } catch {
        // Best effort; the original failure is what matters.
      }
      throw e;
    }
  }

  #keyLabel(role: RootKeyRole): string {
    return `${this.config.keyLabelPrefix ?? 'custodian'}-${role}`;
  }

  #find(session: Buffer, template: pkcs11js.Template): Buffer[] {
    this.p11.C_FindObjectsInit(session, template);
    try {
      return this.p11.C_FindObjects(session, HSM_OBJECTS_PER_LABEL_MAX + 1);
    } finally {
      this.p11.C_FindObjectsFinal(session);
    }
  }

  #findOrCreate(session: Buffer, role: RootKeyRole, provision: boolean): { handle: Buffer; id: Uint8Array; publicPoint: Uint8Array } {
    const label = this.#keyLabel(role);
    const cls = role === 'kbs-wrapping' ? pkcs11js.CKO_SECRET_KEY : pkcs11js.CKO_PRIVATE_KEY;
    let handles = this.#find(session, [
      { type: pkcs11js.CKA_CLASS, value: cls },
      { type: pkcs11js.CKA_LABEL, value: label },
    ]);
    if (handles.length === 0) {
      if (!provision) throw new CustodianError('E_HSM_KEY_MISSING', `the ${role} root key (label "${label}") is not on the HSM (${this.#label})`, { role, label });
      generateRootKey(this.p11, session, role, label, ROOT_KEY_USAGE[role]);
      handles = this.#find(session, [
        { type: pkcs11js.CKA_CLASS, value: cls },
        { type: pkcs11js.CKA_LABEL, value: label },
      ]);
    }
    if (handles.length !== 1) throw new CustodianError('E_HSM_POLICY', `expected exactly one ${role} root key labelled "${label}", found ${handles.length}`, { role, label, found: handles.length });
    const handle = handles[0]!;
    assertRootKeyPolicy(role, readUsage(this.p11, session, handle), `key "${label}" on the token`);
    const id = new Uint8Array(this.p11.C_GetAttributeValue(session, handle, [{ type: pkcs11js.CKA_ID }])[0]?.value ?? Buffer.alloc(0));
    if (role === 'kbs-wrapping') {
      if (id.length !== KEY_ID_BYTES) throw new CustodianError('E_HSM_POLICY', `the ${role} key has no ${KEY_ID_BYTES}-byte CKA_ID`, { role });
      return { handle, id, publicPoint: new Uint8Array(0) };
    }
    const pubs = this.#find(session, [
      { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PUBLIC_KEY },
      { type: pkcs11js.CKA_LABEL, value: label },
    ]);
    if (pubs.length !== 1) throw new CustodianError('E_HSM_KEY_MISSING', `expected exactly one public key labelled "${label}", found ${pubs.length}`, { role, label });
    const point = this.p11.C_GetAttributeValue(session, pubs[0]!, [{ type: pkcs11js.CKA_EC_POINT }])[0]?.value;
    return { handle, id, publicPoint: parseP256Point(new Uint8Array(point ?? Buffer.alloc(0))) };
  }

  async wrapKey(key: Secret<Uint8Array>): Promise<Uint8Array> {
    const bytes = key.expose();
    checkWrapInput(bytes);
    return this.run('wrapKey', (h) => {
      const obj = this.p11.C_CreateObject(h.session, [
        { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY },
        { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_GENERIC_SECRET },
        { type: pkcs11js.CKA_TOKEN, value: false },
        { type: pkcs11js.CKA_VALUE, value: Buffer.from(bytes) },
        { type: pkcs11js.CKA_EXTRACTABLE, value: true },
        { type: pkcs11js.CKA_SENSITIVE, value: false },
      ]);
      try {
        const out = this.p11.C_WrapKey(h.session, { mechanism: pkcs11js.CKM_AES_KEY_WRAP_PAD }, h.wrapping, obj, Buffer.alloc(WRAPPED_BYTES_MAX));
        return encodeWrappedBlob(h.wrappingId, new Uint8Array(out));
      } finally {
        this.p11.C_DestroyObject(h.session, obj);
      }
    });
  }

  async unwrapKey(wrapped: Uint8Array): Promise<Secret<Uint8Array>> {
    return this.run('unwrapKey', (h) => {
      const body = decodeWrappedBlob(wrapped, h.wrappingId);
      const obj = this.p11.C_UnwrapKey(h.session, { mechanism: pkcs11js.CKM_AES_KEY_WRAP_PAD }, h.wrapping, Buffer.from(body), [
        { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY },
        { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_GENERIC_SECRET },
        { type: pkcs11js.CKA_TOKEN, value: false },
        // The unwrapped key is a data key destined for an attested enclave; it
        // is read once and destroyed. Root keys are never made this way.
        { type: pkcs11js.CKA_EXTRACTABLE, value: true },
        { type: pkcs11js.CKA_SENSITIVE, value: false },
      ]);
      try {
        const value = this.p11.C_GetAttributeValue(h.session, obj, [{ type: pkcs11js.CKA_VALUE }])[0]?.value;
        if (!value) throw new CustodianError('E_HSM_OPERATION_FAILED', 'the HSM returned no value for the unwrapped key', {});
        const out = new Uint8Array(value);
        value.fill(0);
        return new Secret(out);
      } finally {
        this.p11.C_DestroyObject(h.session, obj);
      }
    });
  }

  async sign(message: Uint8Array): Promise<Uint8Array> {
    const digest = createHash('sha256').update(message).digest();
    return this.run('sign', (h) => {
      // CKM_ECDSA over a digest computed here works on every module (not all have CKM_ECDSA_SHA256).
      this.p11.C_SignInit(h.session, { mechanism: pkcs11js.CKM_ECDSA }, h.signing);
      return ecdsaSignatureToP1363Checked(new Uint8Array(this.p11.C_Sign(h.session, digest, Buffer.alloc(132))));
    });
  }

  async publicKey(role: AsymmetricRootRole): Promise<Uint8Array> {
    return this.run('publicKey', (h) => new Uint8Array(role === 'recovery' ? h.recoveryPublic : h.signingPublic));
  }

  async recoveryAgree(peerPublicKey: Uint8Array): Promise<Secret<Uint8Array>> {
    const peer = parseP256Point(peerPublicKey);
    return this.run('recoveryAgree', (h) => {
      const params: pkcs11js.ECDH1 = { type: pkcs11js.CK_PARAMS_EC_DH, kdf: pkcs11js.CKD_NULL, publicData: Buffer.from(peer) };
      const obj = this.p11.C_DeriveKey(h.session, { mechanism: pkcs11js.CKM_ECDH1_DERIVE, parameter: params }, h.recovery, [
        { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY },
        { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_GENERIC_SECRET },
        { type: pkcs11js.CKA_VALUE_LEN, value: 32 },
        { type: pkcs11js.CKA_TOKEN, value: false },
        { type: pkcs11js.CKA_EXTRACTABLE, value: true },
        { type: pkcs11js.CKA_SENSITIVE, value: false },
      ]);
      try {
        const value = this.p11.C_GetAttributeValue(h.session, obj, [{ type: pkcs11js.CKA_VALUE }])[0]?.value;
        if (!value || value.length !== 32) throw new CustodianError('E_HSM_OPERATION_FAILED', 'the HSM returned no 32-byte ECDH secret', {});
        const out = new Uint8Array(value);
        value.fill(0);
        return new Secret(out);
      } finally {
        this.p11.C_DestroyObject(h.session, obj);
      }
    });
  }

  async health(): Promise<RootHealth> {
    const description = `PKCS#11 ${this.config.modulePath} ${this.#label}`;
    try {
      await this.run('health', (h) => this.p11.C_GetSessionInfo(h.session));
      return { ok: true, kind: 'pkcs11', description, reasons: [] };
    } catch (e) {
      return { ok: false, kind: 'pkcs11', description, reasons: [e instanceof Error ? e.message : String(e)] };
    }
  }

  async close(): Promise<void> {
    this.#dropSession();
    this.#closed = true;
  }
}

/** Reads a key's usage flags from the token. */
export function readUsage(p11: pkcs11js.PKCS11, session: Buffer, handle: Buffer): KeyUsage {
  const types = [pkcs11js.CKA_EXTRACTABLE, pkcs11js.CKA_SENSITIVE, pkcs11js.CKA_WRAP, pkcs11js.CKA_UNWRAP, pkcs11js.CKA_ENCRYPT, pkcs11js.CKA_DECRYPT, pkcs11js.CKA_SIGN, pkcs11js.CKA_DERIVE];
  const flags = types.map((type) => {
    try {
      const v = p11.C_GetAttributeValue(session, handle, [{ type }])[0]?.value;
      return v !== undefined && v.length > 0 && v[0] !== 0;
    } catch (e) {
      // An attribute that does not apply to the class (CKA_WRAP on a private key) reads as false.
      if (ckrOf(e) === pkcs11js.CKR_ATTRIBUTE_TYPE_INVALID) return false;
      throw e;
    }
  });
  const [extractable, sensitive, wrap, unwrap, encrypt, decrypt, sign, derive] = flags as [boolean, boolean, boolean, boolean, boolean, boolean, boolean, boolean];
  return { extractable, sensitive, wrap, unwrap, encrypt, decrypt, sign, derive };
}

/**
 * Generates a root key on the token after checking `usage` against the
 * root-key policy: an abusive template never reaches the module (B35).
 */
export function generateRootKey(p11: pkcs11js.PKCS11, session: Buffer, role: RootKeyRole, label: string, usage: KeyUsage): void {
  assertRootKeyPolicy(role, usage, `template for "${label}"`);
  const id = Buffer.from(randomBytes(KEY_ID_BYTES));
  const common: pkcs11js.Template = [
    { type: pkcs11js.CKA_TOKEN, value: true },
    { type: pkcs11js.CKA_PRIVATE, value: true },
    { type: pkcs11js.CKA_LABEL, value: label },
    { type: pkcs11js.CKA_ID, value: id },
    { type: pkcs11js.CKA_EXTRACTABLE, value: usage.extractable },
    { type: pkcs11js.CKA_SENSITIVE, value: usage.sensitive },
    { type: pkcs11js.CKA_SIGN, value: usage.sign },
    { type: pkcs11js.CKA_DERIVE, value: usage.derive },
    { type: pkcs11js.CKA_DECRYPT, value: usage.decrypt },
    { type: pkcs11js.CKA_UNWRAP, value: usage.unwrap },
  ];
  try {
    if (role === 'kbs-wrapping') {
      p11.C_GenerateKey(session, { mechanism: pkcs11js.CKM_AES_KEY_GEN }, [
        { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY },
        { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_AES },
        { type: pkcs11js.CKA_VALUE_LEN, value: 32 },
        { type: pkcs11js.CKA_WRAP, value: usage.wrap },
        { type: pkcs11js.CKA_ENCRYPT, value: usage.encrypt },
        ...common,
      ]);
      return;
    }
    p11.C_GenerateKeyPair(
      session,
      { mechanism: pkcs11js.CKM_EC_KEY_PAIR_GEN },
      [
        { type: pkcs11js.CKA_TOKEN, value: true },
        { type: pkcs11js.CKA_PRIVATE, value: false },
        { type: pkcs11js.CKA_LABEL, value: label },
        { type: pkcs11js.CKA_ID, value: id },
        { type: pkcs11js.CKA_EC_PARAMS, value: P256_EC_PARAMS },
        { type: pkcs11js.CKA_VERIFY, value: usage.sign },
        { type: pkcs11js.CKA_DERIVE, value: usage.derive },
      ],
      common,
    );
  } catch (e) {
    throw pkcs11ErrorToCustodian(e, `generate ${role} key`);
  }
}

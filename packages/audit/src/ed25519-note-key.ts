/**
 * Ed25519 keys for C2SP signed notes (signature type 0x01) and C2SP
 * tlog-cosignature/v1 (type 0x04): key IDs, verifier-key strings (vkeys),
 * signer keys, verifiers and signers. Signing and verification use Node's
 * crypto (OpenSSL Ed25519, RFC 8032).
 */
import { createPrivateKey, createPublicKey, sign as nodeSign, verify as nodeVerify, type KeyObject } from 'node:crypto';
import { concatBytes, utf8 } from '@custodian/core/bytes';
import { Secret } from '@custodian/core/secret';
import { auditError } from './errors.js';
import { decodeBase64Strict, encodeBase64 } from './base64.js';
import { sha256 } from './hash.js';
import { isValidKeyName, type NoteSigner, type NoteVerifier, type VerifiedSignature } from './note.js';

/** signed-note: signature type byte of an Ed25519 note signature. */
export const NOTE_KEY_TYPE_ED25519 = 0x01;
/** tlog-cosignature: signature type byte of an Ed25519 cosignature/v1. */
export const NOTE_KEY_TYPE_COSIGNATURE_V1 = 0x04;
/** tlog-cosignature: the header line that separates cosigned messages. */
export const COSIGNATURE_V1_HEADER = 'cosignature/v1\n';
/** tlog-cosignature: timestamps must not exceed 2^63 - 1; we also need them exact in a number. */
export const COSIGNATURE_TIMESTAMP_MAX = Number.MAX_SAFE_INTEGER;

/** The two Ed25519 key types a note key can have. */
export type Ed25519NoteKeyType = typeof NOTE_KEY_TYPE_ED25519 | typeof NOTE_KEY_TYPE_COSIGNATURE_V1;

const SPKI_ED25519_PREFIX = Uint8Array.from([0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00]);
const PKCS8_ED25519_PREFIX = Uint8Array.from([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20]);
const HEX8_RE = /^[0-9a-f]{8}$/;

/** signed-note key ID: the first 4 bytes of SHA-256(name || "\n" || type || publicKey), big-endian. */
export function noteKeyId(name: string, type: number, publicKey: Uint8Array): number {
  const h = sha256(concatBytes(utf8(name), Uint8Array.of(0x0a, type), publicKey));
  return new DataView(h.buffer, h.byteOffset, 4).getUint32(0, false);
}

/** The verifier-key string `<name>+<keyid hex>+<base64(type || publicKey)>`. */
export function formatVerifierKey(name: string, type: Ed25519NoteKeyType, publicKey: Uint8Array): string {
  checkName(name);
  return `${name}+${noteKeyId(name, type, publicKey).toString(16).padStart(8, '0')}+${encodeBase64(concatBytes(Uint8Array.of(type), publicKey))}`;
}

/** A decoded verifier key. */
export interface VerifierKey {
  readonly name: string;
  readonly keyId: number;
  readonly type: Ed25519NoteKeyType;
  readonly publicKey: Uint8Array;
}

/** Decodes a vkey string; the key ID must match the key (E_KEY_INVALID otherwise). */
export function decodeVerifierKey(vkey: string): VerifierKey {
  const parts = chopKey(vkey.trim());
  if (parts === null) throw auditError('E_KEY_INVALID', 'verifier key must be name+keyid+key');
  const [name, hex, b64] = parts;
  checkName(name);
  if (!HEX8_RE.test(hex)) throw auditError('E_KEY_INVALID', 'verifier key ID must be 8 lower-case hex digits');
  const raw = decodeBase64Strict(b64, 'E_KEY_INVALID', 'verifier key');
  const type = raw[0];
  if (raw.length !== 33 || (type !== NOTE_KEY_TYPE_ED25519 && type !== NOTE_KEY_TYPE_COSIGNATURE_V1)) {
    throw auditError('E_KEY_INVALID', 'verifier key is not an Ed25519 note or cosignature key', { name });
  }
  const publicKey = raw.slice(1);
  const keyId = noteKeyId(name, type, publicKey);
  if (keyId !== parseInt(hex, 16)) throw auditError('E_KEY_INVALID', 'verifier key ID does not match the key', { name });
  return Object.freeze({ name, keyId, type, publicKey });
}

/** A NoteVerifier for a vkey of either type (0x01 note, 0x04 cosignature/v1). */
export function noteVerifierFromKey(key: VerifierKey | string): NoteVerifier {
  const k = typeof key === 'string' ? decodeVerifierKey(key) : key;
  const pub = publicKeyObject(k.publicKey);
  if (k.type === NOTE_KEY_TYPE_ED25519) {
    return Object.freeze({
      name: k.name,
      keyId: k.keyId,
      verify: (text: Uint8Array, sig: Uint8Array): VerifiedSignature | null =>
        sig.length === 64 && nodeVerify(null, text, pub, sig) ? { name: k.name, keyId: k.keyId, timestamp: null } : null,
    });
  }
  return Object.freeze({
    name: k.name,
    keyId: k.keyId,
    verify: (text: Uint8Array, sig: Uint8Array): VerifiedSignature | null => {
      if (sig.length !== 72) return null;
      const t = new DataView(sig.buffer, sig.byteOffset, 8).getBigUint64(0, false);
      if (t > BigInt(COSIGNATURE_TIMESTAMP_MAX)) return null;
      const timestamp = Number(t);
      return nodeVerify(null, cosignatureMessage(text, timestamp), pub, sig.subarray(8)) ? { name: k.name, keyId: k.keyId, timestamp } : null;
    },
  });
}

/** tlog-cosignature: "cosignature/v1\ntime <t>\n" followed by the whole checkpoint note text. */
export function cosignatureMessage(text: Uint8Array, timestamp: number): Uint8Array {
  return concatBytes(utf8(`${COSIGNATURE_V1_HEADER}time ${timestamp}\n`), text);
}

/** An Ed25519 signing key for one note key name and type. */
export class Ed25519NoteKey implements NoteSigner {
  readonly name: string;
  readonly keyId: number;
  readonly type: Ed25519NoteKeyType;
  /** The 32-byte Ed25519 public key. */
  readonly publicKey: Uint8Array;
  readonly #priv: KeyObject;
  readonly #nowSeconds: () => number;

  /**
   * Wraps a 32-byte RFC 8032 seed. Cosignature keys need a clock
   * (seconds since the epoch) for the signed timestamp.
   */
  constructor(name: string, seed: Secret<Uint8Array>, type: Ed25519NoteKeyType = NOTE_KEY_TYPE_ED25519, nowSeconds: () => number = () => Math.floor(Date.now() / 1000)) {
    checkName(name);
    const s = seed.expose();
    if (s.length !== 32) throw auditError('E_KEY_INVALID', 'Ed25519 seed must be 32 bytes');
    this.#priv = createPrivateKey({ key: Buffer.from(concatBytes(PKCS8_ED25519_PREFIX, s)), format: 'der', type: 'pkcs8' });
    const spki = createPublicKey(this.#priv).export({ format: 'der', type: 'spki' });
    this.publicKey = new Uint8Array(spki.subarray(SPKI_ED25519_PREFIX.length));
    this.name = name;
    this.type = type;
    this.keyId = noteKeyId(name, type, this.publicKey);
    this.#nowSeconds = nowSeconds;
  }

  /** The vkey string others configure to verify this key. */
  verifierKey(): string {
    return formatVerifierKey(this.name, this.type, this.publicKey);
  }

  /** A verifier for this key. */
  verifier(): NoteVerifier {
    return noteVerifierFromKey(this.verifierKey());
  }

  /** NoteSigner: a plain Ed25519 signature, or a timestamped cosignature/v1 for type 0x04. */
  async sign(text: Uint8Array): Promise<Uint8Array> {
    if (this.type === NOTE_KEY_TYPE_ED25519) return new Uint8Array(nodeSign(null, text, this.#priv));
    const t = this.#nowSeconds();
    if (!Number.isSafeInteger(t) || t < 0) throw auditError('E_KEY_INVALID', 'cosignature timestamp must be a non-negative integer');
    const out = new Uint8Array(72);
    new DataView(out.buffer).setBigUint64(0, BigInt(t), false);
    out.set(nodeSign(null, cosignatureMessage(text, t), this.#priv), 8);
    return out;
  }
}

/** Decodes a Go-style signer key `PRIVATE+KEY+<name>+<keyid>+<base64(0x01 || seed)>`. */
export function decodeSignerKey(skey: Secret<string>): Ed25519NoteKey {
  const text = skey.expose().trim();
  const parts = text.startsWith('PRIVATE+KEY+') ? chopKey(text.slice('PRIVATE+KEY+'.length)) : null;
  if (parts === null) throw auditError('E_KEY_INVALID', 'signer key must be PRIVATE+KEY+name+keyid+key');
  const [name, hex, b64] = parts;
  const raw = decodeBase64Strict(b64, 'E_KEY_INVALID', 'signer key');
  const type = raw[0];
  if (raw.length !== 33 || (type !== NOTE_KEY_TYPE_ED25519 && type !== NOTE_KEY_TYPE_COSIGNATURE_V1)) throw auditError('E_KEY_INVALID', 'signer key is not an Ed25519 key');
  const key = new Ed25519NoteKey(name, new Secret(raw.slice(1)), type);
  raw.fill(0);
  if (!HEX8_RE.test(hex) || parseInt(hex, 16) !== key.keyId) throw auditError('E_KEY_INVALID', 'signer key ID does not match the key', { name });
  return key;
}

// golang.org/x/mod/sumdb/note: name and key ID end at the first two "+"; base64 may contain "+".
function chopKey(s: string): [string, string, string] | null {
  const a = s.indexOf('+');
  const b = a < 0 ? -1 : s.indexOf('+', a + 1);
  return b < 0 ? null : [s.slice(0, a), s.slice(a + 1, b), s.slice(b + 1)];
}

function checkName(name: string): void {
  if (!isValidKeyName(name)) throw auditError('E_KEY_INVALID', 'key name must be non-empty with no spaces or "+"');
}

function publicKeyObject(pub: Uint8Array): KeyObject {
  try {
    return createPublicKey({ key: Buffer.from(concatBytes(SPKI_ED25519_PREFIX, pub)), format: 'der', type: 'spki' });
  } catch {
    throw auditError('E_KEY_INVALID', 'not a valid Ed25519 public key');
  }
}

/**
 * The key-release exchange between a signer enclave and the key broker
 * (DESIGN.md flow 2), spoken through the untrusted parent, which only
 * forwards bytes:
 *
 *   POST /v1/nonce   → `{ ok, nonce, expiresAtMs }`
 *   POST /v1/release   `{ nonce, evidence, publicKey }` (hex; the evidence's
 *                      report data is `identityReportData(publicKey, nonce)`)
 *                    → `{ ok: true, measurement, enc, ciphertext, credential, recoveryKey, signature }`
 *                    | `{ ok: false, error: { code, message, detail: { reasons } } }`
 *
 * The sealing key travels HPKE-encrypted to the enclave's ephemeral X25519
 * key (info = `keyReleaseInfo(measurement)`, aad = the nonce). HPKE base mode
 * does not authenticate the sender, and the parent sees the ephemeral public
 * key, so the broker also signs the answer (`keyReleaseAnswerStatement`, ECDSA
 * P-256 with its HSM-held `kbs-signing` key): an enclave accepts only a key
 * whose answer verifies under the broker key it was launched with.
 *
 * The answer also names the organisation's recovery public key (the HSM-held
 * P-256 key signers encrypt their backups to, issue 7 item 5); the signature
 * covers it, so a parent cannot make a signer back up to a key of its own.
 *
 * One decoder per message, size bounded before parsing; the broker and the
 * enclave use the same functions.
 */
import { p256 } from '@noble/curves/nist.js';
import { CustodianError } from '@custodian/core/errors';
import { bytesToHex, concatBytes, utf8 } from '@custodian/core/bytes';
import { parseJson, type Json, domainStatementBytes } from '@custodian/core/canonical-json';
import { Fields } from '@custodian/core/fields';
import { hpkeOpen, X25519_PUBLIC_KEY_BYTES } from '@custodian/core/hpke-seal';
import type { Secret } from '@custodian/core/secret';

/** HPKE `info` prefix for a released sealing key: `prefix ‖ 0x00 ‖ measurement`. */
export const KEY_RELEASE_INFO_PREFIX = 'custodian/kbs/key-release/v1';
/** Domain of the broker's signature over a release answer. */
export const KEY_RELEASE_ANSWER_DOMAIN = 'custodian/kbs/key-release-answer/v1';
/** Length of a key-broker nonce. */
export const KEY_RELEASE_NONCE_BYTES = 32;
/** Largest attestation evidence in a request (a TDX quote with its PCK chain is ~10 KiB; Nitro ~5 KiB). */
export const KEY_RELEASE_EVIDENCE_BYTES_MAX = 256 * 1024;
/** Largest answer (nonce or release) the enclave parses. */
export const KEY_RELEASE_ANSWER_BYTES_MAX = 64 * 1024;
/** Largest HPKE ciphertext of a sealing key (32 bytes + 16-byte tag, with room for longer keys). */
export const KEY_RELEASE_CIPHERTEXT_BYTES_MAX = 1024;
/** Most refusal reasons kept from an answer, and their length. */
export const KEY_RELEASE_REASONS_MAX = 32;
export const KEY_RELEASE_REASON_CHARS_MAX = 1024;
/** Length of an ECDSA P-256 signature (r‖s) and of an uncompressed SEC1 P-256 key. */
export const KBS_SIGNATURE_BYTES = 64;
export const KBS_PUBLIC_KEY_BYTES = 65;

const MEASUREMENT_RE = /^[0-9a-f]{32,192}$/;
const CODE_RE = /^E_[A-Z0-9_]{1,60}$/;

/** The HPKE info binding a release to its measurement (the enclave uses the same bytes to open it). */
export function keyReleaseInfo(measurement: string): Uint8Array {
  return concatBytes(utf8(KEY_RELEASE_INFO_PREFIX), Uint8Array.of(0), utf8(measurement));
}

/** Opens a released sealing key with the ephemeral private key; E_HPKE_OPEN_FAILED if it was not made for this key, measurement and nonce. */
export async function openKeyRelease(
  release: { readonly enc: Uint8Array; readonly ciphertext: Uint8Array },
  ephemeralPrivateKey: Secret<Uint8Array>,
  expected: { readonly measurement: string; readonly nonce: Uint8Array },
): Promise<Secret<Uint8Array>> {
  return hpkeOpen(ephemeralPrivateKey, release, keyReleaseInfo(expected.measurement), expected.nonce);
}

/** A key-release request. */
export interface KeyReleaseRequest {
  readonly nonce: Uint8Array;
  readonly evidence: Uint8Array;
  /** The enclave's ephemeral X25519 public key, bound in the evidence's report data. */
  readonly publicKey: Uint8Array;
}

/** The wire form of a request. */
export function encodeKeyReleaseRequest(r: KeyReleaseRequest): Json {
  return { nonce: bytesToHex(r.nonce), evidence: bytesToHex(r.evidence), publicKey: bytesToHex(r.publicKey) };
}

/**
 * Decodes a request (the broker's side); field errors are E_FIELD_*, named
 * under `where`. The credential request has the same shape with the enclave's
 * identity key, so it passes its own name and key length.
 */
export function decodeKeyReleaseRequest(json: Json, where = 'release', publicKeyBytes = X25519_PUBLIC_KEY_BYTES): KeyReleaseRequest {
  const f = new Fields(json, where);
  const r = { nonce: f.hex('nonce', KEY_RELEASE_NONCE_BYTES), evidence: f.hex('evidence', undefined, KEY_RELEASE_EVIDENCE_BYTES_MAX), publicKey: f.hex('publicKey', publicKeyBytes) };
  f.done();
  if (r.evidence.length === 0) throw new CustodianError('E_FIELD_INVALID', `${where}.evidence is empty`, { field: `${where}.evidence` });
  return r;
}

/** A nonce the broker issued. */
export interface KbsNonce {
  readonly ok: true;
  readonly nonce: Uint8Array;
  readonly expiresAtMs: number;
}

/** A broker's refusal, as it said it (untrusted words: shown, never acted on beyond failing). */
export interface KbsRefusal {
  readonly ok: false;
  readonly code: string;
  readonly message: string;
  readonly reasons: readonly string[];
}

/** The workload credential carried by a release (checked by peers with the broker's key). */
export interface KeyReleaseCredential {
  readonly claims: { readonly measurement: string; readonly platform: string; readonly subjectKey: string; readonly issuedAtMs: number; readonly expiresAtMs: number };
  readonly signature: Uint8Array;
}

/** A granted release. */
export interface KeyReleaseGranted {
  readonly ok: true;
  readonly measurement: string;
  readonly enc: Uint8Array;
  readonly ciphertext: Uint8Array;
  readonly credential: KeyReleaseCredential;
  /** The organisation's recovery public key (uncompressed SEC1 P-256), covered by the signature. */
  readonly recoveryKey: Uint8Array;
  /** The broker's signature over `keyReleaseAnswerStatement` (r‖s). */
  readonly signature: Uint8Array;
}

/** Decodes the answer to POST /v1/nonce. */
export function decodeKbsNonceAnswer(bytes: Uint8Array): KbsNonce | KbsRefusal {
  const json = parseAnswer(bytes);
  if (isRefusal(json)) return decodeRefusal(json);
  const f = new Fields(json, 'nonceAnswer');
  f.bool('ok');
  const out = { ok: true as const, nonce: f.hex('nonce', KEY_RELEASE_NONCE_BYTES), expiresAtMs: f.int('expiresAtMs') };
  f.done();
  return out;
}

/** Decodes the answer to POST /v1/release. */
export function decodeKeyReleaseAnswer(bytes: Uint8Array): KeyReleaseGranted | KbsRefusal {
  const json = parseAnswer(bytes);
  if (isRefusal(json)) return decodeRefusal(json);
  const f = new Fields(json, 'releaseAnswer');
  f.bool('ok');
  const measurement = f.str('measurement', 192, MEASUREMENT_RE);
  const enc = f.hex('enc', X25519_PUBLIC_KEY_BYTES);
  const ciphertext = f.hex('ciphertext', undefined, KEY_RELEASE_CIPHERTEXT_BYTES_MAX);
  const c = f.obj('credential');
  const cl = c.obj('claims');
  const claims = {
    measurement: cl.str('measurement', 192),
    platform: cl.str('platform', 32),
    subjectKey: cl.str('subjectKey', 256, /^[0-9a-f]+$/),
    issuedAtMs: cl.int('issuedAtMs'),
    expiresAtMs: cl.int('expiresAtMs'),
  };
  cl.done();
  const credential = { claims, signature: c.hex('signature', KBS_SIGNATURE_BYTES) };
  c.done();
  const recoveryKey = f.hex('recoveryKey', KBS_PUBLIC_KEY_BYTES);
  // SEC1 §2.3.3: 0x04 prefixes an uncompressed point (the curve check is the ECDH's, at use).
  if (recoveryKey[0] !== 0x04) throw new CustodianError('E_FIELD_INVALID', 'releaseAnswer.recoveryKey must be an uncompressed SEC1 P-256 key', { field: 'releaseAnswer.recoveryKey' });
  const signature = f.hex('signature', KBS_SIGNATURE_BYTES);
  f.done();
  return { ok: true, measurement, enc, ciphertext, credential, recoveryKey, signature };
}

/** What the broker signs for one answer: measurement, nonce, the enclave's key, the HPKE output, the credential's signature and the recovery key. */
export function keyReleaseAnswerStatement(a: {
  readonly measurement: string;
  readonly nonce: Uint8Array;
  readonly publicKey: Uint8Array;
  readonly enc: Uint8Array;
  readonly ciphertext: Uint8Array;
  readonly credentialSignature: Uint8Array;
  readonly recoveryKey: Uint8Array;
}): Uint8Array {
  const body = {
    measurement: a.measurement,
    nonce: bytesToHex(a.nonce),
    publicKey: bytesToHex(a.publicKey),
    enc: bytesToHex(a.enc),
    ciphertext: bytesToHex(a.ciphertext),
    credentialSignature: bytesToHex(a.credentialSignature),
    recoveryKey: bytesToHex(a.recoveryKey),
  };
  return domainStatementBytes(KEY_RELEASE_ANSWER_DOMAIN, body);
}

/** True when `signature` (r‖s) is the broker's ECDSA P-256/SHA-256 signature of `statement` under `kbsPublicKey` (SEC1). */
export function verifyKbsSignature(kbsPublicKey: Uint8Array, statement: Uint8Array, signature: Uint8Array): boolean {
  try {
    // An HSM's ECDSA need not produce low-S signatures; either half is the broker's.
    return signature.length === KBS_SIGNATURE_BYTES && p256.verify(signature, statement, kbsPublicKey, { prehash: true, lowS: false });
  } catch {
    return false;
  }
}

function parseAnswer(bytes: Uint8Array): Json {
  // attacker-controlled (relayed by the parent): bounded before parsing
  if (bytes.length > KEY_RELEASE_ANSWER_BYTES_MAX) throw new CustodianError('E_KBS_ANSWER_INVALID', `the key broker's answer exceeds ${KEY_RELEASE_ANSWER_BYTES_MAX} bytes`, { maxBytes: KEY_RELEASE_ANSWER_BYTES_MAX });
  try {
    return parseJson(bytes, KEY_RELEASE_ANSWER_BYTES_MAX);
  } catch {
    throw new CustodianError('E_KBS_ANSWER_INVALID', 'the key broker answered with something that is not JSON', {});
  }
}

function isRefusal(json: Json): boolean {
  return json !== null && typeof json === 'object' && !Array.isArray(json) && (json as { readonly [k: string]: Json })['ok'] === false;
}

function decodeRefusal(json: Json): KbsRefusal {
  const f = new Fields(json, 'refusal');
  f.bool('ok');
  const e = f.obj('error');
  const code = e.str('code', 64);
  const message = e.str('message', 4096);
  const detail = e.optRaw('detail');
  e.done();
  f.done();
  const raw = detail !== null && typeof detail === 'object' && !Array.isArray(detail) ? (detail as { readonly [k: string]: Json })['reasons'] : undefined;
  const reasons = Array.isArray(raw)
    ? raw
        .slice(0, KEY_RELEASE_REASONS_MAX)
        .filter((r): r is string => typeof r === 'string')
        .map((r) => r.slice(0, KEY_RELEASE_REASON_CHARS_MAX))
    : [];
  return { ok: false, code: CODE_RE.test(code) ? code : 'E_KBS_REFUSED', message, reasons };
}

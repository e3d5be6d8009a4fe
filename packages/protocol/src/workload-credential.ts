/**
 * Workload credentials (issue 7 item 7): after appraising an enclave's
 * evidence the key broker signs a short statement naming the enclave's
 * measurement, platform and attested public key, with its HSM-held
 * `kbs-signing` key (ECDSA P-256, SHA-256, r‖s). Peers and the host check it
 * with the broker's public key — one decoder and one verifier, shared by the
 * broker, the enclave and the host.
 *
 *   POST /v1/credential  `{ nonce, evidence, publicKey }` (hex; `publicKey`
 *                        the enclave's Ed25519 identity key, the evidence's
 *                        report data `identityReportData(publicKey, nonce)`)
 *                      → `{ ok: true, credential: { claims, signature } }`
 *
 * The signed bytes are `domain ‖ 0x0a ‖ canonicalJson(claims)`; verification
 * runs decode → signature → validity window → expected subject, in that
 * order, and each failing step is a typed error.
 */
import { CustodianError } from '@custodian/core/errors';
import { bytesToHex } from '@custodian/core/bytes';
import { parseJson, type Json, domainStatementBytes } from '@custodian/core/canonical-json';
import { Fields } from '@custodian/core/fields';
import { CLOCK_SKEW_MAX_MS } from '@custodian/core/limits';
import { decodeKeyReleaseRequest, encodeKeyReleaseRequest, KBS_SIGNATURE_BYTES, verifyKbsSignature } from './key-release.js';

/** Domain of the broker's signature over a credential's claims. */
export const WORKLOAD_CREDENTIAL_DOMAIN = 'custodian/kbs/workload-credential/v1';
/** Default lifetime of a credential (the broker's choice; holders renew with a third left). */
export const WORKLOAD_CREDENTIAL_TTL_MS_DEFAULT = 60 * 60 * 1000;
/** Longest lifetime a verifier accepts: a credential is short-lived by definition. */
export const WORKLOAD_CREDENTIAL_TTL_MS_MAX = 24 * 60 * 60 * 1000;
/** Length of the subject key: an Ed25519 identity key (or, in a release answer, an X25519 key). */
export const WORKLOAD_SUBJECT_KEY_BYTES = 32;
/** Largest answer to POST /v1/credential the enclave parses (a credential is well under 1 KiB). */
export const WORKLOAD_CREDENTIAL_ANSWER_BYTES_MAX = 8 * 1024;

const MEASUREMENT_RE = /^[0-9a-f]{32,192}$/;
const PLATFORM_RE = /^[a-z0-9-]{1,32}$/;
const SUBJECT_KEY_RE = new RegExp(`^[0-9a-f]{${2 * WORKLOAD_SUBJECT_KEY_BYTES}}$`);
const SIGNER_ID_RE = /^[a-z0-9][a-z0-9._-]{0,63}$/;
const CODE_RE = /^E_[A-Z0-9_]{1,60}$/;

/** What a credential asserts. */
export interface WorkloadClaims {
  /** The measurement the broker appraised (lower-case hex). */
  readonly measurement: string;
  /** The TEE platform the evidence came from (`sim`, `nitro`, `sev-snp`, `tdx` ...). */
  readonly platform: string;
  /** Hex of the public key the evidence bound (the identity key, for a credential from POST /v1/credential). */
  readonly subjectKey: string;
  /** The signer the credential names, when the broker was told one. */
  readonly signerId?: string;
  readonly issuedAtMs: number;
  readonly expiresAtMs: number;
}

/** Claims plus the broker's signature over them. */
export interface WorkloadCredential {
  readonly claims: WorkloadClaims;
  /** ECDSA P-256 r‖s by the broker's `kbs-signing` key over `workloadCredentialStatement(claims)`. */
  readonly signature: Uint8Array;
}

/** What a verifier expects of the subject; each given field must match exactly. */
export interface WorkloadExpectation {
  readonly subjectKey: Uint8Array;
  readonly measurement?: string;
  readonly platform?: string;
  readonly signerId?: string;
}

/** A credential request (the same shape as a key-release request; `publicKey` is the identity key). */
export interface WorkloadCredentialRequest {
  readonly nonce: Uint8Array;
  readonly evidence: Uint8Array;
  readonly publicKey: Uint8Array;
}

/** The claims as the JSON the broker signs (signerId only when present). */
function claimsJson(c: WorkloadClaims): Json {
  return {
    measurement: c.measurement,
    platform: c.platform,
    subjectKey: c.subjectKey,
    ...(c.signerId !== undefined ? { signerId: c.signerId } : {}),
    issuedAtMs: c.issuedAtMs,
    expiresAtMs: c.expiresAtMs,
  };
}

/** The exact bytes the broker signs for `claims`. */
export function workloadCredentialStatement(claims: WorkloadClaims): Uint8Array {
  return domainStatementBytes(WORKLOAD_CREDENTIAL_DOMAIN, claimsJson(claims));
}

/** The wire form `{ claims, signature: hex }`. */
export function encodeWorkloadCredential(c: WorkloadCredential): Json {
  return { claims: claimsJson(c.claims), signature: bytesToHex(c.signature) };
}

/**
 * Decodes the wire form (untrusted: relayed by the host); checks shape and
 * bounds only — `verifyWorkloadCredential` says whether it is the broker's.
 */
export function decodeWorkloadCredential(json: Json, where = 'credential'): WorkloadCredential {
  const f = new Fields(json, where);
  const c = f.obj('claims');
  const signerId = c.optStr('signerId', 64, SIGNER_ID_RE);
  const claims: WorkloadClaims = {
    measurement: c.str('measurement', 192, MEASUREMENT_RE),
    platform: c.str('platform', 32, PLATFORM_RE),
    subjectKey: c.str('subjectKey', 2 * WORKLOAD_SUBJECT_KEY_BYTES, SUBJECT_KEY_RE),
    ...(signerId !== undefined ? { signerId } : {}),
    issuedAtMs: c.int('issuedAtMs'),
    expiresAtMs: c.int('expiresAtMs'),
  };
  c.done();
  const signature = f.hex('signature', KBS_SIGNATURE_BYTES);
  f.done();
  if (claims.expiresAtMs <= claims.issuedAtMs || claims.expiresAtMs - claims.issuedAtMs > WORKLOAD_CREDENTIAL_TTL_MS_MAX) {
    throw new CustodianError('E_FIELD_INVALID', `${where}.claims must be valid for between 1 ms and ${WORKLOAD_CREDENTIAL_TTL_MS_MAX} ms`, { field: `${where}.claims.expiresAtMs` });
  }
  return { claims, signature };
}

/**
 * Verifies a credential (wire form) against the broker's public key (65-byte
 * SEC1) at `nowMs`, and that it names `expected`: decode → signature →
 * validity window (issuance up to CLOCK_SKEW_MAX_MS ahead tolerated) → subject. Throws E_CREDENTIAL_INVALID (malformed, not the
 * broker's, or naming another subject), E_CREDENTIAL_EXPIRED; returns the claims.
 */
export function verifyWorkloadCredential(json: Json, kbsPublicKey: Uint8Array, nowMs: number, expected?: WorkloadExpectation): WorkloadClaims {
  let cred: WorkloadCredential;
  try {
    cred = decodeWorkloadCredential(json);
  } catch (e) {
    throw new CustodianError('E_CREDENTIAL_INVALID', `the workload credential is malformed: ${e instanceof Error ? e.message : String(e)}`, {});
  }
  const { claims } = cred;
  if (!verifyKbsSignature(kbsPublicKey, workloadCredentialStatement(claims), cred.signature)) {
    throw new CustodianError('E_CREDENTIAL_INVALID', 'the workload credential is not signed by the trusted key broker', {});
  }
  // Leniency: the broker's clock may run ahead of the verifier's (and a verifier may take its time
  // before the hello that fetched the credential), so issuance up to CLOCK_SKEW_MAX_MS in the
  // future is tolerated; expiry is not — the lifetime is short and renewal starts at two thirds.
  if (nowMs < claims.issuedAtMs - CLOCK_SKEW_MAX_MS || nowMs >= claims.expiresAtMs) {
    throw new CustodianError('E_CREDENTIAL_EXPIRED', 'the workload credential is not valid at this time', { nowMs, issuedAtMs: claims.issuedAtMs, expiresAtMs: claims.expiresAtMs });
  }
  if (expected) checkSubject(claims, expected);
  return claims;
}

/** Each expected field must match the claims exactly (E_CREDENTIAL_INVALID naming the first that does not). */
function checkSubject(claims: WorkloadClaims, expected: WorkloadExpectation): void {
  const mismatch = (field: string, want: string, got: string | undefined): CustodianError =>
    new CustodianError('E_CREDENTIAL_INVALID', `the workload credential names another ${field}`, { field, expected: want, actual: got ?? null });
  const key = bytesToHex(expected.subjectKey);
  if (claims.subjectKey !== key) throw mismatch('subjectKey', key, claims.subjectKey);
  if (expected.measurement !== undefined && claims.measurement !== expected.measurement) throw mismatch('measurement', expected.measurement, claims.measurement);
  if (expected.platform !== undefined && claims.platform !== expected.platform) throw mismatch('platform', expected.platform, claims.platform);
  if (expected.signerId !== undefined && claims.signerId !== undefined && claims.signerId !== expected.signerId) throw mismatch('signerId', expected.signerId, claims.signerId);
}

/** True when less than a third of the credential's lifetime remains at `nowMs` (time to renew). */
export function credentialRenewalDue(claims: WorkloadClaims, nowMs: number): boolean {
  return (claims.expiresAtMs - nowMs) * 3 < claims.expiresAtMs - claims.issuedAtMs;
}

/** The wire form of a credential request (the key-release request's). */
export function encodeWorkloadCredentialRequest(r: WorkloadCredentialRequest): Json {
  return encodeKeyReleaseRequest(r);
}

/** Decodes a credential request (the broker's side) with the key-release request's decoder; field errors are E_FIELD_*. */
export function decodeWorkloadCredentialRequest(json: Json): WorkloadCredentialRequest {
  return decodeKeyReleaseRequest(json, 'credentialRequest', WORKLOAD_SUBJECT_KEY_BYTES);
}

/** The broker's answer as the enclave reads it: a credential, or its refusal (code and words, untrusted). */
export type WorkloadCredentialAnswer = { readonly ok: true; readonly credential: Json } | { readonly ok: false; readonly code: string; readonly message: string };

/**
 * Decodes the answer to POST /v1/credential (relayed by the parent: bounded
 * before parsing). The credential is returned in wire form, its shape
 * checked; the caller verifies it under the broker key it trusts.
 */
export function decodeWorkloadCredentialAnswer(bytes: Uint8Array): WorkloadCredentialAnswer {
  if (bytes.length > WORKLOAD_CREDENTIAL_ANSWER_BYTES_MAX) throw new CustodianError('E_KBS_ANSWER_INVALID', `the key broker's answer exceeds ${WORKLOAD_CREDENTIAL_ANSWER_BYTES_MAX} bytes`, { maxBytes: WORKLOAD_CREDENTIAL_ANSWER_BYTES_MAX });
  let json: Json;
  try {
    json = parseJson(bytes, WORKLOAD_CREDENTIAL_ANSWER_BYTES_MAX);
  } catch {
    throw new CustodianError('E_KBS_ANSWER_INVALID', 'the key broker answered with something that is not JSON', {});
  }
  const f = new Fields(json, 'credentialAnswer');
  if (!f.bool('ok')) {
    // A refusal is read leniently (its detail is not decoded): its words are only shown, never acted on.
    const e = f.obj('error');
    const code = e.str('code', 64);
    const message = e.str('message', 4096);
    return { ok: false, code: CODE_RE.test(code) ? code : 'E_KBS_REFUSED', message };
  }
  const credential = f.raw('credential');
  f.done();
  decodeWorkloadCredential(credential, 'credentialAnswer.credential');
  return { ok: true, credential };
}

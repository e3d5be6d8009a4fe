/**
 * Short-lived workload credentials (issue 7 item 7): after a successful
 * appraisal the broker signs a statement naming the enclave's measurement,
 * platform and bound public key, with its HSM-held signing key (ECDSA P-256,
 * SHA-256, r‖s). Peers and the host check it with the broker's public key.
 */
import { createPublicKey, verify } from 'node:crypto';
import { CustodianError } from '@custodian/core/errors';
import { bytesToHex } from '@custodian/core/bytes';
import { Fields } from '@custodian/core/fields';
import type { Json } from '@custodian/core/canonical-json';
import type { RootOfTrust } from './hsm/root-of-trust.js';
import { statementBytes } from './quorum.js';

/** Domain of workload credentials. */
export const WORKLOAD_CREDENTIAL_DOMAIN = 'custodian/kbs/workload-credential/v1';
/** Default lifetime of a credential. */
export const WORKLOAD_CREDENTIAL_TTL_MS_DEFAULT = 60 * 60 * 1000;

/** What a credential asserts. */
export interface WorkloadClaims {
  readonly measurement: string;
  readonly platform: string;
  /** Hex of the public key the evidence bound. */
  readonly subjectKey: string;
  readonly issuedAtMs: number;
  readonly expiresAtMs: number;
}

/** Claims plus the broker's signature (hex). */
export interface WorkloadCredential {
  readonly claims: WorkloadClaims;
  readonly signature: string;
}

function claimsJson(c: WorkloadClaims): Json {
  return { measurement: c.measurement, platform: c.platform, subjectKey: c.subjectKey, issuedAtMs: c.issuedAtMs, expiresAtMs: c.expiresAtMs };
}

/** Issues a credential signed by the root's KBS signing key. */
export async function issueWorkloadCredential(root: RootOfTrust, claims: WorkloadClaims): Promise<WorkloadCredential> {
  const sig = await root.sign(statementBytes(WORKLOAD_CREDENTIAL_DOMAIN, claimsJson(claims)));
  return { claims, signature: bytesToHex(sig) };
}

/** Verifies a credential (JSON form) against the broker's public key (65-byte SEC1) at `nowMs`; returns its claims. */
export function verifyWorkloadCredential(json: Json, kbsPublicKey: Uint8Array, nowMs: number): WorkloadClaims {
  const f = new Fields(json, 'credential');
  const c = f.obj('claims');
  const claims: WorkloadClaims = {
    measurement: c.str('measurement', 192),
    platform: c.str('platform', 32),
    subjectKey: c.str('subjectKey', 256, /^[0-9a-f]+$/),
    issuedAtMs: c.int('issuedAtMs'),
    expiresAtMs: c.int('expiresAtMs'),
  };
  c.done();
  const sig = f.hex('signature', 64);
  f.done();
  const jwk = { kty: 'EC', crv: 'P-256', x: Buffer.from(kbsPublicKey.subarray(1, 33)).toString('base64url'), y: Buffer.from(kbsPublicKey.subarray(33, 65)).toString('base64url') };
  const ok = verify('sha256', statementBytes(WORKLOAD_CREDENTIAL_DOMAIN, claimsJson(claims)), { key: createPublicKey({ key: jwk, format: 'jwk' }), dsaEncoding: 'ieee-p1363' }, sig);
  if (!ok) throw new CustodianError('E_CREDENTIAL_INVALID', 'the workload credential is not signed by this key broker', {});
  if (nowMs < claims.issuedAtMs || nowMs >= claims.expiresAtMs) throw new CustodianError('E_CREDENTIAL_EXPIRED', 'the workload credential is not valid at this time', { nowMs, issuedAtMs: claims.issuedAtMs, expiresAtMs: claims.expiresAtMs });
  return claims;
}

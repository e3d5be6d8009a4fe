/**
 * Verifies an Arm CCA attestation token: decode → bounds → chain (platform
 * token signed by a configured CPAK: there is no public Arm root, so the
 * operator configures the platform key) → signature (realm token signed by the
 * RAK it carries) → claims (the platform challenge must be H(RAK claim bytes),
 * binding the realm to the platform) → binding (realm challenge).
 */
import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import { bytesToHex, equalBytes } from '@custodian/core/bytes';
import { CborMap } from '@custodian/core/cbor/types';
import { attestFail, type VerifyStep } from '../errors.js';
import { coseSignatureValid, decodeEvidenceCbor, COSE_ALG } from '../cose-sign1.js';
import { checkBinding } from '../binding.js';
import type { AttestationClaims, VerifyOptions } from '../claims.js';
import { decodeCcaToken, CCA_TOKEN_BYTES_MAX, type PlatformClaims, type RealmClaims } from './token.js';

/** PSA security lifecycle "secured" range (PSA attestation token §4.2.4: 0x3000–0x30FF). */
export const CCA_LIFECYCLE_SECURED_MIN = 0x3000;
export const CCA_LIFECYCLE_SECURED_MAX = 0x30ff;

const HASHES: Record<string, string> = { 'sha-256': 'sha256', 'sha-384': 'sha384', 'sha-512': 'sha512' };

/** Verifies a CCA token against the CPAKs in `opts.collateral.cpak`. */
export function verifyCca(evidence: Uint8Array, opts: VerifyOptions): AttestationClaims {
  if (evidence.length > CCA_TOKEN_BYTES_MAX) attestFail('E_ATTEST_TOO_LARGE', 'bounds', `CCA token of ${evidence.length} bytes exceeds ${CCA_TOKEN_BYTES_MAX}`);
  const token = decodeCcaToken(evidence);
  const steps: VerifyStep[] = ['decode', 'bounds'];

  const cpaks = opts.collateral?.cpak ?? [];
  if (cpaks.length === 0) attestFail('E_COLLATERAL_MISSING', 'chain', 'CCA verification needs a configured platform key (CPAK); Arm publishes no root');
  const cpakIndex = cpaks.findIndex((k) => coseSignatureValid(token.platform, k));
  if (cpakIndex < 0) attestFail('E_ATTEST_CHAIN_UNTRUSTED', 'chain', 'CCA platform token is not signed by a configured CPAK');
  steps.push('chain');

  const rak = rakKey(token.realmClaims.rak);
  if (token.realm.alg !== COSE_ALG.ES384 || !coseSignatureValid(token.realm, rak)) attestFail('E_ATTEST_SIGNATURE', 'signature', 'CCA realm token signature does not verify under its RAK');
  steps.push('signature');

  const hash = HASHES[token.realmClaims.rakHashAlg];
  if (hash === undefined) attestFail('E_ATTEST_FORMAT', 'claims', `unsupported RAK hash algorithm ${token.realmClaims.rakHashAlg}`);
  const expected = createHash(hash).update(token.realmClaims.rak).digest();
  if (!equalBytes(expected, token.platformClaims.challenge)) {
    attestFail('E_ATTEST_BINDING', 'claims', 'CCA platform challenge is not the hash of the realm attestation key: the tokens are not bound');
  }
  const claims = buildClaims(token.realmClaims, token.platformClaims, cpakIndex, [...steps, 'claims']);
  checkBinding(claims, opts);
  return claims;
}

/** The RAK as a P-384 key: raw uncompressed point (legacy profile) or a COSE_Key (RFC 9053 EC2). */
function rakKey(raw: Uint8Array): KeyObject {
  let x: Uint8Array | undefined;
  let y: Uint8Array | undefined;
  if (raw.length === 97 && raw[0] === 0x04) {
    x = raw.subarray(1, 49);
    y = raw.subarray(49);
  } else {
    const k = decodeEvidenceCbor(raw, 'RAK COSE_Key', 512, 2);
    // RFC 9053 §7.1: kty 2 = EC2, crv 2 = P-384, -2 = x, -3 = y
    if (k instanceof CborMap && k.get(1) === 2 && k.get(-1) === 2) {
      const kx = k.get(-2);
      const ky = k.get(-3);
      if (kx instanceof Uint8Array && ky instanceof Uint8Array && kx.length === 48 && ky.length === 48) [x, y] = [kx, ky];
    }
  }
  if (!x || !y) return attestFail('E_ATTEST_FORMAT', 'signature', 'RAK must be a P-384 point or an EC2 P-384 COSE_Key');
  try {
    return createPublicKey({ key: { kty: 'EC', crv: 'P-384', x: Buffer.from(x).toString('base64url'), y: Buffer.from(y).toString('base64url') }, format: 'jwk' });
  } catch {
    return attestFail('E_ATTEST_SIGNATURE', 'signature', 'RAK is not a valid P-384 public key');
  }
}

function buildClaims(r: RealmClaims, p: PlatformClaims, cpakIndex: number, steps: VerifyStep[]): AttestationClaims {
  const measurements: Record<string, string> = {
    RIM: bytesToHex(r.rim),
    REM0: bytesToHex(r.rems[0]!),
    REM1: bytesToHex(r.rems[1]!),
    REM2: bytesToHex(r.rems[2]!),
    REM3: bytesToHex(r.rems[3]!),
    RPV: bytesToHex(r.personalizationValue),
    IMPLEMENTATION_ID: bytesToHex(p.implementationId),
  };
  for (const c of p.swComponents) if (c.type !== '') measurements[`SW:${c.type}`] = bytesToHex(c.measurement);
  const secured = p.lifecycle >= CCA_LIFECYCLE_SECURED_MIN && p.lifecycle <= CCA_LIFECYCLE_SECURED_MAX;
  return {
    format: 'cca',
    insecure: false,
    // THREATS.md §5 / B20: a platform outside the "secured" lifecycle range is debuggable.
    debug: !secured,
    measurements,
    reportData: r.challenge,
    publicKey: r.rak,
    tcb: { status: 'Unevaluated', components: {}, detail: 'CCA tokens carry no TCB version; software components are reported as measurements' },
    platform: {
      realmProfile: r.profile ?? 'http://arm.com/CCA-SSD/1.0.0',
      platformProfile: p.profile ?? 'http://arm.com/CCA-SSD/1.0.0',
      lifecycle: '0x' + p.lifecycle.toString(16),
      instanceId: bytesToHex(p.instanceId),
      platformChallenge: bytesToHex(p.challenge),
      measurementHashAlg: r.measurementHashAlg,
      rakHashAlg: r.rakHashAlg,
      swComponents: p.swComponents.length,
      verificationService: p.verificationService ?? '',
      cpakIndex,
    },
    chain: [],
    steps,
  };
}

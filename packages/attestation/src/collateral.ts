/**
 * Collateral files (CONTRACTS.md `--collateral`): PEM or DER certificates,
 * DER or PEM CRLs, Intel TCB info / QE identity JSON, CCA platform keys as
 * PEM SPKI or JWK. Each file is classified by content, never by name. Roots
 * are never taken from collateral: only pinned roots anchor chains.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { parseJson } from '@custodian/core/canonical-json';
import { attestFail } from './errors.js';
import { COLLATERAL_BYTES_MAX } from './limits.js';
import { parseCertificate, pemBlocks } from './x509.js';
import { parseCrl } from './crl.js';
import type { Collateral } from './claims.js';

/** One collateral file as read from disk. */
export interface CollateralFile {
  readonly name: string;
  readonly bytes: Uint8Array;
}

/** Most collateral files accepted in one verification. */
export const COLLATERAL_FILES_MAX = 64;

function bad(name: string, why: string): never {
  return attestFail('E_COLLATERAL_INVALID', 'decode', `collateral ${name}: ${why}`, { file: name });
}

/** Imports a CCA platform key from PEM SPKI or an EC JWK; refuses points off the curve. */
export function importCpak(bytes: Uint8Array, name = 'cpak'): KeyObject {
  const text = Buffer.from(bytes).toString('utf8').trim();
  let key: KeyObject;
  try {
    if (text.startsWith('{')) {
      const jwk = parseJson(text) as Record<string, string>;
      if (jwk.kty !== 'EC' || typeof jwk.crv !== 'string' || typeof jwk.x !== 'string' || typeof jwk.y !== 'string') bad(name, 'JWK must be an EC public key');
      key = createPublicKey({ key: { kty: 'EC', crv: jwk.crv, x: jwk.x, y: jwk.y }, format: 'jwk' });
    } else {
      key = createPublicKey({ key: text, format: 'pem' });
    }
  } catch (e) {
    if (e instanceof Error && 'code' in e && String(e.code).startsWith('E_')) throw e;
    return bad(name, 'not a valid public key (malformed, or a point not on the curve)');
  }
  if (key.asymmetricKeyType !== 'ec') bad(name, 'CPAK must be an EC key');
  return key;
}

/** Classifies collateral files into a Collateral value. */
export function loadCollateral(files: readonly CollateralFile[]): Collateral {
  if (files.length > COLLATERAL_FILES_MAX) attestFail('E_COLLATERAL_INVALID', 'decode', `more than ${COLLATERAL_FILES_MAX} collateral files`);
  const certificates: Uint8Array[] = [];
  const crls: Uint8Array[] = [];
  const tcbInfo: string[] = [];
  const qeIdentity: string[] = [];
  const cpak: KeyObject[] = [];
  for (const { name, bytes } of files) {
    if (bytes.length > COLLATERAL_BYTES_MAX) bad(name, `larger than ${COLLATERAL_BYTES_MAX} bytes`);
    const text = Buffer.from(bytes).toString('latin1');
    if (text.trimStart().startsWith('{')) {
      if (text.includes('"tcbInfo"')) tcbInfo.push(Buffer.from(bytes).toString('utf8'));
      else if (text.includes('"enclaveIdentity"')) qeIdentity.push(Buffer.from(bytes).toString('utf8'));
      else if (text.includes('"kty"')) cpak.push(importCpak(bytes, name));
      else bad(name, 'JSON is neither TCB info, QE identity nor a JWK');
    } else if (text.includes('-----BEGIN')) {
      const certs = pemBlocks(text);
      const pemCrls = pemBlocks(text, 'X509 CRL');
      certificates.push(...certs);
      crls.push(...pemCrls);
      if (text.includes('-----BEGIN PUBLIC KEY-----')) cpak.push(importCpak(bytes, name));
      else if (certs.length + pemCrls.length === 0) bad(name, 'PEM holds no certificate, CRL or public key');
    } else if (bytes[0] === 0x30) {
      if (isCertificate(bytes)) certificates.push(bytes);
      else {
        parseCrl(bytes);
        crls.push(bytes);
      }
    } else bad(name, 'unrecognised format');
  }
  return { certificates, crls, tcbInfo, qeIdentity, cpak };
}

function isCertificate(der: Uint8Array): boolean {
  try {
    parseCertificate(der);
    return true;
  } catch {
    return false;
  }
}

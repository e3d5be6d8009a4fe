/**
 * Operator requests: a typed payload signed by one operator's key. The
 * enclave verifies the signature and the operator's role against the
 * installed manifest; the host only relays.
 *
 * Wire form: `{ "payload": {...}, "operatorId": "...", "signature": hex }`,
 * the signature over `custodian/<payload.type>\n` ‖ canonical(payload).
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { CustodianError } from '@custodian/core/errors';
import { canonicalJsonBytes, type Json } from '@custodian/core/canonical-json';
import { Fields } from '@custodian/core/fields';
import { bytesToHex } from '@custodian/core/bytes';
import { signPayload, verifyPayload, type OperatorKeyPair } from './operator-key.js';
import type { Manifest, Operator, Role } from './manifest.js';

/** A request signed by an operator. */
export interface SignedRequest {
  readonly payload: Json;
  readonly operatorId: string;
  readonly signature: Uint8Array;
}

/** Signs `payload` (which must carry a `type`) as `operatorId`. */
export function signRequest(payload: { type: string } & Record<string, Json>, operatorId: string, key: OperatorKeyPair): SignedRequest {
  return { payload, operatorId, signature: signPayload(key, payload.type, payload) };
}

/** Wire form of a signed request. */
export function encodeSignedRequest(r: SignedRequest): Json {
  return { payload: r.payload, operatorId: r.operatorId, signature: bytesToHex(r.signature) };
}

/** Decodes the wire form of a signed request (signature not yet checked). */
export function decodeSignedRequest(json: Json, where = 'request'): SignedRequest {
  const f = new Fields(json, where);
  const r = { payload: f.raw('payload'), operatorId: f.str('operatorId', 64), signature: f.hex('signature', 64) };
  f.done();
  return r;
}

/** The payload's `type` field, or a typed error. */
export function payloadType(r: SignedRequest): string {
  const p = r.payload;
  if (p === null || typeof p !== 'object' || Array.isArray(p) || typeof (p as Record<string, Json>)['type'] !== 'string') {
    throw new CustodianError('E_FIELD_INVALID', 'request payload must carry a type');
  }
  return (p as Record<string, Json>)['type'] as string;
}

/**
 * Verifies the signature of `r` under the manifest's key for its operator and
 * that the operator holds `role`. Returns the operator.
 */
export function authenticateRequest(r: SignedRequest, manifest: Manifest, role: Role): Operator {
  const op = manifest.operators.find((o) => o.id === r.operatorId);
  if (!op) throw new CustodianError('E_OPERATOR_UNKNOWN', `operator ${r.operatorId} is not in the manifest`, { operatorId: r.operatorId });
  if (!verifyPayload(op.publicKey, payloadType(r), r.payload, r.signature)) {
    throw new CustodianError('E_SIGNATURE_INVALID', `signature of ${r.operatorId} does not verify`, { operatorId: r.operatorId });
  }
  if (!op.roles.includes(role)) {
    throw new CustodianError('E_ROLE_MISSING', `operator ${r.operatorId} does not hold the ${role} role`, { operatorId: r.operatorId, role });
  }
  return op;
}

/** sha256 of the canonical payload (hex): request identifiers derive from it. */
export function payloadHash(payload: Json): string {
  return bytesToHex(sha256(canonicalJsonBytes(payload)));
}

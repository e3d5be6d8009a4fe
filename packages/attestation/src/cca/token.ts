/**
 * Arm CCA attestation token (Arm "Realm Management Monitor specification"
 * A7.2 and draft-ffm-rats-cca-token): CBOR tag 399 (CMW collection) holding
 * a map {44234: platform token, 44241: realm token}, each a tagged COSE_Sign1.
 * Claims are decoded strictly with bounded sizes; unknown claims are ignored
 * only where the specs allow profile extensions (platform token).
 */
import { CborMap, CborTag, type CborValue } from '@custodian/core/cbor/types';
import { attestFail } from '../errors.js';
import { decodeCoseSign1, decodeEvidenceCbor, COSE_SIGN1_DEPTH_MAX, type CoseSign1 } from '../cose-sign1.js';

/** Largest CCA token accepted (real ones are under 3 KiB). */
export const CCA_TOKEN_BYTES_MAX = 16 * 1024;
/** CMW collection tag and its member keys. */
export const CCA_COLLECTION_TAG = 399;
export const CCA_PLATFORM_KEY = 44234;
export const CCA_REALM_KEY = 44241;
/** Deepest nesting of token claims: map → sw components array → component map → value. */
export const CCA_CLAIMS_DEPTH_MAX = 3;
/** Most platform software components. */
export const CCA_SW_COMPONENTS_MAX = 64;

/** Realm claim keys (RMM spec A7.2.3). */
export const REALM_CLAIM = { CHALLENGE: 10, PROFILE: 265, PERSONALIZATION: 44235, MEAS_HASH_ALG: 44236, RAK: 44237, RIM: 44238, REM: 44239, RAK_HASH_ALG: 44240 } as const;
/** Platform claim keys (PSA / CCA platform token). */
export const PLATFORM_CLAIM = {
  PROFILE: 265,
  CHALLENGE: 10,
  INSTANCE_ID: 256,
  LIFECYCLE: 2395,
  IMPLEMENTATION_ID: 2396,
  SW_COMPONENTS: 2399,
  VERIFICATION_SERVICE: 2400,
  CONFIG: 2401,
  HASH_ALG: 2402,
} as const;

/** Decoded realm token claims. */
export interface RealmClaims {
  readonly profile?: string;
  readonly challenge: Uint8Array;
  readonly personalizationValue: Uint8Array;
  readonly measurementHashAlg: string;
  readonly rak: Uint8Array;
  readonly rakHashAlg: string;
  readonly rim: Uint8Array;
  readonly rems: readonly Uint8Array[];
}

/** One platform software component. */
export interface SwComponent {
  readonly type: string;
  readonly measurement: Uint8Array;
  readonly signerId?: Uint8Array;
  readonly version?: string;
}

/** Decoded platform token claims. */
export interface PlatformClaims {
  readonly profile?: string;
  readonly challenge: Uint8Array;
  readonly implementationId: Uint8Array;
  readonly instanceId: Uint8Array;
  readonly lifecycle: number;
  readonly config?: Uint8Array;
  readonly hashAlg?: string;
  readonly verificationService?: string;
  readonly swComponents: readonly SwComponent[];
}

/** The two signed tokens of a CCA attestation token. */
export interface CcaToken {
  readonly platform: CoseSign1;
  readonly realm: CoseSign1;
  readonly platformClaims: PlatformClaims;
  readonly realmClaims: RealmClaims;
}

function bad(message: string): never {
  return attestFail('E_ATTEST_FORMAT', 'decode', `CCA token: ${message}`);
}

function bytes(m: CborMap, k: number, what: string, lens: readonly number[]): Uint8Array {
  const v = m.get(k);
  if (!(v instanceof Uint8Array) || !lens.includes(v.length)) bad(`${what} must be a byte string of ${lens.join(' or ')} bytes`);
  return v;
}

function text(m: CborMap, k: number, what: string, optional: boolean): string | undefined {
  const v = m.get(k);
  if (v === undefined && optional) return undefined;
  if (typeof v !== 'string' || v.length > 256) bad(`${what} must be a text string`);
  return v;
}

const DIGEST_LENGTHS = [32, 48, 64];

/** Decodes the collection and both tokens (signatures not yet checked). */
export function decodeCcaToken(evidence: Uint8Array): CcaToken {
  const top = decodeEvidenceCbor(evidence, 'CCA token', CCA_TOKEN_BYTES_MAX, 2);
  if (!(top instanceof CborTag) || top.tag !== CCA_COLLECTION_TAG || !(top.value instanceof CborMap)) bad(`must be CBOR tag ${CCA_COLLECTION_TAG} over a map`);
  const coll = top.value;
  if (coll.size !== 2) bad('collection must hold exactly the platform and realm tokens');
  const p = coll.get(CCA_PLATFORM_KEY);
  const r = coll.get(CCA_REALM_KEY);
  if (!(p instanceof Uint8Array) || !(r instanceof Uint8Array)) bad('platform and realm tokens must be byte strings');
  const platform = decodeCoseSign1(decodeEvidenceCbor(p, 'CCA platform token', CCA_TOKEN_BYTES_MAX, COSE_SIGN1_DEPTH_MAX), 'CCA platform token', 'required');
  const realm = decodeCoseSign1(decodeEvidenceCbor(r, 'CCA realm token', CCA_TOKEN_BYTES_MAX, COSE_SIGN1_DEPTH_MAX), 'CCA realm token', 'required');
  return { platform, realm, platformClaims: decodePlatform(platform.payload), realmClaims: decodeRealm(realm.payload) };
}

function claimsMap(payload: Uint8Array, what: string): CborMap {
  const m = decodeEvidenceCbor(payload, what, CCA_TOKEN_BYTES_MAX, CCA_CLAIMS_DEPTH_MAX);
  if (!(m instanceof CborMap)) bad(`${what} claims must be a map`);
  return m;
}

function decodeRealm(payload: Uint8Array): RealmClaims {
  const m = claimsMap(payload, 'realm');
  const known = new Set<CborValue>(Object.values(REALM_CLAIM));
  for (const [k] of m.entries) if (!known.has(k)) bad(`unknown realm claim ${String(k)}`);
  const rems = m.get(REALM_CLAIM.REM);
  if (!Array.isArray(rems) || rems.length !== 4) bad('realm extensible measurements must be an array of 4');
  const rak = m.get(REALM_CLAIM.RAK);
  if (!(rak instanceof Uint8Array) || rak.length === 0 || rak.length > 256) bad('realm public key must be a byte string');
  const profile = text(m, REALM_CLAIM.PROFILE, 'realm profile', true);
  return {
    ...(profile !== undefined ? { profile } : {}),
    challenge: bytes(m, REALM_CLAIM.CHALLENGE, 'realm challenge', [64]),
    personalizationValue: bytes(m, REALM_CLAIM.PERSONALIZATION, 'personalization value', [64]),
    measurementHashAlg: text(m, REALM_CLAIM.MEAS_HASH_ALG, 'measurement hash algorithm', false)!,
    rak,
    rakHashAlg: text(m, REALM_CLAIM.RAK_HASH_ALG, 'RAK hash algorithm', false)!,
    rim: bytes(m, REALM_CLAIM.RIM, 'realm initial measurement', DIGEST_LENGTHS),
    rems: (rems as readonly CborValue[]).map((x) => {
      if (!(x instanceof Uint8Array) || !DIGEST_LENGTHS.includes(x.length)) bad('extensible measurement must be a digest');
      return x;
    }),
  };
}

function decodePlatform(payload: Uint8Array): PlatformClaims {
  const m = claimsMap(payload, 'platform');
  const lifecycle = m.get(PLATFORM_CLAIM.LIFECYCLE);
  if (typeof lifecycle !== 'number' || lifecycle < 0 || lifecycle > 0xffff) bad('security lifecycle must be an integer');
  const sw = m.get(PLATFORM_CLAIM.SW_COMPONENTS);
  if (!Array.isArray(sw) || sw.length > CCA_SW_COMPONENTS_MAX) bad(`software components must be an array of at most ${CCA_SW_COMPONENTS_MAX}`);
  const config = m.get(PLATFORM_CLAIM.CONFIG);
  if (config !== undefined && !(config instanceof Uint8Array)) bad('platform config must be a byte string');
  const profile = text(m, PLATFORM_CLAIM.PROFILE, 'platform profile', true);
  const hashAlg = text(m, PLATFORM_CLAIM.HASH_ALG, 'platform hash algorithm', true);
  const verificationService = text(m, PLATFORM_CLAIM.VERIFICATION_SERVICE, 'verification service', true);
  const implementationId = m.get(PLATFORM_CLAIM.IMPLEMENTATION_ID);
  if (!(implementationId instanceof Uint8Array) || implementationId.length !== 32) bad('implementation id must be 32 bytes');
  return {
    ...(profile !== undefined ? { profile } : {}),
    challenge: bytes(m, PLATFORM_CLAIM.CHALLENGE, 'platform challenge', DIGEST_LENGTHS),
    implementationId,
    instanceId: bytes(m, PLATFORM_CLAIM.INSTANCE_ID, 'instance id', [33]),
    lifecycle,
    ...(config instanceof Uint8Array ? { config } : {}),
    ...(hashAlg !== undefined ? { hashAlg } : {}),
    ...(verificationService !== undefined ? { verificationService } : {}),
    swComponents: (sw as readonly CborValue[]).map(decodeSwComponent),
  };
}

function decodeSwComponent(v: CborValue): SwComponent {
  if (!(v instanceof CborMap)) bad('software component must be a map');
  const type = v.get(1);
  const measurement = v.get(2);
  const version = v.get(4);
  const signerId = v.get(5);
  if (type !== undefined && typeof type !== 'string') bad('software component type must be text');
  if (!(measurement instanceof Uint8Array) || measurement.length > 64) bad('software component measurement must be a digest');
  return {
    type: type ?? '',
    measurement,
    ...(signerId instanceof Uint8Array ? { signerId } : {}),
    ...(typeof version === 'string' ? { version } : {}),
  };
}

/**
 * The organisation manifest: members, roles, groups, public keys, the root
 * quorum, the expected enclave measurements and the first policy. Signers
 * accept a manifest only with a valid quorum of signatures (genesis: the
 * manifest's own quorum; later versions: the quorum of the installed one).
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { CustodianError } from '@custodian/core/errors';
import { canonicalJsonBytes, type Json } from '@custodian/core/canonical-json';
import { Fields } from '@custodian/core/fields';
import { bytesToHex } from '@custodian/core/bytes';
import { MANIFEST_OPERATORS_MAX } from '@custodian/core/limits';
import { isFullOrderEd25519Key } from '@custodian/core/ed25519-key';
import { verifyPayload, validateOperatorPublicKey, type OperatorKeyAlg, type OperatorPublicKey, type OperatorKeyPair, signPayload } from './operator-key.js';

/** Payload type of manifests (also the signing domain). */
export const MANIFEST_TYPE = 'custodian.manifest.v1';
/** The roles an operator may hold. */
export const ROLES = ['admin', 'initiator', 'approver', 'guardian', 'auditor'] as const;
export type Role = (typeof ROLES)[number];

const ID_RE = /^[a-z0-9][a-z0-9._-]{0,63}$/;
const HEX96_RE = /^[0-9a-f]{96}$/;
const HEX64_RE = /^[0-9a-f]{64}$/;
const ADDRESS_RE = /^0x[0-9a-fA-F]{40}$/;

/** One operator. */
export interface Operator {
  readonly id: string;
  readonly name: string;
  readonly roles: readonly Role[];
  readonly groups: readonly string[];
  readonly publicKey: OperatorPublicKey;
}

/** The first policy (issue 5 replaces it with Cedar rulebooks). */
export interface ManifestPolicy {
  /** Largest value per transaction, in wei. */
  readonly maxValueWei: bigint;
  /** Allowed destinations (lower-case 0x addresses). */
  readonly allowlist: readonly string[];
  /** Approvals needed: `count` distinct members of `group`, initiator excluded. */
  readonly approvals: { readonly group: string; readonly count: number };
  /**
   * `rulebookFilesDigest` (hex SHA-256) of the Cedar rulebook the signers
   * decide with (issue 5); when present, `maxValueWei`, `allowlist` and
   * `approvals` bound nothing and the host must supply exactly these files.
   */
  readonly rulebookDigest?: string;
}

/** A decoded manifest. */
export interface Manifest {
  readonly orgId: string;
  readonly version: number;
  /** sha256 of the previous manifest payload (hex), empty for genesis. */
  readonly previousHash: string;
  readonly chainId: bigint;
  readonly operators: readonly Operator[];
  readonly quorum: { readonly threshold: number; readonly members: readonly string[] };
  readonly enclave: { readonly platform: 'sim'; readonly measurements: readonly string[]; readonly simRoot: Uint8Array };
  readonly policy: ManifestPolicy;
}

/** A manifest with the quorum's signatures. */
export interface SignedManifest {
  readonly payload: Json;
  readonly signatures: readonly { readonly operatorId: string; readonly signature: Uint8Array }[];
}

/** Decodes a manifest payload (untrusted JSON) into a Manifest. */
export function decodeManifest(payload: Json): Manifest {
  const f = new Fields(payload, 'manifest');
  if (f.str('type', 64) !== MANIFEST_TYPE) throw new CustodianError('E_MANIFEST_INVALID', 'not a custodian.manifest.v1 payload');
  const operators = f.arr('operators', MANIFEST_OPERATORS_MAX).map((o, i) => decodeOperator(o, i));
  const ids = new Set(operators.map((o) => o.id));
  if (ids.size !== operators.length) throw new CustodianError('E_MANIFEST_INVALID', 'operator ids must be unique');
  // One key is one person: a key listed under two ids would count twice in quorums and approvals.
  if (new Set(operators.map((o) => bytesToHex(o.publicKey.key))).size !== operators.length) throw new CustodianError('E_MANIFEST_INVALID', 'operator public keys must be unique');
  const q = f.obj('quorum');
  const members = q.arr('members', MANIFEST_OPERATORS_MAX).map((m) => String(m));
  const threshold = q.int('threshold', 1, MANIFEST_OPERATORS_MAX);
  q.done();
  if (new Set(members).size !== members.length || members.some((m) => !ids.has(m))) throw new CustodianError('E_MANIFEST_INVALID', 'quorum members must be distinct operators of the manifest');
  if (threshold > members.length) throw new CustodianError('E_MANIFEST_INVALID', 'quorum threshold exceeds its members');
  const e = f.obj('enclave');
  if (e.str('platform', 16) !== 'sim') throw new CustodianError('E_MANIFEST_INVALID', 'only the sim platform is supported so far');
  const measurements = e.arr('measurements', 16).map((m) => {
    if (typeof m !== 'string' || !HEX96_RE.test(m)) throw new CustodianError('E_MANIFEST_INVALID', 'measurements must be lower-case SHA-384 hex');
    return m;
  });
  const enclave = { platform: 'sim' as const, measurements, simRoot: e.hex('simRoot', 32) };
  if (!isFullOrderEd25519Key(enclave.simRoot)) throw new CustodianError('E_MANIFEST_INVALID', 'simRoot is not a valid full-order Ed25519 key');
  e.done();
  const p = f.obj('policy');
  const allowlist = p.arr('allowlist', 10_000).map((a) => {
    if (typeof a !== 'string' || !ADDRESS_RE.test(a)) throw new CustodianError('E_MANIFEST_INVALID', 'allowlist entries must be 0x addresses');
    return a.toLowerCase();
  });
  const ap = p.obj('approvals');
  const approvals = { group: ap.str('group', 64, ID_RE), count: ap.int('count', 0, MANIFEST_OPERATORS_MAX) };
  ap.done();
  const rulebookDigest = p.optStr('rulebookDigest', 64, HEX64_RE);
  const policy: ManifestPolicy = { maxValueWei: p.uint('maxValueWei'), allowlist, approvals, ...(rulebookDigest === undefined ? {} : { rulebookDigest }) };
  p.done();
  const m: Manifest = {
    orgId: f.str('orgId', 64, ID_RE),
    version: f.int('version', 1),
    previousHash: f.str('previousHash', 64, /^([0-9a-f]{64})?$/),
    chainId: f.uint('chainId', 2n ** 64n - 1n),
    operators,
    quorum: { threshold, members },
    enclave,
    policy,
  };
  f.done();
  return m;
}

function decodeOperator(o: Json, i: number): Operator {
  const f = new Fields(o, `manifest.operators[${i}]`);
  const roles = f.arr('roles', ROLES.length).map((r) => {
    if (!ROLES.includes(r as Role)) throw new CustodianError('E_MANIFEST_INVALID', `unknown role ${String(r)}`);
    return r as Role;
  });
  const groups = f.arr('groups', 32).map((g) => {
    if (typeof g !== 'string' || !ID_RE.test(g)) throw new CustodianError('E_MANIFEST_INVALID', 'group names are lower-case identifiers');
    return g;
  });
  const k = f.obj('publicKey');
  const alg = k.str('alg', 16) as OperatorKeyAlg;
  if (alg !== 'ed25519' && alg !== 'p256') throw new CustodianError('E_MANIFEST_INVALID', `unsupported key algorithm ${alg}`);
  const publicKey = { alg, key: k.hex('key', alg === 'ed25519' ? 32 : 33) };
  k.done();
  validateOperatorPublicKey(publicKey);
  const op = { id: f.str('id', 64, ID_RE), name: f.str('name', 128), roles, groups, publicKey };
  f.done();
  return op;
}

/**
 * Hex SHA-256 identifying a rulebook bundle (what `policy.rulebookDigest`
 * pins): over the canonical JSON of its `[name, sha256(bytes)]` pairs sorted
 * by name.
 */
export function rulebookFilesDigest(files: ReadonlyMap<string, Uint8Array>): string {
  const pairs = [...files.keys()].sort().map((name) => [name, bytesToHex(sha256(files.get(name)!))]);
  return bytesToHex(sha256(canonicalJsonBytes(pairs)));
}

/** sha256 of the canonical manifest payload (hex): its identity. */
export function manifestHash(payload: Json): string {
  return bytesToHex(sha256(canonicalJsonBytes(payload)));
}

/** Signs a manifest payload as one quorum member. */
export function signManifest(payload: Json, operatorId: string, key: OperatorKeyPair): { operatorId: string; signature: Uint8Array } {
  return { operatorId, signature: signPayload(key, MANIFEST_TYPE, payload) };
}

/**
 * Verifies that `signed` carries at least `quorum.threshold` valid signatures
 * of distinct quorum members of `authority` (the installed manifest, or the
 * manifest itself at genesis). Throws E_MANIFEST_QUORUM naming the shortfall.
 */
export function verifyManifestQuorum(signed: SignedManifest, authority: Manifest): void {
  const valid = new Set<string>();
  for (const s of signed.signatures) {
    if (!authority.quorum.members.includes(s.operatorId) || valid.has(s.operatorId)) continue;
    const op = authority.operators.find((o) => o.id === s.operatorId);
    if (op && verifyPayload(op.publicKey, MANIFEST_TYPE, signed.payload, s.signature)) valid.add(s.operatorId);
  }
  if (valid.size < authority.quorum.threshold) {
    throw new CustodianError('E_MANIFEST_QUORUM', `manifest carries ${valid.size} valid quorum signature(s); ${authority.quorum.threshold} are required`, {
      valid: [...valid],
      required: authority.quorum.threshold,
    });
  }
}

/** Decodes the wire form of a signed manifest. */
export function decodeSignedManifest(json: Json): SignedManifest {
  const f = new Fields(json, 'signedManifest');
  const payload = f.raw('payload');
  const signatures = f.arr('signatures', MANIFEST_OPERATORS_MAX).map((s, i) => {
    const g = new Fields(s, `signedManifest.signatures[${i}]`);
    const v = { operatorId: g.str('operatorId', 64), signature: g.hex('signature', 64) };
    g.done();
    return v;
  });
  f.done();
  return { payload, signatures };
}

/** The wire form of a signed manifest. */
export function encodeSignedManifest(s: SignedManifest): Json {
  return { payload: s.payload, signatures: s.signatures.map((x) => ({ operatorId: x.operatorId, signature: bytesToHex(x.signature) })) };
}

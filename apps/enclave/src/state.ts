/**
 * The enclave's persistent state, kept only sealed outside the enclave:
 * identity key, installed manifest, wallets (with their secret keys or
 * threshold shares), verified peers and their channel keys, consumed approval
 * nonces and pre-signatures, signed requests, break-glass freezes and the
 * audit chain head.
 */
import { CustodianError } from '@custodian/core/errors';
import { canonicalJsonBytes, parseJson, type Json } from '@custodian/core/canonical-json';
import { Fields } from '@custodian/core/fields';
import { bytesToHex, hexToBytes } from '@custodian/core/bytes';
import { Secret } from '@custodian/core/secret';
import { decodeSignedManifest, encodeSignedManifest, type SignedManifest } from '@custodian/protocol/manifest';
import { AUDIT_GENESIS_HASH } from '@custodian/protocol/enclave-signed';
import { decodeKeyShare, encodeKeyShare } from '@custodian/tss/ecdsa/key-share-codec';
import type { EcdsaKeyShare } from '@custodian/tss/ecdsa/key-share';
import { decodeKeyShare as decodeFrostKeyShare, encodeKeyShareForSealing as encodeFrostKeyShare } from '@custodian/tss/frost/key-share-codec';
import type { FrostKeyShare } from '@custodian/tss/frost/key-package';
import { FROST_SCHEMES, WALLET_PARTIES_MAX, type FrostScheme } from '@custodian/protocol/payloads';
import { SEALED_STATE_BYTES_MAX } from './sealed-state.js';
import { decodeFreezes, encodeFreezes, type FreezeRecord } from './freeze.js';
import { decodePolicyOverrides, emptyPolicyOverrides, encodePolicyOverrides, type PolicyOverrides } from './policy-override.js';

/** Most unused FROST nonces sealed state may hold (the nonce store refuses more: THREATS.md L06). */
export const FROST_NONCES_SEALED_MAX = 4096;

/** Most files a sealed rulebook may hold. */
export const RULEBOOK_FILES_MAX = 256;

/**
 * The last refresh of a threshold wallet's shares this signer committed: its
 * session and every party's signed confirmation (served to a party that
 * missed the commit, so it can commit too).
 */
export interface RefreshRecord {
  readonly sessionId: string;
  readonly confirmations: readonly Json[];
}

/**
 * A refreshed share not in use yet: it replaces the current one only once
 * every party confirmed the same public key data (`digest`) for the session;
 * until then the current share signs nothing either (E_REFRESH_PENDING).
 */
export interface PendingRefresh<S> {
  readonly sessionId: string;
  readonly digest: string;
  readonly share: S;
}

/** Most confirmations a refresh record holds (one per party). */
const REFRESH_CONFIRMATIONS_MAX = WALLET_PARTIES_MAX;

/** A wallet key held by this signer (`single` scheme). */
export interface SingleWalletRecord {
  readonly walletId: string;
  readonly scheme: 'single';
  readonly secretKey: Secret<Uint8Array>;
  readonly publicKey: Uint8Array;
  readonly address: string;
}

/**
 * This signer's share of a threshold ECDSA wallet (`ecdsa-dkls`): party
 * i + 1 is `parties[i]`. The share's status flags (frozen, excluded peers)
 * are mutable and sealed with it.
 */
export interface ThresholdWalletRecord {
  readonly walletId: string;
  readonly scheme: 'ecdsa-dkls';
  readonly threshold: number;
  readonly parties: readonly string[];
  readonly share: EcdsaKeyShare;
  readonly publicKey: Uint8Array;
  readonly address: string;
  readonly refresh?: RefreshRecord | null;
  readonly pending?: PendingRefresh<EcdsaKeyShare> | null;
}

/**
 * This signer's share of a FROST wallet (`frost-ed25519`: a Solana address;
 * `frost-secp256k1-tr`: a BIP341 key-path P2TR output). `publicKey` is the
 * RFC 9591 group key (for taproot the untweaked internal key, SEC1
 * compressed); `outputKey` the key signatures verify under (ed25519: the
 * group key; taproot: the tweaked x-only output key).
 */
export interface FrostWalletRecord {
  readonly walletId: string;
  readonly scheme: FrostScheme;
  readonly threshold: number;
  readonly parties: readonly string[];
  readonly share: FrostKeyShare;
  readonly publicKey: Uint8Array;
  readonly outputKey: Uint8Array;
  readonly address: string;
  readonly refresh?: RefreshRecord | null;
  readonly pending?: PendingRefresh<FrostKeyShare> | null;
}

/** A wallet this signer holds key material for. */
export type WalletRecord = SingleWalletRecord | ThresholdWalletRecord | FrostWalletRecord;

/** Longest wallet address kept in state (P2TR bech32m on regtest is 64 characters). */
export const WALLET_ADDRESS_CHARS_MAX = 90;

/** A peer signer whose evidence this signer verified (peers.install), with its attested channel key. */
export interface PeerRecord {
  readonly identityKey: Uint8Array;
  /** Its HPKE peer-channel public key, from a statement signed by its identity key (null: none published). */
  readonly peerKey: Uint8Array | null;
}

/**
 * A request this signer has signed (idempotent re-answers, F03). `audited`
 * turns true only once its audit entries are durable: a record sealed before
 * that (write-ahead) is audited again before it is ever released.
 */
export interface SignedRecord {
  readonly signedTx: string;
  readonly txHash: string;
  readonly audited: boolean;
  /** When it was signed; records are kept while its approvals could still be valid. */
  readonly atMs: number;
  /** The approvals counted, as `operatorId:sha256(approval payload)`. */
  readonly approvals: readonly string[];
}

/** Longest transaction id kept: an EVM 0x hash (66), a Bitcoin txid (64), a base58 Solana signature (up to 88). */
export const TX_ID_CHARS_MAX = 128;

/** A FROST round-one nonce pair this signer committed to and has not used yet (secret; sealed with the state). */
export interface FrostNonceRecord {
  readonly sessionId: string;
  readonly hiding: Secret<Uint8Array>;
  readonly binding: Secret<Uint8Array>;
  /** When it was made (ms): unused nonces past the session time are forgotten (never signed with). */
  readonly atMs: number;
}

/**
 * The organisation secret reconstructed by quorum provisioning
 * (provisioning-ops.ts): kept sealed, never answered to anyone.
 */
export interface ProvisionedSecret {
  /** SHA-256 of the share manifest it was reconstructed under (hex). */
  readonly shareManifestHash: string;
  readonly setId: string;
  readonly secret: Secret<Uint8Array>;
  /** The members whose shares were used. */
  readonly members: readonly string[];
  readonly atMs: number;
}

/** Largest provisioned secret kept (the share manifest's bound). */
const PROVISIONED_SECRET_BYTES_MAX = 1024;
/** Most members named in a provisioned secret (a split's bound). */
const PROVISIONED_MEMBERS_MAX = 255;

/** The whole persistent state. */
export interface EnclaveState {
  identitySecret: Secret<Uint8Array>;
  /** Seeds of the audit log's note keys (log signature, cosignature). */
  readonly logSeed: Secret<Uint8Array>;
  readonly cosignSeed: Secret<Uint8Array>;
  /** The last checkpoint text this signer signed: it only ever signs extensions of it. */
  lastCheckpoint: string | null;
  signedManifest: SignedManifest | null;
  readonly wallets: Map<string, WalletRecord>;
  /** `${operatorId}:${nonce}` → expiry (ms); pruned after expiry. */
  readonly consumedNonces: Map<string, number>;
  readonly signed: Map<string, SignedRecord>;
  audit: { seq: number; headHash: string };
  /** Seed of this signer's HPKE peer-channel key pair (null only in state sealed before it existed; boot fills it). */
  peerSeed: Secret<Uint8Array> | null;
  /** Peers verified by peers.install, by signer id. */
  readonly peers: Map<string, PeerRecord>;
  /** Threshold requests this signer approved for signing (request id → when): their approval nonces may be presented again in a new session. */
  readonly mpcApproved: Map<string, number>;
  /** Pre-signature sessions whose online message this signer released (session id hex → when): never used twice. */
  readonly usedPresigs: Map<string, number>;
  /** FROST nonces committed and not yet used (nonce key → record): sealed before a commitment leaves. */
  readonly frostNonces: Map<string, FrostNonceRecord>;
  /** FROST nonce keys consumed (nonce key → when): sealed before a signature share leaves; never fresh again. */
  readonly frostConsumed: Map<string, number>;
  /** The latest time this signer has seen (ms); its clock may not go back before it (F08). */
  timeFloorMs: number;
  /** The Cedar rulebook files (name → bytes) the installed manifest pins, or null when it pins none (first policy). */
  rulebook: Map<string, Uint8Array> | null;
  /** The Cedar spending ledger as `CedarPolicy.ledgerToJson` wrote it (null: none yet). */
  velocityLedger: Json | null;
  /** When this signer first saw each request (request id → ms, its own clock): time-locks run from here. */
  readonly requestSeen: Map<string, number>;
  /**
   * The summary hashes this signer computed for a request when it first saw
   * it (request id → hashes, one per party): approvals given for that
   * description keep counting after the policy state moves (bounded and
   * pruned with `requestSeen`).
   */
  readonly summarySeen: Map<string, readonly string[]>;
  /** The organisation secret quorum provisioning reconstructed (absent or null: none). */
  provisioned?: ProvisionedSecret | null;
  /** The last break-glass freeze or unfreeze applied per scope (`wallet:<id>`, `organisation:<id>`; see freeze.ts). */
  readonly freezes: Map<string, FreezeRecord>;
  /** Break-glass `override-policy` requests applied by this signer (see policy-override.ts). */
  readonly policyOverrides: PolicyOverrides;
  /** Set once this build handed its state to a newer build (migrate-ops.ts): it serves nothing again (absent or null: live). */
  retired?: RetiredRecord | null;
  version: bigint;
}

/** A signer build that moved its state to another build: where to, and when. */
export interface RetiredRecord {
  /** The new build's measurement (hex SHA-384), as its evidence showed it. */
  readonly toMeasurement: string;
  readonly atMs: number;
}

/** A fresh state with a new identity key. */
export function initialState(identitySecret: Uint8Array, logSeed: Uint8Array, cosignSeed: Uint8Array, peerSeed: Uint8Array): EnclaveState {
  return {
    identitySecret: new Secret(identitySecret),
    logSeed: new Secret(logSeed),
    cosignSeed: new Secret(cosignSeed),
    lastCheckpoint: null,
    signedManifest: null,
    wallets: new Map(),
    consumedNonces: new Map(),
    signed: new Map(),
    audit: { seq: 0, headHash: AUDIT_GENESIS_HASH },
    peerSeed: new Secret(peerSeed),
    peers: new Map(),
    mpcApproved: new Map(),
    usedPresigs: new Map(),
    frostNonces: new Map(),
    frostConsumed: new Map(),
    timeFloorMs: 0,
    rulebook: null,
    velocityLedger: null,
    requestSeen: new Map(),
    summarySeen: new Map(),
    freezes: new Map(),
    policyOverrides: emptyPolicyOverrides(),
    version: 0n,
  };
}

/** The refresh fields of a threshold wallet (absent when never refreshed and nothing pending). */
function encodeRefresh<S>(w: { refresh?: RefreshRecord | null; pending?: PendingRefresh<S> | null }, encodeShare: (s: S) => string): Record<string, Json> {
  return {
    ...(w.refresh ? { refresh: { sessionId: w.refresh.sessionId, confirmations: [...w.refresh.confirmations] } } : {}),
    ...(w.pending ? { pending: { sessionId: w.pending.sessionId, digest: w.pending.digest, share: encodeShare(w.pending.share) } } : {}),
  };
}

function decodeRefresh<S>(g: Fields, decodeShare: (hex: Uint8Array) => S, shareBytesMax: number): { refresh: RefreshRecord | null; pending: PendingRefresh<S> | null } {
  let refresh: RefreshRecord | null = null;
  let pending: PendingRefresh<S> | null = null;
  if (g.optRaw('refresh') !== undefined) {
    const r = g.obj('refresh');
    refresh = { sessionId: r.str('sessionId', 64, /^[0-9a-f]{64}$/), confirmations: r.arr('confirmations', REFRESH_CONFIRMATIONS_MAX) };
    r.done();
  }
  if (g.optRaw('pending') !== undefined) {
    const r = g.obj('pending');
    pending = { sessionId: r.str('sessionId', 64, /^[0-9a-f]{64}$/), digest: r.str('digest', 64, /^[0-9a-f]{64}$/), share: decodeShare(r.hex('share', undefined, shareBytesMax)) };
    r.done();
  }
  return { refresh, pending };
}

const ECDSA_SHARE_BYTES_MAX = 4 << 20;
const FROST_SHARE_BYTES_MAX = 64 * 1024;

/** One wallet record as sealed state (and signer backups) carry it. */
export function encodeWallet(w: WalletRecord): Json {
  if (w.scheme === 'single') return { walletId: w.walletId, scheme: w.scheme, secretKey: bytesToHex(w.secretKey.expose()), publicKey: bytesToHex(w.publicKey), address: w.address };
  if (w.scheme === 'ecdsa-dkls') {
    return { walletId: w.walletId, scheme: w.scheme, threshold: w.threshold, parties: [...w.parties], share: bytesToHex(encodeKeyShare(w.share)), publicKey: bytesToHex(w.publicKey), address: w.address, ...encodeRefresh(w, (x) => bytesToHex(encodeKeyShare(x))) };
  }
  return {
    walletId: w.walletId, scheme: w.scheme, threshold: w.threshold, parties: [...w.parties], share: bytesToHex(encodeFrostKeyShare(w.share).expose()), publicKey: bytesToHex(w.publicKey), outputKey: bytesToHex(w.outputKey), address: w.address,
    ...encodeRefresh(w, (x) => bytesToHex(encodeFrostKeyShare(x).expose())),
  };
}

/** Decodes one wallet record (sealed state, or an opened signer backup). */
export function decodeWallet(json: Json): WalletRecord {
  const g = new Fields(json, 'wallet');
  const walletId = g.str('walletId', 64);
  const scheme = g.str('scheme', 32);
  let rec: WalletRecord;
  if (scheme === 'single') {
    rec = { walletId, scheme, secretKey: new Secret(g.hex('secretKey', 32)), publicKey: g.hex('publicKey', 33), address: g.str('address', 42) };
  } else if (scheme === 'ecdsa-dkls') {
    const parties = g.arr('parties', WALLET_PARTIES_MAX).map((x) => String(x));
    rec = { walletId, scheme, threshold: g.int('threshold', 2, parties.length), parties, share: decodeKeyShare(g.hex('share', undefined, ECDSA_SHARE_BYTES_MAX)), publicKey: g.hex('publicKey', 33), address: g.str('address', 42), ...decodeRefresh(g, decodeKeyShare, ECDSA_SHARE_BYTES_MAX) };
  } else if ((FROST_SCHEMES as readonly string[]).includes(scheme)) {
    const parties = g.arr('parties', WALLET_PARTIES_MAX).map((x) => String(x));
    const share = decodeFrostKeyShare(new Secret(g.hex('share', undefined, FROST_SHARE_BYTES_MAX)));
    rec = {
      walletId, scheme: scheme as FrostScheme, threshold: g.int('threshold', 2, parties.length), parties, share, publicKey: g.hex('publicKey', undefined, 33), outputKey: g.hex('outputKey', 32), address: g.str('address', WALLET_ADDRESS_CHARS_MAX),
      ...decodeRefresh(g, (b) => decodeFrostKeyShare(new Secret(b)), FROST_SHARE_BYTES_MAX),
    };
  } else {
    throw new CustodianError('E_SEALED_STATE_INVALID', 'unknown wallet scheme in state');
  }
  g.done();
  return rec;
}

function pairs(v: Json | undefined, what: string): [string, number][] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) throw new CustodianError('E_SEALED_STATE_INVALID', `${what} must be a list`);
  return v.map((n) => {
    if (!Array.isArray(n) || typeof n[0] !== 'string' || typeof n[1] !== 'number') throw new CustodianError('E_SEALED_STATE_INVALID', `bad ${what} entry`);
    return [n[0], n[1]];
  });
}

/** Serialises the state for sealing (the only place secrets are exposed for storage). */
export function encodeState(s: EnclaveState): Uint8Array {
  const json: Json = {
    identitySecret: bytesToHex(s.identitySecret.expose()),
    logSeed: bytesToHex(s.logSeed.expose()),
    cosignSeed: bytesToHex(s.cosignSeed.expose()),
    lastCheckpoint: s.lastCheckpoint,
    signedManifest: s.signedManifest ? encodeSignedManifest(s.signedManifest) : null,
    wallets: [...s.wallets.values()].map(encodeWallet),
    consumedNonces: [...s.consumedNonces.entries()].map(([k, v]) => [k, v]),
    signed: [...s.signed.entries()].map(([k, v]) => ({ requestId: k, signedTx: v.signedTx, txHash: v.txHash, audited: v.audited, atMs: v.atMs, approvals: [...v.approvals] })),
    audit: { seq: s.audit.seq, headHash: s.audit.headHash },
    ...(s.peerSeed ? { peerSeed: bytesToHex(s.peerSeed.expose()) } : {}),
    peers: [...s.peers].map(([signerId, p]) => ({ signerId, identityKey: bytesToHex(p.identityKey), peerKey: p.peerKey ? bytesToHex(p.peerKey) : null })),
    mpcApproved: [...s.mpcApproved.entries()].map(([k, v]) => [k, v]),
    usedPresigs: [...s.usedPresigs.entries()].map(([k, v]) => [k, v]),
    ...(s.frostNonces.size > 0 ? { frostNonces: [...s.frostNonces].map(([key, n]) => ({ key, sessionId: n.sessionId, hiding: bytesToHex(n.hiding.expose()), binding: bytesToHex(n.binding.expose()), atMs: n.atMs })) } : {}),
    ...(s.frostConsumed.size > 0 ? { frostConsumed: [...s.frostConsumed.entries()].map(([k, v]) => [k, v]) } : {}),
    timeFloorMs: s.timeFloorMs,
    ...(s.rulebook ? { rulebook: [...s.rulebook].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([name, bytes]) => [name, bytesToHex(bytes)]) } : {}),
    ...(s.velocityLedger !== null ? { velocityLedger: s.velocityLedger } : {}),
    requestSeen: [...s.requestSeen.entries()].map(([k, v]) => [k, v]),
    ...(s.summarySeen.size > 0 ? { summarySeen: [...s.summarySeen.entries()].map(([k, v]) => [k, [...v]]) } : {}),
    ...(s.freezes.size > 0 ? { freezes: encodeFreezes(s.freezes) } : {}),
    ...(s.policyOverrides.records.size > 0 || s.policyOverrides.floorMs > 0 ? { policyOverrides: encodePolicyOverrides(s.policyOverrides) } : {}),
    ...(s.retired ? { retired: { toMeasurement: s.retired.toMeasurement, atMs: s.retired.atMs } } : {}),
    ...(s.provisioned ? { provisioned: { shareManifestHash: s.provisioned.shareManifestHash, setId: s.provisioned.setId, secret: bytesToHex(s.provisioned.secret.expose()), members: [...s.provisioned.members], atMs: s.provisioned.atMs } } : {}),
  };
  return canonicalJsonBytes(json);
}

/** Decodes `summarySeen`: [request id, [64-hex hashes, at most one per party]] pairs. */
function summaryLists(v: Json | undefined): Map<string, readonly string[]> {
  const out = new Map<string, readonly string[]>();
  if (v === undefined) return out;
  if (!Array.isArray(v)) throw new CustodianError('E_SEALED_STATE_INVALID', 'summarySeen must be a list');
  for (const n of v) {
    if (!Array.isArray(n) || typeof n[0] !== 'string' || !Array.isArray(n[1]) || n[1].length > WALLET_PARTIES_MAX || n[1].some((h) => typeof h !== 'string' || !/^[0-9a-f]{64}$/.test(h))) {
      throw new CustodianError('E_SEALED_STATE_INVALID', 'bad summarySeen entry');
    }
    out.set(n[0], n[1] as string[]);
  }
  return out;
}

function stringOrNull(v: unknown, field: string): string | null {
  if (v !== null && typeof v !== 'string') throw new CustodianError('E_SEALED_STATE_INVALID', `${field} must be a string or null`);
  return v;
}

/** Decodes unsealed state bytes. */
export function decodeState(bytes: Uint8Array, version: bigint): EnclaveState {
  try {
    const f = new Fields(parseJson(bytes, SEALED_STATE_BYTES_MAX), 'state');
    const sm = f.raw('signedManifest');
    const s: EnclaveState = {
      identitySecret: new Secret(f.hex('identitySecret', 32)),
      logSeed: new Secret(f.hex('logSeed', 32)),
      cosignSeed: new Secret(f.hex('cosignSeed', 32)),
      lastCheckpoint: stringOrNull(f.raw('lastCheckpoint'), 'lastCheckpoint'),
      signedManifest: sm === null ? null : decodeSignedManifest(sm),
      wallets: new Map(),
      consumedNonces: new Map(),
      signed: new Map(),
      audit: { seq: 0, headHash: AUDIT_GENESIS_HASH },
      peerSeed: null,
      peers: new Map(),
      mpcApproved: new Map(pairs(f.optRaw('mpcApproved'), 'mpcApproved')),
      usedPresigs: new Map(pairs(f.optRaw('usedPresigs'), 'usedPresigs')),
      frostNonces: new Map(),
      frostConsumed: new Map(pairs(f.optRaw('frostConsumed'), 'frostConsumed')),
      timeFloorMs: 0,
      rulebook: null,
      velocityLedger: f.optRaw('velocityLedger') ?? null,
      requestSeen: new Map(pairs(f.optRaw('requestSeen'), 'requestSeen')),
      summarySeen: summaryLists(f.optRaw('summarySeen')),
      // State sealed before break-glass freezes existed has none.
      freezes: decodeFreezes(f.optRaw('freezes')),
      // State sealed before break-glass policy overrides existed has none.
      policyOverrides: decodePolicyOverrides(f.optRaw('policyOverrides')),
      version,
    };
    const rb = f.optRaw('rulebook');
    if (rb !== undefined) {
      if (!Array.isArray(rb) || rb.length > RULEBOOK_FILES_MAX) throw new CustodianError('E_SEALED_STATE_INVALID', 'rulebook must be a bounded list');
      s.rulebook = new Map(rb.map((n) => {
        if (!Array.isArray(n) || typeof n[0] !== 'string' || typeof n[1] !== 'string' || !/^([0-9a-f]{2})*$/.test(n[1])) throw new CustodianError('E_SEALED_STATE_INVALID', 'bad rulebook entry');
        return [n[0], hexToBytes(n[1])];
      }));
    }
    if (f.optRaw('provisioned') !== undefined) {
      const g = f.obj('provisioned');
      s.provisioned = {
        shareManifestHash: g.str('shareManifestHash', 64, /^[0-9a-f]{64}$/),
        setId: g.str('setId', 32, /^[0-9a-f]{32}$/),
        secret: new Secret(g.hex('secret', undefined, PROVISIONED_SECRET_BYTES_MAX)),
        members: g.arr('members', PROVISIONED_MEMBERS_MAX).map((m) => {
          if (typeof m !== 'string' || m.length > 64) throw new CustodianError('E_SEALED_STATE_INVALID', 'bad provisioned member');
          return m;
        }),
        atMs: g.int('atMs'),
      };
      g.done();
    }
    // State sealed before migrations existed, or of a live build, has no `retired`.
    if (f.optRaw('retired') !== undefined) {
      const g = f.obj('retired');
      s.retired = { toMeasurement: g.str('toMeasurement', 96, /^[0-9a-f]{96}$/), atMs: g.int('atMs') };
      g.done();
    }
    if (f.optRaw('peerSeed') !== undefined) s.peerSeed = new Secret(f.hex('peerSeed', 32));
    for (const p of (f.optRaw('peers') === undefined ? [] : f.arr('peers', 64))) {
      const g = new Fields(p, 'peer');
      const signerId = g.str('signerId', 64);
      const identityKey = g.hex('identityKey', 32);
      const peerKey = g.raw('peerKey') === null ? null : g.hex('peerKey', 32);
      g.done();
      s.peers.set(signerId, { identityKey, peerKey });
    }
    for (const n of (f.optRaw('frostNonces') === undefined ? [] : f.arr('frostNonces', FROST_NONCES_SEALED_MAX))) {
      const g = new Fields(n, 'frostNonce');
      const key = g.str('key', 64, /^[0-9a-f]{64}$/);
      s.frostNonces.set(key, { sessionId: g.str('sessionId', 128), hiding: new Secret(g.hex('hiding', 32)), binding: new Secret(g.hex('binding', 32)), atMs: g.int('atMs') });
      g.done();
    }
    for (const w of f.arr('wallets', 100_000)) {
      const rec = decodeWallet(w);
      s.wallets.set(rec.walletId, rec);
    }
    for (const n of f.arr('consumedNonces', 10_000_000)) {
      if (!Array.isArray(n) || typeof n[0] !== 'string' || typeof n[1] !== 'number') throw new CustodianError('E_SEALED_STATE_INVALID', 'bad nonce entry');
      s.consumedNonces.set(n[0], n[1]);
    }
    for (const r of f.arr('signed', 10_000_000)) {
      const g = new Fields(r, 'signed');
      s.signed.set(g.str('requestId', 64), { signedTx: g.str('signedTx', 1 << 20), txHash: g.str('txHash', TX_ID_CHARS_MAX), audited: g.bool('audited'), atMs: g.int('atMs'), approvals: g.arr('approvals', 64).map((x) => String(x)) });
      g.done();
    }
    const a = f.obj('audit');
    s.audit = { seq: a.int('seq'), headHash: a.str('headHash', 64) };
    a.done();
    s.timeFloorMs = f.int('timeFloorMs');
    f.done();
    return s;
  } catch (e) {
    if (e instanceof CustodianError && e.code === 'E_SEALED_STATE_INVALID') throw e;
    throw new CustodianError('E_SEALED_STATE_INVALID', `sealed state does not decode: ${(e as Error).message}`);
  }
}

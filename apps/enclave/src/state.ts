/**
 * The enclave's persistent state, kept only sealed outside the enclave:
 * identity key, installed manifest, wallets (with their secret keys),
 * consumed approval nonces, signed requests and the audit chain head.
 */
import { CustodianError } from '@custodian/core/errors';
import { canonicalJsonBytes, parseJson, type Json } from '@custodian/core/canonical-json';
import { Fields } from '@custodian/core/fields';
import { bytesToHex } from '@custodian/core/bytes';
import { Secret } from '@custodian/core/secret';
import { decodeSignedManifest, encodeSignedManifest, type SignedManifest } from '@custodian/protocol/manifest';
import { AUDIT_GENESIS_HASH } from '@custodian/protocol/enclave-signed';
import { SEALED_STATE_BYTES_MAX } from './sealed-state.js';

/** A wallet key held by this signer (`single` scheme). */
export interface WalletRecord {
  readonly walletId: string;
  readonly scheme: 'single';
  readonly secretKey: Secret<Uint8Array>;
  readonly publicKey: Uint8Array;
  readonly address: string;
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
  /** The latest time this signer has seen (ms); its clock may not go back before it (F08). */
  timeFloorMs: number;
  version: bigint;
}

/** A fresh state with a new identity key. */
export function initialState(identitySecret: Uint8Array, logSeed: Uint8Array, cosignSeed: Uint8Array): EnclaveState {
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
    timeFloorMs: 0,
    version: 0n,
  };
}

/** Serialises the state for sealing (the only place secrets are exposed for storage). */
export function encodeState(s: EnclaveState): Uint8Array {
  const json: Json = {
    identitySecret: bytesToHex(s.identitySecret.expose()),
    logSeed: bytesToHex(s.logSeed.expose()),
    cosignSeed: bytesToHex(s.cosignSeed.expose()),
    lastCheckpoint: s.lastCheckpoint,
    signedManifest: s.signedManifest ? encodeSignedManifest(s.signedManifest) : null,
    wallets: [...s.wallets.values()].map((w) => ({ walletId: w.walletId, scheme: w.scheme, secretKey: bytesToHex(w.secretKey.expose()), publicKey: bytesToHex(w.publicKey), address: w.address })),
    consumedNonces: [...s.consumedNonces.entries()].map(([k, v]) => [k, v]),
    signed: [...s.signed.entries()].map(([k, v]) => ({ requestId: k, signedTx: v.signedTx, txHash: v.txHash, audited: v.audited, atMs: v.atMs, approvals: [...v.approvals] })),
    audit: { seq: s.audit.seq, headHash: s.audit.headHash },
    timeFloorMs: s.timeFloorMs,
  };
  return canonicalJsonBytes(json);
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
      timeFloorMs: 0,
      version,
    };
    for (const w of f.arr('wallets', 100_000)) {
      const g = new Fields(w, 'wallet');
      const rec: WalletRecord = { walletId: g.str('walletId', 64), scheme: 'single', secretKey: new Secret(g.hex('secretKey', 32)), publicKey: g.hex('publicKey', 33), address: g.str('address', 42) };
      if (g.str('scheme', 16) !== 'single') throw new CustodianError('E_SEALED_STATE_INVALID', 'unknown wallet scheme in state');
      g.done();
      s.wallets.set(rec.walletId, rec);
    }
    for (const n of f.arr('consumedNonces', 10_000_000)) {
      if (!Array.isArray(n) || typeof n[0] !== 'string' || typeof n[1] !== 'number') throw new CustodianError('E_SEALED_STATE_INVALID', 'bad nonce entry');
      s.consumedNonces.set(n[0], n[1]);
    }
    for (const r of f.arr('signed', 10_000_000)) {
      const g = new Fields(r, 'signed');
      s.signed.set(g.str('requestId', 64), { signedTx: g.str('signedTx', 1 << 20), txHash: g.str('txHash', 66), audited: g.bool('audited'), atMs: g.int('atMs'), approvals: g.arr('approvals', 64).map((x) => String(x)) });
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

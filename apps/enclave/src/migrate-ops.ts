/**
 * Moving a signer's sealed state to a new enclave build (DESIGN.md flow 6;
 * issue 7 item 2: a new build gets the signer's keys only once the quorum
 * approved its measurement). A sealing key is per measurement, so a new
 * build cannot unseal the old build's state; the old build hands it over,
 * live, to a new build its installed manifest lists:
 *
 *   state.migrate.offer    old build: a fresh nonce, remembered in memory
 *                          for MIGRATION_OFFER_TTL_MS.
 *   state.migrate.prepare  new build (pristine, same signer id): an
 *                          ephemeral X25519 key in memory, attested with
 *                          that nonce.
 *   state.migrate.export   old build: appraises the new build's evidence
 *                          against its installed manifest (sim root, a
 *                          listed measurement, the binding of key and
 *                          nonce), RETIRES (sealed: it serves nothing again,
 *                          E_SIGNER_RETIRED), audits `state.migrated_out`
 *                          and answers its state HPKE-sealed to the key,
 *                          with fresh evidence binding its identity key to
 *                          the sealed package.
 *   state.migrate.import   new build: opens the package, appraises the
 *                          sender's evidence against the manifest inside it
 *                          (a listed measurement, the identity key the
 *                          package's identity secret makes, the binding to
 *                          this very package) and its own measurement
 *                          against the same manifest, then takes the state.
 *   state.migrate.confirm  new build: audits `state.migrated_in` as the next
 *                          entry of the same chain, once the host re-attested
 *                          it (same identity); it serves nothing else before.
 *
 * Unlike a backup (backup-ops.ts), a live move carries the FULL state —
 * replay records, consumed nonces, first-sight times: the old build stops
 * as the new one starts, so none of it is stale — except unused FROST
 * nonces: they are dropped, since reusing a nonce the old build may have
 * committed to would leak the share.
 *
 * The new build is pristine until the import: its chain position belongs to
 * the old build, so its refusals are answered, not logged (enclave.ts leaves
 * MIGRATION_UNAUDITED_OPS out of the catch-all audit). A retired build does
 * not write to the chain either: its next position is the new build's.
 *
 * On the sim platform the sim root is the manifest's, so a package is only
 * as trustworthy as the manifest inside it; with vendor roots pinned, the
 * sender's evidence proves a genuine enclave of a listed build sent it.
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { deflateRawSync } from 'node:zlib';
import { randomBytes } from 'node:crypto';
import { CustodianError, isCustodianError } from '@custodian/core/errors';
import { bytesToHex, concatBytes, utf8 } from '@custodian/core/bytes';
import { canonicalJsonBytes, parseJson, type Json } from '@custodian/core/canonical-json';
import { Fields } from '@custodian/core/fields';
import { generateHpkeKeyPair, hpkeOpen, hpkeSeal, X25519_PUBLIC_KEY_BYTES, type HpkeSealed } from '@custodian/core/hpke-seal';
import type { Secret } from '@custodian/core/secret';
import { appraiseSimClaims, verifySimEvidence, SIM_EVIDENCE_BYTES_MAX, type SimClaims } from '@custodian/attestation/sim/sim-evidence';
import type { RpcPeer } from '@custodian/protocol/frame-rpc';
import { identityReportData } from '@custodian/protocol/identity-binding';
import { decodeManifest, type Manifest } from '@custodian/protocol/manifest';
import type { EnclaveContext } from './enclave-context.js';
import { EphemeralKeySlot } from './ephemeral-key-slot.js';
import { inflateState, isPristine, ownBytes } from './backup-ops.js';
import { decodeState, encodeState, type EnclaveState } from './state.js';
import { SEALED_STATE_BYTES_MAX } from './sealed-state.js';

/** Type tag of a migration package's plaintext. */
export const MIGRATION_PACKAGE_TYPE = 'custodian.signer-migration.v1';
/** HPKE `info` domain of a migration package (followed by 0x00 and the signer id). */
export const MIGRATION_INFO_DOMAIN = 'custodian/signer-migration/v1';
/** Domain of the package digest the sender's evidence binds. */
export const MIGRATION_PACKAGE_DIGEST_DOMAIN = 'custodian/signer-migration/package/v1';
/** Length of the old build's offer nonce. */
export const MIGRATION_NONCE_BYTES = 32;
/** How long an offer or a preparation stays usable (memory only: a restart starts over). */
export const MIGRATION_OFFER_TTL_MS = 5 * 60 * 1000;
/**
 * Largest package plaintext (compressed state). The export answer carries the
 * ciphertext as hex in one host↔enclave frame (FRAME_BYTES_MAX, 4 MiB):
 * 1.75 MiB is 3.5 MiB of hex, leaving room for evidence and the envelope.
 */
export const MIGRATION_PACKAGE_BYTES_MAX = 1792 * 1024;
/** AES-GCM tag length (the ciphertext is the plaintext and its tag). */
const AEAD_TAG_BYTES = 16;
/** Room kept when the package is sized before the audit entry moves the head (a longer `seq`). */
const PACKAGE_SIZE_MARGIN_BYTES = 1024;

/** The ops a pristine (or just-imported) new build runs: refusals are answered, never audited (see the module comment). */
export const MIGRATION_UNAUDITED_OPS: ReadonlySet<string> = new Set(['state.migrate.prepare', 'state.migrate.import', 'state.migrate.confirm']);

/** What an import installed and its confirmation audits. */
interface UnconfirmedImport {
  readonly fromMeasurement: string;
  readonly toMeasurement: string;
  readonly packageSha256: string;
  readonly wallets: readonly string[];
}

/** The in-memory slots of a migration: the old build's offer, the new build's preparation and unconfirmed import. */
export class MigrationSlot {
  #offer: { readonly nonce: string; readonly atMs: number } | null = null;
  /** The new build's ephemeral key waiting for the package. */
  readonly key = new EphemeralKeySlot(MIGRATION_OFFER_TTL_MS, { code: 'E_MIGRATION_NOT_PREPARED', message: 'no migration was prepared with this nonce on this signer (or it expired); prepare again' });
  /** An import installed in memory and not yet audited: the signer serves only `hello` and the confirmation. */
  unconfirmed: UnconfirmedImport | null = null;

  /** Remembers one offer (replacing any earlier one). */
  offer(nonce: Uint8Array, atMs: number): void {
    this.#offer = { nonce: bytesToHex(nonce), atMs };
  }

  /** Consumes the offer: single use, whether or not the export goes on. */
  takeOffer(nonce: Uint8Array, nowMs: number): void {
    const o = this.#offer;
    this.#offer = null;
    if (!o || o.nonce !== bytesToHex(nonce) || nowMs - o.atMs > MIGRATION_OFFER_TTL_MS || nowMs < o.atMs) {
      throw new CustodianError('E_MIGRATION_NOT_OFFERED', 'this signer offered no migration with this nonce (or the offer expired or was used); ask for a fresh offer');
    }
  }
}

/** HPKE `info` of a package for `signerId`. */
export function migrationInfo(signerId: string): Uint8Array {
  return concatBytes(utf8(MIGRATION_INFO_DOMAIN), new Uint8Array([0]), utf8(signerId));
}

/** What the sender's evidence binds beside its identity key: SHA-256 of domain ‖ nonce ‖ enc ‖ ciphertext (fixed-length parts first). */
export function migrationPackageDigest(nonce: Uint8Array, sealed: HpkeSealed): Uint8Array {
  return sha256(concatBytes(utf8(MIGRATION_PACKAGE_DIGEST_DOMAIN), new Uint8Array([0]), nonce, sealed.enc, sealed.ciphertext));
}

/** The state a migration carries: all of it, but never unused FROST nonces, and not the retirement. */
export function migrationState(s: EnclaveState): EnclaveState {
  return { ...s, frostNonces: new Map(), retired: null };
}

/** `state.migrate.offer {}` (old build): a fresh nonce for the new build to attest its ephemeral key with. */
export function offerMigration(ctx: EnclaveContext, slot: MigrationSlot, body: Json): Json {
  new Fields(body, 'state.migrate.offer').done();
  ctx.manifest();
  const nonce = new Uint8Array(randomBytes(MIGRATION_NONCE_BYTES));
  slot.offer(nonce, ctx.nowMs());
  return { signerId: ctx.signerId, nonce: bytesToHex(nonce) };
}

/** `state.migrate.prepare { nonce }` (new build, pristine): an ephemeral key in memory, attested with the old build's nonce. */
export async function prepareMigration(ctx: EnclaveContext, slot: MigrationSlot, body: Json): Promise<Json> {
  const f = new Fields(body, 'state.migrate.prepare');
  const nonce = f.hex('nonce', MIGRATION_NONCE_BYTES);
  f.done();
  if (!isPristine(ctx.state())) throw new CustodianError('E_MIGRATION_NOT_PRISTINE', 'a state is migrated only into a pristine signer (no manifest, no wallet, no audit entry)');
  const keys = await generateHpkeKeyPair();
  slot.key.set({ nonce, keys, atMs: ctx.nowMs() });
  const evidence = await ctx.attest(identityReportData(keys.publicKey, nonce));
  return { signerId: ctx.signerId, publicKey: bytesToHex(keys.publicKey), evidence: bytesToHex(evidence) };
}

/**
 * `state.migrate.export { nonce, publicKey, evidence }` (old build): checks
 * the new build's evidence, retires (sealed), audits the move and answers
 * the state sealed to the attested key with evidence of the sender.
 */
export async function exportMigration(ctx: EnclaveContext, slot: MigrationSlot, body: Json, peer: RpcPeer): Promise<Json> {
  let target: { nonce: Uint8Array; publicKey: Uint8Array; claims: SimClaims; evidenceHash: string };
  const s = ctx.state();
  try {
    target = checkTarget(ctx, slot, body);
    // Sized and sealed once before retiring: a state too large or a key HPKE refuses must not retire this build.
    const draft = packagePlaintext(ctx, s, target.claims.measurement);
    try {
      if (draft.length > MIGRATION_PACKAGE_BYTES_MAX - PACKAGE_SIZE_MARGIN_BYTES) throw new CustodianError('E_MIGRATION_TOO_LARGE', `the state of this signer is ${draft.length} bytes compressed, over ${MIGRATION_PACKAGE_BYTES_MAX - PACKAGE_SIZE_MARGIN_BYTES}`);
      await hpkeSeal(target.publicKey, draft, migrationInfo(ctx.signerId), target.nonce, MIGRATION_PACKAGE_BYTES_MAX);
    } finally {
      draft.fill(0);
    }
  } catch (e) {
    return ctx.refuse(peer, 'state.migration_refused', null, e, { step: 'export' });
  }
  const wallets = [...s.wallets.keys()].sort();
  s.retired = { toMeasurement: target.claims.measurement, atMs: ctx.nowMs() };
  try {
    await ctx.audit(peer, 'state.migrated_out', null, { toMeasurement: target.claims.measurement, ephemeralKeyHash: bytesToHex(sha256(target.publicKey)), evidenceHash: target.evidenceHash, wallets, stateVersion: s.version.toString() });
  } catch (e) {
    // Not logged, not retired: the build goes on serving (the host may try again with a fresh offer).
    s.retired = null;
    throw e;
  }
  await ctx.persist();
  // The package holds the chain head after `state.migrated_out`: the new build's confirmation is the next entry.
  const plaintext = packagePlaintext(ctx, s, target.claims.measurement);
  let sealed: HpkeSealed;
  try {
    sealed = await hpkeSeal(target.publicKey, plaintext, migrationInfo(ctx.signerId), target.nonce, MIGRATION_PACKAGE_BYTES_MAX);
  } finally {
    plaintext.fill(0);
  }
  const evidence = await ctx.attest(identityReportData(ctx.identityKey(), migrationPackageDigest(target.nonce, sealed)));
  return {
    signerId: ctx.signerId,
    toMeasurement: target.claims.measurement,
    wallets,
    package: { signerId: ctx.signerId, nonce: bytesToHex(target.nonce), enc: bytesToHex(sealed.enc), ciphertext: bytesToHex(sealed.ciphertext), evidence: bytesToHex(evidence) },
  };
}

/** Decodes an export request, consumes the offer and appraises the new build's evidence under the installed manifest. */
function checkTarget(ctx: EnclaveContext, slot: MigrationSlot, body: Json): { nonce: Uint8Array; publicKey: Uint8Array; claims: SimClaims; evidenceHash: string } {
  const f = new Fields(body, 'state.migrate.export');
  const nonce = f.hex('nonce', MIGRATION_NONCE_BYTES);
  const publicKey = f.hex('publicKey', X25519_PUBLIC_KEY_BYTES);
  const evidence = f.hex('evidence', undefined, SIM_EVIDENCE_BYTES_MAX);
  f.done();
  const m = ctx.manifest();
  slot.takeOffer(nonce, ctx.nowMs());
  const claims = appraise(evidence, m, identityReportData(publicKey, nonce), ctx.nowMs());
  return { nonce, publicKey, claims, evidenceHash: bytesToHex(sha256(evidence)) };
}

/** The package plaintext: this signer's migration state, typed and named, compressed (shares are hex in the state). */
function packagePlaintext(ctx: EnclaveContext, s: EnclaveState, toMeasurement: string): Uint8Array {
  const m = ctx.manifest();
  const state = encodeState(migrationState(s));
  const json = canonicalJsonBytes({ type: MIGRATION_PACKAGE_TYPE, signerId: ctx.signerId, orgId: m.orgId, toMeasurement, createdAtMs: ctx.nowMs(), state: parseJson(state, SEALED_STATE_BYTES_MAX) });
  state.fill(0);
  try {
    return ownBytes(deflateRawSync(json));
  } finally {
    json.fill(0);
  }
}

/**
 * `state.migrate.import { package }` (new build): opens the package sealed to
 * the prepared key, checks the sender's evidence and its own measurement
 * under the package's manifest, and makes the state this signer's — in
 * memory only, serving nothing but `hello` and `state.migrate.confirm` until
 * the move is audited. A restart before then leaves the pristine state.
 */
export async function importMigration(ctx: EnclaveContext, slot: MigrationSlot, body: Json): Promise<Json> {
  const f = new Fields(body, 'state.migrate.import');
  const p = f.obj('package');
  const owner = p.str('signerId', 64);
  const nonce = p.hex('nonce', MIGRATION_NONCE_BYTES);
  const sealed: HpkeSealed = { enc: p.hex('enc', X25519_PUBLIC_KEY_BYTES), ciphertext: p.hex('ciphertext', undefined, MIGRATION_PACKAGE_BYTES_MAX + AEAD_TAG_BYTES) };
  const evidence = p.hex('evidence', undefined, SIM_EVIDENCE_BYTES_MAX);
  p.done();
  f.done();
  if (owner !== ctx.signerId) throw new CustodianError('E_MIGRATION_PACKAGE_INVALID', `the package is signer ${owner.slice(0, 64)}'s, not ${ctx.signerId}'s`);
  if (!isPristine(ctx.state())) throw new CustodianError('E_MIGRATION_NOT_PRISTINE', 'a state is migrated only into a pristine signer (no manifest, no wallet, no audit entry)');
  const pending = slot.key.take(nonce, ctx.nowMs());
  let opened: Secret<Uint8Array>;
  try {
    opened = await hpkeOpen(pending.keys.privateKey, sealed, migrationInfo(ctx.signerId), nonce);
  } catch (e) {
    if (isCustodianError(e, 'E_HPKE_OPEN_FAILED')) throw new CustodianError('E_MIGRATION_PACKAGE_INVALID', 'the package is not sealed to the key this signer prepared for this nonce');
    throw e;
  }
  slot.key.clear();
  let pkg: { state: EnclaveState; toMeasurement: string };
  try {
    pkg = decodePackagePlaintext(opened.expose(), ctx.signerId, ctx.state().version);
  } finally {
    opened.zeroise();
  }
  const m = decodeManifest(pkg.state.signedManifest!.payload);
  // The sender: a listed build, holding the identity this package carries, having sent this very package.
  const senderKey = ed25519.getPublicKey(pkg.state.identitySecret.expose());
  const sender = appraise(evidence, m, identityReportData(senderKey, migrationPackageDigest(nonce, sealed)), ctx.nowMs());
  await checkOwnMeasurement(ctx, m, pkg.toMeasurement);
  ctx.replaceState(pkg.state);
  const wallets = [...pkg.state.wallets.keys()].sort();
  slot.unconfirmed = { fromMeasurement: sender.measurement, toMeasurement: pkg.toMeasurement, packageSha256: bytesToHex(migrationPackageDigest(nonce, sealed)), wallets };
  return { signerId: ctx.signerId, identityKey: bytesToHex(senderKey), fromMeasurement: sender.measurement, wallets };
}

/** `state.migrate.confirm {}` (new build): audits the move in the carried chain and seals the state; the signer then serves. */
export async function confirmMigration(ctx: EnclaveContext, slot: MigrationSlot, body: Json, peer: RpcPeer): Promise<Json> {
  new Fields(body, 'state.migrate.confirm').done();
  const done = slot.unconfirmed;
  if (!done) throw new CustodianError('E_MIGRATION_NOT_PREPARED', 'no migrated state is waiting for confirmation on this signer');
  await ctx.audit(peer, 'state.migrated_in', null, { ...done, wallets: [...done.wallets] });
  await ctx.persist();
  slot.unconfirmed = null;
  return { signerId: ctx.signerId, fromMeasurement: done.fromMeasurement, toMeasurement: done.toMeasurement, wallets: [...done.wallets] };
}

/** Verifies sim evidence under `m` for `reportData` and appraises its measurement against the manifest's list. */
function appraise(evidence: Uint8Array, m: Manifest, reportData: Uint8Array, nowMs: number): SimClaims {
  const claims = verifySimEvidence(evidence, { rootPublicKey: m.enclave.simRoot, nowMs, expectedReportData: reportData });
  appraiseSimClaims(claims, { measurements: m.enclave.measurements, allowSim: m.enclave.platform === 'sim' });
  return claims;
}

/** This build must be the one the old build appraised, and listed in the manifest it takes. */
async function checkOwnMeasurement(ctx: EnclaveContext, m: Manifest, toMeasurement: string): Promise<void> {
  const nonce = new Uint8Array(randomBytes(MIGRATION_NONCE_BYTES));
  const reportData = identityReportData(ctx.identityKey(), nonce);
  const own = appraise(await ctx.attest(reportData), m, reportData, ctx.nowMs());
  if (own.measurement !== toMeasurement) throw new CustodianError('E_MIGRATION_PACKAGE_INVALID', `the package was made for measurement ${toMeasurement.slice(0, 16)}…, this build is ${own.measurement.slice(0, 16)}…`);
}

/** Decodes an opened package (inflated within the sealed-state bound) into a state at the pristine signer's version. */
function decodePackagePlaintext(compressed: Uint8Array, signerId: string, version: bigint): { state: EnclaveState; toMeasurement: string } {
  const bytes = inflateState(compressed, 'E_MIGRATION_PACKAGE_INVALID', 'the package');
  try {
    const f = new Fields(parseJson(bytes, SEALED_STATE_BYTES_MAX), 'migration');
    if (f.str('type', 64) !== MIGRATION_PACKAGE_TYPE) throw new CustodianError('E_MIGRATION_PACKAGE_INVALID', `the package is not a ${MIGRATION_PACKAGE_TYPE}`);
    const owner = f.str('signerId', 64);
    const orgId = f.str('orgId', 64);
    const toMeasurement = f.str('toMeasurement', 96, /^[0-9a-f]{96}$/);
    f.int('createdAtMs');
    const state = decodeState(canonicalJsonBytes(f.raw('state')), version);
    f.done();
    if (owner !== signerId) throw new CustodianError('E_MIGRATION_PACKAGE_INVALID', `the package belongs to signer ${owner}, not ${signerId}`);
    const m = state.signedManifest ? decodeManifest(state.signedManifest.payload) : null;
    if (!m || m.orgId !== orgId) throw new CustodianError('E_MIGRATION_PACKAGE_INVALID', 'the package holds no manifest of the organisation it names');
    if (state.retired || state.frostNonces.size > 0) throw new CustodianError('E_MIGRATION_PACKAGE_INVALID', 'the package carries a retirement or unused FROST nonces');
    return { state, toMeasurement };
  } finally {
    bytes.fill(0);
  }
}

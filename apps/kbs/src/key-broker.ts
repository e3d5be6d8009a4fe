/**
 * The key broker: attestation-gated release of per-measurement sealing keys
 * (DESIGN.md flow 2). A release runs these steps in order, and any failing
 * step refuses with its reasons and is audited:
 *
 *   consume nonce (single-use, expiring) → appraise evidence (binds nonce and
 *   the ephemeral key) → measurement approved by the quorum → derive the
 *   sealing key from the HSM-held master → HPKE-encrypt it to the ephemeral
 *   key → audit `kbs.key_released` (durable) → respond.
 *
 * A workload credential (`issueCredential`) is admitted by the same steps,
 * for the enclave's identity key instead of an ephemeral one.
 *
 * The nonce is consumed before appraisal, so a replayed request is refused
 * whatever happened to the first one.
 */
import { createHash } from 'node:crypto';
import { CustodianError, isCustodianError } from '@custodian/core/errors';
import { bytesToHex } from '@custodian/core/bytes';
import type { Clock } from '@custodian/core/clock';
import type { Json } from '@custodian/core/canonical-json';
import type { RootOfTrust } from './hsm/root-of-trust.js';
import type { AppraiseFn } from './appraisal.js';
import { auditCause, type KbsAuditSink, type KbsAuditKind } from './audit-sink.js';
import type { NonceStore, IssuedNonce } from './nonce-store.js';
import type { MeasurementChangeRecord, MeasurementRegistry } from './measurement-approvals.js';
import { deriveSealingKey } from './sealing-keys.js';
import { hpkeSeal, X25519_PUBLIC_KEY_BYTES } from '@custodian/core/hpke-seal';
import { keyReleaseAnswerStatement, keyReleaseInfo, type KeyReleaseRequest } from '@custodian/protocol/key-release';
import type { SignedManifest } from '@custodian/protocol/manifest';
import type { ManifestApprovals, ManifestInstalled } from './manifest-approvals.js';
import type { RecoveryAnswer } from '@custodian/protocol/recovery-backup';
import type { BreakglassBook } from './breakglass/breakglass-book.js';
import { assertUsable } from './breakglass/breakglass.js';
import { signBreakglassExecution } from './breakglass/signed-execution.js';
import { recoverSigner, refusalReasons as reasonsOf } from './signer-recovery.js';
import { issueWorkloadCredential, WORKLOAD_CREDENTIAL_TTL_MS_DEFAULT, type WorkloadCredential } from './workload-credential.js';
import type { WorkloadCredentialRequest } from '@custodian/protocol/workload-credential';

/** A decoded key-release request (packages/protocol decodes it, one decoder for broker and enclave). */
export type { KeyReleaseRequest };

/** A successful release: the sealing key encrypted to the request's public key (HPKE, aad = nonce), signed by the broker. */
export interface KeyRelease {
  readonly measurement: string;
  readonly enc: Uint8Array;
  readonly ciphertext: Uint8Array;
  readonly credential: WorkloadCredential;
  /** The organisation's recovery public key (SEC1 P-256, HSM-held), which signers encrypt their backups to. */
  readonly recoveryKey: Uint8Array;
  /** The broker's signature (kbs-signing, r‖s) over `keyReleaseAnswerStatement`: the enclave accepts only a signed answer. */
  readonly signature: Uint8Array;
}

/** Codes of a refused release (besides the nonce store's and the root's). */
export type ReleaseRefusalCode = 'E_KBS_APPRAISAL_FAILED' | 'E_KBS_MEASUREMENT_NOT_APPROVED' | 'E_KBS_REQUEST_INVALID' | 'E_AUDIT_UNAVAILABLE';

/** What the broker is built from; everything is injected. */
export interface KeyBrokerDeps {
  readonly root: RootOfTrust;
  readonly wrappedMaster: Uint8Array;
  readonly nonces: NonceStore;
  readonly measurements: MeasurementRegistry;
  /** The organisation manifest chain: measurements its latest manifest lists are approved too. */
  readonly manifests?: ManifestApprovals;
  readonly appraise: AppraiseFn;
  readonly audit: KbsAuditSink;
  readonly clock: Clock;
  readonly credentialTtlMs?: number;
  /** Persists the registry after an approval (the KBS state file); optional in tests. */
  readonly onApproved?: (record: MeasurementChangeRecord) => Promise<void>;
  /** Persists the manifest chain after an installation; optional in tests. */
  readonly onManifestInstalled?: () => Promise<void>;
}

/** The key broker. */
export class KeyBroker {
  #releases = 0;

  constructor(private readonly deps: KeyBrokerDeps) {}

  /** How many sealing keys this broker released since it started (the demo's `keyReleases`). */
  get releaseCount(): number {
    return this.#releases;
  }

  /** Issues a nonce for one release request. */
  issueNonce(): IssuedNonce {
    return this.deps.nonces.issue();
  }

  /** Runs the release pipeline; throws a typed, audited refusal on any failing step. */
  async release(req: KeyReleaseRequest): Promise<KeyRelease> {
    const ctx = { nonce: bytesToHex(req.nonce), publicKey: bytesToHex(req.publicKey), evidenceSha256: createHash('sha256').update(req.evidence).digest('hex') };
    let measurement = '';
    try {
      const admitted = await this.admit(req);
      measurement = admitted.measurement;
      const out = await this.#seal(req, measurement, admitted.platform);
      await this.#audit('kbs.key_released', { ...ctx, measurement, credentialExpiresAtMs: out.credential.claims.expiresAtMs }, true);
      this.#releases++;
      return out;
    } catch (e) {
      if (isCustodianError(e, 'E_AUDIT_UNAVAILABLE')) throw e;
      const err = isCustodianError(e) ? e : new CustodianError('E_INTERNAL', 'the key release failed unexpectedly', {});
      if (err.code.startsWith('E_HSM_')) await this.#audit('hsm.error', { operation: 'release', code: err.code, message: err.message }, false);
      await this.#audit('kbs.release_refused', { ...ctx, measurement: measurement || measurementOf(err), code: err.code, message: err.message, reasons: reasonsOf(err) }, true, err);
      throw err;
    }
  }

  /**
   * `POST /v1/credential`: a workload credential for an enclave's identity
   * key (issue 7 item 7). Admitted exactly as a release (`admit`: nonce
   * single-use, evidence binding `identityReportData(publicKey, nonce)`,
   * debug off, measurement approved), then the broker signs claims naming
   * the measurement, platform and key; issuance and refusals are audited.
   */
  async issueCredential(req: WorkloadCredentialRequest): Promise<WorkloadCredential> {
    const ctx = { nonce: bytesToHex(req.nonce), publicKey: bytesToHex(req.publicKey), evidenceSha256: createHash('sha256').update(req.evidence).digest('hex') };
    let measurement = '';
    try {
      // An Ed25519 identity key has the X25519 key's 32 bytes: admit's size check holds for both.
      const admitted = await this.admit(req);
      measurement = admitted.measurement;
      const credential = await this.#credential(req.publicKey, measurement, admitted.platform);
      await this.#audit('kbs.credential_issued', { ...ctx, measurement, platform: admitted.platform, expiresAtMs: credential.claims.expiresAtMs }, true);
      return credential;
    } catch (e) {
      if (isCustodianError(e, 'E_AUDIT_UNAVAILABLE')) throw e;
      const err = isCustodianError(e) ? e : new CustodianError('E_INTERNAL', 'the credential request failed unexpectedly', {});
      if (err.code.startsWith('E_HSM_')) await this.#audit('hsm.error', { operation: 'credential', code: err.code, message: err.message }, false);
      await this.#audit('kbs.credential_refused', { ...ctx, measurement: measurement || measurementOf(err), code: err.code, message: err.message, reasons: reasonsOf(err) }, true, err);
      throw err;
    }
  }

  /** Audits a credential request that could not be decoded, then rethrows it. */
  async refuseMalformedCredential(e: unknown): Promise<never> {
    const err = isCustodianError(e) ? e : new CustodianError('E_KBS_REQUEST_INVALID', 'the credential request is malformed', {});
    await this.#audit('kbs.credential_refused', { code: err.code, message: err.message, reasons: reasonsOf(err) }, true, err);
    throw err;
  }

  /**
   * The attested half of a release, shared by every request that hands a
   * secret to an enclave key (release, signer recovery): X25519 key size,
   * nonce consumed (single-use, before anything else), evidence appraised
   * (binds nonce and key; debug off), measurement approved. Throws the typed
   * refusal, whose detail names the measurement when one was appraised; not
   * audited here — the caller audits its own outcome.
   */
  async admit(req: KeyReleaseRequest): Promise<{ readonly measurement: string; readonly platform: string }> {
    if (req.publicKey.length !== X25519_PUBLIC_KEY_BYTES) {
      throw new CustodianError('E_KBS_REQUEST_INVALID', `the public key must be an X25519 key of ${X25519_PUBLIC_KEY_BYTES} bytes`, {});
    }
    this.deps.nonces.consume(req.nonce);
    const appraisal = await this.#appraise(req);
    const measurement = appraisal.measurement;
    if (!appraisal.ok) {
      throw new CustodianError('E_KBS_APPRAISAL_FAILED', `the evidence was refused: ${appraisal.reasons.join('; ') || 'no reason given'}`, { reasons: appraisal.reasons, measurement });
    }
    if (!this.#isApproved(measurement)) {
      throw new CustodianError('E_KBS_MEASUREMENT_NOT_APPROVED', `measurement ${measurement.slice(0, 16)}… has not been approved by the quorum`, {
        reasons: this.#notApprovedReasons(measurement),
        measurement,
      });
    }
    return { measurement, platform: appraisal.platform ?? 'unknown' };
  }

  /**
   * `POST /v1/recover`: re-encrypts a signer's backup to a fresh attested
   * enclave under an executed, unused `recover-signer` request (see
   * signer-recovery.ts); the body is decoded here so that a malformed one is
   * audited too. Every recovery and refusal is audited.
   */
  async recover(body: () => Promise<Json>, book: BreakglassBook | undefined, trustedClock: Clock | undefined): Promise<RecoveryAnswer> {
    return recoverSigner(
      {
        root: this.deps.root,
        admit: (r) => this.admit(r),
        audit: (kind, b, refusal) => this.#audit(kind, b, true, refusal),
        hsmError: (b) => this.#audit('hsm.error', b, false),
        ...(book ? { book } : {}),
        ...(trustedClock ? { trustedClock } : {}),
      },
      body,
    );
  }

  /** Audits a release request that could not even be decoded (bad JSON, wrong field sizes), then rethrows it. */
  async refuseMalformed(e: unknown): Promise<never> {
    const err = isCustodianError(e) ? e : new CustodianError('E_KBS_REQUEST_INVALID', 'the release request is malformed', {});
    await this.#audit('kbs.release_refused', { code: err.code, message: err.message, reasons: reasonsOf(err) }, true, err);
    throw err;
  }

  /** Applies a quorum-signed measurement change; refusals are audited too. */
  async approveMeasurement(record: MeasurementChangeRecord): Promise<readonly string[]> {
    const body = { measurement: record.change.measurement, previous: record.change.previous, reason: record.change.reason };
    try {
      // Checked, audited, then applied (F01): an approval that could not be audited does not take effect.
      const signers = this.deps.measurements.check(record);
      await this.#audit('kbs.measurement_approved', { ...body, signers: [...signers] }, true);
      this.deps.measurements.approve(record);
      await this.deps.onApproved?.(record);
      return signers;
    } catch (e) {
      if (isCustodianError(e, 'E_AUDIT_UNAVAILABLE')) throw e;
      const err = isCustodianError(e) ? e : new CustodianError('E_INTERNAL', 'the approval failed unexpectedly', {});
      await this.#audit('kbs.measurement_refused', { ...body, code: err.code, message: err.message }, true, err);
      throw err;
    }
  }

  /**
   * Installs an organisation manifest (the successor of the latest one, with
   * the installed quorum's signatures); installations and refusals are audited.
   * With `breakglass`, the successor is authorised instead by that request in
   * the broker's own book: usable (executed; not cancelled or vetoed), and
   * its signed execution must be a `change-root-quorum` or
   * `upgrade-measurement` naming this manifest, which changes only what the
   * action allows (ManifestApprovals.install) — a new measurement then gets
   * its sealing key.
   */
  async installManifest(signed: SignedManifest, breakglass?: { readonly id: string; readonly book: BreakglassBook | undefined }): Promise<ManifestInstalled> {
    const named = breakglass ? { breakglassId: breakglass.id } : {};
    try {
      if (!this.deps.manifests) throw new CustodianError('E_MANIFEST_SEQUENCE', 'this key broker was started without an organisation manifest (--manifest)', {});
      let execution;
      if (breakglass) {
        if (!breakglass.book) throw new CustodianError('E_BREAKGLASS_NOT_CONFIGURED', 'this key broker has no break-glass configuration', {});
        const state = breakglass.book.get(breakglass.id);
        execution = await signBreakglassExecution(this.deps.root, assertUsable(state, breakglass.id, state.request.action));
      }
      // Checked, audited, then installed (F01): a manifest whose installation could not be audited approves nothing.
      const checked = this.deps.manifests.check(signed, execution);
      if (!checked.changed) return checked;
      await this.#audit('kbs.manifest_installed', { version: checked.version, manifestHash: checked.hash, measurements: [...checked.measurements], ...named }, true);
      const out = this.deps.manifests.install(signed, execution);
      if (out.changed) await this.deps.onManifestInstalled?.();
      return out;
    } catch (e) {
      if (isCustodianError(e, 'E_AUDIT_UNAVAILABLE')) throw e;
      const err = isCustodianError(e) ? e : new CustodianError('E_INTERNAL', 'the manifest installation failed unexpectedly', {});
      await this.#audit('kbs.manifest_refused', { code: err.code, message: err.message, ...named }, true, err);
      throw err;
    }
  }

  #isApproved(measurement: string): boolean {
    return this.deps.measurements.isApproved(measurement) || (this.deps.manifests?.isApproved(measurement) ?? false);
  }

  #notApprovedReasons(measurement: string): string[] {
    const m = this.deps.manifests?.current();
    const short = `${measurement.slice(0, 16)}…`;
    return [
      m
        ? `measurement ${short} is not listed in the organisation manifest ${m.orgId} version ${m.version} held by the key broker; install a manifest naming it, signed by the quorum`
        : `the key broker holds no organisation manifest, so no manifest approves measurement ${short}`,
      `measurement ${short} is not approved by a quorum-signed measurement change either`,
    ];
  }

  async #appraise(req: KeyReleaseRequest): Promise<{ ok: boolean; measurement: string; reasons: string[]; platform?: string }> {
    try {
      const r = await this.deps.appraise(req.evidence, { nonce: req.nonce, publicKeyBinding: req.publicKey });
      return { ok: r.ok === true, measurement: typeof r.measurement === 'string' ? r.measurement : '', reasons: Array.isArray(r.reasons) ? r.reasons.map(String) : [], ...(r.platform !== undefined ? { platform: r.platform } : {}) };
    } catch (e) {
      // Fail closed: an appraiser that throws refuses.
      return { ok: false, measurement: '', reasons: [`the appraisal failed: ${e instanceof Error ? e.message : String(e)}`] };
    }
  }

  async #seal(req: KeyReleaseRequest, measurement: string, platform: string): Promise<KeyRelease> {
    const key = await deriveSealingKey(this.deps.root, this.deps.wrappedMaster, measurement);
    try {
      const sealed = await hpkeSeal(req.publicKey, key.expose(), keyReleaseInfo(measurement), req.nonce);
      const credential = await this.#credential(req.publicKey, measurement, platform);
      const recoveryKey = await this.deps.root.publicKey('recovery');
      const signature = await this.deps.root.sign(
        keyReleaseAnswerStatement({ measurement, nonce: req.nonce, publicKey: req.publicKey, enc: sealed.enc, ciphertext: sealed.ciphertext, credentialSignature: credential.signature, recoveryKey }),
      );
      return { measurement, enc: sealed.enc, ciphertext: sealed.ciphertext, credential, recoveryKey, signature };
    } finally {
      key.zeroise();
    }
  }

  /** Signs claims naming `subjectKey`, valid from now for the configured lifetime. */
  async #credential(subjectKey: Uint8Array, measurement: string, platform: string): Promise<WorkloadCredential> {
    const now = this.deps.clock.nowMs();
    return issueWorkloadCredential(this.deps.root, {
      measurement,
      platform,
      subjectKey: bytesToHex(subjectKey),
      issuedAtMs: now,
      expiresAtMs: now + (this.deps.credentialTtlMs ?? WORKLOAD_CREDENTIAL_TTL_MS_DEFAULT),
    });
  }

  /** Appends an audit entry; with `required`, a failed append is E_AUDIT_UNAVAILABLE (fail closed, F01). */
  async #audit(kind: KbsAuditKind, body: { readonly [k: string]: Json }, required: boolean, refusal?: CustodianError): Promise<void> {
    try {
      await this.deps.audit.append({ kind, atMs: this.deps.clock.nowMs(), body });
    } catch (e) {
      if (!required) return;
      throw new CustodianError('E_AUDIT_UNAVAILABLE', `the audit log cannot be written${auditCause(e)}; nothing is released`, {
        kind,
        ...(isCustodianError(e) ? { cause: e.code } : {}),
        ...(refusal ? { refusal: refusal.code, reasons: reasonsOf(refusal) } : {}),
      });
    }
  }
}

function measurementOf(e: CustodianError): string {
  const m = e.detail['measurement'];
  return typeof m === 'string' ? m : '';
}

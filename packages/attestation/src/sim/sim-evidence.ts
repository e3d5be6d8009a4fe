/**
 * The `sim` platform: Custodian's development stand-in for TEE hardware.
 *
 * A sim root (an Ed25519 key generated at `custodian init`, playing the part of
 * the vendor's attestation root) signs evidence that carries the enclave
 * measurement (SHA-384 of the enclave bundle, computed by the launcher, not by
 * the enclave) and 64 bytes of report data chosen by the enclave. Evidence is
 * always marked insecure: the sim root lives on the same machine, so a
 * production appraisal never accepts it (THREATS.md B20b).
 *
 * Wire form: canonical JSON `{ "body": {...}, "signature": hex }`, the
 * signature over SIM_EVIDENCE_DOMAIN ‖ canonical(body).
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { CustodianError } from '@custodian/core/errors';
import { canonicalJsonBytes, parseJson } from '@custodian/core/canonical-json';
import { Fields } from '@custodian/core/fields';
import { bytesToHex, concatBytes, equalBytes, utf8 } from '@custodian/core/bytes';
import { Secret } from '@custodian/core/secret';
import { isFullOrderEd25519Key } from '@custodian/core/ed25519-key';

/** Domain separation for sim evidence signatures. */
export const SIM_EVIDENCE_DOMAIN = utf8('custodian/sim-evidence/v1\n');
/** Format tag carried in every sim evidence body. */
export const SIM_FORMAT = 'custodian-sim-v1';
/** Largest sim evidence document accepted. */
export const SIM_EVIDENCE_BYTES_MAX = 8 * 1024;
/** Measurement length: SHA-384. */
export const SIM_MEASUREMENT_BYTES = 48;
/** Report data length, as on SEV-SNP and TDX. */
export const SIM_REPORT_DATA_BYTES = 64;
/** How old evidence may be when verified. */
export const SIM_EVIDENCE_AGE_MAX_MS = 10 * 60 * 1000;

/** The sim attestation root: the development "vendor" key. */
export interface SimRoot {
  readonly secretKey: Secret<Uint8Array>;
  readonly publicKey: Uint8Array;
}

/** What verified sim evidence says. */
export interface SimClaims {
  readonly format: 'sim';
  readonly measurement: string;
  readonly reportData: Uint8Array;
  readonly timestampMs: number;
  readonly debug: false;
  readonly insecure: true;
}

/** Generates a new sim root (development only). */
export function createSimRoot(secretKey: Uint8Array = ed25519.utils.randomSecretKey()): SimRoot {
  return { secretKey: new Secret(secretKey), publicKey: ed25519.getPublicKey(secretKey) };
}

/** Produces evidence for `measurement` binding `reportData`; the launcher calls it. */
export function issueSimEvidence(root: SimRoot, measurement: Uint8Array, reportData: Uint8Array, nowMs: number): Uint8Array {
  if (measurement.length !== SIM_MEASUREMENT_BYTES) throw new CustodianError('E_ATTEST_INPUT', 'measurement must be 48 bytes');
  if (reportData.length !== SIM_REPORT_DATA_BYTES) throw new CustodianError('E_ATTEST_INPUT', 'report data must be 64 bytes');
  const body = { format: SIM_FORMAT, insecure: true, measurement: bytesToHex(measurement), reportData: bytesToHex(reportData), timestampMs: nowMs };
  const signature = ed25519.sign(concatBytes(SIM_EVIDENCE_DOMAIN, canonicalJsonBytes(body)), root.secretKey.expose());
  return canonicalJsonBytes({ body, signature: bytesToHex(signature) });
}

/** Options for `verifySimEvidence`; time and the trusted root are passed in. */
export interface SimVerifyOptions {
  readonly rootPublicKey: Uint8Array;
  readonly nowMs: number;
  /** When given, report data must equal it exactly (binding, B21). */
  readonly expectedReportData?: Uint8Array;
  readonly maxAgeMs?: number;
}

function attestFail(code: string, message: string, detail: Record<string, unknown> = {}): never {
  throw new CustodianError(code, message, detail);
}

/**
 * Verifies sim evidence: decode → bounds → signature against the pinned sim
 * root → claims → freshness and binding.
 */
export function verifySimEvidence(evidence: Uint8Array, opts: SimVerifyOptions): SimClaims {
  if (evidence.length > SIM_EVIDENCE_BYTES_MAX) attestFail('E_ATTEST_MALFORMED', 'sim evidence is too large', { length: evidence.length });
  let f: Fields;
  let body: Fields;
  try {
    f = new Fields(parseJson(evidence, SIM_EVIDENCE_BYTES_MAX), 'evidence');
    body = f.obj('body');
  } catch (e) {
    return attestFail('E_ATTEST_MALFORMED', `sim evidence is malformed: ${(e as Error).message}`);
  }
  const claims = readBody(body);
  const signature = f.hex('signature', 64);
  f.done();
  const signed = concatBytes(SIM_EVIDENCE_DOMAIN, canonicalJsonBytes(f.raw('body')));
  if (!equalBytes(canonicalJsonBytes({ body: f.raw('body'), signature: bytesToHex(signature) }), evidence)) {
    attestFail('E_ATTEST_MALFORMED', 'sim evidence is not canonically encoded');
  }
  // Strict RFC 8032 verification: ZIP-215 leniency would let a small-order root accept forged evidence.
  if (!isFullOrderEd25519Key(opts.rootPublicKey) || !ed25519.verify(signature, signed, opts.rootPublicKey, { zip215: false })) {
    attestFail('E_ATTEST_SIGNATURE', 'sim evidence is not signed by the pinned sim root');
  }
  const age = opts.nowMs - claims.timestampMs;
  if (age > (opts.maxAgeMs ?? SIM_EVIDENCE_AGE_MAX_MS) || age < -60_000) {
    attestFail('E_ATTEST_STALE', 'sim evidence timestamp is outside the accepted window', { ageMs: age });
  }
  if (opts.expectedReportData && Buffer.compare(Buffer.from(opts.expectedReportData), Buffer.from(claims.reportData)) !== 0) {
    attestFail('E_ATTEST_BINDING', 'report data does not bind the expected key and nonce');
  }
  return claims;
}

function readBody(body: Fields): SimClaims {
  try {
    if (body.str('format', 32) !== SIM_FORMAT) attestFail('E_ATTEST_MALFORMED', 'not sim evidence');
    if (body.bool('insecure') !== true) attestFail('E_ATTEST_MALFORMED', 'sim evidence must be marked insecure');
    const claims: SimClaims = {
      format: 'sim',
      measurement: bytesToHex(body.hex('measurement', SIM_MEASUREMENT_BYTES)),
      reportData: body.hex('reportData', SIM_REPORT_DATA_BYTES),
      timestampMs: body.int('timestampMs'),
      debug: false,
      insecure: true,
    };
    body.done();
    return claims;
  } catch (e) {
    if (e instanceof CustodianError && e.code.startsWith('E_ATTEST')) throw e;
    return attestFail('E_ATTEST_MALFORMED', `sim evidence is malformed: ${(e as Error).message}`);
  }
}

/** Reference values a sim appraisal checks. */
export interface SimReferenceValues {
  /** Allowed measurements (hex SHA-384). */
  readonly measurements: readonly string[];
  /** Must be true for sim evidence to be accepted at all (B20b). */
  readonly allowSim: boolean;
}

/** Appraises verified sim claims against reference values; throws on refusal. */
export function appraiseSimClaims(claims: SimClaims, ref: SimReferenceValues): void {
  if (!ref.allowSim) attestFail('E_ATTEST_SIMULATED', 'simulated TEE evidence is not accepted by this policy');
  if (!ref.measurements.includes(claims.measurement)) {
    attestFail('E_ATTEST_MEASUREMENT', `measurement ${claims.measurement.slice(0, 16)}… is not in the manifest's allowlist`, {
      measurement: claims.measurement,
      allowed: ref.measurements,
    });
  }
}

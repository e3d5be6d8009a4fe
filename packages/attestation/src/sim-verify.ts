/**
 * The `sim` verifier behind the common signature
 * `(evidence, VerifyOptions) => AttestationClaims`: the sim format's own
 * checks (src/sim/sim-evidence.ts: bounds, canonical form, Ed25519 signature
 * by the sim root) mapped onto AttestationError codes, then the common claims
 * (src/sim-claims.ts) and binding. Evidence age is left to the appraisal
 * policy (`maxAgeSeconds`), like every other format; only timestamps from the
 * future are refused here. The claims are always insecure, so only a policy
 * with `allowSimulated` affirms them (THREATS.md B20b).
 */
import { isCustodianError } from '@custodian/core/errors';
import { attestFail, type AttestationErrorCode, type VerifyStep } from './errors.js';
import { checkBinding } from './binding.js';
import { simClaims } from './sim-claims.js';
import type { AttestationClaims, VerifyOptions } from './claims.js';
import { verifySimEvidence, SIM_EVIDENCE_BYTES_MAX, type SimClaims } from './sim/sim-evidence.js';

/** Sim error codes → the common codes and the step that refused. */
const SIM_CODES: Readonly<Record<string, readonly [AttestationErrorCode, VerifyStep]>> = {
  E_ATTEST_MALFORMED: ['E_ATTEST_FORMAT', 'decode'],
  E_ATTEST_SIGNATURE: ['E_ATTEST_SIGNATURE', 'signature'],
  E_ATTEST_STALE: ['E_ATTEST_NONCE', 'claims'],
  E_ATTEST_BINDING: ['E_ATTEST_BINDING', 'claims'],
};

/** Verifies sim evidence under `opts.simRootPublicKey`; without a sim root it is refused as E_ATTEST_SIMULATED. */
export function verifySim(evidence: Uint8Array, opts: VerifyOptions): AttestationClaims {
  if (evidence.length > SIM_EVIDENCE_BYTES_MAX) attestFail('E_ATTEST_TOO_LARGE', 'bounds', `sim evidence of ${evidence.length} bytes exceeds ${SIM_EVIDENCE_BYTES_MAX}`);
  const root = opts.simRootPublicKey;
  if (root === undefined) attestFail('E_ATTEST_SIMULATED', 'chain', 'sim evidence can only be verified with a sim root, and none is configured (production trust stores hold none)');
  let facts: SimClaims;
  try {
    // the age window is the policy's (maxAgeSeconds); verifySimEvidence still refuses timestamps in the future
    facts = verifySimEvidence(evidence, { rootPublicKey: root, nowMs: opts.now.getTime(), maxAgeMs: Number.MAX_SAFE_INTEGER });
  } catch (e) {
    if (!isCustodianError(e)) throw e;
    const [code, step] = SIM_CODES[e.code] ?? (['E_ATTEST_FORMAT', 'decode'] as const);
    return attestFail(code, step, e.message, { simCode: e.code });
  }
  const claims = simClaims(facts);
  checkBinding(claims, opts);
  return claims;
}

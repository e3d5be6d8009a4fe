/**
 * Maps verified `sim` evidence onto the common claims, so sim results go
 * through the same appraisal as hardware evidence. Structural on purpose:
 * src/sim/ owns the sim format; this needs only the verified facts.
 */
import type { AttestationClaims } from './claims.js';

/** The verified facts of sim evidence (as src/sim's SimClaims carries them). */
export interface SimEvidenceFacts {
  /** SHA-384 of the enclave bundle, lower-case hex. */
  readonly measurement: string;
  readonly reportData: Uint8Array;
  readonly timestampMs: number;
}

/** Common claims for verified sim evidence: always insecure, so only a policy with allowSimulated affirms it (B20b). */
export function simClaims(f: SimEvidenceFacts): AttestationClaims {
  return {
    format: 'sim',
    insecure: true,
    debug: false,
    measurements: { MEASUREMENT: f.measurement },
    reportData: f.reportData,
    issuedAt: new Date(f.timestampMs).toISOString(),
    tcb: { status: 'Unevaluated', components: {}, detail: 'the sim platform has no TCB' },
    platform: { timestampMs: f.timestampMs },
    chain: ['sim development root'],
    steps: ['decode', 'bounds', 'chain', 'signature', 'claims'],
  };
}

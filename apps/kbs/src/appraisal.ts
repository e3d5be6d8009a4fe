/**
 * The evidence-appraisal hook the broker is given. The attestation part
 * (packages/attestation) supplies the real one: it verifies the evidence,
 * applies the appraisal policy (measurement, TCB, debug off, not `sim` in
 * production) and checks that the report data binds `expected.nonce` and
 * `expected.publicKeyBinding` (THREATS.md "Freshness and binding").
 */

/** What the broker expects the evidence to bind. */
export interface AppraisalExpectation {
  /** The KBS nonce named by the request (already checked fresh and single-use). */
  readonly nonce: Uint8Array;
  /** The enclave's ephemeral X25519 public key (32 bytes) that the released key is encrypted to. */
  readonly publicKeyBinding: Uint8Array;
}

/** The appraisal's verdict. */
export interface AppraisalResult {
  readonly ok: boolean;
  /** The measurement the evidence attests (lower-case hex), when it could be read. */
  readonly measurement: string;
  /** Why not ok, in an operator's words (also informative when ok). */
  readonly reasons: string[];
  /** The TEE platform (`nitro`, `sev-snp`, `tdx`, `cca`, `sim` ...), when the appraiser reports it. */
  readonly platform?: string;
}

/** Appraises evidence against the expectation. Must not throw for bad evidence; a throw is treated as a refusal. */
export type AppraiseFn = (evidence: Uint8Array, expected: AppraisalExpectation) => Promise<AppraisalResult>;

/** The fail-closed appraiser used until a real one is wired: refuses everything, saying why. */
export const refuseAllAppraiser: AppraiseFn = async () => ({
  ok: false,
  measurement: '',
  reasons: ['no attestation appraisal policy is wired into this key broker; every release is refused'],
});

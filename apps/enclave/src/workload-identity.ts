/**
 * This signer's workload credential (issue 7 item 7): a short-lived
 * statement by the key broker naming its identity key, measurement and
 * platform, which peers and the host check with the broker's key.
 *
 *   ask a nonce → attest with report data `identityReportData(identityKey,
 *   nonce)` → POST /v1/credential through the parent → verify the answer
 *   under the broker key this enclave was launched with, for this identity
 *   key → keep it in memory (never sealed: it is re-obtained after a restart).
 *
 * It is renewed when less than a third of its lifetime remains. A failed
 * renewal keeps a credential that is still valid; with none, the signer has
 * no credential and says why — its peers and the host then refuse it, which
 * is the point (fail closed), but the signer itself keeps serving `hello`.
 */
import { CustodianError, isCustodianError } from '@custodian/core/errors';
import { canonicalJsonBytes, type Json } from '@custodian/core/canonical-json';
import { bytesToHex } from '@custodian/core/bytes';
import { identityReportData } from '@custodian/protocol/identity-binding';
import { decodeKbsNonceAnswer } from '@custodian/protocol/key-release';
import { credentialRenewalDue, decodeWorkloadCredentialAnswer, encodeWorkloadCredentialRequest, verifyWorkloadCredential, type WorkloadClaims } from '@custodian/protocol/workload-credential';
import type { Platform } from './platform.js';

/** Longest refusal text kept from the broker (shown in `hello`, never acted on). */
export const CREDENTIAL_ERROR_CHARS_MAX = 512;

/** What `hello` reports: the credential (wire form) or null, and why there is none when obtaining it failed. */
export interface CredentialStatus {
  readonly credential: Json | null;
  readonly error: { readonly code: string; readonly message: string } | null;
}

/** The signer's credential, held in memory. */
export class WorkloadIdentity {
  #credential: Json | null = null;
  #claims: WorkloadClaims | null = null;

  constructor(private readonly platform: Platform) {}

  /** The current credential for `identityKey`, obtained or renewed first when due (null without a key broker). */
  async current(identityKey: Uint8Array): Promise<CredentialStatus> {
    const broker = this.platform.keyBroker();
    const channel = this.platform.kbsChannel();
    if (broker === null || channel === null) return { credential: null, error: null };
    const now = this.platform.nowMs();
    const held = this.#claims !== null && this.#claims.subjectKey === bytesToHex(identityKey) && now < this.#claims.expiresAtMs ? this.#claims : null;
    if (held !== null && !credentialRenewalDue(held, now)) return { credential: this.#credential, error: null };
    try {
      const issued = decodeKbsNonceAnswer(await channel.nonce());
      if (!issued.ok) throw new CustodianError('E_KBS_CREDENTIAL_REFUSED', `the key broker gave no nonce (${issued.code}): ${issued.message}`);
      const evidence = await this.platform.attest(identityReportData(identityKey, issued.nonce));
      const answer = decodeWorkloadCredentialAnswer(await channel.credential(canonicalJsonBytes(encodeWorkloadCredentialRequest({ nonce: issued.nonce, evidence, publicKey: identityKey }))));
      if (!answer.ok) throw new CustodianError('E_KBS_CREDENTIAL_REFUSED', `the key broker refused a workload credential (${answer.code}): ${answer.message}`);
      // The parent relayed it: only a credential the trusted broker signed for this very key counts.
      this.#claims = verifyWorkloadCredential(answer.credential, broker.publicKey, this.platform.nowMs(), { subjectKey: identityKey });
      this.#credential = answer.credential;
      return { credential: this.#credential, error: null };
    } catch (e) {
      if (!isCustodianError(e)) throw e;
      const error = { code: e.code, message: e.message.slice(0, CREDENTIAL_ERROR_CHARS_MAX) };
      return held !== null ? { credential: this.#credential, error } : { credential: null, error };
    }
  }
}

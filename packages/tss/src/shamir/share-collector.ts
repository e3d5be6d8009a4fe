/**
 * The enclave's side of quorum provisioning: accept members' postings one by
 * one — each decrypted with the enclave's private key, checked against the
 * manifest (member known, not seen before, index, commitment) — and
 * reconstruct only once `threshold` valid shares have arrived. The result is
 * checked against the manifest's secret commitment before it is returned.
 */
import { combine } from 'shamir-secret-sharing';
import { CustodianError } from '@custodian/core/errors';
import { Secret } from '@custodian/core/secret';
import { hpkeOpen } from '@custodian/core/hpke-seal';
import { ENCLAVE_SHARE_INFO, postingAad, shareInfo } from './contexts.js';
import { assertShareMatches } from './member.js';
import { entryOf, manifestHash, secretCommitment, validateShareManifest, type ShareManifest } from './share-manifest.js';
import type { SharePosting } from './member.js';
import { provisioningNonce } from './member.js';

/** Progress after a posting. */
export interface CollectionStatus {
  readonly accepted: number;
  readonly threshold: number;
  readonly complete: boolean;
}

/** Collects shares inside the enclave. */
export class ShareCollector {
  readonly #shares = new Map<string, Secret<Uint8Array>>();
  readonly #manifestHash: Uint8Array;
  readonly #nonce: Uint8Array;

  /** `nonce` must be the one the enclave's evidence bound (default: the manifest hash). */
  constructor(
    private readonly manifest: ShareManifest,
    private readonly enclavePublicKey: Uint8Array,
    private readonly enclavePrivateKey: Secret<Uint8Array>,
    nonce?: Uint8Array,
  ) {
    validateShareManifest(manifest);
    this.#manifestHash = manifestHash(manifest);
    this.#nonce = nonce ?? provisioningNonce(manifest);
  }

  /** Accepts one posting or throws why not; a refused posting changes nothing. */
  async accept(posting: SharePosting): Promise<CollectionStatus> {
    const entry = entryOf(this.manifest, posting.memberId);
    if (this.#shares.has(entry.memberId)) throw new CustodianError('E_SHAMIR_DUPLICATE_SHARE', `member ${entry.memberId} already posted a share`, { memberId: entry.memberId });
    let share: Secret<Uint8Array>;
    try {
      share = await hpkeOpen(this.enclavePrivateKey, posting, shareInfo(ENCLAVE_SHARE_INFO, this.#manifestHash, entry.memberId), postingAad(this.enclavePublicKey, this.#nonce));
    } catch {
      throw new CustodianError('E_SHAMIR_SHARE_UNREADABLE', `the posting of ${entry.memberId} was not encrypted to this enclave for this split`, { memberId: entry.memberId });
    }
    try {
      assertShareMatches(this.manifest, entry.memberId, share.expose());
    } catch (e) {
      share.zeroise();
      throw e;
    }
    this.#shares.set(entry.memberId, share);
    return this.status();
  }

  /** How many valid shares arrived. */
  status(): CollectionStatus {
    return { accepted: this.#shares.size, threshold: this.manifest.threshold, complete: this.#shares.size >= this.manifest.threshold };
  }

  /** Reconstructs the secret: E_QUORUM_NOT_MET before `threshold` shares, E_SHAMIR_SECRET_MISMATCH if the result does not match its commitment. */
  async reconstruct(): Promise<Secret<Uint8Array>> {
    const st = this.status();
    if (!st.complete) throw new CustodianError('E_QUORUM_NOT_MET', `${st.accepted} of ${st.threshold} shares have arrived; the secret is not reconstructed`, { accepted: st.accepted, threshold: st.threshold });
    const shares = [...this.#shares.values()].slice(0, this.manifest.threshold).map((s) => s.expose());
    const secret = await combine(shares);
    if (secretCommitment(this.manifest.setId, secret) !== this.manifest.secretCommitment) {
      secret.fill(0);
      throw new CustodianError('E_SHAMIR_SECRET_MISMATCH', 'the reconstructed secret does not match the manifest commitment', {});
    }
    return new Secret(secret);
  }

  /** Zeroises every collected share. */
  zeroise(): void {
    for (const s of this.#shares.values()) s.zeroise();
    this.#shares.clear();
  }
}

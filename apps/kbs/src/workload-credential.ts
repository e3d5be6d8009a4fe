/**
 * Short-lived workload credentials (issue 7 item 7): after a successful
 * appraisal the broker signs a statement naming the enclave's measurement,
 * platform and bound public key, with its HSM-held signing key (ECDSA P-256,
 * SHA-256, r‖s). The codec and verifier live in packages/protocol, where the
 * enclave and the host import them; the broker only issues.
 */
import type { RootOfTrust } from './hsm/root-of-trust.js';
import { workloadCredentialStatement, type WorkloadClaims, type WorkloadCredential } from '@custodian/protocol/workload-credential';

/** The shared codec and verifier (packages/protocol), re-exported for the broker's callers. */
export {
  WORKLOAD_CREDENTIAL_DOMAIN,
  WORKLOAD_CREDENTIAL_TTL_MS_DEFAULT,
  decodeWorkloadCredential,
  encodeWorkloadCredential,
  verifyWorkloadCredential,
  type WorkloadClaims,
  type WorkloadCredential,
} from '@custodian/protocol/workload-credential';

/** Issues a credential signed by the root's `kbs-signing` key. */
export async function issueWorkloadCredential(root: RootOfTrust, claims: WorkloadClaims): Promise<WorkloadCredential> {
  return { claims, signature: await root.sign(workloadCredentialStatement(claims)) };
}

/** Helpers shared by the integration tests. */
import assert from 'node:assert/strict';
import { isCustodianError, type CustodianError } from '@custodian/core/errors';
import type { Json } from '@custodian/core/canonical-json';
import { encodeSignedRequest, signRequest } from '@custodian/protocol/operator-request';
import { APPROVAL_TYPE } from '@custodian/protocol/payloads';
import { newNonce } from '../../apps/cli/src/operations.js';
import { DEMO_ORG, type Deployment } from '../../scripts/lib/deployment.js';

type R = Record<string, Json>;

/** Asserts that `p` rejects with a CustodianError of `code`, and returns it. */
export async function refused(p: Promise<unknown>, code: string): Promise<CustodianError> {
  try {
    await p;
  } catch (e) {
    assert.ok(isCustodianError(e, code), `expected ${code}, got ${String((e as Error).message)} (${(e as { code?: string }).code})`);
    return e as CustodianError;
  }
  assert.fail(`expected ${code}, but it succeeded`);
}

/** The host's audit entries for a request: who wrote each, its kind and its statement's data. */
export async function auditEntries(d: Deployment, requestId: string): Promise<{ signerId: string; kind: string; data: R }[]> {
  const rows = (await d.client.get(`/v1/audit?requestId=${requestId}`)) as R[];
  return rows.map((r) => ({ signerId: String(r['signerId']), kind: String(r['kind']), data: (((r['entry'] as R)['statement'] as R)['data'] ?? {}) as R }));
}

/**
 * A signed approval of request `r` by `who`, made by the test itself (not
 * through the CLI); `over` replaces payload fields, as a careless or hostile
 * client could.
 */
export function signedApproval(d: Deployment, who: string, r: R, over: Partial<Record<string, Json>> = {}): Json {
  const payload = { type: APPROVAL_TYPE, orgId: DEMO_ORG, requestId: String(r['requestId']), txDigest: String(r['txDigest']), summaryHash: String(r['summaryHash']), expiresAtMs: Date.now() + 600_000, nonce: newNonce(), ...over };
  return encodeSignedRequest(signRequest(payload as { type: string } & Record<string, Json>, who, d.actors[who]!.key));
}

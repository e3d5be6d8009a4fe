/**
 * The broker's attestation that a break-glass request was executed (issue 7
 * item 6): `GET /v1/breakglass/<id>/execution` answers the execution
 * statement of @custodian/protocol/breakglass-execution with the approved
 * payload, signed by the root's `kbs-signing` key (ECDSA P-256, as release
 * answers are). Signers verify it with the broker key they were launched
 * with; the host only relays it.
 */
import { CustodianError } from '@custodian/core/errors';
import { breakglassExecutionStatement, type BreakglassExecution, type SignedBreakglassExecution } from '@custodian/protocol/breakglass-execution';
import type { RootOfTrust } from '../hsm/root-of-trust.js';
import { IMMEDIATE_ACTIONS, type BreakglassState } from './breakglass.js';

/** The execution a state attests; E_BREAKGLASS_NOT_EXECUTED unless it was executed with its payload in the book. */
export function executionOf(s: BreakglassState): { readonly execution: BreakglassExecution; readonly payload: NonNullable<BreakglassState['payload']> } {
  if (s.status !== 'executed' || s.executedAtMs === null) {
    throw new CustodianError('E_BREAKGLASS_NOT_EXECUTED', `break-glass request ${s.request.id} is ${s.status}, not executed`, { id: s.request.id, status: s.status, unlocksAtMs: s.unlocksAtMs });
  }
  if (s.payload === null) {
    // Only a request executed before the book kept payloads: nothing to attest, and the broker does not guess.
    throw new CustodianError('E_BREAKGLASS_NOT_EXECUTED', `break-glass request ${s.request.id} was executed without its payload in the book; it cannot be attested`, { id: s.request.id });
  }
  // A freeze executes on its requesting guardian's word alone: that guardian is who approved it.
  const approvals = IMMEDIATE_ACTIONS.has(s.request.action) ? [s.request.requestedBy] : [...s.approvals];
  return { execution: { id: s.request.id, action: s.request.action, payloadHash: s.request.payloadHash, approvals, executedAtMs: s.executedAtMs }, payload: s.payload };
}

/** Signs the execution of an executed request with the root's `kbs-signing` key. */
export async function signBreakglassExecution(root: RootOfTrust, s: BreakglassState): Promise<SignedBreakglassExecution> {
  const { execution, payload } = executionOf(s);
  return { execution, payload, signature: await root.sign(breakglassExecutionStatement(execution)) };
}

/**
 * One Cedar authorization against a compiled (pre-parsed) policy set, with
 * Custodian's fail-closed reading of the answer: a Cedar failure or any
 * policy that errored during evaluation denies (STYLE.md: an evaluation error
 * denies), forbid wins, and no matching permit means deny.
 */
import * as cedar from '@cedar-policy/cedar-wasm/nodejs';
import type { CedarValueJson, EntityJson } from '@cedar-policy/cedar-wasm/nodejs';
import { CEDAR_NAMESPACE, type PolicyAction } from './schema.js';
import { ensureSchemaParsed, type CompiledPolicy, type CompiledPolicySet } from './policy-set.js';

/** An entity and the groups it belongs to. */
export interface EntityRef {
  readonly id: string;
  readonly groups: readonly string[];
}

/** The request Cedar sees. */
export interface CedarRequest {
  readonly action: PolicyAction;
  readonly principal: EntityRef;
  readonly resource: EntityRef;
  readonly resourceType: 'Wallet' | 'WalletGroup';
  readonly context: Record<string, CedarValueJson>;
}

/** Cedar's verdict read fail-closed. */
export interface CedarVerdict {
  readonly permits: readonly CompiledPolicy[];
  readonly forbids: readonly CompiledPolicy[];
  /** Evaluation errors (policy id: message); non-empty means deny. */
  readonly errors: readonly string[];
}

function uid(type: string, id: string): { type: string; id: string } {
  return { type: `${CEDAR_NAMESPACE}::${type}`, id };
}

/** Builds the entities slice a request needs (principal and resource with their groups). */
export function requestEntities(r: CedarRequest): EntityJson[] {
  const operatorGroups = [...new Set(r.principal.groups)];
  const walletGroups = [...new Set(r.resource.groups)].filter((g) => !(r.resourceType === 'WalletGroup' && g === r.resource.id));
  return [
    { uid: uid('Operator', r.principal.id), attrs: {}, parents: operatorGroups.map((g) => uid('Group', g)) },
    ...operatorGroups.map((g) => ({ uid: uid('Group', g), attrs: {}, parents: [] })),
    { uid: uid(r.resourceType, r.resource.id), attrs: {}, parents: walletGroups.map((g) => uid('WalletGroup', g)) },
    ...walletGroups.map((g) => ({ uid: uid('WalletGroup', g), attrs: {}, parents: [] })),
  ];
}

/** Evaluates `r` against `set`; never throws for policy reasons. */
export function evaluateCedar(set: CompiledPolicySet, r: CedarRequest): CedarVerdict {
  let answer: cedar.AuthorizationAnswer;
  try {
    answer = callCedar(set, r);
  } catch (e) {
    // A wasm trap or a marshalling failure: fail closed.
    return { permits: [], forbids: [], errors: [`cedar: ${e instanceof Error ? e.message : String(e)}`] };
  }
  if (answer.type !== 'success') return { permits: [], forbids: [], errors: answer.errors.map((e) => `request: ${e.message}`) };
  const matched = answer.response.diagnostics.reason.map((id) => set.policies.get(id)).filter((p): p is CompiledPolicy => p !== undefined);
  return {
    permits: answer.response.decision === 'allow' ? matched.filter((p) => p.effect === 'permit') : [],
    forbids: matched.filter((p) => p.effect === 'forbid'),
    errors: answer.response.diagnostics.errors.map((e) => `${e.policyId}: ${e.error.message}`),
  };
}

function callCedar(set: CompiledPolicySet, r: CedarRequest): cedar.AuthorizationAnswer {
  return cedar.statefulIsAuthorized({
    principal: uid('Operator', r.principal.id),
    action: uid('Action', r.action),
    resource: uid(r.resourceType, r.resource.id),
    context: r.context,
    preparsedSchemaName: ensureSchemaParsed(),
    validateRequest: true,
    preparsedPolicySetId: set.cedarSetId,
    entities: requestEntities(r),
  });
}

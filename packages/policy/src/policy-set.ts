/**
 * A compiled policy set: Cedar text split into policies, each policy's
 * annotations read, the whole set validated (strict mode) against the
 * Custodian schema, and pre-parsed once inside the Cedar wasm module so each
 * decision only pays for evaluation. A set that fails any step is refused
 * here, at change time, never at signing time.
 */
import * as cedar from '@cedar-policy/cedar-wasm/nodejs';
import { CustodianError } from '@custodian/core/errors';
import { readAnnotations, type PolicyAnnotations } from './annotations.js';
import { CUSTODIAN_SCHEMA } from './schema.js';
import { bytesHash } from './document-hash.js';

/** Most policies in one set. */
export const POLICIES_MAX = 5000;
/** Largest total policy text accepted. */
export const POLICY_TEXT_BYTES_MAX = 4 * 1024 * 1024;
/** Name under which the Custodian schema is pre-parsed in the wasm module. */
const SCHEMA_NAME = 'custodian-schema-v1';

/** One policy source file. */
export interface PolicySource {
  readonly name: string;
  readonly text: string;
}

/** One policy of a compiled set. */
export interface CompiledPolicy extends PolicyAnnotations {
  readonly effect: 'permit' | 'forbid';
  readonly source: string;
  /** The policy's Cedar text as written. */
  readonly text: string;
}

/** A validated, pre-parsed policy set. */
export interface CompiledPolicySet {
  /** Hex SHA-256 over the sources (name, length, text), in the given order. */
  readonly hash: string;
  /** Id of the pre-parsed set inside the Cedar wasm module. */
  readonly cedarSetId: string;
  readonly policies: ReadonlyMap<string, CompiledPolicy>;
}

let schemaReady = false;

/** Pre-parses the Custodian schema once per process; returns its wasm name. */
export function ensureSchemaParsed(): string {
  if (!schemaReady) {
    const r = cedar.preparseSchema(SCHEMA_NAME, CUSTODIAN_SCHEMA);
    if (r.type !== 'success') throw new CustodianError('E_INTERNAL', 'the Custodian schema does not parse', { errors: r.errors.map((e) => e.message) });
    schemaReady = true;
  }
  return SCHEMA_NAME;
}

function invalid(message: string, errors: readonly { message: string }[], detail: Record<string, unknown> = {}): never {
  throw new CustodianError('E_POLICY_INVALID', message, { ...detail, errors: errors.slice(0, 20).map((e) => e.message) });
}

/** Hash of a list of sources, independent of how they are stored. */
export function policySourcesHash(sources: readonly PolicySource[]): string {
  const parts = sources.map((s) => `${s.name.length}:${s.name}\n${Buffer.byteLength(s.text)}:${s.text}\n`);
  return bytesHash(new TextEncoder().encode(parts.join('')));
}

/** Parses, annotates, validates and pre-parses policy sources; throws E_POLICY_INVALID. */
export function compilePolicySet(sources: readonly PolicySource[]): CompiledPolicySet {
  const total = sources.reduce((n, s) => n + Buffer.byteLength(s.text), 0);
  if (total > POLICY_TEXT_BYTES_MAX) invalid(`policy text of ${total} bytes exceeds ${POLICY_TEXT_BYTES_MAX}`, []);
  const policies = new Map<string, CompiledPolicy>();
  const texts: Record<string, string> = {};
  for (const src of sources) {
    const parts = cedar.policySetTextToParts(src.text);
    if (parts.type !== 'success') invalid(`${src.name}: policies do not parse`, parts.errors, { file: src.name });
    if (parts.policy_templates.length > 0) invalid(`${src.name}: policy templates are not supported`, [], { file: src.name });
    for (const text of parts.policies) {
      if (policies.size >= POLICIES_MAX) invalid(`more than ${POLICIES_MAX} policies`, []);
      const json = cedar.policyToJson(text);
      if (json.type !== 'success') invalid(`${src.name}: a policy does not parse`, json.errors, { file: src.name });
      const ann = readAnnotations(json.json.annotations ?? {}, json.json.effect, src.name);
      if (policies.has(ann.id)) invalid(`policy id ${ann.id} is used twice`, [], { policy: ann.id, file: src.name });
      policies.set(ann.id, { ...ann, effect: json.json.effect, source: src.name, text });
      texts[ann.id] = text;
    }
  }
  const v = cedar.validate({ schema: CUSTODIAN_SCHEMA, policies: { staticPolicies: texts }, validationSettings: { mode: 'strict' } });
  if (v.type !== 'success') invalid('policy validation failed', v.errors);
  if (v.validationErrors.length > 0) {
    const first = v.validationErrors[0]!;
    invalid(`policy ${first.policyId} does not validate against the Custodian schema: ${first.error.message}`, v.validationErrors.map((e) => ({ message: `${e.policyId}: ${e.error.message}` })), { policy: first.policyId });
  }
  const hash = policySourcesHash(sources);
  const cedarSetId = `pset-${hash}`;
  ensureSchemaParsed();
  const p = cedar.preparsePolicySet(cedarSetId, { staticPolicies: texts });
  if (p.type !== 'success') invalid('policy set could not be pre-parsed', p.errors);
  return { hash, cedarSetId, policies };
}

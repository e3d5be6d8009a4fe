/**
 * A manifest successor authorised by break-glass instead of by the installed
 * quorum (issue 7 item 6): the emergency path when the root quorum cannot
 * sign (keys lost, members gone). The executed request names the successor
 * by its `manifestHash`; signers and the key broker accept it only if it
 * differs from the installed manifest in what the action allows, besides
 * the sequence fields (`version`, `previousHash`) every successor changes:
 *
 *   upgrade-measurement   `enclave.measurements` only
 *   change-root-quorum    `quorum`, and the operator entries of the members
 *                         of the old or the new quorum (added, removed,
 *                         re-keyed): replacing a lost member's key is the
 *                         reason this action exists. Every other operator
 *                         must be kept byte for byte, so break-glass cannot
 *                         add or change an initiator or approver outside
 *                         the root quorum.
 *
 * Everything else (organisation, chain, policy and rulebook digest, enclave
 * platform and root) must be identical; otherwise E_BREAKGLASS_SUCCESSOR_SCOPE
 * naming what changed. Both payloads must already have decoded as manifests.
 */
import { CustodianError } from '@custodian/core/errors';
import { canonicalJson, type Json } from '@custodian/core/canonical-json';
import {
  decodeManifestSuccessorPayload, isManifestSuccessorAction, verifySignedBreakglassExecution,
  type BreakglassExecution, type ManifestSuccessorAction, type SignedBreakglassExecution,
} from './breakglass-execution.js';

type Obj = Readonly<Record<string, Json>>;

/**
 * The break-glass authority for a manifest successor, as signers and the key
 * broker check it, in order: signature under the broker key and payload hash
 * (E_BREAKGLASS_EXECUTION_INVALID / E_BREAKGLASS_PAYLOAD_CHANGED) → action
 * (E_BREAKGLASS_ACTION_MISMATCH) → names this successor's hash
 * (E_BREAKGLASS_MANIFEST_MISMATCH) → changes only what the action allows
 * (E_BREAKGLASS_SUCCESSOR_SCOPE). Returns the verified execution.
 */
export function verifyBreakglassSuccessor(kbsPublicKey: Uint8Array, signed: SignedBreakglassExecution, currentPayload: Json, nextPayload: Json, nextHash: string): BreakglassExecution {
  const execution = verifySignedBreakglassExecution(kbsPublicKey, signed);
  const { action, id } = execution;
  if (!isManifestSuccessorAction(action)) {
    throw new CustodianError('E_BREAKGLASS_ACTION_MISMATCH', `break-glass request ${id} is a ${action}; a manifest successor is authorised by change-root-quorum or upgrade-measurement`, { breakglassId: id, action });
  }
  const named = decodeManifestSuccessorPayload(action, signed.payload).manifestHash;
  if (named !== nextHash) {
    throw new CustodianError('E_BREAKGLASS_MANIFEST_MISMATCH', `break-glass request ${id} authorises manifest ${named.slice(0, 16)}…, not ${nextHash.slice(0, 16)}…`, { breakglassId: id, approved: named, manifestHash: nextHash });
  }
  checkBreakglassSuccessor(action, currentPayload, nextPayload);
  return execution;
}

/**
 * Throws E_BREAKGLASS_SUCCESSOR_SCOPE unless `next` differs from `current`
 * (manifest payloads, both decoded) only in what `action` allows.
 */
export function checkBreakglassSuccessor(action: ManifestSuccessorAction, current: Json, next: Json): void {
  const a = allowedView(action, asObj(current), asObj(current), asObj(next));
  const b = allowedView(action, asObj(next), asObj(current), asObj(next));
  const changed = Object.keys({ ...a, ...b })
    .filter((k) => canonicalJson(a[k] ?? null) !== canonicalJson(b[k] ?? null))
    .sort();
  if (changed.length > 0) {
    throw new CustodianError('E_BREAKGLASS_SUCCESSOR_SCOPE', `a ${action} break-glass request may change ${action === 'upgrade-measurement' ? 'the enclave measurements' : 'the root quorum and its members'} only; this successor also changes ${changed.join(', ')}`, { action, changed });
  }
}

/** The part of `m` the action must leave untouched, keyed by what an auditor would call it. */
function allowedView(action: ManifestSuccessorAction, m: Obj, current: Obj, next: Obj): Record<string, Json> {
  const out: Record<string, Json> = {};
  for (const [k, v] of Object.entries(m)) {
    if (k === 'version' || k === 'previousHash') continue;
    if (k === 'enclave') {
      // The platform and root stay; upgrade-measurement may change the measurement list.
      for (const [ek, ev] of Object.entries(asObj(v))) if (!(action === 'upgrade-measurement' && ek === 'measurements')) out[`enclave.${ek}`] = ev;
    } else if (k === 'quorum' && action === 'change-root-quorum') {
      continue;
    } else if (k === 'operators') {
      const members = action === 'change-root-quorum' ? new Set([...quorumMembers(current), ...quorumMembers(next)]) : new Set<string>();
      // By id (their order in the list is no change of authority); change-root-quorum leaves out both quorums' members.
      const kept = (v as readonly Json[]).map(asObj).filter((o) => !members.has(String(o['id'])));
      for (const o of kept) out[`operators.${String(o['id'])}`] = o;
    } else {
      out[k] = v;
    }
  }
  return out;
}

function quorumMembers(m: Obj): readonly string[] {
  return (asObj(m['quorum'] ?? {})['members'] as readonly Json[] | undefined ?? []).map(String);
}

function asObj(v: Json | undefined): Obj {
  if (v === null || v === undefined || typeof v !== 'object' || Array.isArray(v)) throw new CustodianError('E_MANIFEST_INVALID', 'a manifest part is not an object', {});
  return v as Obj;
}

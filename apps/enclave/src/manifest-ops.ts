/**
 * The organisation manifest on this signer: `manifest.install` (sequence,
 * quorum, this enclave's own measurement, the pinned Cedar rulebook) and the
 * Cedar policy rebuilt from sealed state at boot.
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { CustodianError, isCustodianError } from '@custodian/core/errors';
import type { Json } from '@custodian/core/canonical-json';
import { Fields } from '@custodian/core/fields';
import { hexToBytes } from '@custodian/core/bytes';
import { verifySimEvidence, appraiseSimClaims } from '@custodian/attestation/sim/sim-evidence';
import { decodeManifest, decodeSignedManifest, MANIFEST_TYPE, manifestHash, verifyManifestQuorum, type Manifest, type SignedManifest } from '@custodian/protocol/manifest';
import { verifyPayload } from '@custodian/protocol/operator-key';
import { decodeSignedBreakglassExecution, type BreakglassExecution } from '@custodian/protocol/breakglass-execution';
import { verifyBreakglassSuccessor } from '@custodian/protocol/breakglass-manifest';
import { identityReportData } from '@custodian/protocol/identity-binding';
import type { RpcPeer } from '@custodian/protocol/frame-rpc';
import type { EnclaveContext } from './enclave-context.js';
import { RULEBOOK_FILES_MAX, type EnclaveState } from './state.js';
import { CedarPolicy, countApprovalsByGroup } from './cedar-policy.js';
import { requestSeenAt } from './proposal.js';
import { breakglassBrokerKey } from './breakglass-ops.js';

/** Decodes rulebook files supplied with a manifest: file name → hex bytes. */
function decodeRulebookFiles(json: Json): Map<string, Uint8Array> {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) throw new CustodianError('E_FIELD_INVALID', 'rulebook must be an object of file name → hex bytes');
  const entries = Object.entries(json);
  if (entries.length === 0 || entries.length > RULEBOOK_FILES_MAX) throw new CustodianError('E_FIELD_INVALID', `rulebook must hold 1..${RULEBOOK_FILES_MAX} files`);
  const files = new Map<string, Uint8Array>();
  for (const [name, hex] of entries) {
    if (name.length > 256 || typeof hex !== 'string' || !/^([0-9a-f]{2})*$/.test(hex)) throw new CustodianError('E_FIELD_INVALID', `rulebook file ${name.slice(0, 64)} must be lower-case hex bytes`);
    files.set(name, hexToBytes(hex));
  }
  return files;
}

/** The Cedar policy from sealed state: the rulebook files pinned by the installed manifest, and the sealed ledger. */
export function loadSealedCedar(s: EnclaveState): CedarPolicy | null {
  if (!s.rulebook || !s.signedManifest) return null;
  const digest = decodeManifest(s.signedManifest.payload).policy.rulebookDigest;
  if (digest === undefined) return null;
  const policy = CedarPolicy.fromRulebookFiles(s.rulebook, digest);
  if (s.velocityLedger !== null) policy.ledgerFromJson(s.velocityLedger);
  return policy;
}

/**
 * `manifest.install`: a genesis manifest, or the next version signed by the
 * installed one's quorum, under which this very enclave is accepted; with the
 * rulebook files it pins (checked against its digest). Audited either way.
 *
 * With `breakglass` (a broker-signed execution of `change-root-quorum` or
 * `upgrade-measurement`, issue 7 item 6), the execution instead of the
 * installed quorum authorises the successor: it must verify under the key
 * broker this signer was launched with, name this successor's hash, and the
 * successor may differ from the installed manifest only in what the action
 * allows (see @custodian/protocol/breakglass-manifest). The sequence, own
 * measurement and rulebook checks are the same; `manifest.installed` names
 * the request. A given execution is the only authority looked at: a bad one
 * refuses even if the manifest also carries quorum signatures.
 */
export async function installManifest(ctx: EnclaveContext, body: Json, peer: RpcPeer): Promise<Json> {
  const f = new Fields(body, 'manifest.install');
  const signed = decodeSignedManifest(f.raw('signedManifest'));
  const rulebookJson = f.optRaw('rulebook');
  const breakglassJson = f.optRaw('breakglass');
  f.done();
  const s = ctx.state();
  const hash = manifestHash(signed.payload);
  if (s.signedManifest && hash === manifestHash(s.signedManifest.payload)) return { manifestHash: hash, installed: false };
  const previous = s.signedManifest ? decodeManifest(s.signedManifest.payload) : null;
  const previousMeasurements = previous ? previous.enclave.measurements : null;
  let next: Manifest;
  let cedar: CedarPolicy | null = null;
  let files: Map<string, Uint8Array> | null = null;
  let breakglass: BreakglassExecution | null = null;
  try {
    next = decodeManifest(signed.payload);
    const current = s.signedManifest ? decodeManifest(s.signedManifest.payload) : null;
    if (current && (next.version !== current.version + 1 || next.previousHash !== manifestHash(s.signedManifest!.payload) || next.orgId !== current.orgId)) {
      throw new CustodianError('E_MANIFEST_SEQUENCE', 'a new manifest must have the next version and name the installed one as previous');
    }
    if (!current && (next.version !== 1 || next.previousHash !== '')) throw new CustodianError('E_MANIFEST_SEQUENCE', 'a genesis manifest has version 1 and no previous hash');
    if (breakglassJson !== undefined) {
      if (!current) throw new CustodianError('E_MANIFEST_SEQUENCE', 'a genesis manifest is signed by its own quorum; break-glass authorises successors only');
      breakglass = breakglassSuccessor(ctx, breakglassJson, s.signedManifest!.payload, signed.payload, hash);
    } else {
      verifyManifestQuorum(signed, current ?? next);
    }
    await checkOwnMeasurement(ctx, next);
    const digest = next.policy.rulebookDigest;
    const installed = ctx.cedar();
    if (digest !== undefined) {
      if (rulebookJson === undefined && installed?.digest === digest && s.rulebook) {
        cedar = installed;
        files = s.rulebook;
      } else {
        if (rulebookJson === undefined) throw new CustodianError('E_RULEBOOK_INVALID', 'the manifest pins a rulebook; its files must be supplied with it');
        files = decodeRulebookFiles(rulebookJson);
        // Only signatures that verify count as the change's proposer and approvers (the host can append entries).
        if (installed && current && installed.digest !== digest) decideGovernedChange(ctx, installed, files, verifiedSigners(signed, current), current, hash);
        // A new rulebook keeps the spending ledger: a governed change must not reset velocity.
        cedar = installed ? installed.withRulebookFiles(files, digest) : CedarPolicy.fromRulebookFiles(files, digest);
      }
    } else if (rulebookJson !== undefined) {
      throw new CustodianError('E_RULEBOOK_INVALID', 'rulebook files were supplied but the manifest pins no rulebook');
    }
  } catch (e) {
    // A break-glass refusal names what the successor changed beyond its action (auditors see why).
    const changed = isCustodianError(e, 'E_BREAKGLASS_SUCCESSOR_SCOPE') ? { changed: e.detail['changed'] as Json } : {};
    return ctx.refuse(peer, 'manifest.rejected', null, e, { manifestHash: hash, ...(breakglassJson !== undefined ? { breakglass: true } : {}), ...changed });
  }
  // Who signed, as audited: only signatures that verify under the authorising manifest's operator keys.
  const signedBy = verifiedSigners(signed, previous ?? next);
  s.signedManifest = signed;
  s.rulebook = files;
  ctx.manifestInstalled(cedar);
  const rulebook: Json = cedar ? { digest: cedar.digest, versions: { ...cedar.versions } } : null;
  await ctx.audit(peer, 'manifest.installed', null, { manifestHash: hash, orgId: next.orgId, version: next.version, signedBy, measurements: [...next.enclave.measurements], previousHash: next.previousHash === '' ? null : next.previousHash, previousMeasurements: previousMeasurements ? [...previousMeasurements] : [], rulebook, ...(breakglass ? { breakglassId: breakglass.id, breakglassAction: breakglass.action, breakglassApprovals: [...breakglass.approvals] } : {}) });
  await ctx.persist();
  return { manifestHash: hash, installed: true };
}

/**
 * A new rulebook replacing the one in force is a `policy-change` request
 * decided by the rulebook in force (issue 5 §6), beside the manifest quorum:
 * the first operator who signed the manifest proposes it, the others approve
 * (their groups as the installed manifest lists them, the proposer never
 * counted), and a `@delay` runs from when this signer first saw the manifest
 * (its own clock, sealed) — submit the same manifest again once it ends.
 * Throws the refusal: the deciding code on deny, E_QUORUM_NOT_MET with the
 * missing approvals and `notBefore` otherwise.
 */
function decideGovernedChange(ctx: EnclaveContext, installed: CedarPolicy, files: ReadonlyMap<string, Uint8Array>, signers: readonly string[], current: Manifest, hash: string): void {
  const groupsOf = (id: string): string[] => [...(current.operators.find((o) => o.id === id)?.groups ?? [])];
  const [proposer, ...others] = signers;
  const now = ctx.nowMs();
  const approvalsByGroup = countApprovalsByGroup(others.map((id) => ({ id, groups: groupsOf(id) })), proposer ?? '');
  const { decision: d, changed } = installed.decideRulebookChange(files, { principal: { id: proposer ?? '', groups: groupsOf(proposer ?? '') }, approvalsByGroup, orgId: current.orgId, requestedAtMs: requestSeenAt(ctx, `manifest:${hash}`, now) }, now);
  if (d.decision === 'allow') return;
  const detail = { changed: [...changed], policies: [...d.policies], versions: { ...d.versions, rulebookDigest: installed.digest } };
  if (d.decision === 'deny') throw new CustodianError(d.code ?? 'E_POLICY_DENIED', `the rulebook change (${changed.join(', ') || 'no document'}) is refused by the rulebook in force: ${d.reasons.join('; ')}`, detail);
  const missing = Object.entries(d.missingApprovals).filter(([, n]) => n > 0).map(([g, n]) => `${n} more from ${g}`);
  const locked = d.notBefore !== null && d.notBefore > now ? `time-locked until ${new Date(d.notBefore).toISOString()}` : '';
  throw new CustodianError('E_QUORUM_NOT_MET', `the rulebook change is not yet allowed by the rulebook in force: ${[missing.length > 0 ? `approvals missing: ${missing.join(', ')}` : '', locked].filter(Boolean).join('; ')}`, { ...detail, missing: { ...d.missingApprovals }, notBefore: d.notBefore });
}

/**
 * The operators whose signature on `signed` verifies under their key in
 * `authority` (the installed manifest; a genesis its own), in the order
 * given, each once. Unverified entries — the host can append any — are left out.
 */
function verifiedSigners(signed: SignedManifest, authority: Manifest): string[] {
  const out: string[] = [];
  for (const x of signed.signatures) {
    if (out.includes(x.operatorId)) continue;
    const op = authority.operators.find((o) => o.id === x.operatorId);
    if (op && verifyPayload(op.publicKey, MANIFEST_TYPE, signed.payload, x.signature)) out.push(x.operatorId);
  }
  return out;
}

/** The break-glass authority for a successor (see `verifyBreakglassSuccessor`), under the key broker this signer was launched with. */
function breakglassSuccessor(ctx: EnclaveContext, json: Json, currentPayload: Json, nextPayload: Json, hash: string): BreakglassExecution {
  const signed = decodeSignedBreakglassExecution(json);
  return verifyBreakglassSuccessor(breakglassBrokerKey(ctx), signed, currentPayload, nextPayload, hash);
}

/** Refuses a manifest under which this very enclave would not be accepted. */
async function checkOwnMeasurement(ctx: EnclaveContext, m: Manifest): Promise<void> {
  const nonce = ed25519.utils.randomSecretKey();
  const expected = identityReportData(ctx.identityKey(), nonce);
  const claims = verifySimEvidence(await ctx.attest(expected), { rootPublicKey: m.enclave.simRoot, nowMs: ctx.nowMs(), expectedReportData: expected });
  try {
    appraiseSimClaims(claims, { measurements: m.enclave.measurements, allowSim: m.enclave.platform === 'sim' });
  } catch (e) {
    if (isCustodianError(e, 'E_ATTEST_MEASUREMENT')) {
      throw new CustodianError('E_ATTEST_MEASUREMENT', `this signer's own measurement ${claims.measurement.slice(0, 16)}… is not among the manifest's expected measurements`, { measurement: claims.measurement });
    }
    throw e;
  }
}

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
import { decodeManifest, decodeSignedManifest, manifestHash, verifyManifestQuorum, type Manifest } from '@custodian/protocol/manifest';
import { identityReportData } from '@custodian/protocol/identity-binding';
import type { RpcPeer } from '@custodian/protocol/frame-rpc';
import type { EnclaveContext } from './enclave-context.js';
import { RULEBOOK_FILES_MAX, type EnclaveState } from './state.js';
import { CedarPolicy } from './cedar-policy.js';

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
 */
export async function installManifest(ctx: EnclaveContext, body: Json, peer: RpcPeer): Promise<Json> {
  const f = new Fields(body, 'manifest.install');
  const signed = decodeSignedManifest(f.raw('signedManifest'));
  const rulebookJson = f.optRaw('rulebook');
  f.done();
  const s = ctx.state();
  const hash = manifestHash(signed.payload);
  if (s.signedManifest && hash === manifestHash(s.signedManifest.payload)) return { manifestHash: hash, installed: false };
  const previousMeasurements = s.signedManifest ? decodeManifest(s.signedManifest.payload).enclave.measurements : null;
  let next: Manifest;
  let cedar: CedarPolicy | null = null;
  let files: Map<string, Uint8Array> | null = null;
  try {
    next = decodeManifest(signed.payload);
    const current = s.signedManifest ? decodeManifest(s.signedManifest.payload) : null;
    if (current && (next.version !== current.version + 1 || next.previousHash !== manifestHash(s.signedManifest!.payload) || next.orgId !== current.orgId)) {
      throw new CustodianError('E_MANIFEST_SEQUENCE', 'a new manifest must have the next version and name the installed one as previous');
    }
    if (!current && (next.version !== 1 || next.previousHash !== '')) throw new CustodianError('E_MANIFEST_SEQUENCE', 'a genesis manifest has version 1 and no previous hash');
    verifyManifestQuorum(signed, current ?? next);
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
        // A new rulebook keeps the spending ledger: a governed change must not reset velocity.
        cedar = installed ? installed.withRulebookFiles(files, digest) : CedarPolicy.fromRulebookFiles(files, digest);
      }
    } else if (rulebookJson !== undefined) {
      throw new CustodianError('E_RULEBOOK_INVALID', 'rulebook files were supplied but the manifest pins no rulebook');
    }
  } catch (e) {
    return ctx.refuse(peer, 'manifest.rejected', null, e, { manifestHash: hash });
  }
  s.signedManifest = signed;
  s.rulebook = files;
  ctx.manifestInstalled(cedar);
  const rulebook: Json = cedar ? { digest: cedar.digest, versions: { ...cedar.versions } } : null;
  await ctx.audit(peer, 'manifest.installed', null, { manifestHash: hash, orgId: next.orgId, version: next.version, signedBy: signed.signatures.map((x) => x.operatorId), measurements: [...next.enclave.measurements], previousHash: next.previousHash === '' ? null : next.previousHash, previousMeasurements: previousMeasurements ? [...previousMeasurements] : [], rulebook });
  await ctx.persist();
  return { manifestHash: hash, installed: true };
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

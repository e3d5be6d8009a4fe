/**
 * Peers: the other signers this one accepts, each by fresh evidence appraised
 * against the installed manifest, with the peer-channel key its attested
 * identity key signed for it (`peers.install`).
 *
 * A signer launched with a key broker also requires each peer's workload
 * credential (issue 7 item 7): signed by that broker, naming the peer's
 * identity key and the measurement its evidence attests, and valid now —
 * the broker appraised the peer too (measurement approved, debug off).
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { CustodianError, isCustodianError } from '@custodian/core/errors';
import type { Json } from '@custodian/core/canonical-json';
import { Fields } from '@custodian/core/fields';
import { bytesToHex } from '@custodian/core/bytes';
import { verifySimEvidence, appraiseSimClaims } from '@custodian/attestation/sim/sim-evidence';
import { identityReportData } from '@custodian/protocol/identity-binding';
import { decodeEnclaveSigned, verifyStatement } from '@custodian/protocol/enclave-signed';
import { PEER_KEY_KIND } from '@custodian/protocol/mpc-relay';
import type { RpcPeer } from '@custodian/protocol/frame-rpc';
import { verifyWorkloadCredential } from '@custodian/protocol/workload-credential';
import type { EnclaveContext } from './enclave-context.js';
import type { KeyBrokerTrust } from './platform.js';

/** `peers.install`: verifies peers' evidence against the manifest; audits each verdict. */
export async function installPeers(ctx: EnclaveContext, body: Json, peer: RpcPeer): Promise<Json> {
  const m = ctx.manifest();
  const f = new Fields(body, 'peers.install');
  // Every entry is decoded before any is installed: a malformed one refuses the whole body, never half of it.
  const peers = f.arr('peers', 64).map((p, i) => {
    const g = new Fields(p, `peers[${i}]`);
    const d = { signerId: g.str('signerId', 64), identityKey: g.hex('identityKey', 32), nonce: g.hex('nonce', 32), evidence: g.hex('evidence', undefined, 16 * 1024), signedPeerKey: g.optRaw('peerKey'), credential: g.optRaw('credential') };
    g.done();
    return d;
  });
  f.done();
  const accepted: Json[] = [];
  const rejected: Json[] = [];
  // Launched with a key broker (its key to trust): every peer must present that broker's credential, whether or not this signer can reach the broker itself.
  const broker = ctx.keyBroker();
  for (const { signerId, identityKey, nonce, evidence, signedPeerKey, credential } of peers) {
    try {
      const claims = verifySimEvidence(evidence, { rootPublicKey: m.enclave.simRoot, nowMs: ctx.nowMs(), expectedReportData: identityReportData(identityKey, nonce) });
      appraiseSimClaims(claims, { measurements: m.enclave.measurements, allowSim: m.enclave.platform === 'sim' });
      if (broker !== null) checkPeerCredential(broker, signerId, identityKey, claims.measurement, credential, ctx.nowMs());
      // The channel key counts only when the attested identity key signed it for this very signer.
      const peerKey = signedPeerKey === undefined ? null : checkPeerKey(signerId, identityKey, signedPeerKey);
      if (signerId === ctx.signerId) throw new CustodianError('E_PEER_UNKNOWN', 'a signer is not its own peer');
      ctx.state().peers.set(signerId, { identityKey, peerKey });
      ctx.peersChanged();
      accepted.push({ signerId, identityKey: bytesToHex(identityKey), measurement: claims.measurement });
      await ctx.audit(peer, 'attest.accepted', null, { peer: signerId, identityKey: bytesToHex(identityKey), measurement: claims.measurement, evidenceHash: bytesToHex(sha256(evidence)), peerKey: peerKey ? bytesToHex(peerKey) : null });
    } catch (e) {
      if (!isCustodianError(e)) throw e;
      rejected.push({ signerId, code: e.code, message: e.message });
      await ctx.audit(peer, 'attest.rejected', null, { peer: signerId, code: e.code, reason: e.message });
    }
  }
  await ctx.persist();
  return { accepted, rejected };
}

/**
 * A peer's workload credential, required when this signer has a key broker:
 * signed by that broker, for the peer's attested identity key and
 * measurement, on the sim platform, valid at `nowMs`. Every failure is
 * E_CREDENTIAL_INVALID, the verifier's own code kept in the detail.
 */
function checkPeerCredential(broker: KeyBrokerTrust, signerId: string, identityKey: Uint8Array, measurement: string, credential: Json | undefined, nowMs: number): void {
  if (credential === undefined || credential === null) throw new CustodianError('E_CREDENTIAL_INVALID', `${signerId} presented no workload credential, which this signer's key broker requires`, { peer: signerId });
  try {
    verifyWorkloadCredential(credential, broker.publicKey, nowMs, { subjectKey: identityKey, measurement, platform: 'sim', signerId });
  } catch (e) {
    if (!isCustodianError(e)) throw e;
    throw new CustodianError('E_CREDENTIAL_INVALID', `the workload credential of ${signerId} is refused: ${e.message}`, { peer: signerId, check: e.code });
  }
}

/** A peer's channel key from its `peer-key.v1` statement, verified under its attested identity key. */
function checkPeerKey(signerId: string, identityKey: Uint8Array, json: Json): Uint8Array {
  const signed = decodeEnclaveSigned(json, 'peerKey');
  if (!verifyStatement(PEER_KEY_KIND, signed, identityKey)) throw new CustodianError('E_PEER_KEY_INVALID', `the channel key of ${signerId} is not signed by its attested identity key`, { peer: signerId });
  const f = new Fields(signed.statement, 'peerKey.statement');
  const owner = f.str('signerId', 64);
  const key = f.hex('peerKey', 32);
  f.done();
  if (owner !== signerId) throw new CustodianError('E_PEER_KEY_INVALID', `${signerId} presented the channel key of ${owner}`, { peer: signerId });
  return key;
}

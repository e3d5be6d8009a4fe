/**
 * What an operator's CLI checks before it trusts anything the host shows:
 * the manifest carries the root quorum's signatures, and each signer's fresh
 * evidence (bound to a nonce this CLI chose) verifies against the manifest's
 * sim root and measurements. Yields the attested identity keys.
 */
import { randomBytes } from 'node:crypto';
import { CustodianError } from '@custodian/core/errors';
import { Fields } from '@custodian/core/fields';
import { bytesToHex } from '@custodian/core/bytes';
import { decodeManifest, decodeSignedManifest, verifyManifestQuorum, type Manifest } from '@custodian/protocol/manifest';
import { verifySignerEvidence } from '@custodian/host/signer-link';
import type { HostClient } from './host-client.js';

/** The verified organisation view. */
export interface VerifiedOrg {
  readonly manifest: Manifest;
  readonly identityKeys: ReadonlyMap<string, Uint8Array>;
}

/** Verifies the manifest and attests the named signers (all when omitted). */
export async function verifyOrg(client: HostClient, signerIds?: readonly string[]): Promise<VerifiedOrg> {
  const mf = new Fields(await client.get('/v1/manifest'), 'manifest');
  const signed = decodeSignedManifest(mf.raw('signedManifest'));
  const manifest = decodeManifest(signed.payload);
  // Genesis: the manifest's own quorum. (Later versions: checked link by link by the signers.)
  verifyManifestQuorum(signed, manifest);
  const signers = (await client.get('/v1/signers')) as readonly { signerId: string }[];
  const ids = signerIds ?? signers.map((s) => s.signerId);
  const identityKeys = new Map<string, Uint8Array>();
  for (const id of ids) {
    const nonce = new Uint8Array(randomBytes(32));
    const a = new Fields(await client.get(`/v1/signers/${id}/attestation?nonce=${bytesToHex(nonce)}`), 'attestation');
    const hello = { signerId: a.str('signerId', 64), phase: 'READY', identityKey: a.hex('identityKey', 32), evidence: a.hex('evidence', undefined, 16 * 1024), nonce: a.hex('nonce', 32), manifestHash: null };
    if (hello.signerId !== id || bytesToHex(hello.nonce) !== bytesToHex(nonce)) throw new CustodianError('E_ATTEST_BINDING', `host answered for another signer or nonce than ${id} asked`);
    verifySignerEvidence(hello, manifest, Date.now());
    identityKeys.set(id, hello.identityKey);
  }
  return { manifest, identityKeys };
}

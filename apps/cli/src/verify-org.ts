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
import { decodeManifest, decodeSignedManifest, manifestHash, verifyManifestQuorum, type Manifest } from '@custodian/protocol/manifest';
import type { Json } from '@custodian/core/canonical-json';
import { decodeEnclaveSigned, verifyStatement } from '@custodian/protocol/enclave-signed';
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
  // Without a pin, a host could present a whole shadow organisation (its own quorum, its own sim root).
  const pin = process.env['CUSTODIAN_MANIFEST_HASH'];
  if (pin !== undefined && pin !== '' && manifestHash(signed.payload) !== pin.toLowerCase()) {
    throw new CustodianError('E_MANIFEST_UNTRUSTED', `the host serves manifest ${manifestHash(signed.payload)}, not the pinned ${pin}`, { served: manifestHash(signed.payload), pinned: pin });
  }
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

/** A wallet as its signer attested it. */
export interface VerifiedWallet {
  readonly walletId: string;
  readonly scheme: string;
  readonly signerId: string;
  readonly address: string;
  readonly publicKey: string;
}

/**
 * Checks a wallet record from the host against the statement its signer
 * signed: an address the host made up (a deposit address of its own) fails.
 */
export function verifyWallet(org: VerifiedOrg, row: Json): VerifiedWallet {
  const statement = decodeEnclaveSigned(new Fields(row, 'wallet').raw('statement'), 'wallet.statement');
  const f = new Fields(statement.statement, 'walletStatement');
  const w: VerifiedWallet = { walletId: f.str('walletId', 64), scheme: f.str('scheme', 32), signerId: f.str('signerId', 64), address: f.str('address', 42), publicKey: f.str('publicKey', 66) };
  const orgId = f.str('orgId', 64);
  f.str('manifestHash', 64);
  f.done();
  const key = org.identityKeys.get(w.signerId);
  if (!key || !verifyStatement('wallet.v1', statement, key) || orgId !== org.manifest.orgId) {
    throw new CustodianError('E_WALLET_UNVERIFIED', `wallet ${w.walletId} is not attested by signer ${w.signerId} of ${org.manifest.orgId}`);
  }
  const shown = row as Record<string, Json>;
  if (shown['address'] !== w.address || shown['walletId'] !== w.walletId) throw new CustodianError('E_WALLET_UNVERIFIED', `the host shows wallet ${w.walletId} with an address its signer did not attest`);
  return w;
}

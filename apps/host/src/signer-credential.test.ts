/**
 * The host's check of a signer's workload credential (`verifySignerCredential`,
 * used by `SignerLink.attest` when the host runs with `--kbs-key`): only the
 * broker's credential for the attested identity key and measurement, valid
 * now, lets the host use the signer.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { p256 } from '@noble/curves/nist.js';
import { ed25519 } from '@noble/curves/ed25519.js';
import { isCustodianError } from '@custodian/core/errors';
import { bytesToHex } from '@custodian/core/bytes';
import { encodeWorkloadCredential, workloadCredentialStatement, type WorkloadClaims } from '@custodian/protocol/workload-credential';
import { verifySignerCredential, type SignerHello } from './signer-link.js';

const NOW = 1_700_000_000_000;
const M = 'ab'.repeat(48);
const brokerSecret = p256.utils.randomSecretKey();
const brokerKey = p256.getPublicKey(brokerSecret, false);
const identityKey = ed25519.getPublicKey(ed25519.utils.randomSecretKey());

function hello(over: Partial<WorkloadClaims> = {}, secret = brokerSecret, extra: Partial<SignerHello> = {}): SignerHello {
  const claims: WorkloadClaims = { measurement: M, platform: 'sim', subjectKey: bytesToHex(identityKey), issuedAtMs: NOW, expiresAtMs: NOW + 3_600_000, ...over };
  const credential = encodeWorkloadCredential({ claims, signature: p256.sign(workloadCredentialStatement(claims), secret) });
  return { signerId: 'signer-1', phase: 'READY', identityKey, evidence: new Uint8Array(1), nonce: new Uint8Array(32), manifestHash: null, credential, ...extra };
}

const refused = (e: unknown): boolean => isCustodianError(e, 'E_CREDENTIAL_INVALID');

test('accepts the broker credential for the attested identity key and measurement', () => {
  verifySignerCredential(hello(), M, brokerKey, NOW + 1);
});

test('refuses a signer with no credential, saying why when the signer said', () => {
  assert.throws(() => verifySignerCredential(hello({}, brokerSecret, { credential: null, credentialError: 'E_KBS_CREDENTIAL_REFUSED the broker refused' }), M, brokerKey, NOW), (e) => refused(e) && /the broker refused/.test((e as Error).message));
  assert.throws(() => verifySignerCredential(hello({}, brokerSecret, { credential: null }), M, brokerKey, NOW), refused);
});

test('refuses a forged, an expired, another key\'s and another measurement\'s credential, and another signer\'s name', () => {
  assert.throws(() => verifySignerCredential(hello({}, p256.utils.randomSecretKey()), M, brokerKey, NOW), refused);
  assert.throws(() => verifySignerCredential(hello(), M, brokerKey, NOW + 3_600_000), (e) => refused(e) && (e as { detail: Record<string, unknown> }).detail['check'] === 'E_CREDENTIAL_EXPIRED');
  assert.throws(() => verifySignerCredential(hello({ subjectKey: bytesToHex(ed25519.getPublicKey(ed25519.utils.randomSecretKey())) }), M, brokerKey, NOW), refused);
  assert.throws(() => verifySignerCredential(hello(), 'cd'.repeat(48), brokerKey, NOW), refused);
  assert.throws(() => verifySignerCredential(hello({ signerId: 'signer-2' }), M, brokerKey, NOW), refused);
});

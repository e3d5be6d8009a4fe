import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ed25519 } from '@noble/curves/ed25519.js';
import { isCustodianError } from '@custodian/core/errors';
import type { Json } from '@custodian/core/canonical-json';
import { encodeEnclaveSigned, signStatement } from '@custodian/protocol/enclave-signed';
import { verifyWallet, type VerifiedOrg } from './verify-org.js';

const sk = ed25519.utils.randomSecretKey();
const org = { manifest: { orgId: 'acme' }, identityKeys: new Map([['signer-1', ed25519.getPublicKey(sk)]]) } as unknown as VerifiedOrg;
const statement = { walletId: 'w', scheme: 'single', signerId: 'signer-1', publicKey: '02' + '11'.repeat(32), address: '0x70997970C51812dc3A010C7d01b50e0d17dc79C8', orgId: 'acme', manifestHash: 'aa'.repeat(32) };
const row = (over: Record<string, Json> = {}, st: Json = statement, key = sk): Json => ({ walletId: 'w', scheme: 'single', signerId: 'signer-1', address: statement.address, statement: encodeEnclaveSigned(signStatement('wallet.v1', st, key)), ...over });

test('a wallet whose statement its attested signer signed verifies', () => {
  assert.equal(verifyWallet(org, row()).address, statement.address);
});

test('rejects a host that shows another address than the signer attested', () => {
  assert.throws(() => verifyWallet(org, row({ address: '0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC' })), (e) => isCustodianError(e, 'E_WALLET_UNVERIFIED'));
});

test('rejects a statement signed by a key that is not the attested signer, or for another organisation', () => {
  assert.throws(() => verifyWallet(org, row({}, statement, ed25519.utils.randomSecretKey())), (e) => isCustodianError(e, 'E_WALLET_UNVERIFIED'));
  assert.throws(() => verifyWallet(org, row({}, { ...statement, orgId: 'other' })), (e) => isCustodianError(e, 'E_WALLET_UNVERIFIED'));
});

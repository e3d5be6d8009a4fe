// Wallet-create payloads of both schemes, and the relay's envelope lists: what they accept and refuse.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { systemRandom } from '@custodian/core/clock';
import { CustodianError, isCustodianError } from '@custodian/core/errors';
import type { Json } from '@custodian/core/canonical-json';
import { decodeWalletCreate, WALLET_CREATE_TYPE } from './payloads.js';
import { decodeEnvelopes, envelopeHeader, mpcSessionId } from './mpc-relay.js';
import { PeerChannel } from './hpke/peer-channel.js';
import { generatePeerKeyPair } from './hpke/peer-key.js';

const base = { type: WALLET_CREATE_TYPE, orgId: 'acme', walletId: 'w1', nonce: '0'.repeat(32), createdAtMs: 1 };
const threshold = (over: Record<string, Json>): Json => ({ ...base, scheme: 'ecdsa-dkls', threshold: 2, parties: ['signer-1', 'signer-2', 'signer-3'], ...over });

test('decodes a single-signer and a threshold wallet request', () => {
  assert.deepEqual(decodeWalletCreate({ ...base, scheme: 'single', signerId: 'signer-1' }), { ...base, scheme: 'single', signerId: 'signer-1' });
  const t = decodeWalletCreate(threshold({}));
  assert.equal(t.scheme, 'ecdsa-dkls');
  assert.ok(t.scheme === 'ecdsa-dkls' && t.threshold === 2 && t.parties.length === 3);
});

test('rejects threshold requests with a bad threshold, duplicate or too few parties, or a single-signer field', () => {
  for (const bad of [threshold({ threshold: 1 }), threshold({ threshold: 4 }), threshold({ parties: ['signer-1', 'signer-1'] }), threshold({ parties: ['signer-1'], threshold: 1 }), threshold({ parties: ['Signer 1', 'signer-2'] }), threshold({ signerId: 'signer-1' })]) {
    assert.throws(() => decodeWalletCreate(bad), (e: unknown) => e instanceof CustodianError, JSON.stringify(bad));
  }
  assert.throws(() => decodeWalletCreate({ ...base, scheme: 'frost-secp256k1', signerId: 'signer-1' }), (e: unknown) => isCustodianError(e, 'E_SCHEME_UNSUPPORTED'));
  assert.throws(() => decodeWalletCreate({ ...base, scheme: 'frost-ed25519', signerId: 'signer-1' }), (e: unknown) => e instanceof CustodianError);
});

test('decodes FROST wallet requests (frost-ed25519, frost-secp256k1-tr) as threshold requests', () => {
  for (const scheme of ['frost-ed25519', 'frost-secp256k1-tr'] as const) {
    const t = decodeWalletCreate(threshold({ scheme }));
    assert.ok(t.scheme === scheme && t.threshold === 2 && t.parties.length === 3);
  }
});

test('only typed errors escape the wallet-create decoder (property)', () => {
  fc.assert(
    fc.property(fc.record({ threshold: fc.oneof(fc.integer({ min: -2, max: 20 }), fc.string()), parties: fc.array(fc.oneof(fc.string(), fc.constantFrom('signer-1', 'signer-2')), { maxLength: 20 }) }), (over) => {
      try {
        decodeWalletCreate(threshold(over as Record<string, Json>));
        return true;
      } catch (e) {
        return e instanceof CustodianError;
      }
    }),
    { numRuns: 200 },
  );
});

test('the session id depends on every contribution, the request and the protocol', () => {
  const c = [{ signerId: 'a', nonce: '01' }, { signerId: 'b', nonce: '02' }];
  const id = mpcSessionId('sign', 'r', c);
  assert.equal(id.length, 32);
  assert.notDeepEqual(mpcSessionId('sign', 'r', [c[0]!, { signerId: 'b', nonce: '03' }]), id);
  assert.notDeepEqual(mpcSessionId('dkg', 'r', c), id);
  assert.notDeepEqual(mpcSessionId('sign', 's', c), id);
  assert.notDeepEqual(mpcSessionId('sign', 'r', [c[1]!, c[0]!]), id);
});

test('relayed envelope lists: routed as their header says, or refused', async () => {
  const a = (await generatePeerKeyPair(systemRandom)).keyPair;
  const b = (await generatePeerKeyPair(systemRandom)).keyPair;
  const A = new PeerChannel({ self: 'signer-1', keyPair: a, peers: new Map([['signer-2', b.publicKey]]) });
  const envelope = new TextDecoder().decode(await A.seal('signer-2', 'mpc-1', new Uint8Array([1, 2, 3])));
  assert.deepEqual(envelopeHeader(envelope), { from: 'signer-1', to: 'signer-2', sessionId: 'mpc-1', seq: 0 });
  assert.deepEqual(decodeEnvelopes([{ to: 'signer-2', envelope }], 'inbox'), [{ to: 'signer-2', envelope }]);
  assert.throws(() => decodeEnvelopes([{ to: 'signer-3', envelope }], 'inbox'), (e: unknown) => isCustodianError(e, 'E_FIELD_INVALID'));
  assert.throws(() => decodeEnvelopes([{ to: 'signer-2', envelope, extra: 1 }], 'inbox'), (e: unknown) => e instanceof CustodianError);
  assert.throws(() => decodeEnvelopes(Array.from({ length: 17 }, () => ({ to: 'signer-2', envelope })), 'inbox'), (e: unknown) => isCustodianError(e, 'E_FIELD_INVALID'));
  assert.throws(() => decodeEnvelopes([{ to: 'signer-2', envelope: '{}' }], 'inbox'), (e: unknown) => e instanceof CustodianError);
});

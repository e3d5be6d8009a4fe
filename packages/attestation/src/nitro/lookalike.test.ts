import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createPrivateKey, sign } from 'node:crypto';
import { readVector } from '@custodian/core/vectors';
import { decodeCbor } from '@custodian/core/cbor/decode';
import { encodeCbor } from '@custodian/core/cbor/encode';
import { CborMap } from '@custodian/core/cbor/types';
import { verifyNitro } from './verify.js';
import { isAttestationError } from '../errors.js';
import { pemBlocks } from '../x509.js';
import { pinnedRoot } from '../roots.js';

const fixture = (f: string): string => readFileSync(new URL(`../../testdata/${f}`, import.meta.url), 'utf8');
const ROOT = pemBlocks(fixture('lookalike-nitro-root.pem'))[0]!;
const LEAF = pemBlocks(fixture('lookalike-leaf.pem'))[0]!;
const KEY = createPrivateKey(fixture('lookalike-leaf.key.pem'));
const NOW = new Date('2030-01-01T00:00:00Z');

/** A Nitro document with doc-1's claims, signed by the look-alike leaf, carrying `cabundle`. */
function forge(cabundle: Uint8Array[]): Uint8Array {
  const outer = decodeCbor(readVector('attestation', 'nitro', 'attestation-doc-1.cbor')) as readonly [Uint8Array, CborMap, Uint8Array, Uint8Array];
  const payload = decodeCbor(outer[2]) as CborMap;
  const entries = payload.entries.map(([k, v]) => [k, k === 'certificate' ? LEAF : k === 'cabundle' ? cabundle : k === 'timestamp' ? NOW.getTime() : v] as const);
  const body = encodeCbor(new CborMap(entries));
  const sig = sign('sha384', encodeCbor(['Signature1', outer[0], new Uint8Array(0), body]), { key: KEY, dsaEncoding: 'ieee-p1363' });
  return encodeCbor([outer[0], outer[1], body, new Uint8Array(sig)]);
}

test('rejects a chain signed by a look-alike root with the same subject names', () => {
  assert.throws(() => verifyNitro(forge([ROOT]), { now: NOW }), (e) => isAttestationError(e, 'E_ATTEST_CHAIN_UNTRUSTED'));
});

test('rejects a look-alike root slipped under the real root in the cabundle', () => {
  assert.throws(() => verifyNitro(forge([pinnedRoot('aws-nitro-root-g1').der, ROOT]), { now: NOW }), (e) => isAttestationError(e, 'E_ATTEST_CHAIN_UNTRUSTED'));
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, sign } from 'node:crypto';
import { readVector } from '@custodian/core/vectors';
import { checkRevocation, parseCrl } from './crl.js';
import { parseCertificate, pemBlocks, type Certificate } from './x509.js';
import { decodeTdxQuote } from './tdx/quote.js';
import { isAttestationError } from './errors.js';

function tlv(tag: number, content: Uint8Array): Uint8Array {
  const n = content.length;
  const len = n < 0x80 ? [n] : n < 0x100 ? [0x81, n] : [0x82, n >> 8, n & 0xff];
  return new Uint8Array([tag, ...len, ...content]);
}
const seq = (...parts: Uint8Array[]): Uint8Array => tlv(0x30, Buffer.concat(parts));
const utc = (s: string): Uint8Array => tlv(0x17, Buffer.from(s, 'latin1'));
const ECDSA_SHA256 = new Uint8Array([0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02]);

const quote = decodeTdxQuote(readVector('attestation', 'tdx', 'quote-v4-1.bin'));
const [pckDer, caDer] = pemBlocks(quote.pckChainPem);
const pck = parseCertificate(pckDer!);
const ca = parseCertificate(caDer!);
const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
// A stand-in issuer with the real Platform CA's name and a key we control (Intel's key is not ours to sign with).
const issuer: Certificate = { ...ca, publicKey };

function makeCrl(serialHex: string, thisUpdate: string, nextUpdate: string): Uint8Array {
  const tbs = seq(
    tlv(0x02, new Uint8Array([1])),
    seq(ECDSA_SHA256),
    ca.subjectRaw,
    utc(thisUpdate),
    utc(nextUpdate),
    seq(seq(tlv(0x02, Buffer.from(serialHex, 'hex')), utc(thisUpdate))),
  );
  const sig = sign('sha256', tbs, privateKey);
  return seq(tbs, seq(ECDSA_SHA256), tlv(0x03, new Uint8Array([0, ...sig])));
}

test('parses the real Intel PCK CRL (44 entries) and Root CA CRL (0 entries)', () => {
  assert.equal(parseCrl(readVector('attestation', 'tdx', 'collateral', 'pck-platform-crl-2023-06.der')).revoked.size, 44);
  assert.equal(parseCrl(readVector('attestation', 'tdx', 'collateral', 'intel-sgx-root-ca-crl-2023-04.der')).revoked.size, 0);
});

test('B23 rejects a PCK whose serial is in a valid CRL', () => {
  const now = new Date('2026-02-03T01:00:00Z');
  const crl = makeCrl(pck.serialHex, '260101000000Z', '260301000000Z');
  assert.throws(() => checkRevocation([pck, issuer], [crl], now), (e) => isAttestationError(e, 'E_ATTEST_REVOKED'));
  // another serial: not revoked
  assert.equal(checkRevocation([pck, issuer], [makeCrl('01', '260101000000Z', '260301000000Z')], now), 1);
});

test('B23 rejects an expired CRL and a CRL signed by another key', () => {
  assert.throws(() => checkRevocation([pck, issuer], [makeCrl('01', '250101000000Z', '250201000000Z')], new Date('2026-02-03T01:00:00Z')), (e) => isAttestationError(e, 'E_CRL_EXPIRED'));
  assert.throws(() => checkRevocation([pck, ca], [makeCrl('01', '260101000000Z', '260301000000Z')], new Date('2026-02-03T01:00:00Z')), (e) => isAttestationError(e, 'E_COLLATERAL_INVALID'));
});

test('a remembered CRL is still judged current at each verification time, and only for the issuer that verified it', () => {
  const crl = makeCrl('01', '260101000000Z', '260301000000Z');
  assert.equal(checkRevocation([pck, issuer], [crl], new Date('2026-02-03T01:00:00Z')), 1);
  assert.equal(checkRevocation([pck, issuer], [crl], new Date('2026-02-03T01:00:00Z')), 1);
  assert.throws(() => checkRevocation([pck, issuer], [crl], new Date('2026-04-01T00:00:00Z')), (e) => isAttestationError(e, 'E_CRL_EXPIRED'));
  // the same bytes under the real CA (another key, same name): the signature is checked again and fails
  assert.throws(() => checkRevocation([pck, ca], [crl], new Date('2026-02-03T01:00:00Z')), (e) => isAttestationError(e, 'E_COLLATERAL_INVALID'));
});

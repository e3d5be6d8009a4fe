/**
 * SEV-SNP revocation (B23). AMD KDS publishes one CRL per product line
 * (https://kdsintf.amd.com/vcek/v1/{Milan,Genoa,Turin}/crl), issued by the
 * ARK and signed with RSASSA-PSS (SHA-384, MGF1 SHA-384, salt 48). No AMD CRL
 * is in ../shared/vectors, and the ARK's private key is AMD's, so these tests
 * build CRLs with a test ARK: a stand-in certificate with the real ARK's name
 * and a key made here. The end-to-end test through verifySevSnp shows the CRL
 * is consulted (a CRL not signed by the pinned ARK is refused).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { constants, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { readVector } from '@custodian/core/vectors';
import { checkRevocation, parseCrl } from '../crl.js';
import { parseCertificate, type Certificate } from '../x509.js';
import { pinnedRoot } from '../roots.js';
import { isAttestationError } from '../errors.js';
import { loadCollateral } from '../collateral.js';
import { verifySevSnp } from './verify.js';

function tlv(tag: number, content: Uint8Array): Uint8Array {
  const n = content.length;
  const len = n < 0x80 ? [n] : n < 0x100 ? [0x81, n] : [0x82, n >> 8, n & 0xff];
  return new Uint8Array([tag, ...len, ...content]);
}
const seq = (...parts: Uint8Array[]): Uint8Array => tlv(0x30, Buffer.concat(parts));
const utc = (s: string): Uint8Array => tlv(0x17, Buffer.from(s, 'latin1'));
const oid = (hex: string): Uint8Array => tlv(0x06, Buffer.from(hex, 'hex'));
const int = (n: number): Uint8Array => tlv(0x02, new Uint8Array([n]));
const OID = { PSS: '2a864886f70d01010a', MGF1: '2a864886f70d010108', SHA384: '608648016503040202', SHA256: '608648016503040201', RSA_SHA384: '2a864886f70d01010c' };
/** RSASSA-PSS-params { [0] hash, [1] MGF1(mgfHash), [2] salt }. */
const pssAlg = (hash = OID.SHA384, mgfHash = OID.SHA384, salt = 48): Uint8Array =>
  seq(oid(OID.PSS), seq(tlv(0xa0, seq(oid(hash))), tlv(0xa1, seq(oid(OID.MGF1), seq(oid(mgfHash)))), tlv(0xa2, int(salt))));

const T = new Date('2026-01-01T00:00:00Z');
const vcekDer = readVector('attestation', 'sev-snp', 'milan-vcek-3.der');
const report = readVector('attestation', 'sev-snp', 'milan-report-3.bin');
const vcek = parseCertificate(vcekDer);
const ask = pinnedRoot('amd-milan-ask');
const ark = pinnedRoot('amd-milan-ark');
const testArk = generateKeyPairSync('rsa', { modulusLength: 2048 });
const testAsk = generateKeyPairSync('rsa', { modulusLength: 2048 });
// stand-ins: the real names, keys made here (AMD's keys are not ours to sign with)
const arkStandIn: Certificate = { ...ark, publicKey: testArk.publicKey };
const askStandIn: Certificate = { ...ask, publicKey: testAsk.publicKey };

interface CrlSpec {
  issuer?: Certificate;
  key?: KeyObject;
  serials?: string[];
  thisUpdate?: string;
  nextUpdate?: string;
  alg?: Uint8Array;
  innerAlg?: Uint8Array;
  padding?: number;
}

function makeCrl(o: CrlSpec = {}): Uint8Array {
  const alg = o.alg ?? pssAlg();
  const thisUpdate = o.thisUpdate ?? '251201000000Z';
  const entries = (o.serials ?? []).map((s) => seq(tlv(0x02, Buffer.from(s, 'hex')), utc(thisUpdate)));
  const tbs = seq(int(1), o.innerAlg ?? alg, (o.issuer ?? ark).subjectRaw, utc(thisUpdate), utc(o.nextUpdate ?? '260201000000Z'), ...(entries.length > 0 ? [seq(...entries)] : []));
  const sig = sign('sha384', tbs, { key: o.key ?? testArk.privateKey, padding: o.padding ?? constants.RSA_PKCS1_PSS_PADDING, saltLength: 48 });
  return seq(tbs, alg, tlv(0x03, new Uint8Array([0, ...sig])));
}

test('parses an AMD-style CRL: RSASSA-PSS SHA-384, MGF1 SHA-384, salt 48', () => {
  const crl = parseCrl(makeCrl({ serials: [ask.serialHex] }));
  assert.deepEqual(crl.pss, { hash: 'sha384', saltLength: 48 });
  assert.ok(crl.revoked.has(ask.serialHex));
});

test('B23 refuses a SEV-SNP path whose ASK is on a CRL signed by the (test) ARK', () => {
  assert.throws(() => checkRevocation([vcek, ask, arkStandIn], [makeCrl({ serials: ['05', ask.serialHex] })], T), (e) => isAttestationError(e, 'E_ATTEST_REVOKED') && /AMD|SEV|ASK/.test(e.message));
  assert.equal(checkRevocation([vcek, ask, arkStandIn], [makeCrl({ serials: ['05'] })], T), 1);
  assert.equal(checkRevocation([vcek, ask, arkStandIn], [makeCrl()], T), 1);
});

test('B23 refuses a VCEK on a CRL issued by its ASK', () => {
  const crl = makeCrl({ issuer: ask, key: testAsk.privateKey, serials: [vcek.serialHex] });
  assert.throws(() => checkRevocation([vcek, askStandIn, ark], [crl], T), (e) => isAttestationError(e, 'E_ATTEST_REVOKED'));
});

test('B23 refuses an expired or not yet valid CRL', () => {
  assert.throws(() => checkRevocation([vcek, ask, arkStandIn], [makeCrl({ thisUpdate: '240101000000Z', nextUpdate: '240201000000Z' })], T), (e) => isAttestationError(e, 'E_CRL_EXPIRED'));
  assert.throws(() => checkRevocation([vcek, ask, arkStandIn], [makeCrl({ thisUpdate: '270101000000Z', nextUpdate: '270201000000Z' })], T), (e) => isAttestationError(e, 'E_CRL_EXPIRED'));
});

test('verifySevSnp consults the CRLs: one not signed by the pinned ARK is refused', () => {
  const ok = verifySevSnp(report, { now: T, collateral: { certificates: [vcekDer] } });
  assert.equal(ok.platform.crlsApplied, 0);
  const collateral = loadCollateral([{ name: 'vcek.der', bytes: vcekDer }, { name: 'milan.crl', bytes: makeCrl({ serials: [ask.serialHex] }) }]);
  assert.equal(collateral.crls?.length, 1);
  assert.throws(() => verifySevSnp(report, { now: T, collateral }), (e) => isAttestationError(e, 'E_COLLATERAL_INVALID'));
  // a CRL from another issuer (Genoa's ARK) does not apply to a Milan path
  const genoa = makeCrl({ issuer: pinnedRoot('amd-genoa-ark'), serials: [ask.serialHex] });
  assert.equal(verifySevSnp(report, { now: T, collateral: { certificates: [vcekDer], crls: [genoa] } }).platform.crlsApplied, 0);
});

test('rejects PSS parameters outside the accepted set and mismatched algorithms', () => {
  const noParams = seq(oid(OID.PSS));
  assert.throws(() => parseCrl(makeCrl({ alg: noParams })), (e) => isAttestationError(e, 'E_DER_INVALID'));
  assert.throws(() => parseCrl(makeCrl({ alg: pssAlg(OID.SHA384, OID.SHA256) })), (e) => isAttestationError(e, 'E_DER_INVALID'));
  assert.throws(() => parseCrl(makeCrl({ alg: pssAlg(OID.SHA384, OID.SHA384, 120) })), (e) => isAttestationError(e, 'E_DER_INVALID'));
  assert.throws(() => parseCrl(makeCrl({ innerAlg: seq(oid(OID.RSA_SHA384), tlv(0x05, new Uint8Array(0))) })), (e) => isAttestationError(e, 'E_DER_INVALID'));
  // a PKCS#1 v1.5 signature under a PSS label does not verify
  assert.throws(() => checkRevocation([vcek, ask, arkStandIn], [makeCrl({ padding: constants.RSA_PKCS1_PADDING })], T), (e) => isAttestationError(e, 'E_COLLATERAL_INVALID'));
  // a PSS salt length other than the one signed with does not verify
  const salt32 = makeCrl({ alg: pssAlg(OID.SHA384, OID.SHA384, 32) });
  assert.throws(() => checkRevocation([vcek, ask, arkStandIn], [salt32], T), (e) => isAttestationError(e, 'E_COLLATERAL_INVALID'));
});

test('only typed errors escape CRL parsing and checking on mutated CRLs', () => {
  const good = makeCrl({ serials: ['05', ask.serialHex] });
  let seed = 7;
  const rand = (n: number): number => ((seed = (seed * 1103515245 + 12345) >>> 0) % n);
  for (let k = 0; k < 3000; k++) {
    const m = new Uint8Array(good);
    for (let j = 0; j <= rand(3); j++) m[rand(m.length)] = rand(256);
    const cut = rand(5) === 0 ? m.subarray(0, rand(m.length)) : m;
    try {
      checkRevocation([vcek, ask, arkStandIn], [cut], T);
    } catch (e) {
      assert.ok(isAttestationError(e), `untyped error: ${String(e)}`);
    }
  }
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { readVector, readJsonVector, vectorPath } from '@custodian/core/vectors';
import { isCustodianError } from '@custodian/core/errors';
import { verifyTdx } from './verify.js';
import { isAttestationError } from '../errors.js';
import { parseCertificate, pemBlocks } from '../x509.js';
import { readPckFacts } from './pck.js';
import { decodeTdxQuote } from './quote.js';
import { evaluateTdxTcb, type TdxTcbInfo } from './collateral.js';
import type { Collateral, TcbStatus } from '../claims.js';

const q = (f: string): Uint8Array => readVector('attestation', 'tdx', f);
const col = (f: string): Uint8Array => readVector('attestation', 'tdx', 'collateral', f);
const colText = (f: string): string => readFileSync(vectorPath('attestation', 'tdx', 'collateral', f), 'utf8');
const T = new Date('2026-02-03T01:00:00Z');
const T2023 = new Date('2023-07-01T01:00:00Z');

interface Fact {
  version: number;
  trailing_bytes: number;
  fmspc: string;
  body: { mrtd: string; rtmr0: string; rtmr1: string; rtmr2: string; rtmr3: string; report_data: string; td_attributes: string; mrconfigid: string; tee_tcb_svn: string };
  qe_report: { isvsvn: number };
}
const facts = readJsonVector<Record<string, Fact>>('attestation', 'tdx', 'facts.json');

test('verifies all 7 real TDX quotes (v4 and v5) and matches facts.json', () => {
  assert.equal(Object.keys(facts).length, 7);
  for (const [file, f] of Object.entries(facts)) {
    const c = verifyTdx(q(file), { now: T });
    assert.equal(c.platform.version, f.version, file);
    assert.equal(c.measurements.MRTD, f.body.mrtd, file);
    assert.equal(c.measurements.RTMR0, f.body.rtmr0, file);
    assert.equal(c.measurements.RTMR3, f.body.rtmr3, file);
    assert.equal(c.measurements.MRCONFIGID, f.body.mrconfigid, file);
    assert.equal(Buffer.from(c.reportData).toString('hex'), f.body.report_data, file);
    assert.equal(c.platform.tdAttributes, f.body.td_attributes, file);
    assert.equal(c.platform.teeTcbSvn, f.body.tee_tcb_svn, file);
    assert.equal(c.platform.fmspc, f.fmspc, file);
    assert.equal(c.platform.paddingBytes, f.trailing_bytes, file);
    assert.equal(c.platform.qeIsvSvn, f.qe_report.isvsvn, file);
    assert.equal(c.debug, file === 'quote-v4-debug-td.bin', file);
    assert.equal(c.tcb.status, 'Unevaluated', file);
    assert.match(c.chain[2]!, /Intel SGX Root CA/);
  }
});

test('reads v5 TDX 1.5 bodies: MRSERVICETD and TEE_TCB_SVN2', () => {
  const c = verifyTdx(q('quote-v5-2.bin'), { now: T });
  assert.equal(c.platform.bodyType, 3);
  assert.equal(c.measurements.MRSERVICETD, '383c87d3bbb047b2d171eaca95312ede99f258088dc788f6ae2ccf8b6dd848fe8d47629e08b3f6cbd4a00dd47a5a033d');
  assert.ok(typeof c.platform.teeTcbSvn2 === 'string');
});

const collateral2023: Collateral = {
  certificates: pemBlocks(colText('tcb-signing-chain.pem')),
  crls: [col('pck-platform-crl-2023-06.der'), col('intel-sgx-root-ca-crl-2023-04.der')],
  tcbInfo: [colText('tcbinfo-fmspc-50806f000000-2023-06.json')],
  qeIdentity: [colText('qe-identity-td_qe-2023-06.json')],
};

test('evaluates TCB with the time-consistent 2023 collateral and checks both CRLs', () => {
  const debug = verifyTdx(q('quote-v4-debug-td.bin'), { now: T2023, collateral: collateral2023 });
  assert.equal(debug.tcb.status, 'UpToDate');
  assert.equal(debug.tcb.tcbDate, '2023-02-15T00:00:00Z');
  assert.equal(debug.platform.crlsChecked, 2);
  const v41 = verifyTdx(q('quote-v4-1.bin'), { now: T2023, collateral: collateral2023 });
  assert.equal(v41.tcb.status, 'NotSupported');
});

test('never reports an unevaluated TCB as up to date (no TCB info for the FMSPC)', () => {
  const c = verifyTdx(q('quote-v4-azure-padded.bin'), { now: T, collateral: { tcbInfo: [] } });
  assert.equal(c.tcb.status, 'Unevaluated');
  assert.match(c.tcb.detail, /00806f050000/);
});

test('B23 rejects an expired CRL and a revoked PCK', () => {
  assert.throws(() => verifyTdx(q('quote-v4-1.bin'), { now: T, collateral: { crls: [col('pck-platform-crl-2023-06.der')] } }), (e) => isAttestationError(e, 'E_CRL_EXPIRED'));
  // A CRL with a bad signature is refused.
  const crl = col('pck-platform-crl-2023-06.der').slice();
  crl[crl.length - 10]! ^= 1;
  assert.throws(() => verifyTdx(q('quote-v4-1.bin'), { now: T2023, collateral: { crls: [crl] } }), (e) => isAttestationError(e, 'E_COLLATERAL_INVALID', 'E_DER_INVALID'));
});

test('rejects expired collateral and an expired TCB signing certificate', () => {
  assert.throws(() => verifyTdx(q('quote-v4-debug-td.bin'), { now: new Date('2023-08-01T00:00:00Z'), collateral: { ...collateral2023, crls: [] } }), (e) =>
    isAttestationError(e, 'E_COLLATERAL_EXPIRED'),
  );
  // Intel re-issued the TCB signing cert; the bundled one expired 2025-05-21, so the 2026 tcbInfo cannot be trusted with it.
  const c26: Collateral = { certificates: pemBlocks(colText('tcb-signing-chain.pem')), tcbInfo: [colText('tcbinfo-fmspc-90c06f000000-2026-02.json')] };
  assert.throws(() => verifyTdx(q('quote-v5-1.bin'), { now: T, collateral: c26 }), (e) => isAttestationError(e, 'E_ATTEST_CERT_EXPIRED'));
});

test('rejects a tampered TCB info signature', () => {
  const bad = colText('tcbinfo-fmspc-50806f000000-2023-06.json').replace('"tcbEvaluationDataNumber":15', '"tcbEvaluationDataNumber":16');
  assert.throws(() => verifyTdx(q('quote-v4-debug-td.bin'), { now: T2023, collateral: { ...collateral2023, tcbInfo: [bad] } }), (e) => isAttestationError(e, 'E_COLLATERAL_INVALID'));
});

test('B22 TCB evaluation finds OutOfDate for quote-v4-2 (pcesvn 11 < 13), module TDX_03 UpToDate', () => {
  const json = JSON.parse(colText('tcbinfo-fmspc-00a06d080000-2025-10.json')) as { tcbInfo: Record<string, unknown> };
  const t = json.tcbInfo as {
    fmspc: string;
    pceId: string;
    tcbEvaluationDataNumber: number;
    tcbLevels: { tcb: { sgxtcbcomponents: { svn: number }[]; pcesvn: number; tdxtcbcomponents: { svn: number }[] }; tcbStatus: TcbStatus; tcbDate: string }[];
    tdxModuleIdentities: { id: string; mrsigner: string; tcbLevels: { tcb: { isvsvn: number }; tcbStatus: TcbStatus }[] }[];
  };
  // signature checked elsewhere; this exercises the evaluation alone (the matching signing cert is not public)
  const info: TdxTcbInfo = {
    fmspc: t.fmspc,
    pceId: t.pceId,
    issueDate: new Date(0),
    nextUpdate: new Date(0),
    evaluationDataNumber: t.tcbEvaluationDataNumber,
    levels: t.tcbLevels.map((l) => ({
      sgx: l.tcb.sgxtcbcomponents.map((c) => c.svn),
      pceSvn: l.tcb.pcesvn,
      tdx: l.tcb.tdxtcbcomponents.map((c) => c.svn),
      status: l.tcbStatus,
      tcbDate: l.tcbDate,
      advisories: [],
    })),
    moduleIdentities: t.tdxModuleIdentities.map((m) => ({ id: m.id, mrSigner: m.mrsigner.toLowerCase(), levels: m.tcbLevels.map((l) => ({ isvSvn: l.tcb.isvsvn, status: l.tcbStatus })) })),
  };
  const quote = decodeTdxQuote(q('quote-v4-2-padded.bin'));
  const pck = readPckFacts(parseCertificate(pemBlocks(quote.pckChainPem)[0]!));
  assert.equal(pck.pceSvn, 11);
  const r = evaluateTdxTcb(info, pck, quote.body);
  assert.equal(r.status, 'OutOfDate');
  assert.equal(r.module, 'UpToDate');
});

test('rejects PCK chains outside their validity', () => {
  assert.throws(() => verifyTdx(q('quote-v4-1.bin'), { now: new Date('2029-09-21T00:00:00Z') }), (e) => isAttestationError(e, 'E_ATTEST_CERT_EXPIRED'));
  assert.throws(() => verifyTdx(q('quote-v5-1.bin'), { now: new Date('2026-01-01T00:00:00Z') }), (e) => isAttestationError(e, 'E_ATTEST_CERT_EXPIRED'));
});

test('rejects the go-tdx-guest byte flips on quote-v4-1', () => {
  const cases: [number, number, string[]][] = [
    [0x00, 3, ['E_ATTEST_FORMAT']],
    [0x278, 0x10, ['E_ATTEST_FORMAT']],
    [0x1329, 0x32, ['E_ATTEST_CHAIN_UNTRUSTED', 'E_DER_INVALID']],
    [0xf5f, 0x32, ['E_ATTEST_CHAIN_UNTRUSTED', 'E_DER_INVALID']],
    [0xb77, 0x32, ['E_ATTEST_CHAIN_UNTRUSTED', 'E_DER_INVALID']],
    [0x1e, 0x32, ['E_ATTEST_SIGNATURE', 'E_ATTEST_FORMAT']],
    [0x3c, 0x32, ['E_ATTEST_SIGNATURE']],
  ];
  for (const [off, val, codes] of cases) {
    const m = q('quote-v4-1.bin').slice();
    m[off] = val;
    assert.throws(() => verifyTdx(m, { now: T }), (e) => isCustodianError(e, ...codes), `offset 0x${off.toString(16)}`);
  }
});

test('rejects truncated quotes, excessive trailing bytes and oversized input', () => {
  assert.equal(verifyTdx(q('quote-v4-1.bin'), { now: T }).platform.trailingNonZero, true);
  const long = new Uint8Array(q('quote-v4-debug-td.bin').length + 5000);
  long.set(q('quote-v4-debug-td.bin'));
  assert.throws(() => verifyTdx(long, { now: T }), (e) => isAttestationError(e, 'E_ATTEST_FORMAT'));
  assert.throws(() => verifyTdx(q('quote-v4-1.bin').subarray(0, 2000), { now: T }), (e) => isAttestationError(e, 'E_ATTEST_FORMAT'));
  assert.throws(() => verifyTdx(new Uint8Array(1 << 20), { now: T }), (e) => isAttestationError(e, 'E_ATTEST_TOO_LARGE'));
});

test('B21 checks report data when a nonce is given', () => {
  const rd = Buffer.from(facts['quote-v4-1.bin']!.body.report_data, 'hex');
  verifyTdx(q('quote-v4-1.bin'), { now: T, reportData: rd });
  assert.throws(() => verifyTdx(q('quote-v4-1.bin'), { now: T, nonce: new Uint8Array(32) }), (e) => isAttestationError(e, 'E_ATTEST_NONCE'));
});

test('property: only typed errors escape verifyTdx on mutated quotes', () => {
  const seed = q('quote-v4-1.bin');
  fc.assert(
    fc.property(fc.nat(), fc.integer({ min: 0, max: 255 }), (pos, val) => {
      const m = seed.slice();
      m[pos % m.length] = val;
      try {
        verifyTdx(m, { now: T });
      } catch (e) {
        assert.ok(isCustodianError(e), String(e));
      }
    }),
    { numRuns: 2000 },
  );
});

test('remembered collateral is still judged at each verification time (freshness, signing chain)', () => {
  const c = { ...collateral2023, crls: [] };
  assert.equal(verifyTdx(q('quote-v4-debug-td.bin'), { now: T2023, collateral: c }).tcb.status, 'UpToDate');
  assert.equal(verifyTdx(q('quote-v4-debug-td.bin'), { now: T2023, collateral: c }).tcb.status, 'UpToDate'); // from the cache
  assert.throws(() => verifyTdx(q('quote-v4-debug-td.bin'), { now: new Date('2023-08-01T00:00:00Z'), collateral: c }), (e) => isAttestationError(e, 'E_COLLATERAL_EXPIRED'));
  assert.throws(() => verifyTdx(q('quote-v4-debug-td.bin'), { now: T2023, collateral: { ...c, certificates: [] } }), (e) => isAttestationError(e, 'E_COLLATERAL_MISSING'));
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readVector } from '@custodian/core/vectors';
import { isCustodianError } from '@custodian/core/errors';
import { appraise, requireAffirming } from './appraisal.js';
import { parsePolicy, DEFAULT_POLICY } from './policy.js';
import { detectFormat, verifyEvidence } from './verify.js';
import { isAttestationError } from './errors.js';
import type { AttestationClaims } from './claims.js';
import { importCpak } from './collateral.js';
import { simClaims } from './sim-claims.js';

const nitro1 = verifyEvidence('auto', readVector('attestation', 'nitro', 'attestation-doc-1.cbor'), { now: new Date('2024-09-07T15:00:00Z') });
const nitroDebug = verifyEvidence('nitro', readVector('attestation', 'nitro', 'attestation-doc-debug-1.cbor'), { now: new Date('2024-09-07T15:00:00Z') });
const PCR0_DOC1 = 'e72a46ca80a260fb044a125442f0c7e331813bcbaf9724d9f3857758992766f2d65710a27aa94ae3949dd54e7c9fe86a';
const PCR0_DOC2 = '7048a0ff10dc087e1ec62792684e68d77d004c7f5785e7dd983f1b7d97610026477aba57124244b1b34848cdafa18c08';
const snp = (report: string, cert: string, now = '2026-01-01T00:00:00Z'): AttestationClaims =>
  verifyEvidence('auto', readVector('attestation', 'sev-snp', report), { now: new Date(now), collateral: { certificates: [readVector('attestation', 'sev-snp', cert)] } });

test('detects every format from its bytes', () => {
  assert.equal(detectFormat(readVector('attestation', 'nitro', 'attestation-doc-2.cbor')), 'nitro');
  assert.equal(detectFormat(readVector('attestation', 'sev-snp', 'milan-report-2.bin')), 'sev-snp');
  assert.equal(detectFormat(readVector('attestation', 'tdx', 'quote-v5-1.bin')), 'tdx');
  assert.equal(detectFormat(readVector('attestation', 'cca', 'cca-token-tfrmm-fvp-1.cbor')), 'cca');
  assert.throws(() => detectFormat(new Uint8Array([1, 2, 3])), (e) => isAttestationError(e, 'E_ATTEST_FORMAT'));
  assert.throws(() => detectFormat(new Uint8Array(1 << 20)), (e) => isAttestationError(e, 'E_ATTEST_TOO_LARGE'));
});

test('default policy affirms real production evidence and reports measurements without judging them', () => {
  const r = appraise(nitro1);
  assert.equal(r.status, 'affirming');
  assert.deepEqual(r.reasons, []);
  assert.equal(appraise(snp('milan-report-3.bin', 'milan-vcek-3.der')).status, 'affirming');
  const tdx = verifyEvidence('auto', readVector('attestation', 'tdx', 'quote-v4-gcp-cos113-padded.bin'), { now: new Date('2026-02-03T01:00:00Z') });
  assert.equal(tdx.tcb.status, 'Unevaluated');
  assert.equal(appraise(tdx).status, 'affirming');
  const cca = verifyEvidence('auto', readVector('attestation', 'cca', 'cca-token-tfrmm-fvp-1.cbor'), {
    now: new Date(0),
    collateral: { cpak: [importCpak(readVector('attestation', 'cca', 'cpak-tfrmm-fvp-p384.pub.pem'))] },
  });
  assert.equal(appraise(cca).status, 'affirming');
});

test('B20 debug evidence is contraindicated on every platform that shows it', () => {
  const nitro = appraise(nitroDebug);
  assert.equal(nitro.status, 'contraindicated');
  assert.equal(nitro.reasons[0]?.code, 'E_ATTEST_DEBUG');
  assert.throws(() => requireAffirming(nitro), (e) => isAttestationError(e, 'E_ATTEST_DEBUG'));
  assert.equal(appraise(snp('milan-report-debugpolicy-1.bin', 'milan-vcek-1.der')).reasons[0]?.code, 'E_ATTEST_DEBUG');
  const tdx = verifyEvidence('tdx', readVector('attestation', 'tdx', 'quote-v4-debug-td.bin'), { now: new Date('2026-02-03T01:00:00Z') });
  assert.equal(appraise(tdx).reasons[0]?.code, 'E_ATTEST_DEBUG');
  // the AWS VLEK report comes from VMPL 1
  const vlek = appraise(snp('milan-vlek-report-aws-1.bin', 'milan-vlek-aws-1.der', '2025-06-01T00:00:00Z'));
  assert.equal(vlek.status, 'contraindicated');
  assert.match(vlek.reasons[0]!.message, /VMPL 1/);
});

test('B24 a measurement not in the reference values is contraindicated', () => {
  const policy = parsePolicy(JSON.stringify({ version: 1, platforms: { nitro: { measurements: { PCR0: [PCR0_DOC2] } } } }));
  const r = appraise(nitro1, policy);
  assert.equal(r.status, 'contraindicated');
  assert.equal(r.reasons[0]?.code, 'E_ATTEST_MEASUREMENT');
  const ok = parsePolicy(JSON.stringify({ version: 1, platforms: { nitro: { measurements: { PCR0: [PCR0_DOC1.toUpperCase()] } } } }));
  assert.equal(appraise(nitro1, ok).status, 'affirming');
});

test('B22 a TCB below the policy minimum is contraindicated; an unevaluated TCB when evaluation is required too', () => {
  const min = parsePolicy(JSON.stringify({ version: 1, platforms: { 'sev-snp': { minTcb: { microcode: 200 } } } }));
  const r = appraise(snp('milan-report-3.bin', 'milan-vcek-3.der'), min);
  assert.equal(r.reasons[0]?.code, 'E_ATTEST_TCB');
  assert.match(r.reasons[0]!.message, /115, below the minimum 200/);
  const req = parsePolicy(JSON.stringify({ version: 1, platforms: { nitro: { requireTcbEvaluated: true } } }));
  assert.equal(appraise(nitro1, req).reasons[0]?.code, 'E_ATTEST_TCB');
  const judged: AttestationClaims = { ...nitro1, tcb: { status: 'OutOfDate', components: {}, detail: 'test' } };
  assert.equal(appraise(judged).status, 'contraindicated');
  const waived = parsePolicy(JSON.stringify({ version: 1, platforms: { nitro: { tcbWarnStatuses: ['SWHardeningNeeded'] } } }));
  assert.equal(appraise({ ...nitro1, tcb: { status: 'SWHardeningNeeded', components: {}, detail: 'test' } }, waived).status, 'warning');
  assert.equal(appraise({ ...nitro1, tcb: { status: 'Revoked', components: {}, detail: 'test' } }, waived).status, 'contraindicated');
});

test('B20b simulated evidence is refused unless the policy allows it', () => {
  const sim: AttestationClaims = { ...nitro1, format: 'sim', insecure: true };
  assert.equal(appraise(sim, DEFAULT_POLICY).reasons[0]?.code, 'E_ATTEST_SIMULATED');
  assert.equal(appraise(sim, parsePolicy('{"version":1,"allowSimulated":true}')).status, 'affirming');
});

test('B21 evidence older than maxAgeSeconds is contraindicated', () => {
  const p = parsePolicy(JSON.stringify({ version: 1, platforms: { nitro: { maxAgeSeconds: 600 } } }));
  assert.equal(appraise(nitro1, p, new Date('2024-09-07T14:40:00Z')).status, 'affirming');
  assert.equal(appraise(nitro1, p, new Date('2024-09-07T15:00:00Z')).reasons[0]?.code, 'E_ATTEST_NONCE');
});

test('a policy listing platforms refuses the others', () => {
  const p = parsePolicy(JSON.stringify({ version: 1, platforms: { tdx: {} } }));
  assert.equal(appraise(nitro1, p).reasons[0]?.code, 'E_ATTEST_POLICY');
});

test('policy documents are schema-validated', () => {
  for (const bad of ['{"version":2}', '{"version":1,"extra":1}', '{"version":1,"platforms":{"tpm2":{}}}', '{"version":1,"platforms":{"nitro":{"measurements":{"PCR0":["zz"]}}}}', '{"version":1,"platforms":{"tdx":{"tcbStatuses":["Fine"]}}}', '{"version":1,"version":1}']) {
    assert.throws(() => parsePolicy(bad), (e) => isCustodianError(e), bad);
  }
});

test('B22b a denied CPU family is refused; SEPT_VE_DISABLE and MIGRATE_MA follow the policy', () => {
  const deny = parsePolicy(JSON.stringify({ version: 1, platforms: { 'sev-snp': { denyProducts: ['Milan'] } } }));
  const r = appraise(snp('milan-report-3.bin', 'milan-vcek-3.der'), deny);
  assert.equal(r.reasons[0]?.code, 'E_ATTEST_PLATFORM_DENIED');
  assert.equal(appraise(snp('azure-genoa-1-report.bin', 'azure-genoa-1-vcek.der'), deny).status, 'affirming'); // Genoa is not denied
  const sept = parsePolicy(JSON.stringify({ version: 1, platforms: { tdx: { requireSeptVeDisable: true } } }));
  const v41 = verifyEvidence('tdx', readVector('attestation', 'tdx', 'quote-v4-1.bin'), { now: new Date('2026-02-03T01:00:00Z') });
  assert.equal(appraise(v41, sept).reasons[0]?.code, 'E_ATTEST_POLICY');
  const v51 = verifyEvidence('tdx', readVector('attestation', 'tdx', 'quote-v5-1.bin'), { now: new Date('2026-02-03T01:00:00Z') });
  assert.equal(v51.platform.septVeDisable, true);
  assert.equal(appraise(v51, sept).status, 'affirming');
  const ma: AttestationClaims = { ...snp('milan-report-3.bin', 'milan-vcek-3.der'), platform: { ...snp('milan-report-3.bin', 'milan-vcek-3.der').platform, migrateMa: true } };
  assert.equal(appraise(ma).reasons[0]?.code, 'E_ATTEST_POLICY');
});

test('the result carries an AR4SI trust vector', () => {
  assert.deepEqual(appraise(nitro1).trustVector, { 'instance-identity': 2, configuration: 2, executables: 0, hardware: 2 });
  assert.equal(appraise(nitroDebug).trustVector.configuration, 96);
  const policy = parsePolicy(JSON.stringify({ version: 1, platforms: { nitro: { measurements: { PCR0: [PCR0_DOC2] } } } }));
  assert.equal(appraise(nitro1, policy).trustVector.executables, 96);
});

test('sim facts map onto the common claims and are refused by default (B20b)', () => {
  const c = simClaims({ measurement: 'ab'.repeat(48), reportData: new Uint8Array(64), timestampMs: 1_760_000_000_000 });
  assert.equal(appraise(c).reasons[0]?.code, 'E_ATTEST_SIMULATED');
  const allow = parsePolicy(JSON.stringify({ version: 1, allowSimulated: true, platforms: { sim: { measurements: { MEASUREMENT: ['ab'.repeat(48)] } } } }));
  assert.equal(appraise(c, allow).status, 'affirming');
});

test('F14 OutOfDate is a warning inside the grace window and contraindicated after it', () => {
  const p = parsePolicy(JSON.stringify({ version: 1, platforms: { nitro: { outOfDateGraceDays: 30 } } }));
  const c: AttestationClaims = { ...nitro1, tcb: { status: 'OutOfDate', components: {}, detail: 'test', tcbDate: '2024-09-01T00:00:00Z' } };
  assert.equal(appraise(c, p, new Date('2024-09-20T00:00:00Z')).status, 'warning');
  assert.equal(appraise(c, p, new Date('2024-10-02T00:00:00Z')).status, 'contraindicated');
  assert.equal(appraise({ ...c, tcb: { ...c.tcb, status: 'Revoked' } }, p, new Date('2024-09-20T00:00:00Z')).status, 'contraindicated');
});

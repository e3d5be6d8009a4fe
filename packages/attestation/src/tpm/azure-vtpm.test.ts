import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readVector, readJsonVector } from '@custodian/core/vectors';
import { verifyAzureVtpm, type AzureVtpmParts } from './azure-vtpm.js';
import { isAttestationError } from '../errors.js';

const T = new Date('2026-01-01T00:00:00Z');
function parts(dir: string): AzureVtpmParts {
  const f = (n: string): Uint8Array => readVector('attestation', 'tpm', 'azure', dir, n);
  const pcrs = readJsonVector<Record<string, string>>('attestation', 'tpm', 'azure', dir, 'pcrs-sha256.json');
  const base = {
    hclReport: f('hcl-report.bin'),
    tpmQuote: f('tpm-quote.tpms_attest.bin'),
    tpmSignature: f('tpm-quote.sig-rsassa-sha256.bin'),
    pcrs: new Map(Object.entries(pcrs).map(([k, v]) => [Number(k), new Uint8Array(Buffer.from(v, 'hex'))])),
  };
  return dir.startsWith('tdx') ? { ...base, tdQuote: f('td-quote.bin') } : { ...base, vcek: f('vcek.der') };
}

test('verifies all four Azure vTPM samples (SNP Milan x2, Genoa, TDX) through the hardware binding', () => {
  const expect: Record<string, { pcr0: string; rd: string; hw: string }> = {
    'snp-milan-1': { pcr0: 'e15c44796beabf46abcec7c57e590942041e47497e4ec27571c8b7664f48dced', rd: 'af2910341dd8108360e485f1b72494255190b9cdd5ccb44b73b883037cf99f21', hw: 'sev-snp' },
    'snp-milan-2': { pcr0: '84275b2f4312cd4fc6cbe6b152ad3c3683e513d9f1e23c34fca160c8cca7a6a7', rd: 'cf7cc0731c50f64876804b3943b2bfbd93dba69f5928e3df223e78ff34dd46ee', hw: 'sev-snp' },
    'snp-genoa-1': { pcr0: 'afd689d0bb1c5f36f023fbaf574135f555a28a10c1f6b938d2a25e70c7783338', rd: 'b581f12e29a2d7d64e5e0b738d563879a78b51c644d0fa0cce02b48699f6bf5f', hw: 'sev-snp' },
    'tdx-1': { pcr0: '782b20b10f55cc46e2142cc2145d548698073e5beb82752c8d7f9279f0d8a273', rd: '9734504f161d104c74e3165c15f779b06a9bb40dfa71937817d7eee68e593839', hw: 'tdx' },
  };
  for (const [dir, e] of Object.entries(expect)) {
    const c = verifyAzureVtpm(parts(dir), { now: T });
    assert.equal(c.measurements.PCR0, e.pcr0, dir);
    assert.equal(c.platform.runtimeSha256, e.rd, dir);
    assert.equal(c.platform.hardware, e.hw, dir);
    assert.equal(c.measurements.PCR11, '0'.repeat(64), dir);
  }
  const m1 = verifyAzureVtpm(parts('snp-milan-1'), { now: T, nonce: Buffer.from('challenge') });
  assert.equal(m1.measurements.SNP_MEASUREMENT, '6a063be9dd79f6371c842e480f8dc3b5c725961344e57130e88c5adf49e8f7f6c79b75a5eb77fc769959f4aeb2f9401e');
});

test('rejects another sample\'s AK, a re-serialised runtime JSON, a tampered PCR and a wrong nonce', () => {
  const m1 = parts('snp-milan-1');
  const m2 = parts('snp-milan-2');
  assert.throws(() => verifyAzureVtpm({ ...m1, tpmQuote: m2.tpmQuote, tpmSignature: m2.tpmSignature }, { now: T }), (e) => isAttestationError(e, 'E_ATTEST_SIGNATURE'));
  const hcl = m1.hclReport.slice();
  const at = Buffer.from(hcl).indexOf(Buffer.from('"keys":['));
  hcl[at + 8] = 0x20; // a space instead of '{': same JSON meaning class, different bytes
  assert.throws(() => verifyAzureVtpm({ ...m1, hclReport: hcl }, { now: T }), (e) => isAttestationError(e, 'E_ATTEST_BINDING', 'E_ATTEST_FORMAT'));
  const pcrs = new Map(m1.pcrs);
  pcrs.set(7, new Uint8Array(32));
  assert.throws(() => verifyAzureVtpm({ ...m1, pcrs }, { now: T }), (e) => isAttestationError(e, 'E_ATTEST_MEASUREMENT'));
  assert.throws(() => verifyAzureVtpm(m1, { now: T, nonce: Buffer.from('another') }), (e) => isAttestationError(e, 'E_ATTEST_NONCE'));
  assert.throws(() => verifyAzureVtpm({ ...m1, vcek: m2.vcek! }, { now: T }), (e) => isAttestationError(e, 'E_ATTEST_SIGNATURE', 'E_ATTEST_CHAIN_UNTRUSTED'));
});

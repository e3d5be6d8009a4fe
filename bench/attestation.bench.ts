/**
 * Attestation verification benchmark (issue 3 item 6). Prints figures,
 * asserts nothing about time. Usage:
 *
 *   node --import tsx bench/attestation.bench.ts [--ms 1500] [--json]
 *
 * For each format, on a real sample from ../shared/vectors/attestation (sim:
 * evidence issued here), in one process:
 *   - ours: `verifyEvidence` + `appraise` (default policy), the full pipeline
 *     the CLI and the key broker run: decode, bounds, chain, signatures,
 *     claims, binding, appraisal;
 *   - baseline "all signatures": the bare node:crypto / noble checks the
 *     evidence needs, keys parsed once: every certificate link of the chain
 *     (root self-signature included), the evidence signature(s) and, for TDX,
 *     the collateral signatures (TCB info, QE identity, CRLs);
 *   - baseline "uncached signatures": the subset our verifier repeats on every
 *     call. Certificate-link results are remembered per (child, issuer) hash
 *     pair (x509.ts LINK_CACHE_MAX), verified TDX TCB info / QE identity per
 *     (text, signer) (tdx/collateral.ts) and CRL signatures per (CRL, issuer)
 *     (crl.ts), so in steady state only these remain (validity, freshness and
 *     revocation are still judged on every call).
 * Each figure: evidence (or check sets) per second over the run, and the
 * median (p50) time of one call. Ratios are ours ÷ baseline at p50.
 */
import { readFileSync } from 'node:fs';
import { createPublicKey, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { ed25519 } from '@noble/curves/ed25519.js';
import { readVector, vectorPath } from '@custodian/core/vectors';
import { canonicalJsonBytes, parseJson } from '@custodian/core/canonical-json';
import { concatBytes } from '@custodian/core/bytes';
import { verifyEvidence } from '@custodian/attestation/verify';
import { appraise } from '@custodian/attestation/appraisal';
import type { AttestationFormat, VerifyOptions } from '@custodian/attestation/claims';
import { coseSignatureValid, decodeCoseSign1, decodeEvidenceCbor, COSE_SIGN1_DEPTH_MAX } from '@custodian/attestation/cose-sign1';
import { decodeNitroPayload, NITRO_DOC_BYTES_MAX } from '@custodian/attestation/nitro/document';
import { parseCertificate, pemBlocks, type Certificate } from '@custodian/attestation/x509';
import { pinnedRoot } from '@custodian/attestation/roots';
import { decodeSnpReport } from '@custodian/attestation/sev-snp/report';
import { decodeTdxQuote } from '@custodian/attestation/tdx/quote';
import { parseCrl } from '@custodian/attestation/crl';
import { decodeCcaToken } from '@custodian/attestation/cca/token';
import { importCpak } from '@custodian/attestation/collateral';
import { createSimRoot, issueSimEvidence, SIM_EVIDENCE_DOMAIN } from '@custodian/attestation/sim/sim-evidence';

const args = process.argv.slice(2);
const msArg = args.indexOf('--ms');
const RUN_MS = msArg >= 0 ? Number(args[msArg + 1]) : 1500;
const JSON_OUT = args.includes('--json');

type Check = () => boolean;

interface Case {
  readonly format: AttestationFormat;
  readonly sample: string;
  readonly evidence: Uint8Array;
  readonly opts: VerifyOptions;
  /** Signatures our verifier checks on every call. */
  readonly uncached: readonly Check[];
  /** Certificate links (child ← issuer), signed collateral and CRL signatures, remembered by our verifier after the first call. */
  readonly links: readonly Check[];
}

const link = (child: Certificate, issuer: Certificate): Check => () => child.x509.verify(issuer.publicKey);
const chainLinks = (path: readonly Certificate[]): Check[] => [...path.slice(0, -1).map((c, i) => link(c, path[i + 1]!)), link(path[path.length - 1]!, path[path.length - 1]!)];
const ecdsa = (hash: string, key: KeyObject, data: Uint8Array, sig: Uint8Array): Check => () => cryptoVerify(hash, data, { key, dsaEncoding: 'ieee-p1363' }, sig);
const v = (...p: string[]): Uint8Array => readVector('attestation', ...p);
const text = (...p: string[]): string => readFileSync(vectorPath('attestation', ...p), 'utf8');

function nitroCase(): Case {
  const evidence = v('nitro', 'attestation-doc-2.cbor');
  const cose = decodeCoseSign1(decodeEvidenceCbor(evidence, 'doc', NITRO_DOC_BYTES_MAX, COSE_SIGN1_DEPTH_MAX), 'doc', 'optional');
  const doc = decodeNitroPayload(cose.payload);
  const leaf = parseCertificate(doc.certificate);
  const path = [leaf, ...doc.cabundle.map(parseCertificate).reverse()]; // cabundle is root first and includes the root
  return { format: 'nitro', sample: 'attestation-doc-2.cbor', evidence, opts: { now: new Date('2023-07-10T13:00:00Z') }, uncached: [() => coseSignatureValid(cose, leaf.publicKey)], links: chainLinks(path) };
}

function snpCase(): Case {
  const evidence = v('sev-snp', 'milan-report-3.bin');
  const vcekDer = v('sev-snp', 'milan-vcek-3.der');
  const r = decodeSnpReport(evidence);
  const vcek = parseCertificate(vcekDer);
  const path = [vcek, pinnedRoot('amd-milan-ask'), pinnedRoot('amd-milan-ark')];
  return {
    format: 'sev-snp',
    sample: 'milan-report-3.bin + milan-vcek-3.der',
    evidence,
    opts: { now: new Date('2026-01-01T00:00:00Z'), collateral: { certificates: [vcekDer] } },
    uncached: [ecdsa('sha384', vcek.publicKey, r.signed, r.signature)],
    links: chainLinks(path),
  };
}

/** `{"<key>":BODY,"signature":"hex"}` → BODY bytes and signature, as Intel PCS signs them. */
function pcsSigned(doc: string, key: string): { body: Uint8Array; sig: Uint8Array } {
  const t = doc.trim();
  const at = t.lastIndexOf(',"signature":"');
  return { body: Buffer.from(t.slice(key.length + 4, at), 'utf8'), sig: Buffer.from(t.slice(at + 14, -2), 'hex') };
}

function tdxCase(): Case {
  const evidence = v('tdx', 'quote-v4-1.bin');
  const q = decodeTdxQuote(evidence);
  const ak = q.attestationKey;
  const akKey = createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: Buffer.from(ak.subarray(0, 32)).toString('base64url'), y: Buffer.from(ak.subarray(32, 64)).toString('base64url') }, format: 'jwk' });
  const root = pinnedRoot('intel-sgx-root-ca');
  const path = [...pemBlocks(q.pckChainPem).map(parseCertificate).filter((c) => c.sha256 !== root.sha256), root];
  const signingCerts = pemBlocks(text('tdx', 'collateral', 'tcb-signing-chain.pem'));
  const signer = signingCerts.map(parseCertificate).find((c) => /TCB Signing/.test(c.subject))!;
  const tcbInfo = text('tdx', 'collateral', 'tcbinfo-fmspc-50806f000000-2023-06.json');
  const qeIdentity = text('tdx', 'collateral', 'qe-identity-td_qe-2023-06.json');
  const crls = [v('tdx', 'collateral', 'pck-platform-crl-2023-06.der'), v('tdx', 'collateral', 'intel-sgx-root-ca-crl-2023-04.der')];
  const ti = pcsSigned(tcbInfo, 'tcbInfo');
  const qi = pcsSigned(qeIdentity, 'enclaveIdentity');
  const crlChecks = crls.map((der, i) => {
    const c = parseCrl(der);
    const issuer = i === 0 ? path[1]! : root;
    return () => cryptoVerify('sha256', c.tbs, issuer.publicKey, c.signature);
  });
  return {
    format: 'tdx',
    sample: 'quote-v4-1.bin + 2023 collateral (TCB info, QE identity, 2 CRLs)',
    evidence,
    opts: { now: new Date('2023-07-01T01:00:00Z'), collateral: { certificates: signingCerts, crls, tcbInfo: [tcbInfo], qeIdentity: [qeIdentity] } },
    uncached: [ecdsa('sha256', akKey, q.signed, q.signature), ecdsa('sha256', path[0]!.publicKey, q.qeReport.raw, q.qeReportSignature)],
    links: [...chainLinks(path), link(signer, root), ecdsa('sha256', signer.publicKey, ti.body, ti.sig), ecdsa('sha256', signer.publicKey, qi.body, qi.sig), ...crlChecks],
  };
}

function ccaCase(): Case {
  const evidence = v('cca', 'cca-token-ffm-profile-3.cbor');
  const cpak = importCpak(v('cca', 'cpak-tfrmm-fvp-p384.pub.pem'));
  const t = decodeCcaToken(evidence);
  const rak = rakKey(t.realmClaims.rak);
  return {
    format: 'cca',
    sample: 'cca-token-ffm-profile-3.cbor + cpak-tfrmm-fvp-p384.pub.pem',
    evidence,
    opts: { now: new Date('2026-01-01T00:00:00Z'), collateral: { cpak: [cpak] } },
    uncached: [() => coseSignatureValid(t.platform, cpak), () => coseSignatureValid(t.realm, rak)],
    links: [],
  };
}

/** The RAK (raw P-384 point, or an EC2 COSE_Key with -2/-3 = x/y) as a KeyObject. */
function rakKey(raw: Uint8Array): KeyObject {
  let x = raw.subarray(1, 49);
  let y = raw.subarray(49, 97);
  if (raw[0] !== 0x04) {
    const m = decodeEvidenceCbor(raw, 'rak', 512, 2) as { get(k: number): unknown };
    x = m.get(-2) as Uint8Array;
    y = m.get(-3) as Uint8Array;
  }
  return createPublicKey({ key: { kty: 'EC', crv: 'P-384', x: Buffer.from(x).toString('base64url'), y: Buffer.from(y).toString('base64url') }, format: 'jwk' });
}

function simCase(): Case {
  const root = createSimRoot(new Uint8Array(32).fill(7));
  const T = 1_764_000_000_000;
  const evidence = issueSimEvidence(root, new Uint8Array(48).fill(1), new Uint8Array(64).fill(2), T);
  const doc = parseJson(evidence) as { body: Parameters<typeof canonicalJsonBytes>[0]; signature: string };
  const msg = concatBytes(SIM_EVIDENCE_DOMAIN, canonicalJsonBytes(doc.body));
  const sig = Buffer.from(doc.signature, 'hex');
  return {
    format: 'sim',
    sample: 'issued here (Ed25519 sim root)',
    evidence,
    opts: { now: new Date(T + 1000), simRootPublicKey: root.publicKey },
    uncached: [() => ed25519.verify(sig, msg, root.publicKey, { zip215: false })],
    links: [],
  };
}

interface Figure {
  readonly perSecond: number;
  readonly p50Us: number;
}

/** Runs `fn` for about RUN_MS after a warm-up; rate over the run and the median call time. */
function measure(fn: () => void): Figure {
  for (let i = 0; i < 20; i++) fn();
  const times: number[] = [];
  const start = process.hrtime.bigint();
  const end = start + BigInt(RUN_MS) * 1_000_000n;
  let now = start;
  while (now < end && times.length < 200_000) {
    fn();
    const t = process.hrtime.bigint();
    times.push(Number(t - now) / 1000);
    now = t;
  }
  times.sort((a, b) => a - b);
  return { perSecond: times.length / (Number(now - start) / 1e9), p50Us: times[Math.floor(times.length / 2)]! };
}

function all(checks: readonly Check[]): () => void {
  return () => {
    for (const c of checks) if (!c()) throw new Error('baseline check failed');
  };
}

const rows: Record<string, unknown>[] = [];
for (const make of [nitroCase, snpCase, tdxCase, ccaCase, simCase]) {
  const c = make();
  const ours = measure(() => {
    const claims = verifyEvidence(c.format, c.evidence, c.opts);
    appraise(claims, undefined, c.opts.now);
  });
  const full = measure(all([...c.links, ...c.uncached]));
  const bare = measure(all(c.uncached));
  const row = {
    format: c.format,
    sample: c.sample,
    signatures: { uncached: c.uncached.length, chainLinks: c.links.length },
    ours,
    baselineAll: full,
    baselineUncached: bare,
    ratioToAll: ours.p50Us / full.p50Us,
    ratioToUncached: ours.p50Us / bare.p50Us,
  };
  rows.push(row);
  if (!JSON_OUT) {
    const f = (x: Figure): string => `${x.perSecond.toFixed(0).padStart(7)}/s p50 ${(x.p50Us / 1000).toFixed(3).padStart(7)} ms`;
    console.log(`${c.format.padEnd(8)} ${c.sample}`);
    console.log(`  ours (verify+appraise)             ${f(ours)}`);
    console.log(`  bare: all ${String(c.links.length + c.uncached.length).padStart(2)} signatures          ${f(full)}   ours/bare ${row.ratioToAll.toFixed(2)}×`);
    console.log(`  bare: ${String(c.uncached.length).padStart(2)} uncached signature(s)   ${f(bare)}   ours/bare ${row.ratioToUncached.toFixed(2)}×`);
  }
}
if (JSON_OUT) console.log(JSON.stringify({ runMs: RUN_MS, node: process.version, rows }));

/**
 * Intel PCS collateral for TDX (Intel "PCS API v4": TCB Info v3 and QE
 * Identity v2): signature by the Intel SGX TCB Signing key over the exact
 * bytes of the `tcbInfo` / `enclaveIdentity` JSON value, the signing cert
 * chained to the pinned Intel SGX Root CA at the verification time, freshness
 * (issueDate ≤ now ≤ nextUpdate, no grace, THREATS.md §3), and the TCB level
 * evaluation (first matching level wins, levels are ordered newest first).
 *
 * A signature over fixed bytes under a fixed key verifies the same way every
 * time, so a document's verified decoding is remembered by SHA-256 of its
 * text and of the signing certificate; the signing chain and freshness are
 * still judged at `now` on every call.
 */
import { createHash } from 'node:crypto';
import { parseJson, type Json } from '@custodian/core/canonical-json';
import { Fields } from '@custodian/core/fields';
import { isCustodianError } from '@custodian/core/errors';
import { attestFail } from '../errors.js';
import { COLLATERAL_BYTES_MAX } from '../limits.js';
import { verifyChain, type Certificate } from '../x509.js';
import type { TcbStatus } from '../claims.js';
import { safeVerify } from '../safe-verify.js';
import type { PckFacts } from './pck.js';
import type { QeReport, TdReportBody } from './quote.js';

/** Statuses a TCB level may carry, ordered from best to worst. */
export const TCB_STATUS_ORDER: readonly TcbStatus[] = [
  'UpToDate',
  'SWHardeningNeeded',
  'ConfigurationNeeded',
  'ConfigurationAndSWHardeningNeeded',
  'OutOfDate',
  'OutOfDateConfigurationNeeded',
  'NotSupported',
  'Revoked',
];

/** One platform TCB level of a TDX TCB info. */
export interface TdxTcbLevel {
  readonly sgx: readonly number[];
  readonly pceSvn: number;
  readonly tdx: readonly number[];
  readonly status: TcbStatus;
  readonly tcbDate: string;
  readonly advisories: readonly string[];
}

/** A verified TDX TCB info. */
export interface TdxTcbInfo {
  readonly fmspc: string;
  readonly pceId: string;
  readonly issueDate: Date;
  readonly nextUpdate: Date;
  readonly evaluationDataNumber: number;
  readonly levels: readonly TdxTcbLevel[];
  readonly moduleIdentities: readonly { id: string; mrSigner: string; levels: readonly { isvSvn: number; status: TcbStatus }[] }[];
}

/** A verified TD QE identity. */
export interface QeIdentity {
  readonly id: string;
  readonly issueDate: Date;
  readonly nextUpdate: Date;
  readonly miscSelect: number;
  readonly miscSelectMask: number;
  readonly attributes: string;
  readonly attributesMask: string;
  readonly mrSigner: string;
  readonly isvProdId: number;
  readonly levels: readonly { isvSvn: number; status: TcbStatus }[];
}

function bad(message: string, detail: Record<string, unknown> = {}): never {
  return attestFail('E_COLLATERAL_INVALID', 'claims', message, detail);
}

/** Splits `{"<key>":BODY,"signature":"hex"}` into BODY's exact bytes and the signature. */
function splitSigned(text: string, key: string): { body: string; signature: Uint8Array } {
  if (text.length > COLLATERAL_BYTES_MAX) bad(`${key} document too large`);
  const t = text.trim();
  const head = `{"${key}":`;
  const sigAt = t.lastIndexOf(',"signature":"');
  if (!t.startsWith(head) || sigAt < 0 || !t.endsWith('"}')) bad(`${key} document is not {"${key}":…,"signature":"…"}`);
  const sigHex = t.slice(sigAt + 14, -2);
  if (!/^[0-9a-fA-F]{128}$/.test(sigHex)) bad(`${key} signature must be 64 bytes of hex`);
  return { body: t.slice(head.length, sigAt), signature: new Uint8Array(Buffer.from(sigHex, 'hex')) };
}

function parseBody(body: string, key: string): Fields {
  let v: Json;
  try {
    v = parseJson(body, COLLATERAL_BYTES_MAX);
  } catch (e) {
    return bad(`${key} is not strict JSON: ${isCustodianError(e) ? e.message : String(e)}`);
  }
  return new Fields(v, key);
}

/** Most remembered verified collateral documents and unverified peeks. */
export const COLLATERAL_CACHE_MAX = 256;
const verifiedCache = new Map<string, TdxTcbInfo | QeIdentity>();
const peekCache = new Map<string, Peek>();

function remember<T>(cache: Map<string, T>, key: string, value: T): T {
  if (cache.size >= COLLATERAL_CACHE_MAX) cache.delete(cache.keys().next().value!);
  cache.set(key, value);
  return value;
}

function textHash(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/**
 * The verified decoding of a signed PCS document: the TCB Signing cert must
 * chain to the pinned root at `now` (every call); the signature over the exact
 * body bytes and the decoding are remembered per (text, signer).
 */
function verifySigned<T extends TdxTcbInfo | QeIdentity>(text: string, key: 'tcbInfo' | 'enclaveIdentity', signingCerts: readonly Certificate[], root: Certificate, now: Date, decode: (body: string) => T): T {
  const { body, signature } = splitSigned(text, key);
  const signer = signingCerts.find((c) => /CN=Intel SGX TCB Signing/.test(c.subject));
  if (!signer) attestFail('E_COLLATERAL_MISSING', 'claims', `${key} needs the Intel SGX TCB Signing certificate (--collateral tcb-signing-chain.pem)`);
  verifyChain([signer], [root], now);
  const cacheKey = `${key}:${textHash(text)}:${signer.sha256}`;
  let doc = verifiedCache.get(cacheKey) as T | undefined;
  if (doc === undefined) {
    if (!safeVerify('sha256', Buffer.from(body, 'utf8'), { key: signer.publicKey, dsaEncoding: 'ieee-p1363' }, signature)) bad(`${key} signature does not verify under the Intel SGX TCB Signing key`);
    const decoded = decode(body);
    remember<TdxTcbInfo | QeIdentity>(verifiedCache, cacheKey, decoded);
    doc = decoded;
  }
  checkFresh(doc, now, key);
  return doc;
}

function dates(f: Fields, key: string): { issueDate: Date; nextUpdate: Date } {
  const issueDate = new Date(f.str('issueDate', 40));
  const nextUpdate = new Date(f.str('nextUpdate', 40));
  if (Number.isNaN(issueDate.getTime()) || Number.isNaN(nextUpdate.getTime())) bad(`${key} dates are invalid`);
  return { issueDate, nextUpdate };
}

/** Freshness at `now`: issueDate ≤ now ≤ nextUpdate, no grace (THREATS.md §3). */
function checkFresh(d: { readonly issueDate: Date; readonly nextUpdate: Date }, now: Date, key: string): void {
  if (now < d.issueDate || now > d.nextUpdate) {
    attestFail('E_COLLATERAL_EXPIRED', 'claims', `${key} is not current at ${now.toISOString()} (issued ${d.issueDate.toISOString()}, next update ${d.nextUpdate.toISOString()})`);
  }
}

function status(s: string): TcbStatus {
  if (s === 'Unevaluated' || !(TCB_STATUS_ORDER as readonly string[]).includes(s)) bad(`unknown tcbStatus ${s}`);
  return s as TcbStatus;
}

function svns(list: readonly Json[], where: string): number[] {
  if (list.length !== 16) bad(`${where} must list 16 components`);
  return list.map((c, i) => new Fields(c, `${where}[${i}]`).int('svn', 0, 255));
}

function isvLevels(list: readonly Json[], where: string): { isvSvn: number; status: TcbStatus }[] {
  return list.map((l, i) => {
    const f = new Fields(l, `${where}[${i}]`);
    return { isvSvn: f.obj('tcb').int('isvsvn', 0, 0xffff), status: status(f.str('tcbStatus', 64)) };
  });
}

/** Verifies and decodes a TDX TCB info document. */
export function verifyTdxTcbInfo(text: string, signingCerts: readonly Certificate[], root: Certificate, now: Date): TdxTcbInfo {
  return verifySigned(text, 'tcbInfo', signingCerts, root, now, decodeTcbInfoBody);
}

function decodeTcbInfoBody(body: string): TdxTcbInfo {
  const f = parseBody(body, 'tcbInfo');
  if (f.str('id', 16) !== 'TDX' || f.int('version') !== 3) bad('tcbInfo must be a TDX TCB info version 3');
  const { issueDate, nextUpdate } = dates(f, 'tcbInfo');
  const levels = f.arr('tcbLevels', 256).map((l, i): TdxTcbLevel => {
    const lf = new Fields(l, `tcbLevels[${i}]`);
    const tcb = lf.obj('tcb');
    const adv = lf.optRaw('advisoryIDs');
    return {
      sgx: svns(tcb.arr('sgxtcbcomponents', 16), 'sgxtcbcomponents'),
      pceSvn: tcb.int('pcesvn', 0, 0xffff),
      tdx: svns(tcb.arr('tdxtcbcomponents', 16), 'tdxtcbcomponents'),
      status: status(lf.str('tcbStatus', 64)),
      tcbDate: lf.str('tcbDate', 40),
      advisories: Array.isArray(adv) ? adv.filter((a): a is string => typeof a === 'string') : [],
    };
  });
  const mods = f.optRaw('tdxModuleIdentities');
  return {
    fmspc: f.str('fmspc', 12).toLowerCase(),
    pceId: f.str('pceId', 4).toLowerCase(),
    issueDate,
    nextUpdate,
    evaluationDataNumber: f.int('tcbEvaluationDataNumber'),
    levels,
    moduleIdentities: (Array.isArray(mods) ? mods : []).map((m, i) => {
      const mf = new Fields(m, `tdxModuleIdentities[${i}]`);
      return { id: mf.str('id', 16), mrSigner: mf.str('mrsigner', 96).toLowerCase(), levels: isvLevels(mf.arr('tcbLevels', 64), 'tcbLevels') };
    }),
  };
}

/** Verifies and decodes a TD QE identity document. */
export function verifyQeIdentity(text: string, signingCerts: readonly Certificate[], root: Certificate, now: Date): QeIdentity {
  return verifySigned(text, 'enclaveIdentity', signingCerts, root, now, decodeQeIdentityBody);
}

function decodeQeIdentityBody(body: string): QeIdentity {
  const f = parseBody(body, 'enclaveIdentity');
  const id = f.str('id', 16);
  if (id !== 'TD_QE') bad(`QE identity ${id} is not TD_QE`);
  const { issueDate, nextUpdate } = dates(f, 'enclaveIdentity');
  return {
    id,
    issueDate,
    nextUpdate,
    miscSelect: parseInt(f.str('miscselect', 8, /^[0-9a-fA-F]{8}$/), 16),
    miscSelectMask: parseInt(f.str('miscselectMask', 8, /^[0-9a-fA-F]{8}$/), 16),
    attributes: f.str('attributes', 32, /^[0-9a-fA-F]{32}$/).toLowerCase(),
    attributesMask: f.str('attributesMask', 32, /^[0-9a-fA-F]{32}$/).toLowerCase(),
    mrSigner: f.str('mrsigner', 64, /^[0-9a-fA-F]{64}$/).toLowerCase(),
    isvProdId: f.int('isvprodid', 0, 0xffff),
    levels: isvLevels(f.arr('tcbLevels', 64), 'tcbLevels'),
  };
}

/** What pickCollateral reads from a document before verifying it. */
interface Peek {
  readonly text: string;
  readonly fmspc: string;
  readonly from: number;
  readonly to: number;
  readonly n: number;
}

function peekUnverified(text: string, key: string): Peek {
  if (text.length > COLLATERAL_BYTES_MAX) return { text, fmspc: '', from: NaN, to: NaN, n: -1 };
  try {
    const b = parseJson(splitSigned(text, key).body, COLLATERAL_BYTES_MAX) as Record<string, Json>;
    return { text, fmspc: String(b.fmspc ?? '').toLowerCase(), from: Date.parse(String(b.issueDate)), to: Date.parse(String(b.nextUpdate)), n: Number(b.tcbEvaluationDataNumber ?? 0) };
  } catch {
    return { text, fmspc: '', from: NaN, to: NaN, n: -1 };
  }
}

/**
 * Chooses which collateral document to verify: those for `fmspc` (when given),
 * preferring one current at `now`, then the highest evaluation number. Reads
 * the unverified body only to choose; the chosen one is then fully verified.
 */
export function pickCollateral(texts: readonly string[], key: 'tcbInfo' | 'enclaveIdentity', now: Date, fmspc?: string): string | undefined {
  const peek = texts.map((text) => {
    const cacheKey = `${key}:${textHash(text)}`;
    return peekCache.get(cacheKey) ?? remember(peekCache, cacheKey, peekUnverified(text, key));
  });
  const candidates = peek.filter((p) => fmspc === undefined || p.fmspc === fmspc);
  const t = now.getTime();
  const current = candidates.filter((p) => p.from <= t && t <= p.to);
  const pool = current.length > 0 ? current : candidates;
  return pool.sort((a, b) => b.n - a.n)[0]?.text;
}

/** The worse of two statuses. */
export function worseStatus(a: TcbStatus, b: TcbStatus): TcbStatus {
  return TCB_STATUS_ORDER.indexOf(a) >= TCB_STATUS_ORDER.indexOf(b) ? a : b;
}

/** Intel TDX TCB evaluation: the first level whose SGX, PCESVN and TDX components are all met; then the TDX module identity. */
export function evaluateTdxTcb(info: TdxTcbInfo, pck: PckFacts, body: TdReportBody): { status: TcbStatus; level?: TdxTcbLevel; module?: TcbStatus } {
  const svn = body.teeTcbSvn;
  // With module identities, TEE_TCB_SVN bytes 0-1 (module SVN, major) are judged by the identity, not the level.
  const skipModule = info.moduleIdentities.length > 0 && svn[1]! > 0;
  const level = info.levels.find(
    (l) =>
      l.sgx.every((s, i) => pck.sgxTcbComponents[i]! >= s) &&
      pck.pceSvn >= l.pceSvn &&
      l.tdx.every((s, i) => (skipModule && i < 2) || svn[i]! >= s),
  );
  if (!level) return { status: 'NotSupported' };
  if (!skipModule) return { status: level.status, level };
  const id = `TDX_${svn[1]!.toString(16).toUpperCase().padStart(2, '0')}`;
  const mod = info.moduleIdentities.find((m) => m.id === id);
  if (!mod) return { status: 'NotSupported', level };
  if (mod.mrSigner !== Buffer.from(body.mrSignerSeam).toString('hex')) return { status: 'NotSupported', level };
  const ml = mod.levels.find((l) => svn[0]! >= l.isvSvn);
  const module = ml?.status ?? 'NotSupported';
  return { status: worseStatus(level.status, module), level, module };
}

/** QE identity evaluation: the QE must be Intel's TD QE; its ISVSVN picks the level. */
export function evaluateQe(id: QeIdentity, qe: QeReport): TcbStatus {
  const attrs = Buffer.from(qe.attributes);
  const want = Buffer.from(id.attributes, 'hex');
  const mask = Buffer.from(id.attributesMask, 'hex');
  const attrsOk = attrs.every((b, i) => (b & mask[i]!) === (want[i]! & mask[i]!));
  const miscOk = ((qe.miscSelect & id.miscSelectMask) >>> 0) === ((id.miscSelect & id.miscSelectMask) >>> 0);
  if (!attrsOk || !miscOk || Buffer.from(qe.mrSigner).toString('hex') !== id.mrSigner || qe.isvProdId !== id.isvProdId) {
    attestFail('E_ATTEST_CHAIN_UNTRUSTED', 'claims', 'the quoting enclave does not match Intel\'s TD QE identity');
  }
  return id.levels.find((l) => qe.isvSvn >= l.isvSvn)?.status ?? 'NotSupported';
}

/**
 * `custodian attest ...` (issue 3 §5, CONTRACTS.md "Attestation").
 *
 *   custodian attest verify --evidence FILE [--format auto|nitro|sev-snp|tdx|cca|tpm|sim]
 *                           [--policy FILE] [--at ISO-TIME] [--nonce HEX]
 *                           [--collateral PATH]... [--sim-root FILE] [--json]
 *   custodian attest collect --report-data HEX [--platform auto|nitro|configfs-tsm|sim]
 *                           [--nsm-helper PATH | --nsm-socket PATH] [--sim-root FILE --measurement HEX] [--json]
 *
 * Verifies the evidence (signatures, chain to the pinned vendor root,
 * validity at --at or now), appraises the claims against the policy (the
 * built-in default without --policy) and prints claims, status and reasons.
 * Exit 0 only when affirming; 1 when verification or appraisal refuses.
 *
 * `sim` evidence is anchored by the development sim root, given with its own
 * option `--sim-root FILE` (the `sim-root.json` of `custodian init`; the
 * public key suffices) because CONTRACTS.md forbids taking roots from
 * `--collateral`. It then goes through the same appraisal, so the policy
 * decides (allowSimulated, measurements, maxAgeSeconds); the default policy
 * refuses it (B20b).
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { bytesToHex, hexToBytes } from '@custodian/core/bytes';
import { CustodianError, isCustodianError } from '@custodian/core/errors';
import { appraise, type AttestationResult } from '@custodian/attestation/appraisal';
import { DEFAULT_POLICY, parsePolicy, POLICY_BYTES_MAX, type AppraisalPolicy } from '@custodian/attestation/policy';
import { detectFormat, verifyEvidence } from '@custodian/attestation/verify';
import { loadCollateral, COLLATERAL_FILES_MAX, type CollateralFile } from '@custodian/attestation/collateral';
import { ATTESTATION_FORMATS, type AttestationClaims, type AttestationFormat, type VerifyOptions } from '@custodian/attestation/claims';
import { EVIDENCE_BYTES_MAX, COLLATERAL_BYTES_MAX } from '@custodian/attestation/limits';
import { AttestationError } from '@custodian/attestation/errors';
import { ConfigfsTsmAttester, type Attester } from '@custodian/attestation/attester/configfs-tsm';
import { NitroNsmAttester, NsmSocketTransport, NSM_RESPONSE_BYTES_MAX, NSM_TRANSPORT_TIMEOUT_MS, type NsmTransport } from '@custodian/attestation/attester/nitro-nsm';
import { spawn } from 'node:child_process';
import { SimAttester } from '@custodian/attestation/attester/sim';
import { ATTESTER_PLATFORMS, detectAttesterPlatform, type AttesterPlatform } from '@custodian/attestation/attester/platform';
import { parseSimRootFile, SIM_ROOT_FILE_BYTES_MAX } from '@custodian/attestation/sim-root-file';
import { systemClock, systemRandom } from '@custodian/core/clock';
import { emit, emitError, EXIT_OK, EXIT_REFUSED, parseArgs, progress, UsageError } from '../output.js';

const USAGE = `usage: custodian attest verify --evidence FILE [--format auto|${ATTESTATION_FORMATS.join('|')}] [--policy FILE] [--at ISO-TIME] [--nonce HEX] [--collateral PATH]... [--sim-root FILE] [--json]
       custodian attest collect --report-data HEX [--platform auto|${ATTESTER_PLATFORMS.join('|')}] [--nsm-helper PATH | --nsm-socket PATH] [--sim-root FILE --measurement HEX] [--json]`;

/** Longest report data any attester takes (Nitro user_data); configfs-tsm and sim take 64 bytes. */
const REPORT_DATA_BYTES_MAX = 1024;

/** Environment variable naming the NSM helper program when --nsm-helper is not given. */
export const NSM_HELPER_ENV = 'CUSTODIAN_NSM_HELPER';
/** Environment variable naming the NSM service socket when --nsm-socket is not given. */
export const NSM_SOCKET_ENV = 'CUSTODIAN_NSM_SOCKET';

/** What `attest collect` may be handed for tests: the machine probe and the environment. */
export interface CollectEnvironment {
  readonly exists?: (path: string) => boolean;
  readonly env?: Readonly<Record<string, string | undefined>>;
}

/** Entry point of `custodian attest ...`. */
export async function attestCommand(args: readonly string[], machine: CollectEnvironment = {}): Promise<number> {
  const json = args.includes('--json');
  try {
    const [sub, ...rest] = args;
    if (sub === 'verify') return verifyCommand(rest, json);
    if (sub === 'collect') return await collectCommand(rest, json, machine);
    throw new UsageError(USAGE);
  } catch (e) {
    return emitError(json, e);
  }
}

/** The CONTRACTS.md JSON shape of a verification. */
export interface AttestVerifyOutput {
  readonly ok: boolean;
  readonly format: AttestationFormat;
  readonly status: AttestationResult['status'];
  readonly claims: Record<string, unknown>;
  readonly reasons: readonly string[];
}

/** `attest collect --report-data HEX`: evidence from the NSM (Nitro), configfs-tsm (TDX, SEV-SNP, CCA guests) or the sim attester. */
async function collectCommand(args: readonly string[], json: boolean, machine: CollectEnvironment): Promise<number> {
  const { values, positionals } = parseArgs(args, { strings: ['report-data', 'platform', 'nsm-helper', 'nsm-socket', 'sim-root', 'measurement'], booleans: ['json'] });
  if (positionals.length > 0) throw new UsageError(USAGE);
  const hex = values.get('report-data')?.[0];
  if (hex === undefined) throw new UsageError(`--report-data is required\n${USAGE}`);
  const reportData = hexToBytes(hex, '--report-data');
  if (reportData.length === 0 || reportData.length > REPORT_DATA_BYTES_MAX) throw new UsageError(`--report-data must be 1..${REPORT_DATA_BYTES_MAX} bytes (64 for configfs-tsm and sim)`);
  const asked = values.get('platform')?.[0] ?? 'auto';
  if (asked !== 'auto' && !(ATTESTER_PLATFORMS as readonly string[]).includes(asked)) throw new UsageError(`--platform must be auto or one of ${ATTESTER_PLATFORMS.join(', ')}`);
  const platform = asked === 'auto' ? detectAttesterPlatform(machine.exists) : (asked as AttesterPlatform);
  if (platform === undefined) throw new CustodianError('E_UNAVAILABLE', 'no TEE attester on this machine (no /dev/nsm, no configfs-tsm); use --platform sim for development');
  const got = await attesterFor(platform, values, machine)
    .collect(reportData)
    .catch((e: unknown) => {
      // a report-data length this platform cannot carry is the caller's mistake
      throw isCustodianError(e, 'E_ATTEST_INPUT') ? new UsageError(e.message) : e;
    });
  const out = { ok: true, format: got.format, provider: got.provider, evidence: bytesToHex(got.evidence), ...(got.auxblob ? { auxblob: bytesToHex(got.auxblob) } : {}) };
  emit(json, out, `${got.format} evidence from ${got.provider}: ${got.evidence.length} bytes\n${out.evidence}`);
  return EXIT_OK;
}

/** The NSM transport named by --nsm-socket / --nsm-helper (or their environment variables); Node cannot issue the /dev/nsm ioctl itself. */
function nsmTransport(values: ReadonlyMap<string, string[]>, env: Readonly<Record<string, string | undefined>>): NsmTransport {
  const socket = values.get('nsm-socket')?.[0] ?? (values.has('nsm-helper') ? undefined : env[NSM_SOCKET_ENV]);
  if (socket !== undefined) return new NsmSocketTransport(socket);
  const helper = values.get('nsm-helper')?.[0] ?? env[NSM_HELPER_ENV];
  if (helper !== undefined) return new NsmHelperTransport(helper);
  throw new UsageError(`Nitro collection needs an NSM transport: --nsm-socket PATH (${NSM_SOCKET_ENV}) or --nsm-helper PATH (${NSM_HELPER_ENV}); Node cannot issue the /dev/nsm ioctl itself`);
}

function attesterFor(platform: AttesterPlatform, values: ReadonlyMap<string, string[]>, machine: CollectEnvironment): Attester {
  switch (platform) {
    case 'configfs-tsm':
      return new ConfigfsTsmAttester(systemRandom);
    case 'nitro': {
      return new NitroNsmAttester(nsmTransport(values, machine.env ?? process.env));
    }
    case 'sim': {
      const rootPath = values.get('sim-root')?.[0];
      const m = values.get('measurement')?.[0];
      if (rootPath === undefined || m === undefined) throw new UsageError('--platform sim needs --sim-root FILE (with its secret key) and --measurement HEX (48 bytes)');
      const { root } = parseSimRootFile(readBounded(rootPath, SIM_ROOT_FILE_BYTES_MAX));
      if (root === undefined) throw new UsageError(`${rootPath} holds no secret key: sim evidence is issued with the full sim root`);
      const measurement = hexToBytes(m, '--measurement');
      if (measurement.length !== 48) throw new UsageError('--measurement must be 48 bytes (SHA-384)');
      return new SimAttester(root, measurement, systemClock);
    }
  }
}

function verifyCommand(args: readonly string[], json: boolean): number {
  const { values, positionals } = parseArgs(args, { strings: ['evidence', 'format', 'policy', 'at', 'nonce', 'sim-root'], multi: ['collateral'], booleans: ['json'] });
  if (positionals.length > 0) throw new UsageError(`unexpected argument ${positionals[0]}\n${USAGE}`);
  const evidencePath = values.get('evidence')?.[0];
  if (evidencePath === undefined) throw new UsageError(`--evidence is required\n${USAGE}`);
  const format = values.get('format')?.[0] ?? 'auto';
  if (format !== 'auto' && !(ATTESTATION_FORMATS as readonly string[]).includes(format)) throw new UsageError(`--format must be auto or one of ${ATTESTATION_FORMATS.join(', ')}`);
  const atText = values.get('at')?.[0];
  const now = atText === undefined ? new Date() : new Date(atText);
  if (Number.isNaN(now.getTime()) || (atText !== undefined && !/^\d{4}-\d\d-\d\dT/.test(atText))) throw new UsageError('--at must be an ISO 8601 time, e.g. 2024-09-07T15:00:00Z');
  const nonceHex = values.get('nonce')?.[0];
  const nonce = nonceHex === undefined ? undefined : hexToBytes(nonceHex, '--nonce');
  const policyPath = values.get('policy')?.[0];
  const policy: AppraisalPolicy = policyPath === undefined ? DEFAULT_POLICY : parsePolicy(readBounded(policyPath, POLICY_BYTES_MAX));
  const evidence = readBounded(evidencePath, EVIDENCE_BYTES_MAX);
  const collateral = loadCollateral(collateralFiles(values.get('collateral') ?? []));

  const simRootPath = values.get('sim-root')?.[0];
  const simRootPublicKey = simRootPath === undefined ? undefined : parseSimRootFile(readBounded(simRootPath, SIM_ROOT_FILE_BYTES_MAX)).publicKey;

  const detected = format === 'auto' ? detectFormat(evidence) : (format as AttestationFormat);
  if (detected === 'sim' && simRootPublicKey === undefined) return simRefusal(policy);
  progress(`attest verify: ${detected} evidence, ${evidence.length} bytes, at ${now.toISOString()}`);
  const opts: VerifyOptions = { now, collateral, ...(nonce ? { nonce } : {}), ...(simRootPublicKey ? { simRootPublicKey } : {}) };
  const claims = verifyEvidence(detected, evidence, opts);
  const result = appraise(claims, policy, now);
  const out = toOutput(result);
  emit(json, out, human(out));
  return result.status === 'affirming' ? EXIT_OK : EXIT_REFUSED;
}

/** Sim evidence needs the sim root, held by the host that runs the simulator; without a policy that allows it, it is refused outright (B20b). */
function simRefusal(policy: AppraisalPolicy): never {
  if (!policy.allowSimulated) throw new AttestationError('E_ATTEST_SIMULATED', 'simulated (development) evidence is not accepted by this policy', { step: 'appraisal' });
  throw new AttestationError('E_COLLATERAL_MISSING', 'sim evidence is verified with its development root: give it with --sim-root FILE', { step: 'chain' });
}

function readBounded(path: string, max: number): Uint8Array {
  let size: number;
  try {
    size = statSync(path).size;
  } catch {
    throw new CustodianError('E_IO', `cannot read ${path}`, { path });
  }
  // refuse before reading (issue 3: a size far above the format's maximum is refused before parsing)
  if (size > max) throw new AttestationError('E_ATTEST_TOO_LARGE', `${path} is ${size} bytes, above the limit of ${max}`, { step: 'bounds', path });
  try {
    return new Uint8Array(readFileSync(path));
  } catch {
    throw new CustodianError('E_IO', `cannot read ${path}`, { path });
  }
}

/** Each --collateral PATH is a file or a directory of files (not recursive). */
function collateralFiles(paths: readonly string[]): CollateralFile[] {
  const out: CollateralFile[] = [];
  for (const p of paths) {
    let isDir: boolean;
    try {
      isDir = statSync(p).isDirectory();
    } catch {
      throw new CustodianError('E_IO', `cannot read collateral ${p}`, { path: p });
    }
    const files = isDir ? readdirSync(p).sort().map((n) => join(p, n)).filter((f) => statSync(f).isFile()) : [p];
    for (const f of files) {
      if (out.length >= COLLATERAL_FILES_MAX) throw new UsageError(`more than ${COLLATERAL_FILES_MAX} collateral files`);
      out.push({ name: f, bytes: readBounded(f, COLLATERAL_BYTES_MAX) });
    }
  }
  return out;
}

function claimsJson(c: AttestationClaims): Record<string, unknown> {
  return {
    measurements: c.measurements,
    reportData: bytesToHex(c.reportData),
    debug: c.debug,
    insecure: c.insecure,
    tcb: c.tcb,
    ...(c.nonce !== undefined ? { nonce: bytesToHex(c.nonce) } : {}),
    ...(c.publicKey !== undefined ? { publicKey: bytesToHex(c.publicKey) } : {}),
    ...(c.issuedAt !== undefined ? { issuedAt: c.issuedAt } : {}),
    platform: c.platform,
    chain: c.chain,
    steps: c.steps,
  };
}

/** Maps an attestation result to the CONTRACTS.md JSON. */
export function toOutput(r: AttestationResult): AttestVerifyOutput {
  return {
    ok: r.status === 'affirming',
    format: r.format,
    status: r.status,
    claims: claimsJson(r.claims),
    reasons: r.reasons.map((x) => `${x.message} (${x.code})`),
  };
}

function human(o: AttestVerifyOutput): string {
  const c = o.claims as { measurements: Record<string, string>; tcb: { status: string; detail: string }; debug: boolean; reportData: string; chain: string[] };
  const lines = [`${o.format}: ${o.status}`];
  for (const r of o.reasons) lines.push(`  reason: ${r}`);
  lines.push(`  debug: ${c.debug}`, `  tcb: ${c.tcb.status} (${c.tcb.detail})`, `  reportData: ${c.reportData}`);
  for (const [k, v] of Object.entries(c.measurements)) lines.push(`  ${k}: ${v}`);
  if (c.chain.length > 0) lines.push(`  chain: ${c.chain.join(' <- ')}`);
  return lines.join('\n');
}

/**
 * Transport through a helper program: the request CBOR goes to its stdin, the
 * response CBOR comes from its stdout; a non-zero exit, a timeout or an
 * oversized answer is E_UNAVAILABLE. It lives here, not in packages/attestation,
 * because trusted packages never spawn processes (test/architecture).
 */
export class NsmHelperTransport implements NsmTransport {
  constructor(
    private readonly command: string,
    private readonly args: readonly string[] = [],
    private readonly timeoutMs: number = NSM_TRANSPORT_TIMEOUT_MS,
  ) {}

  /** Runs the helper once for `requestCbor`. */
  request(requestCbor: Uint8Array): Promise<Uint8Array> {
    return new Promise((resolve, reject) => {
      const child = spawn(this.command, [...this.args], { stdio: ['pipe', 'pipe', 'ignore'], env: {} });
      const chunks: Buffer[] = [];
      let size = 0;
      let settled = false;
      // our own timer (not spawn's `timeout`, which outlives a helper that failed to start)
      const timer = setTimeout(() => fail(`the NSM helper did not answer within ${this.timeoutMs} ms`), this.timeoutMs);
      const settle = (): boolean => {
        if (settled) return false;
        settled = true;
        clearTimeout(timer);
        return true;
      };
      const fail = (message: string, detail: Record<string, unknown> = {}): void => {
        if (!settle()) return;
        child.kill('SIGKILL');
        reject(new CustodianError('E_UNAVAILABLE', message, detail));
      };
      child.on('error', (e) => fail(`cannot run the NSM helper ${this.command}`, { cause: e.message }));
      child.stdout.on('data', (c: Buffer) => {
        size += c.length;
        if (size > NSM_RESPONSE_BYTES_MAX) fail(`the NSM helper answered more than ${NSM_RESPONSE_BYTES_MAX} bytes`);
        else chunks.push(c);
      });
      child.on('close', (code, signal) => {
        if (code !== 0) return fail(`the NSM helper exited with ${code ?? signal ?? 'unknown'}`, { code, signal });
        if (settle()) resolve(new Uint8Array(Buffer.concat(chunks)));
      });
      child.stdin.on('error', () => undefined); // a helper that exits early is reported by 'close'
      child.stdin.end(Buffer.from(requestCbor));
    });
  }
}

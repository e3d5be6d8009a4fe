/**
 * The appraisal policy document (JSON, versioned, strictly decoded): per
 * platform reference values and rules. Example:
 *
 *   { "version": 1, "allowSimulated": false,
 *     "platforms": { "nitro": { "measurements": { "PCR0": ["e72a…"] }, "maxAgeSeconds": 300 },
 *                    "tdx": { "tcbStatuses": ["UpToDate"], "requireTcbEvaluated": true } } }
 *
 * When `platforms` is present only the listed formats are accepted.
 */
import { parseJson, type Json } from '@custodian/core/canonical-json';
import { Fields } from '@custodian/core/fields';
import { ATTESTATION_FORMATS, type AttestationFormat, type TcbStatus } from './claims.js';
import { attestFail } from './errors.js';

/** The only policy document version this code reads. */
export const POLICY_VERSION = 1;
/** Largest policy document accepted. */
export const POLICY_BYTES_MAX = 256 * 1024;
/** Most reference values per measurement name. */
export const POLICY_VALUES_MAX = 1024;

/** Rules for one platform. */
export interface PlatformPolicy {
  /** Measurement name → allowed lower-case hex values; a listed name must match one. */
  readonly measurements: Readonly<Record<string, readonly string[]>>;
  readonly allowDebug: boolean;
  /** Minimum TCB component versions (e.g. SNP bootloader/tee/snp/microcode, TDX pcesvn). */
  readonly minTcb: Readonly<Record<string, number>>;
  /** Judged TCB statuses accepted without comment. */
  readonly tcbStatuses: readonly TcbStatus[];
  /** Judged TCB statuses accepted with a warning (explicit waivers). */
  readonly tcbWarnStatuses: readonly TcbStatus[];
  /** Accept `OutOfDate` with a warning while tcbDate + this many days ≥ now (THREATS.md §4 grace window; default none). */
  readonly outOfDateGraceDays?: number;
  /** Refuse evidence whose TCB could not be judged. */
  readonly requireTcbEvaluated: boolean;
  /** Highest SEV-SNP VMPL accepted (THREATS.md §5: VMPL 0). */
  readonly maxVmpl: number;
  /** Oldest evidence accepted, for formats that carry a timestamp. */
  readonly maxAgeSeconds?: number;
  /** SEV-SNP: accept a guest policy with MIGRATE_MA set (default false). */
  readonly allowMigrationAgent: boolean;
  /** TDX: require TD_ATTRIBUTES.SEPT_VE_DISABLE (THREATS.md §5; default false, most real quotes lack it). */
  readonly requireSeptVeDisable: boolean;
  /** Platform product names refused outright, e.g. ["Milan"] after a root-seed advisory (B22b). */
  readonly denyProducts: readonly string[];
}

/** A decoded appraisal policy. */
export interface AppraisalPolicy {
  readonly version: number;
  readonly allowSimulated: boolean;
  /** Undefined: every format is accepted under the default rules. */
  readonly platforms?: Readonly<Partial<Record<AttestationFormat, PlatformPolicy>>>;
}

/** Default rules for a platform: debug forbidden, UpToDate only when judged, unevaluated tolerated, VMPL 0, measurements not judged. */
export const DEFAULT_PLATFORM_POLICY: PlatformPolicy = Object.freeze<PlatformPolicy>({
  measurements: {},
  allowDebug: false,
  minTcb: {},
  tcbStatuses: ['UpToDate'],
  tcbWarnStatuses: [],
  requireTcbEvaluated: false,
  maxVmpl: 0,
  allowMigrationAgent: false,
  requireSeptVeDisable: false,
  denyProducts: [],
});

/** The built-in policy used without `--policy` (CONTRACTS.md). */
export const DEFAULT_POLICY: AppraisalPolicy = Object.freeze<AppraisalPolicy>({ version: POLICY_VERSION, allowSimulated: false });

const TCB_STATUSES: readonly string[] = ['UpToDate', 'SWHardeningNeeded', 'ConfigurationNeeded', 'ConfigurationAndSWHardeningNeeded', 'OutOfDate', 'OutOfDateConfigurationNeeded', 'Revoked', 'NotSupported'];
const HEX_RE = /^[0-9a-f]+$/;

function bad(message: string): never {
  return attestFail('E_ATTEST_POLICY', 'appraisal', `policy: ${message}`);
}

/** Parses and validates a policy document; unknown fields are refused. */
export function parsePolicy(input: string | Uint8Array): AppraisalPolicy {
  const f = new Fields(parseJson(input, POLICY_BYTES_MAX), 'policy');
  const version = f.int('version');
  if (version !== POLICY_VERSION) bad(`version ${version} is not supported (expected ${POLICY_VERSION})`);
  const allowSimulated = f.optRaw('allowSimulated') === undefined ? false : f.bool('allowSimulated');
  const raw = f.optRaw('platforms');
  let platforms: Partial<Record<AttestationFormat, PlatformPolicy>> | undefined;
  if (raw !== undefined) {
    const pf = new Fields(raw, 'policy.platforms');
    platforms = {};
    for (const name of Object.keys(raw as object)) {
      if (!(ATTESTATION_FORMATS as readonly string[]).includes(name)) bad(`unknown platform ${name}`);
      platforms[name as AttestationFormat] = parsePlatform(pf.obj(name));
    }
    pf.done();
  }
  f.done();
  return { version, allowSimulated, ...(platforms ? { platforms } : {}) };
}

function parsePlatform(f: Fields): PlatformPolicy {
  const opt = <T>(k: string, read: () => T, dflt: T): T => (f.optRaw(k) === undefined ? dflt : read());
  const measurements: Record<string, string[]> = {};
  const m = f.optRaw('measurements');
  if (m !== undefined) {
    const mf = new Fields(m, `${f.where}.measurements`);
    for (const name of Object.keys(m as object)) {
      measurements[name] = mf.arr(name, POLICY_VALUES_MAX).map((v) => {
        if (typeof v !== 'string' || !HEX_RE.test(v.toLowerCase())) bad(`${f.where}.measurements.${name} values must be hex strings`);
        return v.toLowerCase();
      });
    }
    mf.done();
  }
  const minTcb: Record<string, number> = {};
  const t = f.optRaw('minTcb');
  if (t !== undefined) {
    const tf = new Fields(t, `${f.where}.minTcb`);
    for (const name of Object.keys(t as object)) minTcb[name] = tf.int(name, 0, 0xffff);
    tf.done();
  }
  const statuses = (k: string, dflt: readonly TcbStatus[]): TcbStatus[] =>
    opt(
      k,
      () =>
        f.arr(k, 16).map((s: Json) => {
          if (typeof s !== 'string' || !TCB_STATUSES.includes(s)) bad(`${f.where}.${k} has an unknown TCB status`);
          return s as TcbStatus;
        }),
      [...dflt],
    );
  const grace = f.optRaw('outOfDateGraceDays') === undefined ? undefined : f.int('outOfDateGraceDays', 1, 365);
  const maxAge = f.optRaw('maxAgeSeconds') === undefined ? undefined : f.int('maxAgeSeconds', 1, 365 * 24 * 3600);
  const p: PlatformPolicy = {
    measurements,
    allowDebug: opt('allowDebug', () => f.bool('allowDebug'), false),
    minTcb,
    tcbStatuses: statuses('tcbStatuses', DEFAULT_PLATFORM_POLICY.tcbStatuses),
    tcbWarnStatuses: statuses('tcbWarnStatuses', []),
    requireTcbEvaluated: opt('requireTcbEvaluated', () => f.bool('requireTcbEvaluated'), false),
    maxVmpl: opt('maxVmpl', () => f.int('maxVmpl', 0, 3), 0),
    allowMigrationAgent: opt('allowMigrationAgent', () => f.bool('allowMigrationAgent'), false),
    requireSeptVeDisable: opt('requireSeptVeDisable', () => f.bool('requireSeptVeDisable'), false),
    denyProducts: opt(
      'denyProducts',
      () =>
        f.arr('denyProducts', 16).map((x: Json) => {
          if (typeof x !== 'string' || x.length > 64) bad(`${f.where}.denyProducts must list product names`);
          return x.toLowerCase();
        }),
      [],
    ),
    ...(maxAge !== undefined ? { maxAgeSeconds: maxAge } : {}),
    ...(grace !== undefined ? { outOfDateGraceDays: grace } : {}),
  };
  f.done();
  return p;
}

/**
 * `custodian init`, `custodian operator keygen`, `custodian manifest
 * create|sign|submit|show`: setting up an organisation.
 */
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { CustodianError } from '@custodian/core/errors';
import { parseJson, type Json } from '@custodian/core/canonical-json';
import { Fields } from '@custodian/core/fields';
import { bytesToHex } from '@custodian/core/bytes';
import { createSimRoot, type SimRoot } from '@custodian/attestation/sim/sim-evidence';
import { generateOperatorKey, type OperatorKeyAlg } from '@custodian/protocol/operator-key';
import { decodeManifest, decodeSignedManifest, encodeSignedManifest, manifestHash, MANIFEST_TYPE, ROLES, rulebookFilesDigest, signManifest } from '@custodian/protocol/manifest';
import { readRulebookFiles } from '@custodian/policy/rulebook-dir';
import { readKeyFile, writeKeyFile } from '../key-file.js';
import { emit, parseArgs, progress, UsageError } from '../output.js';
import { HostClient } from '../host-client.js';
import { encodeSignedBreakglassExecution, isManifestSuccessorAction } from '@custodian/protocol/breakglass-execution';
import { fetchSignedExecution, kbsCall } from './breakglass.js';

/** File name of the sim root inside a data directory (development only). */
export const SIM_ROOT_FILE = 'sim-root.json';

/** Creates a sim root file in `dataDir` (development TEE stand-in). */
export function initDataDir(dataDir: string): SimRoot {
  mkdirSync(dataDir, { recursive: true });
  const path = join(dataDir, SIM_ROOT_FILE);
  if (existsSync(path)) return readSimRoot(path);
  const root = createSimRoot();
  writeFileSync(path, JSON.stringify({ type: 'custodian.sim-root.v1', warning: 'DEVELOPMENT ONLY: simulated TEE root, never trusted in production', secretKey: bytesToHex(root.secretKey.expose()), publicKey: bytesToHex(root.publicKey) }, null, 2) + '\n', { mode: 0o600 });
  return root;
}

/** Reads a sim root file. */
export function readSimRoot(path: string): SimRoot {
  const f = new Fields(parseJson(readFileSync(path, 'utf8'), 4096), 'simRoot');
  f.str('type', 64);
  f.str('warning', 200);
  const root = createSimRoot(f.hex('secretKey', 32));
  f.hex('publicKey', 32);
  f.done();
  return root;
}

/**
 * The broker-signed execution of a `change-root-quorum` or
 * `upgrade-measurement` request (the signers verify it; this only refuses an
 * answer for another request or action early).
 */
async function fetchExecution(kbs: string, id: string): Promise<Json> {
  const signed = await fetchSignedExecution(kbs, id);
  if (!isManifestSuccessorAction(signed.execution.action)) {
    throw new CustodianError('E_BREAKGLASS_ACTION_MISMATCH', `break-glass request ${id} is a ${signed.execution.action}; a manifest is authorised by change-root-quorum or upgrade-measurement`, { id, action: signed.execution.action });
  }
  return encodeSignedBreakglassExecution(signed);
}

function one(values: Map<string, string[]>, name: string): string {
  const v = values.get(name)?.[0];
  if (v === undefined) throw new UsageError(`--${name} is required`);
  return v;
}

/** `custodian init --data-dir D` */
export async function initCommand(args: readonly string[], json: boolean): Promise<number> {
  const { values } = parseArgs(args, { strings: ['data-dir'] });
  const dir = one(values, 'data-dir');
  const root = initDataDir(dir);
  emit(json, { dataDir: dir, simRootPublicKey: bytesToHex(root.publicKey) }, `initialised ${dir}\nsim root (development only): ${bytesToHex(root.publicKey)}`);
  return 0;
}

/** `custodian operator keygen --out FILE [--alg ed25519|p256]` */
export async function operatorCommand(args: readonly string[], json: boolean): Promise<number> {
  const [sub, ...rest] = args;
  if (sub !== 'keygen') throw new UsageError('usage: custodian operator keygen --out FILE [--alg ed25519|p256]');
  const { values } = parseArgs(rest, { strings: ['out', 'alg'] });
  const alg = (values.get('alg')?.[0] ?? 'ed25519') as OperatorKeyAlg;
  if (alg !== 'ed25519' && alg !== 'p256') throw new UsageError('--alg must be ed25519 or p256');
  const out = one(values, 'out');
  const key = generateOperatorKey(alg);
  writeKeyFile(out, key);
  emit(json, { keyFile: out, alg, publicKey: bytesToHex(key.publicKey) }, `wrote ${out} (${alg})\npublic key: ${bytesToHex(key.publicKey)}`);
  return 0;
}

/** Parses `id=alice,roles=admin+approver,groups=treasury,key=FILE`. */
function parseOperatorSpec(spec: string): Json {
  const kv = new Map(spec.split(',').map((p) => p.split('=') as [string, string]));
  const id = kv.get('id');
  const keyPath = kv.get('key');
  if (!id || !keyPath) throw new UsageError(`operator "${spec}" needs id= and key=`);
  const roles = (kv.get('roles') ?? '').split('+').filter(Boolean);
  for (const r of roles) if (!(ROLES as readonly string[]).includes(r)) throw new UsageError(`unknown role ${r} (roles: ${ROLES.join(', ')})`);
  const key = readKeyFile(keyPath);
  return { id, name: kv.get('name') ?? id, roles, groups: (kv.get('groups') ?? '').split('+').filter(Boolean), publicKey: { alg: key.alg, key: bytesToHex(key.publicKey) } };
}

/** Builds a genesis manifest payload. */
export function buildManifestPayload(o: {
  orgId: string;
  chainId: bigint;
  operators: Json[];
  quorum: { threshold: number; members: string[] };
  measurements: string[];
  simRoot: Uint8Array;
  maxValueWei: bigint;
  allowlist: string[];
  approvals: { group: string; count: number };
  /** `rulebookFilesDigest` of the Cedar rulebook the signers must decide with (absent: the first policy). */
  rulebookDigest?: string;
}): Json {
  const payload: Json = {
    type: MANIFEST_TYPE,
    orgId: o.orgId,
    version: 1,
    previousHash: '',
    chainId: o.chainId.toString(),
    operators: o.operators,
    quorum: o.quorum,
    enclave: { platform: 'sim', measurements: o.measurements, simRoot: bytesToHex(o.simRoot) },
    policy: { maxValueWei: o.maxValueWei.toString(), allowlist: o.allowlist.map((a) => a.toLowerCase()), approvals: o.approvals, ...(o.rulebookDigest === undefined ? {} : { rulebookDigest: o.rulebookDigest }) },
  };
  decodeManifest(payload);
  return payload;
}

/** A rulebook directory's files as the host relays them to the signers (file name → hex bytes). */
export function rulebookFilesJson(files: ReadonlyMap<string, Uint8Array>): Json {
  const out: Record<string, Json> = {};
  for (const name of [...files.keys()].sort()) out[name] = bytesToHex(files.get(name)!);
  return out;
}

/** `custodian manifest create|sign|submit|show` */
export async function manifestCommand(args: readonly string[], json: boolean, hostUrl: string): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === 'create') {
    const { values } = parseArgs(rest, { strings: ['out', 'org', 'chain-id', 'sim-root', 'quorum', 'max-value-wei', 'approvals', 'rulebook'], multi: ['operator', 'measurement', 'allow'] });
    const [t, members] = one(values, 'quorum').split(':');
    const rulebookDir = values.get('rulebook')?.[0];
    // With a rulebook, the first policy's fields bound nothing: they default to empty.
    const [group, count] = (rulebookDir !== undefined && !values.has('approvals') ? 'none:0' : one(values, 'approvals')).split(':');
    const rulebookDigest = rulebookDir === undefined ? undefined : rulebookFilesDigest(readRulebookFiles(rulebookDir));
    const payload = buildManifestPayload({
      orgId: one(values, 'org'),
      chainId: BigInt(one(values, 'chain-id')),
      operators: (values.get('operator') ?? []).map(parseOperatorSpec),
      quorum: { threshold: Number(t), members: (members ?? '').split(',').filter(Boolean) },
      measurements: values.get('measurement') ?? [],
      simRoot: readSimRoot(one(values, 'sim-root')).publicKey,
      maxValueWei: BigInt(rulebookDir !== undefined && !values.has('max-value-wei') ? '0' : one(values, 'max-value-wei')),
      allowlist: values.get('allow') ?? [],
      approvals: { group: group ?? '', count: Number(count) },
      ...(rulebookDigest === undefined ? {} : { rulebookDigest }),
    });
    const out = one(values, 'out');
    writeFileSync(out, JSON.stringify({ payload, signatures: [] }, null, 2) + '\n');
    emit(json, { manifest: out, manifestHash: manifestHash(payload), rulebookDigest: rulebookDigest ?? null }, `wrote ${out}\nmanifest hash: ${manifestHash(payload)}${rulebookDigest ? `\nrulebook digest: ${rulebookDigest}` : ''}`);
    return 0;
  }
  if (sub === 'sign') {
    const { values } = parseArgs(rest, { strings: ['manifest', 'key', 'operator'] });
    const path = one(values, 'manifest');
    const signed = decodeSignedManifest(parseJson(readFileSync(path, 'utf8')));
    const m = decodeManifest(signed.payload);
    const operatorId = one(values, 'operator');
    if (!m.quorum.members.includes(operatorId)) throw new CustodianError('E_NOT_QUORUM_MEMBER', `${operatorId} is not a member of the root quorum`);
    const sig = signManifest(signed.payload, operatorId, readKeyFile(one(values, 'key')));
    const next = { payload: signed.payload, signatures: [...signed.signatures.filter((s) => s.operatorId !== operatorId), sig] };
    writeFileSync(path, JSON.stringify(encodeSignedManifest(next), null, 2) + '\n');
    emit(json, { manifest: path, signatures: next.signatures.length, threshold: m.quorum.threshold }, `signed by ${operatorId}: ${next.signatures.length} of ${m.quorum.threshold} signature(s)`);
    return 0;
  }
  if (sub === 'submit') {
    const { values } = parseArgs(rest, { strings: ['manifest', 'rulebook', 'breakglass-kbs', 'breakglass-id'] });
    const signed = encodeSignedManifest(decodeSignedManifest(parseJson(readFileSync(one(values, 'manifest'), 'utf8'))));
    const rulebookDir = values.get('rulebook')?.[0];
    const kbs = values.get('breakglass-kbs')?.[0];
    const breakglassId = values.get('breakglass-id')?.[0];
    if ((kbs === undefined) !== (breakglassId === undefined)) throw new UsageError('--breakglass-kbs and --breakglass-id go together');
    const breakglass = kbs === undefined ? null : await fetchExecution(kbs, breakglassId!);
    const body: Json = {
      ...(signed as Record<string, Json>),
      ...(rulebookDir === undefined ? {} : { rulebook: rulebookFilesJson(readRulebookFiles(rulebookDir)) }),
      ...(breakglass === null ? {} : { breakglass }),
    };
    const res = await new HostClient(hostUrl).post('/v1/manifest', body);
    const f = res as Record<string, Json>;
    if (kbs === undefined) {
      emit(json, res, `manifest ${String(f['manifestHash'])} installed on every signer`);
      return 0;
    }
    // The broker takes the same successor under the same request, so a new measurement gets its sealing key.
    const broker = (await kbsCall(kbs, 'POST', '/v1/manifest', { ...(signed as Record<string, Json>), breakglassId: breakglassId! })) as Record<string, Json>;
    emit(json, { ...f, breakglassId: breakglassId!, kbs: broker }, `manifest ${String(f['manifestHash'])} installed on every signer and by the key broker (version ${String(broker['version'])}) under break-glass request ${breakglassId!}`);
    return 0;
  }
  if (sub === 'show') {
    const res = await new HostClient(hostUrl).get('/v1/manifest');
    emit(json, res, JSON.stringify(res, null, 2));
    return 0;
  }
  progress('usage: custodian manifest create|sign|submit|show ...');
  throw new UsageError(`unknown manifest command ${sub ?? ''}`);
}

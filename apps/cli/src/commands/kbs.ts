/**
 * `custodian kbs serve`: runs the key broker over HTTP.
 *
 *   custodian kbs serve --data-dir DIR --quorum FILE [--host 127.0.0.1] [--port 8700]
 *     [--hsm software|softhsm|pkcs11] [--pkcs11-module PATH] [--pkcs11-token LABEL | --pkcs11-slot N]
 *     [--pkcs11-pin-env VAR] [--policy FILE] [--sim-root FILE] [--breakglass FILE] [--manifest FILE] [--json]
 *
 * `--hsm software` (the default) is the loudly-labelled software root;
 * `softhsm` creates a SoftHSM2 token inside DIR and uses it through PKCS#11;
 * `pkcs11` uses any module (Luna, CloudHSM, YubiHSM 2; apps/kbs/README.md).
 * The PIN is read from the environment variable named by --pkcs11-pin-env
 * (default CUSTODIAN_HSM_PIN), never from the command line. Evidence is
 * appraised with packages/attestation under `--policy` (default: the built-in
 * production policy, hardware TEEs only); `sim` evidence is accepted only
 * when the policy allows it and `--sim-root` names the development sim root
 * (the `sim-root.json` written by `custodian init`). `--breakglass FILE`
 * (`{ approvers: { threshold, members }, dailyThreshold, guardians, timelockMs }`)
 * enables the break-glass book that `custodian breakglass list` reads.
 * `--manifest FILE` (a signed organisation manifest, `{ payload, signatures }`)
 * anchors the broker's manifest chain: measurements listed by the latest
 * manifest get sealing keys; successors arrive by `POST /v1/manifest` with the
 * installed quorum's signatures. With `--json`, the ready line is
 * `{ ok, ready: true, url, hsm, dataDir, signingKey }`.
 *
 *   custodian kbs audit verify --file DIR/kbs-audit.jsonl (--kbs-key HEX | --kbs URL) [--json]
 *
 * checks the broker's audit file offline: every entry chained to the one
 * before and signed by the broker's `kbs-signing` key (apps/kbs/src/audit-chain.ts);
 * prints the number of entries, the head and the count of each kind, or the
 * first line that does not verify (exit 1).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseJson } from '@custodian/core/canonical-json';
import { bytesToHex } from '@custodian/core/bytes';
import { decodeSignedManifest } from '@custodian/protocol/manifest';
import { Secret } from '@custodian/core/secret';
import { decodeQuorum } from '@custodian/kbs/quorum';
import { openKbs, type RootConfig } from '@custodian/kbs/kbs-runtime';
import { createKbsServer, listenKbs } from '@custodian/kbs/server';
import { ensureSoftHsmToken } from '@custodian/kbs/hsm/softhsm-token';
import type { AppraiseFn } from '@custodian/kbs/appraisal';
import { attestationAppraiser } from '@custodian/kbs/attestation-appraiser';
import { DEFAULT_POLICY, parsePolicy } from '@custodian/attestation/policy';
import { systemClock } from '@custodian/core/clock';
import { readSimRoot } from './org.js';
import { kbsCall } from './breakglass.js';
import { decodeBreakglassConfig } from '@custodian/kbs/breakglass/breakglass-codec';
import { kbsPublicKeyFromHex, verifyKbsAuditLog } from '@custodian/kbs/audit-chain';
import { Fields } from '@custodian/core/fields';
import { emit, emitError, parseArgs, progress, UsageError } from '../output.js';

/** Default port of the key broker. */
export const KBS_PORT_DEFAULT = 8700;
/** Default environment variable holding the HSM PIN. */
export const KBS_PIN_ENV_DEFAULT = 'CUSTODIAN_HSM_PIN';
/** PIN of the development SoftHSM2 token created by `--hsm softhsm` (not a secret: development only). */
export const SOFTHSM_DEV_PIN = '1234';

const USAGE = `usage: custodian kbs serve --data-dir DIR --quorum FILE [--host H] [--port N] [--hsm software|softhsm|pkcs11]
       [--pkcs11-module PATH] [--pkcs11-token LABEL | --pkcs11-slot N] [--pkcs11-pin-env VAR]
       [--policy FILE] [--sim-root FILE] [--breakglass FILE] [--manifest FILE] [--json]`;

/** Entry point of `custodian kbs ...`; `appraise` overrides the appraisal built from --policy/--sim-root. */
export async function kbsCommand(args: readonly string[], appraise?: AppraiseFn): Promise<number> {
  const json = args.includes('--json');
  try {
    const [sub, ...rest] = args;
    if (sub === 'audit' && rest[0] === 'verify') return await auditVerify(rest.slice(1), json);
    if (sub !== 'serve') throw new UsageError(USAGE);
    return await serve(rest, json, appraise);
  } catch (e) {
    return emitError(json, e);
  }
}

async function auditVerify(args: readonly string[], json: boolean): Promise<number> {
  const { values } = parseArgs(args, { strings: ['file', 'kbs-key', 'kbs'], booleans: ['json'] });
  const file = one(values, 'file');
  const keyHex = one(values, 'kbs-key');
  const url = one(values, 'kbs');
  if (file === undefined || (keyHex === undefined) === (url === undefined)) throw new UsageError(`${USAGE}\n       custodian kbs audit verify --file F (--kbs-key HEX | --kbs URL) [--json]`);
  const key = kbsPublicKeyFromHex(keyHex ?? (await brokerSigningKey(url!)));
  const { entries, head } = verifyKbsAuditLog(readFileSync(file), key);
  const kinds: Record<string, number> = {};
  for (const e of entries) kinds[e.kind] = (kinds[e.kind] ?? 0) + 1;
  emit(json, { ok: true, entries: head.size, headHash: head.headHash, kinds }, `${file}: ${head.size} entries, chained and signed by the key broker; head ${head.headHash}\n${Object.entries(kinds).map(([k, n]) => `  ${k}: ${n}`).join('\n')}`);
  return 0;
}

/** The broker's signing key from `GET /v1/kbs-public-key` (checked against a pin by whoever runs this). */
async function brokerSigningKey(url: string): Promise<string> {
  // kbsCall: bounded answer, the broker's refusals passed on (a 4xx/5xx body is never read as the key).
  return new Fields(await kbsCall(url, 'GET', '/v1/kbs-public-key'), 'kbs-public-key').str('signing', 130, /^04[0-9a-f]{128}$/);
}

function one(values: Map<string, string[]>, name: string): string | undefined {
  return values.get(name)?.[0];
}

function rootConfig(values: Map<string, string[]>, dataDir: string): RootConfig {
  const hsm = one(values, 'hsm') ?? 'software';
  if (hsm === 'software') return { kind: 'software' };
  if (hsm === 'softhsm') {
    const t = ensureSoftHsmToken(join(dataDir, 'softhsm'), 'custodian-kbs', SOFTHSM_DEV_PIN);
    return { kind: 'pkcs11', modulePath: t.modulePath, tokenLabel: t.tokenLabel, pin: new Secret(SOFTHSM_DEV_PIN) };
  }
  if (hsm !== 'pkcs11') throw new UsageError(`--hsm must be software, softhsm or pkcs11\n${USAGE}`);
  const modulePath = one(values, 'pkcs11-module');
  if (modulePath === undefined) throw new UsageError(`--hsm pkcs11 needs --pkcs11-module\n${USAGE}`);
  const tokenLabel = one(values, 'pkcs11-token');
  const slot = one(values, 'pkcs11-slot');
  if ((tokenLabel === undefined) === (slot === undefined)) throw new UsageError(`give exactly one of --pkcs11-token and --pkcs11-slot\n${USAGE}`);
  if (slot !== undefined && !/^[0-9]{1,3}$/.test(slot)) throw new UsageError('--pkcs11-slot must be a small non-negative integer');
  const pinEnv = one(values, 'pkcs11-pin-env') ?? KBS_PIN_ENV_DEFAULT;
  const pin = process.env[pinEnv];
  if (pin === undefined || pin === '') throw new UsageError(`set the HSM PIN in the environment variable ${pinEnv}`);
  return { kind: 'pkcs11', modulePath, pin: new Secret(pin), ...(tokenLabel !== undefined ? { tokenLabel } : { slotIndex: Number(slot) }) };
}

async function serve(args: readonly string[], json: boolean, appraise: AppraiseFn | undefined): Promise<number> {
  const { values } = parseArgs(args, { strings: ['data-dir', 'quorum', 'host', 'port', 'hsm', 'pkcs11-module', 'pkcs11-token', 'pkcs11-slot', 'pkcs11-pin-env', 'policy', 'sim-root', 'breakglass', 'manifest'], booleans: ['json'] });
  const dataDir = one(values, 'data-dir');
  const quorumFile = one(values, 'quorum');
  if (dataDir === undefined || quorumFile === undefined) throw new UsageError(USAGE);
  const port = Number(one(values, 'port') ?? KBS_PORT_DEFAULT);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError('--port must be 0..65535');
  const host = one(values, 'host') ?? '127.0.0.1';
  const quorum = decodeQuorum(parseJson(readFileSync(quorumFile)), 'quorum');
  const policyFile = one(values, 'policy');
  const simRootFile = one(values, 'sim-root');
  const policy = policyFile === undefined ? DEFAULT_POLICY : parsePolicy(readFileSync(policyFile));
  const appraiseFn =
    appraise ??
    attestationAppraiser({ policy, clock: systemClock, ...(simRootFile !== undefined ? { simRootPublicKey: readSimRoot(simRootFile).publicKey } : {}) });
  const bgFile = one(values, 'breakglass');
  const breakglass = bgFile === undefined ? undefined : decodeBreakglassConfig(parseJson(readFileSync(bgFile)));
  const manifestFile = one(values, 'manifest');
  const manifest = manifestFile === undefined ? undefined : decodeSignedManifest(parseJson(readFileSync(manifestFile)));
  const rt = await openKbs({ dataDir, root: rootConfig(values, dataDir), quorum, appraise: appraiseFn, warn: progress, ...(breakglass ? { breakglass } : {}), ...(manifest ? { manifest } : {}) });
  const server = createKbsServer({
    broker: rt.broker,
    root: rt.root,
    measurements: rt.measurements,
    manifests: rt.manifests,
    trustedClock: rt.trustedClock,
    ...(rt.breakglass ? { breakglass: rt.breakglass } : {}),
  });
  const url = await listenKbs(server, host, port);
  const current = rt.manifests.current();
  const signingKey = bytesToHex(await rt.root.publicKey('kbs-signing'));
  if (current) progress(`key broker holds organisation manifest ${current.orgId} version ${current.version}: ${current.enclave.measurements.length} approved measurement(s)`);
  emit(json, { ok: true, ready: true, url, hsm: rt.root.kind, dataDir, signingKey }, `key broker listening on ${url} (root: ${rt.root.kind}; signing key ${signingKey})`);
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      server.close(() => resolve());
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await rt.close();
  progress(`key broker stopped; ${rt.broker.releaseCount} key release(s)`);
  return 0;
}

/**
 * A whole Custodian deployment on one machine with embedded defaults: the
 * enclave bundle built and measured, a sim root, anvil, three sim signers as
 * separate processes, the host on SQLite, five operators with their keys, and
 * a genesis manifest signed by the root quorum. Used by the demo, the
 * integration tests and the benchmarks.
 *
 * With `kbs`, a key broker (`custodian kbs serve`) runs beside them on the
 * software root or on a SoftHSM2 token created in its data directory
 * (PKCS#11); it holds the genesis manifest, whose measurements it approves,
 * and the signers obtain their sealing keys from it by attested release
 * (`custodian signer --kbs URL`). The manifest is therefore signed before
 * the signers start.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '@custodian/core/vectors';
import { bytesToHex } from '@custodian/core/bytes';
import { generateOperatorKey, type OperatorKeyAlg } from '@custodian/protocol/operator-key';
import { encodeSignedManifest, rulebookFilesDigest, signManifest, type SignedManifest } from '@custodian/protocol/manifest';
import { readRulebookFiles } from '@custodian/policy/rulebook-dir';
import type { Json } from '@custodian/core/canonical-json';
import { buildEnclave } from '../build-enclave.js';
import { buildManifestPayload, initDataDir, rulebookFilesJson, SIM_ROOT_FILE } from '../../apps/cli/src/commands/org.js';
import { writeKeyFile } from '../../apps/cli/src/key-file.js';
import { HostClient } from '../../apps/cli/src/host-client.js';
import type { Actor } from '../../apps/cli/src/operations.js';
import { fetchKbsLink } from '@custodian/host/sim-launcher';
import { startAnvil, startHostProcess, startKbsProcess, startSigner, type Proc, type SignerExtras } from './processes.js';

/** A funded anvil account used as the transfer destination (anvil's account #1). */
export const DEMO_RECIPIENT = '0x70997970C51812dc3A010C7d01b50e0d17dc79C8';
/** anvil's chain id. */
export const ANVIL_CHAIN_ID = 31337n;
/** The demo's organisation id. */
export const DEMO_ORG = 'acme-treasury';

/** Operators of the demo organisation and their roles. */
export const DEMO_OPERATORS: readonly { id: string; roles: string[]; groups: string[]; alg: OperatorKeyAlg }[] = [
  { id: 'alice', roles: ['admin'], groups: [], alg: 'ed25519' },
  { id: 'dave', roles: ['initiator'], groups: [], alg: 'ed25519' },
  { id: 'bob', roles: ['approver'], groups: ['treasury'], alg: 'ed25519' },
  { id: 'carol', roles: ['approver'], groups: ['treasury'], alg: 'p256' },
  { id: 'erin', roles: ['guardian', 'auditor', 'approver'], groups: ['risk'], alg: 'ed25519' },
  { id: 'frank', roles: ['initiator', 'approver'], groups: ['treasury'], alg: 'ed25519' },
];

/** A running deployment. */
export interface Deployment {
  readonly dataDir: string;
  readonly measurement: string;
  readonly anvil: Proc & { url: string };
  readonly signers: Proc[];
  host: Proc;
  /** The key broker, when the deployment runs one. */
  readonly kbs: RunningKbs | null;
  readonly client: HostClient;
  readonly actors: Readonly<Record<string, Actor>>;
  readonly signedManifest: SignedManifest;
  /** The rulebook files sent with the manifest (null: the first policy). */
  readonly rulebookFiles: ReadonlyMap<string, Uint8Array> | null;
  /** Restarts the host process on the same data directory and port. */
  restartHost(): Promise<void>;
  /** Restarts every signer and the host (same data, same ports). */
  restartAll(): Promise<void>;
  /** Restarts one signer (same data, same port) while the host keeps running. */
  restartSigner(index: number): Promise<void>;
  /** How many sealing keys the key broker released since it started (0 without one). */
  keyReleases(): Promise<number>;
  stop(): Promise<void>;
}

/** Options of `startDeployment`. */
export interface DeploymentOptions {
  readonly dataDir: string;
  readonly log?: (line: string) => void;
  readonly maxValueWei?: bigint;
  readonly allowlist?: readonly string[];
  readonly approvals?: number;
  /** Install the manifest (default true). */
  readonly install?: boolean;
  /** Run the host on PostgreSQL instead of SQLite. */
  readonly store?: { url: string; schema: string };
  /**
   * A Cedar rulebook directory (e.g. `DEMO_RULEBOOK_DIR`): its digest is
   * pinned in the manifest and its files go to the signers with it; the first
   * policy's options then bound nothing.
   */
  readonly rulebook?: string;
  /**
   * Run a key broker on this root and have the signers obtain their sealing
   * keys from it (absent: the sim launcher derives them, no broker).
   */
  readonly kbs?: 'software' | 'softhsm' | ExternalKbs;
}

/** A key broker the deployment's signers use. */
export interface RunningKbs {
  readonly url: string;
  readonly hsm: 'pkcs11' | 'software';
  readonly dataDir: string;
  stop(): Promise<void>;
}

/**
 * Starts a broker the caller runs itself (a test's in-process broker with a
 * driven clock), anchored on the deployment's genesis manifest and
 * appraising evidence of its sim root.
 */
export type ExternalKbs = (o: { readonly dataDir: string; readonly manifest: SignedManifest; readonly simRootFile: string; readonly actors: Readonly<Record<string, Actor>> }) => Promise<RunningKbs>;

/** The demo rulebook (anvil; 2 treasury approvals up to 1 ETH to the address book). */
export const DEMO_RULEBOOK_DIR = join(REPO_ROOT, 'examples/policies/demo');

/** Starts everything and installs the genesis manifest. */
export async function startDeployment(o: DeploymentOptions): Promise<Deployment> {
  const log = o.log ?? (() => undefined);
  mkdirSync(o.dataDir, { recursive: true });
  const measurement = await buildEnclave(REPO_ROOT);
  log(`enclave bundle built; measurement (SHA-384) ${measurement}`);
  const root = initDataDir(o.dataDir);
  log(`sim root created (development only): ${bytesToHex(root.publicKey).slice(0, 16)}…`);
  mkdirSync(join(o.dataDir, 'operators'), { recursive: true });
  const actors: Record<string, Actor> = {};
  const operators: Json[] = [];
  for (const op of DEMO_OPERATORS) {
    const key = generateOperatorKey(op.alg);
    writeKeyFile(join(o.dataDir, 'operators', `${op.id}.key.json`), key);
    actors[op.id] = { operatorId: op.id, key };
    operators.push({ id: op.id, name: op.id, roles: op.roles, groups: op.groups, publicKey: { alg: op.alg, key: bytesToHex(key.publicKey) } });
  }
  log(`operator keys: ${DEMO_OPERATORS.map((d) => `${d.id} (${d.roles.join('+')}, ${d.alg})`).join(', ')}`);
  const rulebookFiles = o.rulebook === undefined ? null : readRulebookFiles(o.rulebook);
  const payload = buildManifestPayload({
    orgId: DEMO_ORG,
    chainId: ANVIL_CHAIN_ID,
    operators,
    quorum: { threshold: 2, members: ['alice', 'bob', 'carol'] },
    measurements: [measurement],
    simRoot: root.publicKey,
    maxValueWei: o.maxValueWei ?? 10n ** 18n,
    allowlist: [...(o.allowlist ?? [DEMO_RECIPIENT])],
    approvals: { group: 'treasury', count: o.approvals ?? 2 },
    ...(rulebookFiles === null ? {} : { rulebookDigest: rulebookFilesDigest(rulebookFiles) }),
  });
  const signedManifest: SignedManifest = { payload, signatures: [signManifest(payload, 'alice', actors['alice']!.key), signManifest(payload, 'bob', actors['bob']!.key)] };

  const simRoot = join(o.dataDir, SIM_ROOT_FILE);
  const started = await Promise.allSettled([startAnvil((l) => log(`anvil: ${l}`)), o.kbs === undefined ? Promise.resolve(null) : typeof o.kbs === 'function' ? o.kbs({ dataDir: o.dataDir, manifest: signedManifest, simRootFile: simRoot, actors }) : startKbs(o.dataDir, o.kbs, signedManifest, simRoot, actors, log)]);
  const [anvilStart, kbsStart] = started;
  if (anvilStart.status === 'rejected' || kbsStart.status === 'rejected') {
    // Nothing half-started is left behind.
    await Promise.all(started.map((r) => (r.status === 'fulfilled' ? r.value?.stop() : undefined)));
    throw anvilStart.status === 'rejected' ? anvilStart.reason : (kbsStart as PromiseRejectedResult).reason;
  }
  const anvil = anvilStart.value;
  const kbs = kbsStart.value;
  log(`anvil (local Ethereum node) at ${anvil.url}`);
  const extras: SignerExtras = kbs ? { kbs: kbs.url } : {};
  const signerIds = ['signer-1', 'signer-2', 'signer-3'];
  const signerStarts = await Promise.allSettled(signerIds.map((id) => startSigner(id, join(o.dataDir, 'signers', id), simRoot, (l) => log(`${id}: ${l}`), 0, extras)));
  const failed = signerStarts.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) {
    await Promise.all([...signerStarts.map((r) => (r.status === 'fulfilled' ? r.value.stop() : undefined)), anvil.stop(), kbs?.stop()]);
    throw failed.reason;
  }
  const signers = signerStarts.map((r) => (r as PromiseFulfilledResult<Proc>).value);
  const ports = signers.map((s, i) => ({ id: signerIds[i]!, port: Number(s.ready['port']) }));
  for (const p of ports) log(`signer ${p.id} started (separate process, sim platform) on port ${p.port}${kbs ? '; sealing key released by the key broker after appraising its attestation' : ''}`);
  let host: Proc;
  let hostKbsKey: Uint8Array | undefined;
  try {
    // With a broker, the host requires each signer's workload credential from it (its signing key, as the signers were given it).
    hostKbsKey = kbs ? await fetchKbsLink(kbs.url).then((l) => l.publicKey) : undefined;
    host = await startHostProcess(join(o.dataDir, 'host'), ports, anvil.url, (l) => log(l), 0, o.store, [], hostKbsKey);
  } catch (e) {
    await Promise.all([...signers.map((p) => p.stop()), anvil.stop(), kbs?.stop()]);
    throw e;
  }
  const hostPort = Number(host.ready['port']);
  const client = new HostClient(String(host.ready['url']));
  log(`host API at ${String(host.ready['url'])} (SQLite: ${join(o.dataDir, 'host', 'host.sqlite')})`);

  if (o.install !== false) {
    const body = encodeSignedManifest(signedManifest) as Record<string, Json>;
    await client.post('/v1/manifest', rulebookFiles === null ? body : { ...body, rulebook: rulebookFilesJson(rulebookFiles) });
    log('manifest signed by alice and bob (quorum 2 of 3) and installed; every signer verified its peers’ evidence');
    if (rulebookFiles !== null) log(`Cedar rulebook ${o.rulebook ?? ''} pinned by digest ${rulebookFilesDigest(rulebookFiles).slice(0, 16)}… and installed on every signer`);
  }
  const d: Deployment = {
    dataDir: o.dataDir,
    measurement,
    anvil,
    signers,
    host,
    kbs,
    client,
    actors,
    signedManifest,
    rulebookFiles,
    restartHost: async () => {
      await d.host.stop();
      host = await startHostProcess(join(o.dataDir, 'host'), ports, anvil.url, (l) => log(l), hostPort, o.store, [], hostKbsKey);
      d.host = host;
    },
    restartAll: async () => {
      await d.host.stop();
      await Promise.all(d.signers.map((s) => s.stop()));
      const fresh = await Promise.all(ports.map((p) => startSigner(p.id, join(o.dataDir, 'signers', p.id), simRoot, (l) => log(`${p.id}: ${l}`), p.port, extras)));
      d.signers.splice(0, d.signers.length, ...fresh);
      host = await startHostProcess(join(o.dataDir, 'host'), ports, anvil.url, (l) => log(l), hostPort, o.store, [], hostKbsKey);
      d.host = host;
    },
    restartSigner: async (i) => {
      const p = ports[i]!;
      await d.signers[i]!.stop();
      // A start that fails leaves the old (stopped) process in place.
      d.signers[i] = await startSigner(p.id, join(o.dataDir, 'signers', p.id), simRoot, (l) => log(`${p.id}: ${l}`), p.port, extras);
    },
    keyReleases: async () => {
      if (!kbs) return 0;
      const h = (await (await fetch(`${kbs.url}/v1/health`)).json()) as { releases?: unknown };
      return typeof h.releases === 'number' ? h.releases : 0;
    },
    stop: async () => {
      await d.host.stop();
      await Promise.all(d.signers.map((s) => s.stop()));
      await anvil.stop();
      await kbs?.stop();
    },
  };
  return d;
}

/**
 * Starts the key broker in DIR/kbs: its quorum (the manifest quorum members
 * with Ed25519 keys, for measurement-change records), an appraisal policy
 * that accepts `sim` evidence from this deployment's sim root (development
 * only), and the genesis manifest as the anchor of its manifest chain.
 */
async function startKbs(
  dataDir: string,
  hsm: 'software' | 'softhsm',
  manifest: SignedManifest,
  simRootFile: string,
  actors: Readonly<Record<string, Actor>>,
  log: (l: string) => void,
): Promise<Proc & { url: string; hsm: 'pkcs11' | 'software'; dataDir: string }> {
  const kbsDir = join(dataDir, 'kbs');
  const config = join(dataDir, 'kbs-config');
  mkdirSync(config, { recursive: true });
  const member = (id: string) => ({ id, publicKey: bytesToHex(actors[id]!.key.publicKey) });
  const members = ['alice', 'bob'].map(member);
  writeFileSync(join(config, 'quorum.json'), JSON.stringify({ threshold: 2, members }) + '\n');
  writeFileSync(join(config, 'policy.json'), JSON.stringify({ version: 1, allowSimulated: true }) + '\n');
  writeFileSync(join(config, 'manifest.json'), JSON.stringify(encodeSignedManifest(manifest)) + '\n');
  // Break-glass: 3 of alice, bob and frank (daily operations need 2), erin the guardian, the default 48 h time-lock.
  writeFileSync(join(config, 'breakglass.json'), JSON.stringify({ approvers: { threshold: 3, members: ['alice', 'bob', 'frank'].map(member) }, dailyThreshold: 2, guardians: [member('erin')] }) + '\n');
  const p = await startKbsProcess({
    dataDir: kbsDir,
    hsm,
    quorumFile: join(config, 'quorum.json'),
    policyFile: join(config, 'policy.json'),
    simRootFile,
    manifestFile: join(config, 'manifest.json'),
    breakglassFile: join(config, 'breakglass.json'),
    log: (l) => log(`kbs: ${l}`),
  });
  const root = p.ready['hsm'] === 'pkcs11' ? 'pkcs11' : 'software';
  log(
    `key broker at ${String(p.ready['url'])} on the ${root === 'pkcs11' ? `PKCS#11 root (SoftHSM2 token in ${join(kbsDir, 'softhsm')})` : 'software root (embedded default, development only)'}; it holds the genesis manifest and releases sealing keys to its measurements only`,
  );
  return { ...p, url: String(p.ready['url']), hsm: root, dataDir: kbsDir };
}

/** Gives `address` a balance on anvil (development chain only). */
export async function fund(anvilUrl: string, address: string, wei: bigint): Promise<void> {
  await fetch(anvilUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'anvil_setBalance', params: [address, '0x' + wei.toString(16)] }) });
}

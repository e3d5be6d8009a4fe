/**
 * A whole Custodian deployment on one machine with embedded defaults: the
 * enclave bundle built and measured, a sim root, anvil, three sim signers as
 * separate processes, the host on SQLite, five operators with their keys, and
 * a genesis manifest signed by the root quorum. Used by the demo, the
 * integration tests and the benchmarks.
 */
import { mkdirSync } from 'node:fs';
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
import { startAnvil, startHostProcess, startSigner, type Proc } from './processes.js';

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
}

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
  const anvil = await startAnvil((l) => log(`anvil: ${l}`));
  log(`anvil (local Ethereum node) at ${anvil.url}`);
  const signerIds = ['signer-1', 'signer-2', 'signer-3'];
  const simRoot = join(o.dataDir, SIM_ROOT_FILE);
  const signers = await Promise.all(signerIds.map((id) => startSigner(id, join(o.dataDir, 'signers', id), simRoot, (l) => log(`${id}: ${l}`))));
  const ports = signers.map((s, i) => ({ id: signerIds[i]!, port: Number(s.ready['port']) }));
  for (const p of ports) log(`signer ${p.id} started (separate process, sim platform) on port ${p.port}`);
  let host = await startHostProcess(join(o.dataDir, 'host'), ports, anvil.url, (l) => log(l), 0, o.store);
  const hostPort = Number(host.ready['port']);
  const client = new HostClient(String(host.ready['url']));
  log(`host API at ${String(host.ready['url'])} (SQLite: ${join(o.dataDir, 'host', 'host.sqlite')})`);

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
    client,
    actors,
    signedManifest,
    rulebookFiles,
    restartHost: async () => {
      await d.host.stop();
      host = await startHostProcess(join(o.dataDir, 'host'), ports, anvil.url, (l) => log(l), hostPort, o.store);
      d.host = host;
    },
    restartAll: async () => {
      await d.host.stop();
      await Promise.all(d.signers.map((s) => s.stop()));
      const fresh = await Promise.all(ports.map((p) => startSigner(p.id, join(o.dataDir, 'signers', p.id), simRoot, (l) => log(`${p.id}: ${l}`), p.port)));
      d.signers.splice(0, d.signers.length, ...fresh);
      host = await startHostProcess(join(o.dataDir, 'host'), ports, anvil.url, (l) => log(l), hostPort, o.store);
      d.host = host;
    },
    restartSigner: async (i) => {
      const p = ports[i]!;
      await d.signers[i]!.stop();
      // A start that fails leaves the old (stopped) process in place.
      d.signers[i] = await startSigner(p.id, join(o.dataDir, 'signers', p.id), simRoot, (l) => log(`${p.id}: ${l}`), p.port);
    },
    stop: async () => {
      await d.host.stop();
      await Promise.all(d.signers.map((s) => s.stop()));
      await anvil.stop();
    },
  };
  return d;
}

/** Gives `address` a balance on anvil (development chain only). */
export async function fund(anvilUrl: string, address: string, wei: bigint): Promise<void> {
  await fetch(anvilUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'anvil_setBalance', params: [address, '0x' + wei.toString(16)] }) });
}

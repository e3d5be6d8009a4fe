/**
 * Long-running processes: `custodian signer --platform sim ...` (the sim
 * launcher and its enclave) and `custodian serve ...` (the host). Each prints
 * one JSON line `{"ready":true,...}` on stdout once it serves, and stops
 * cleanly on SIGTERM/SIGINT.
 */
import { join } from 'node:path';
import { startSimSigner } from '@custodian/host/sim-launcher';
import { startHost } from '@custodian/host/server';
import { parseSignerSpec } from '@custodian/host/signer-link';
import { REPO_ROOT } from '@custodian/core/vectors';
import { parseArgs, progress, UsageError } from '../output.js';
import { readSimRoot, SIM_ROOT_FILE } from './org.js';

function waitForSignal(stop: () => Promise<void>): Promise<number> {
  return new Promise((resolve) => {
    const onSignal = (): void => {
      void stop().then(() => resolve(0));
    };
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
  });
}

/** `custodian signer --platform sim --id ID --data-dir D [--port N] [--bundle FILE] [--sim-root FILE]` */
export async function signerCommand(args: readonly string[]): Promise<number> {
  const { values } = parseArgs(args, { strings: ['platform', 'id', 'data-dir', 'port', 'bundle', 'sim-root'] });
  if (values.get('platform')?.[0] !== 'sim') throw new UsageError('only --platform sim runs on this machine; real TEEs need their hardware');
  const signerId = values.get('id')?.[0];
  const dataDir = values.get('data-dir')?.[0];
  if (!signerId || !dataDir) throw new UsageError('--id and --data-dir are required');
  const root = readSimRoot(values.get('sim-root')?.[0] ?? join(dataDir, '..', SIM_ROOT_FILE));
  const signer = await startSimSigner({
    signerId,
    dataDir,
    root,
    port: Number(values.get('port')?.[0] ?? '0'),
    bundlePath: values.get('bundle')?.[0] ?? join(REPO_ROOT, 'dist/enclave/enclave.mjs'),
  });
  progress(`signer ${signerId} (sim) listening on 127.0.0.1:${signer.port}, measurement ${signer.measurement}`);
  process.stdout.write(JSON.stringify({ ready: true, signerId, port: signer.port, measurement: signer.measurement }) + '\n');
  signer.child.once('exit', (code) => {
    progress(`enclave ${signerId} exited (${code})`);
    process.exit(code === 0 ? 0 : 3);
  });
  return waitForSignal(() => signer.stop());
}

/** `custodian serve --data-dir D [--port N] --signer id=host:port ... [--eth-rpc URL] [--store postgres://… [--store-schema S]] [--witness VKEY@URL ...]` */
export async function serveCommand(args: readonly string[]): Promise<number> {
  const { values } = parseArgs(args, { strings: ['data-dir', 'port', 'eth-rpc', 'store', 'store-schema'], multi: ['signer', 'witness'] });
  // --witness VKEY@URL (a vkey never contains '@').
  const witnesses = (values.get('witness') ?? []).map((w) => {
    const at = w.indexOf('@');
    if (at <= 0) throw new UsageError('--witness takes VKEY@URL');
    return { vkey: w.slice(0, at), url: w.slice(at + 1) };
  });
  const storeUrl = values.get('store')?.[0];
  if (storeUrl !== undefined && !/^postgres(ql)?:\/\//.test(storeUrl)) throw new UsageError('--store takes a postgres:// URL (SQLite in --data-dir is the default)');
  const storeSchema = values.get('store-schema')?.[0];
  const dataDir = values.get('data-dir')?.[0];
  if (!dataDir) throw new UsageError('--data-dir is required');
  const host = await startHost({
    dataDir,
    port: Number(values.get('port')?.[0] ?? '8740'),
    signers: (values.get('signer') ?? []).map(parseSignerSpec),
    ethRpcUrl: values.get('eth-rpc')?.[0] ?? null,
    ...(storeUrl ? { storeUrl } : {}),
    ...(storeSchema ? { storeSchema } : {}),
    witnesses,
    log: (l) => progress(`host: ${l}`),
  });
  progress(`host listening on ${host.url} (${storeUrl ? `PostgreSQL schema ${storeSchema ?? 'custodian'}` : `SQLite in ${dataDir}`})`);
  process.stdout.write(JSON.stringify({ ready: true, url: host.url, port: host.port, auditLog: host.auditLogDir }) + '\n');
  return waitForSignal(() => host.close());
}

/**
 * Long-running processes: `custodian signer --platform sim ...` (the sim
 * launcher and its enclave) and `custodian serve ...` (the host). Each prints
 * one JSON line `{"ready":true,...}` on stdout once it serves, and stops
 * cleanly on SIGTERM/SIGINT.
 */
import { join } from 'node:path';
import { fetchKbsLink, startSimSigner } from '@custodian/host/sim-launcher';
import { hexToBytes } from '@custodian/core/bytes';
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

/**
 * `custodian signer --platform sim --id ID --data-dir D [--port N] [--bundle FILE] [--sim-root FILE] [--kbs URL [--kbs-key HEX]]`
 *
 * With `--kbs`, the enclave obtains its sealing key from the key broker by
 * attested release (the launcher only forwards the bytes); `--kbs-key` pins
 * the broker's signing key (hex SEC1), otherwise it is read from the broker
 * at start. A refusal stops the boot with the broker's reasons.
 */
export async function signerCommand(args: readonly string[]): Promise<number> {
  const { values } = parseArgs(args, { strings: ['platform', 'id', 'data-dir', 'port', 'bundle', 'sim-root', 'kbs', 'kbs-key'] });
  if (values.get('platform')?.[0] !== 'sim') throw new UsageError('only --platform sim runs on this machine; real TEEs need their hardware');
  const signerId = values.get('id')?.[0];
  const dataDir = values.get('data-dir')?.[0];
  if (!signerId || !dataDir) throw new UsageError('--id and --data-dir are required');
  const root = readSimRoot(values.get('sim-root')?.[0] ?? join(dataDir, '..', SIM_ROOT_FILE));
  const kbsUrl = values.get('kbs')?.[0];
  const kbsKey = values.get('kbs-key')?.[0];
  if (kbsKey !== undefined && kbsUrl === undefined) throw new UsageError('--kbs-key needs --kbs URL');
  if (kbsKey !== undefined && !/^04[0-9a-f]{128}$/.test(kbsKey)) throw new UsageError('--kbs-key takes the broker signing key as uncompressed SEC1 hex (130 lower-case hex digits)');
  const kbs = kbsUrl === undefined ? undefined : await fetchKbsLink(kbsUrl, kbsKey === undefined ? undefined : hexToBytes(kbsKey));
  const signer = await startSimSigner({
    ...(kbs ? { kbs } : {}),
    signerId,
    dataDir,
    root,
    port: Number(values.get('port')?.[0] ?? '0'),
    bundlePath: values.get('bundle')?.[0] ?? join(REPO_ROOT, 'dist/enclave/enclave.mjs'),
  });
  const sealingKey = kbs ? 'kbs' : 'launcher';
  progress(`signer ${signerId} (sim) listening on 127.0.0.1:${signer.port}, measurement ${signer.measurement}, sealing key ${kbs ? `released by the key broker at ${kbs.url}` : 'derived by the sim launcher'}`);
  process.stdout.write(JSON.stringify({ ready: true, signerId, port: signer.port, measurement: signer.measurement, sealingKey }) + '\n');
  signer.child.once('exit', (code) => {
    progress(`enclave ${signerId} exited (${code})`);
    process.exit(code === 0 ? 0 : 3);
  });
  return waitForSignal(() => signer.stop());
}

/**
 * `custodian serve --data-dir D [--port N] --signer id=host:port ... [--eth-rpc URL] [--store postgres://… [--store-schema S]] [--witness VKEY@URL ...] [--kbs-key HEX]`
 *
 * With `--kbs-key` (the key broker's signing key), the host uses a signer
 * only with a valid workload credential from that broker.
 */
export async function serveCommand(args: readonly string[]): Promise<number> {
  const { values } = parseArgs(args, { strings: ['data-dir', 'port', 'eth-rpc', 'store', 'store-schema', 'kbs-key'], multi: ['signer', 'witness'] });
  const kbsKey = values.get('kbs-key')?.[0];
  if (kbsKey !== undefined && !/^04[0-9a-f]{128}$/.test(kbsKey)) throw new UsageError('--kbs-key takes the broker signing key as uncompressed SEC1 hex (130 lower-case hex digits)');
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
    ...(kbsKey !== undefined ? { kbsPublicKey: hexToBytes(kbsKey) } : {}),
    log: (l) => progress(`host: ${l}`),
  });
  progress(`host listening on ${host.url} (${storeUrl ? `PostgreSQL schema ${storeSchema ?? 'custodian'}` : `SQLite in ${dataDir}`})`);
  process.stdout.write(JSON.stringify({ ready: true, url: host.url, port: host.port, auditLog: host.auditLogDir }) + '\n');
  return waitForSignal(() => host.close());
}

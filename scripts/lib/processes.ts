/**
 * Starting and stopping the real processes of a Custodian deployment on one
 * machine (anvil, sim signers, host), for the demo, the integration tests and
 * the benchmarks. Each child prints a JSON "ready" line on stdout.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { REPO_ROOT } from '@custodian/core/vectors';

/** The CLI entry point. */
export const CLI = join(REPO_ROOT, 'apps/cli/bin/custodian.mjs');
/** The anvil launcher shipped by @foundry-rs/anvil. */
export const ANVIL = join(REPO_ROOT, 'node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil');
/** How long a process may take to become ready. */
export const READY_TIMEOUT_MS = 30_000;

/** A running child process. */
export interface Proc {
  readonly child: ChildProcess;
  readonly ready: Record<string, unknown>;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/** A free TCP port on loopback. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

function stopper(child: ChildProcess): (signal?: NodeJS.Signals) => Promise<void> {
  return (signal = 'SIGTERM') =>
    new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      child.once('exit', () => {
        clearTimeout(t);
        resolve();
      });
      child.kill(signal);
    });
}

/** Spawns a process and waits for its JSON ready line (or `readyWhen` on a text line). */
export function startProcess(cmd: string, args: string[], opts: { log?: (l: string) => void; env?: NodeJS.ProcessEnv } = {}): Promise<Proc> {
  const child = spawn(cmd, args, { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: opts.env ?? process.env });
  const log = opts.log ?? (() => undefined);
  // The last error lines, so that a process that dies before it is ready says why.
  const errors: string[] = [];
  createInterface({ input: child.stderr! }).on('line', (l) => {
    if (/^(error|enclave: boot failed)/.test(l) && errors.push(l) > 3) errors.shift();
    log(l);
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${args.slice(0, 2).join(' ')} did not become ready within ${READY_TIMEOUT_MS} ms`));
    }, READY_TIMEOUT_MS);
    let settled = false;
    child.once('exit', (code) => {
      if (!settled) {
        clearTimeout(timer);
        // Let the stderr reader drain the last lines before saying why.
        setImmediate(() => reject(new Error(`${cmd} ${args.slice(0, 2).join(' ')} exited with ${code} before it was ready${errors.length > 0 ? `: ${errors.join(' | ')}` : ''}`)));
      }
    });
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (settled) return log(line);
      let ready: Record<string, unknown> | null = null;
      try {
        const j = JSON.parse(line) as Record<string, unknown>;
        if (j['ready'] === true) ready = j;
      } catch {
        // not the ready line
      }
      if (ready) {
        settled = true;
        clearTimeout(timer);
        resolve({ child, ready, stop: stopper(child) });
      } else log(line);
    });
  });
}

/** Starts anvil on a free port; resolves once its RPC answers. */
export async function startAnvil(log: (l: string) => void = () => undefined): Promise<Proc & { url: string }> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(ANVIL, ['--port', String(port), '--host', '127.0.0.1', '--silent'], { cwd: REPO_ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
  createInterface({ input: child.stderr! }).on('line', log);
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`anvil exited with ${child.exitCode}`);
    try {
      const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}' });
      if (r.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error('anvil did not answer within the ready timeout');
    }
    await new Promise((res) => setTimeout(res, 100));
  }
  return { child, ready: { url }, url, stop: stopper(child) };
}

/** What else a sim signer is started with. */
export interface SignerExtras {
  /** The key broker's URL: the enclave gets its sealing key by attested release. */
  readonly kbs?: string;
  /** Another enclave bundle than dist/enclave/enclave.mjs (another measurement). */
  readonly bundle?: string;
}

/** Starts a sim signer through the CLI. */
export function startSigner(id: string, dataDir: string, simRoot: string, log?: (l: string) => void, port = 0, extras: SignerExtras = {}): Promise<Proc> {
  const args = [CLI, 'signer', '--platform', 'sim', '--id', id, '--data-dir', dataDir, '--sim-root', simRoot, '--port', String(port)];
  if (extras.kbs !== undefined) args.push('--kbs', extras.kbs);
  if (extras.bundle !== undefined) args.push('--bundle', extras.bundle);
  return startProcess(process.execPath, args, log ? { log } : {});
}

/** How a key broker is started. */
export interface KbsProcessOptions {
  readonly dataDir: string;
  /** `software` (the embedded default) or `softhsm` (a SoftHSM2 token created in DIR/softhsm, used through PKCS#11). */
  readonly hsm: 'software' | 'softhsm';
  readonly quorumFile: string;
  readonly policyFile: string;
  readonly simRootFile: string;
  readonly manifestFile: string;
  /** The break-glass configuration (`--breakglass FILE`), when the broker keeps a book. */
  readonly breakglassFile?: string;
  readonly port?: number;
  readonly log?: (l: string) => void;
}

/** Starts `custodian kbs serve` and waits for its ready line (`url`, `hsm`, `signingKey`). */
export function startKbsProcess(o: KbsProcessOptions): Promise<Proc> {
  const args = [CLI, 'kbs', 'serve', '--data-dir', o.dataDir, '--hsm', o.hsm, '--quorum', o.quorumFile, '--policy', o.policyFile, '--sim-root', o.simRootFile, '--manifest', o.manifestFile, '--port', String(o.port ?? 0), '--json'];
  if (o.breakglassFile !== undefined) args.push('--breakglass', o.breakglassFile);
  return startProcess(process.execPath, args, o.log ? { log: o.log } : {});
}

/** Starts the host through the CLI; with `kbsKey` (the broker's signing key) it requires signers' workload credentials. */
export function startHostProcess(dataDir: string, signers: readonly { id: string; port: number }[], ethRpc: string | null, log?: (l: string) => void, port = 0, store?: { url: string; schema: string }, extra: readonly string[] = [], kbsKey?: Uint8Array): Promise<Proc> {
  const args = [CLI, 'serve', '--data-dir', dataDir, '--port', String(port), ...signers.flatMap((s) => ['--signer', `${s.id}=127.0.0.1:${s.port}`])];
  if (store) args.push('--store', store.url, '--store-schema', store.schema);
  if (kbsKey) args.push('--kbs-key', Buffer.from(kbsKey).toString('hex'));
  args.push(...extra);
  if (ethRpc) args.push('--eth-rpc', ethRpc);
  return startProcess(process.execPath, args, log ? { log } : {});
}

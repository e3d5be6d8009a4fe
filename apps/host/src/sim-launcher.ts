/**
 * The sim "hardware" and parent instance for one signer enclave: it measures
 * the enclave bundle (SHA-384 of its bytes) before starting it, answers the
 * enclave's device calls (attestation by the sim root, a sealing key derived
 * from the sim root and the measurement, storage of sealed blobs) over the
 * IPC channel, and never sees inside the enclave's state.
 *
 * A different bundle gets a different measurement and therefore a different
 * sealing key: it cannot unseal the state of the bundle that sealed it.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { createHash, hkdfSync } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, openSync, fsyncSync, closeSync, writeSync, writeFileSync, renameSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { CustodianError } from '@custodian/core/errors';
import { hexToBytes, bytesToHex, utf8 } from '@custodian/core/bytes';
import { issueSimEvidence, type SimRoot } from '@custodian/attestation/sim/sim-evidence';

/** Options of one sim signer. */
export interface SimSignerOptions {
  readonly signerId: string;
  readonly bundlePath: string;
  readonly dataDir: string;
  readonly root: SimRoot;
  /** TCP port the enclave listens on (0 = any free port). */
  readonly port: number;
  /** Where the enclave's stderr goes. */
  readonly stderr?: 'inherit' | 'ignore';
}

/** A running sim signer. */
export interface SimSigner {
  readonly signerId: string;
  readonly port: number;
  readonly measurement: string;
  readonly child: ChildProcess;
  stop(): Promise<void>;
}

/**
 * Reads the bundle once, measures those bytes and writes them to a private
 * directory: what runs is exactly what was measured, whatever happens to the
 * original file afterwards.
 */
function stageBundle(bundlePath: string): { path: string; measurement: Uint8Array } {
  const bytes = readFileSync(bundlePath);
  const dir = mkdtempSync(join(tmpdir(), 'custodian-enclave-'));
  const path = join(dir, 'enclave.mjs');
  writeFileSync(path, bytes, { mode: 0o500 });
  return { path, measurement: new Uint8Array(createHash('sha384').update(bytes).digest()) };
}

/** Writes a file atomically and durably (temp file, fsync, rename, fsync dir). */
export function writeFileDurable(path: string, data: Uint8Array): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp`;
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeSync(fd, data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  const dfd = openSync(dirname(path), 'r');
  try {
    fsyncSync(dfd);
  } finally {
    closeSync(dfd);
  }
}

function sealingKey(root: SimRoot, measurement: Uint8Array, signerId: string): Uint8Array {
  return new Uint8Array(hkdfSync('sha256', root.secretKey.expose(), utf8('custodian/sim-sealing/v1'), Buffer.concat([measurement, utf8(signerId)]), 32));
}

interface DeviceCall {
  readonly id: number;
  readonly op: string;
  readonly hex?: string;
}

/** Starts the enclave bundle as a child process and serves its device calls. */
export function startSimSigner(o: SimSignerOptions): Promise<SimSigner> {
  const { path: stagedPath, measurement } = stageBundle(o.bundlePath);
  const statePath = join(o.dataDir, 'sealed-state.bin');
  // The sim stand-in for a hardware monotonic counter (TPM NV counter class), kept apart from the sealed blob.
  const counterPath = join(o.dataDir, 'sim-hardware', 'monotonic-counter');
  // A clean environment: nothing of the parent's (NODE_OPTIONS, preloads) reaches the enclave.
  const child = fork(stagedPath, [], {
    env: { CUSTODIAN_SIGNER_ID: o.signerId, CUSTODIAN_ENCLAVE_PORT: String(o.port) },
    stdio: ['ignore', 'ignore', o.stderr ?? 'inherit', 'ipc'],
    execArgv: [],
  });
  const answer = (m: DeviceCall): { ok: boolean; hex?: string | null; error?: string } => {
    switch (m.op) {
      case 'attest': {
        const rd = hexToBytes(m.hex ?? '');
        return { ok: true, hex: bytesToHex(issueSimEvidence(o.root, measurement, rd, Date.now())) };
      }
      case 'sealingKey':
        return { ok: true, hex: bytesToHex(sealingKey(o.root, measurement, o.signerId)) };
      case 'loadSealed':
        return { ok: true, hex: existsSync(statePath) ? readFileSync(statePath).toString('hex') : null };
      case 'storeSealed':
        writeFileDurable(statePath, hexToBytes(m.hex ?? ''));
        return { ok: true };
      case 'readCounter':
        return { ok: true, hex: existsSync(counterPath) ? readFileSync(counterPath).toString('hex') : null };
      case 'advanceCounter': {
        const next = BigInt('0x' + (m.hex ?? '0'));
        const current = existsSync(counterPath) ? BigInt('0x' + readFileSync(counterPath).toString('hex')) : 0n;
        if (next < current) return { ok: false, error: 'a monotonic counter never goes back' };
        writeFileDurable(counterPath, hexToBytes(next.toString(16).padStart(16, '0')));
        return { ok: true };
      }
      default:
        return { ok: false, error: 'unknown device call' };
    }
  };
  child.once('exit', () => rmSync(dirname(stagedPath), { recursive: true, force: true }));
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null): void => reject(new CustodianError('E_SIGNER_UNAVAILABLE', `enclave ${o.signerId} exited during boot (code ${code})`));
    child.once('exit', onExit);
    child.on('message', (msg: unknown) => {
      const m = msg as DeviceCall & { event?: string; port?: number };
      if (m.event === 'ready') {
        child.off('exit', onExit);
        resolve({
          signerId: o.signerId,
          port: m.port ?? o.port,
          measurement: bytesToHex(measurement),
          child,
          stop: () =>
            new Promise<void>((res) => {
              if (child.exitCode !== null || child.signalCode !== null) return res();
              child.once('exit', () => res());
              child.kill('SIGTERM');
            }),
        });
        return;
      }
      if (typeof m.id !== 'number') return;
      let reply;
      try {
        reply = answer(m);
      } catch (e) {
        reply = { ok: false, error: e instanceof Error ? e.message : 'device failure' };
      }
      child.send({ id: m.id, ...reply });
    });
  });
}

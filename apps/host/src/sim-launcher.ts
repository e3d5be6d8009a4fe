/**
 * The sim "hardware" and parent instance for one signer enclave: it measures
 * the enclave bundle (SHA-384 of its bytes) before starting it, answers the
 * enclave's device calls (attestation by the sim root, a sealing key derived
 * from the sim root and the measurement, storage of sealed blobs) over the
 * IPC channel, and never sees inside the enclave's state.
 *
 * A different bundle gets a different measurement and therefore a different
 * sealing key: it cannot unseal the state of the bundle that sealed it.
 *
 * With a key broker (`kbs`), the launcher derives no sealing key: the enclave
 * runs the attested release itself and the launcher only forwards its
 * `kbs.nonce` / `kbs.release` (and, once it runs, `kbs.credential` for its
 * workload credential) bodies to the broker's routes over HTTP and
 * hands back the answers' bytes (bounded, never parsed here) — the part a
 * real parent instance plays as the enclave's vsock proxy. The broker's
 * signing key reaches the enclave as launch configuration.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { createHash, hkdfSync } from 'node:crypto';
import { existsSync, mkdtempSync, writeFileSync, readFileSync, rmSync } from 'node:fs';
import { writeFileDurableSync } from '@custodian/core/durable-file';
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
  /** The key broker the enclave gets its sealing key from (absent: the launcher-derived key, the embedded default). */
  readonly kbs?: KbsLink;
}

/** A key broker as the launcher knows it. */
export interface KbsLink {
  /** Base URL (http or https). */
  readonly url: string;
  /** The broker's `kbs-signing` public key (SEC1, 65 bytes), given to the enclave as launch configuration. */
  readonly publicKey: Uint8Array;
}

/** Largest answer forwarded from the broker to the enclave (the enclave bounds it again). */
export const KBS_FORWARD_BYTES_MAX = 64 * 1024;
/** Most time one forwarded broker call may take (below the enclave's device timeout). */
export const KBS_FORWARD_TIMEOUT_MS = 8_000;

/**
 * Reads the broker's signing key (`GET /v1/kbs-public-key`); with `pinned`,
 * refuses a broker whose key differs (E_KBS_KEY_MISMATCH).
 */
export async function fetchKbsLink(url: string, pinned?: Uint8Array): Promise<KbsLink> {
  const base = kbsBase(url);
  const body = await forward(new URL('/v1/kbs-public-key', base), 'GET');
  let signing: unknown;
  try {
    signing = (JSON.parse(Buffer.from(body).toString('utf8')) as { signing?: unknown }).signing;
  } catch {
    signing = undefined;
  }
  if (typeof signing !== 'string' || !/^04[0-9a-f]{128}$/.test(signing)) throw new CustodianError('E_KBS_UNAVAILABLE', `the key broker at ${base.origin} did not give its signing key`, {});
  const publicKey = hexToBytes(signing);
  if (pinned && bytesToHex(pinned) !== signing) throw new CustodianError('E_KBS_KEY_MISMATCH', `the key broker at ${base.origin} signs with another key than the pinned one`, { pinned: bytesToHex(pinned), actual: signing });
  return { url: base.href, publicKey };
}

function kbsBase(url: string): URL {
  let base: URL;
  try {
    base = new URL(url);
  } catch {
    throw new CustodianError('E_KBS_URL_INVALID', `not a URL: ${url}`, {});
  }
  if (base.protocol !== 'http:' && base.protocol !== 'https:') throw new CustodianError('E_KBS_URL_INVALID', 'the key broker URL must be http or https', {});
  return base;
}

/** One HTTP call to the broker; the answer's bytes whatever its status, bounded. */
async function forward(url: URL, method: 'GET' | 'POST', body?: Uint8Array): Promise<Uint8Array> {
  let res: Response;
  try {
    res = await fetch(url, {
      method,
      signal: AbortSignal.timeout(KBS_FORWARD_TIMEOUT_MS),
      ...(body !== undefined ? { body, headers: { 'content-type': 'application/json' } } : {}),
    });
  } catch (e) {
    throw new CustodianError('E_KBS_UNAVAILABLE', `the key broker at ${url.origin} cannot be reached: ${e instanceof Error ? e.message : String(e)}`, {});
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of res.body ?? []) {
    size += (chunk as Uint8Array).length;
    if (size > KBS_FORWARD_BYTES_MAX) throw new CustodianError('E_KBS_UNAVAILABLE', `the key broker's answer exceeds ${KBS_FORWARD_BYTES_MAX} bytes`, {});
    chunks.push(chunk as Uint8Array);
  }
  return new Uint8Array(Buffer.concat(chunks));
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
    env: { CUSTODIAN_SIGNER_ID: o.signerId, CUSTODIAN_ENCLAVE_PORT: String(o.port), ...(o.kbs ? { CUSTODIAN_KBS_PUBLIC_KEY: bytesToHex(o.kbs.publicKey) } : {}) },
    stdio: ['ignore', 'ignore', o.stderr ?? 'inherit', 'ipc'],
    execArgv: [],
  });
  const kbs = o.kbs ? kbsBase(o.kbs.url) : null;
  const answer = async (m: DeviceCall): Promise<{ ok: boolean; hex?: string | null; error?: string }> => {
    switch (m.op) {
      case 'kbs.nonce':
        if (!kbs) return { ok: false, error: 'this signer has no key broker' };
        return { ok: true, hex: bytesToHex(await forward(new URL('/v1/nonce', kbs), 'POST', utf8('{}'))) };
      case 'kbs.release':
        if (!kbs) return { ok: false, error: 'this signer has no key broker' };
        return { ok: true, hex: bytesToHex(await forward(new URL('/v1/release', kbs), 'POST', hexToBytes(m.hex ?? ''))) };
      case 'kbs.credential':
        if (!kbs) return { ok: false, error: 'this signer has no key broker' };
        return { ok: true, hex: bytesToHex(await forward(new URL('/v1/credential', kbs), 'POST', hexToBytes(m.hex ?? ''))) };
      case 'attest': {
        const rd = hexToBytes(m.hex ?? '');
        return { ok: true, hex: bytesToHex(issueSimEvidence(o.root, measurement, rd, Date.now())) };
      }
      case 'sealingKey':
        // With a key broker the sealing key is the broker's to release, never the launcher's.
        if (kbs) return { ok: false, error: 'this signer gets its sealing key from the key broker' };
        return { ok: true, hex: bytesToHex(sealingKey(o.root, measurement, o.signerId)) };
      case 'loadSealed':
        return { ok: true, hex: existsSync(statePath) ? readFileSync(statePath).toString('hex') : null };
      case 'storeSealed':
        writeFileDurableSync(statePath, hexToBytes(m.hex ?? ''));
        return { ok: true };
      case 'readCounter':
        return { ok: true, hex: existsSync(counterPath) ? readFileSync(counterPath).toString('hex') : null };
      case 'advanceCounter': {
        const next = BigInt('0x' + (m.hex ?? '0'));
        const current = existsSync(counterPath) ? BigInt('0x' + readFileSync(counterPath).toString('hex')) : 0n;
        if (next < current) return { ok: false, error: 'a monotonic counter never goes back' };
        writeFileDurableSync(counterPath, hexToBytes(next.toString(16).padStart(16, '0')));
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
      const m = msg as DeviceCall & { event?: string; port?: number; code?: unknown; message?: unknown; reasons?: unknown };
      if (m.event === 'boot-failed') {
        child.off('exit', onExit);
        const reasons = Array.isArray(m.reasons) ? m.reasons.slice(0, 32).map((r) => String(r).slice(0, 1024)) : [];
        const code = typeof m.code === 'string' && /^E_[A-Z0-9_]{1,60}$/.test(m.code) ? m.code : 'E_SIGNER_UNAVAILABLE';
        reject(new CustodianError(code, `enclave ${o.signerId} failed to boot: ${String(m.message ?? 'no reason given').slice(0, 4096)}`, { signerId: o.signerId, measurement: bytesToHex(measurement), reasons }));
        return;
      }
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
      const id = m.id;
      answer(m).then(
        (reply) => child.connected && child.send({ id, ...reply }),
        (e: unknown) => child.connected && child.send({ id, ok: false, error: e instanceof Error ? e.message : 'device failure' }),
      );
    });
  });
}

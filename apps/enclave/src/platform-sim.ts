/**
 * The `sim` platform: the launcher process (`custodian signer --platform sim`)
 * plays the hardware. It measured the bundle before starting it, holds the sim
 * root, derives the sealing key and stores sealed blobs; the enclave reaches
 * it only through the Node IPC channel, as a real enclave reaches its NSM or
 * TSM device.
 *
 * With a key broker (`custodian signer --kbs URL`; launch configuration
 * `kbsPublicKey`), the sealing key is not the launcher's: the enclave runs
 * the attested release itself (kbs-key-source.ts) and the launcher, as the
 * parent instance does for a real enclave's vsock, only forwards the bytes
 * of `kbs.nonce` and `kbs.release` to the broker over HTTP — and, once the
 * enclave runs, `kbs.credential` for its workload credential.
 */
import { CustodianError } from '@custodian/core/errors';
import type { Platform } from './platform.js';
import { obtainSealingKeyFromKbs } from './kbs-key-source.js';

/** Most time the launcher may take to answer a device call. */
export const SIM_DEVICE_TIMEOUT_MS = 10_000;

interface DeviceReply {
  readonly id: number;
  readonly ok: boolean;
  readonly hex?: string | null;
  readonly error?: string;
}

/** Launch configuration of the sim platform. */
export interface SimPlatformOptions {
  /** This signer's id (the per-signer sealing key under a released key). */
  readonly signerId: string;
  /** The key broker's signing key (SEC1 P-256): when given, the sealing key comes from the broker. */
  readonly kbsPublicKey?: Uint8Array;
}

/** Creates the sim platform over `process.send`. */
export function createSimPlatform(options: SimPlatformOptions): Platform {
  if (typeof process.send !== 'function') throw new CustodianError('E_PLATFORM', 'sim enclave must be started by the sim launcher (no IPC channel)');
  let next = 1;
  const waiting = new Map<number, (r: DeviceReply) => void>();
  process.on('message', (m: unknown) => {
    const r = m as DeviceReply;
    if (typeof r?.id === 'number') waiting.get(r.id)?.(r);
  });
  const call = (op: string, hex?: string): Promise<string | null> =>
    new Promise((resolve, reject) => {
      const id = next++;
      const timer = setTimeout(() => {
        waiting.delete(id);
        reject(new CustodianError('E_PLATFORM', `sim device did not answer ${op}`));
      }, SIM_DEVICE_TIMEOUT_MS);
      waiting.set(id, (r) => {
        clearTimeout(timer);
        waiting.delete(id);
        if (r.ok) resolve(r.hex ?? null);
        else reject(new CustodianError('E_PLATFORM', `sim device refused ${op}: ${r.error ?? 'unknown'}`));
      });
      process.send!({ id, op, hex });
    });
  const bytes = (h: string | null): Uint8Array => new Uint8Array(Buffer.from(h ?? '', 'hex'));
  const attest = async (reportData: Uint8Array): Promise<Uint8Array> => bytes(await call('attest', Buffer.from(reportData).toString('hex')));
  const kbsPublicKey = options.kbsPublicKey;
  let recoveryKey: Uint8Array | null = null;
  return {
    name: 'sim',
    attest,
    sealingKey: async () => {
      if (kbsPublicKey === undefined) return bytes(await call('sealingKey'));
      const released = await obtainSealingKeyFromKbs({
        transport: {
          nonce: async () => bytes(await call('kbs.nonce')),
          release: async (body) => bytes(await call('kbs.release', Buffer.from(body).toString('hex'))),
        },
        attest,
        kbsPublicKey,
        signerId: options.signerId,
      });
      recoveryKey = released.recoveryKey;
      return released.key;
    },
    keyBroker: () => (kbsPublicKey === undefined ? null : { publicKey: kbsPublicKey, recoveryKey }),
    kbsChannel: () =>
      kbsPublicKey === undefined
        ? null
        : {
            nonce: async () => bytes(await call('kbs.nonce')),
            credential: async (body) => bytes(await call('kbs.credential', Buffer.from(body).toString('hex'))),
          },
    loadSealed: async () => {
      const h = await call('loadSealed');
      return h === null ? null : bytes(h);
    },
    storeSealed: async (blob) => {
      await call('storeSealed', Buffer.from(blob).toString('hex'));
    },
    readCounter: async () => {
      const h = await call('readCounter');
      return h === null ? 0n : BigInt('0x' + h);
    },
    advanceCounter: async (value) => {
      await call('advanceCounter', value.toString(16));
    },
    nowMs: () => Date.now(),
  };
}

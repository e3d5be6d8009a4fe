/**
 * Assembles a running key broker from configuration: the root of trust
 * (PKCS#11 or the software default), the state in the data directory, the
 * quorum, the appraisal hook and the audit sink. The CLI (`custodian kbs`)
 * and the demo use this; every piece can be injected.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { CustodianError } from '@custodian/core/errors';
import { systemClock, systemRandom, type Clock } from '@custodian/core/clock';
import type { Secret } from '@custodian/core/secret';
import type { RootOfTrust } from './hsm/root-of-trust.js';
import type { Pkcs11RootConfig } from './hsm/pkcs11-root.js';
import { openSoftwareRoot } from './hsm/software-root.js';
import { refuseAllAppraiser, type AppraiseFn } from './appraisal.js';
import type { KbsAuditSink } from './audit-sink.js';
import { SignedChainAuditSink } from './audit-chain.js';
import { KeyBroker } from './key-broker.js';
import { MeasurementRegistry } from './measurement-approvals.js';
import { NonceStore } from './nonce-store.js';
import type { Quorum } from './quorum.js';
import { createWrappedSealingMaster } from './sealing-keys.js';
import { readKbsState, writeKbsState } from './kbs-state.js';
import { performance } from 'node:perf_hooks';
import { BreakglassBook } from './breakglass/breakglass-book.js';
import type { BreakglassConfig } from './breakglass/breakglass.js';
import { BoundedClock, type MonotonicMs } from './breakglass/trusted-time.js';
import { manifestHash, type SignedManifest } from '@custodian/protocol/manifest';
import { ManifestApprovals, type ManifestLink } from './manifest-approvals.js';

/** The broker's audit file in its data directory (a signed hash chain). */
export const KBS_AUDIT_FILE = 'kbs-audit.jsonl';

/** Which root, and how to reach a PKCS#11 one. */
export type RootConfig =
  | { readonly kind: 'software' }
  | {
      readonly kind: 'pkcs11';
      readonly modulePath: string;
      readonly tokenLabel?: string;
      readonly slotIndex?: number;
      readonly pin: Secret<string>;
      readonly keyLabelPrefix?: string;
    };

/** Everything `openKbs` needs. */
export interface KbsRuntimeOptions {
  readonly dataDir: string;
  readonly root: RootConfig;
  readonly quorum: Quorum;
  readonly appraise?: AppraiseFn;
  readonly audit?: KbsAuditSink;
  readonly clock?: Clock;
  /**
   * The monotonic source of the break-glass clock (default `performance.now`).
   * Injected so an in-process broker in a test can pass a time-lock without
   * waiting; the host-drift bound against `clock` still applies.
   */
  readonly monotonic?: MonotonicMs;
  readonly warn?: (line: string) => void;
  /** Enables the break-glass book (persisted in the data directory). */
  readonly breakglass?: BreakglassConfig;
  /**
   * The organisation manifest that anchors the broker's manifest chain
   * (signed by its own quorum). On a data directory that already holds a
   * chain it must be that chain's anchor.
   */
  readonly manifest?: SignedManifest;
}

/** A running broker and what it holds. */
export interface KbsRuntime {
  readonly broker: KeyBroker;
  readonly root: RootOfTrust;
  readonly measurements: MeasurementRegistry;
  /** The organisation manifest chain (empty until anchored). */
  readonly manifests: ManifestApprovals;
  /** The break-glass book, when configured. */
  readonly breakglass?: BreakglassBook;
  /** Trusted time for break-glass steps (monotonic, host drift bounded). */
  readonly trustedClock: Clock;
  close(): Promise<void>;
}

/** Opens the root (provisioning its keys on first start), loads or creates the state, builds the broker. */
export async function openKbs(options: KbsRuntimeOptions): Promise<KbsRuntime> {
  mkdirSync(options.dataDir, { recursive: true });
  const warn = options.warn ?? ((l: string) => process.stderr.write(l + '\n'));
  const clock = options.clock ?? systemClock;
  let audit: KbsAuditSink | undefined = options.audit;
  // Every module error, retried or final, is audited as hsm.error (THREATS.md F10); best effort, the operation's own result is what fails closed.
  // Not re-entered: the audit chain's own signature goes through the root, and a root that is down must not feed its errors back in a loop.
  let reporting = false;
  const onHsmError = (e: { operation: string; ckr: string; attempt: number; final: boolean }): void => {
    if (reporting || !audit) return;
    reporting = true;
    audit
      .append({ kind: 'hsm.error', atMs: clock.nowMs(), body: { ...e } })
      .catch(() => undefined)
      .finally(() => {
        reporting = false;
      });
  };
  const root = await openRoot(options.root, options.dataDir, warn, onHsmError);
  try {
    // The audit file is a hash chain signed in the root (audit-chain.ts); an existing one is verified before it is extended.
    audit ??= await SignedChainAuditSink.open(join(options.dataDir, KBS_AUDIT_FILE), (b) => root.sign(b), await root.publicKey('kbs-signing'));
    let state = readKbsState(options.dataDir);
    if (!state) {
      state = { wrappedMaster: await createWrappedSealingMaster(root), approvals: [], manifests: [] };
      writeKbsState(options.dataDir, state);
    }
    // The master must unwrap under this root: a state from another root is refused now, not at the first release.
    (await root.unwrapKey(state.wrappedMaster)).zeroise();
    const measurements = new MeasurementRegistry(options.quorum);
    for (const r of state.approvals) measurements.approve(r);
    const manifests = openManifestChain(state.manifests, options.manifest, await root.publicKey('kbs-signing'));
    if (!options.appraise) warn('WARNING: no attestation appraisal is wired into this KBS; every key release will be refused.');
    const monotonic = options.monotonic ?? (() => performance.now());
    const trustedClock = new BoundedClock(clock, monotonic);
    const wrappedMaster = state.wrappedMaster;
    const persist = (): void => writeKbsState(options.dataDir, { wrappedMaster, approvals: measurements.records(), manifests: manifests.chain() });
    const broker = new KeyBroker({
      root,
      wrappedMaster,
      nonces: new NonceStore(clock, systemRandom),
      measurements,
      appraise: options.appraise ?? refuseAllAppraiser,
      audit,
      clock,
      manifests,
      onApproved: async () => persist(),
      onManifestInstalled: async () => persist(),
    });
    if (state.manifests.length === 0 && options.manifest) persist();
    const breakglass = options.breakglass ? new BreakglassBook(options.breakglass, audit, clock, monotonic, options.dataDir) : undefined;
    // Time-locks run on the book's observed time: saved every minute, so a crash loses at most that much of a running lock.
    const checkpoint = breakglass ? setInterval(() => safely(() => breakglass.checkpoint(), warn), OBSERVED_TIME_CHECKPOINT_MS) : null;
    checkpoint?.unref();
    const close = async (): Promise<void> => {
      if (checkpoint) clearInterval(checkpoint);
      if (breakglass) safely(() => breakglass.checkpoint(), warn);
      await root.close();
    };
    return { broker, root, measurements, manifests, trustedClock, ...(breakglass ? { breakglass } : {}), close };
  } catch (e) {
    await root.close();
    throw e;
  }
}

/** How often the break-glass book saves the broker's observed time. */
export const OBSERVED_TIME_CHECKPOINT_MS = 60_000;

function safely(fn: () => void, warn: (line: string) => void): void {
  try {
    fn();
  } catch (e) {
    warn(`WARNING: the break-glass book could not save the observed time: ${(e as Error).message}`);
  }
}

/** Rebuilds the stored chain (re-verified) and checks the configured anchor against it, or anchors a fresh one. */
function openManifestChain(stored: readonly ManifestLink[], anchor: SignedManifest | undefined, breakglassKey: Uint8Array): ManifestApprovals {
  if (stored.length === 0) {
    const fresh = new ManifestApprovals(breakglassKey);
    if (anchor) fresh.anchor(anchor);
    return fresh;
  }
  if (anchor && manifestHash(anchor.payload) !== manifestHash(stored[0]!.payload)) {
    throw new CustodianError('E_KBS_STATE_INVALID', 'the configured organisation manifest is not the anchor of the manifest chain in this data directory', {
      configured: manifestHash(anchor.payload),
      stored: manifestHash(stored[0]!.payload),
    });
  }
  return ManifestApprovals.fromChain(stored, breakglassKey);
}

async function openRoot(config: RootConfig, dataDir: string, warn: (l: string) => void, onError: NonNullable<Pkcs11RootConfig['onError']>): Promise<RootOfTrust> {
  switch (config.kind) {
    case 'software':
      return openSoftwareRoot({ file: join(dataDir, 'software-root.json'), warn });
    case 'pkcs11': {
      // Loaded only for a PKCS#11 root: the software root (the embedded default) does not need the native module.
      const { openPkcs11Root } = await import('./hsm/pkcs11-root.js').catch((e: unknown) => {
        throw new CustodianError('E_HSM_CONFIG', 'the PKCS#11 binding (pkcs11js) could not be loaded; reinstall with npm ci (it builds a native module)', { cause: e instanceof Error ? e.message : String(e) });
      });
      return openPkcs11Root(
        {
          modulePath: config.modulePath,
          pin: config.pin,
          onError,
          ...(config.tokenLabel !== undefined ? { tokenLabel: config.tokenLabel } : {}),
          ...(config.slotIndex !== undefined ? { slotIndex: config.slotIndex } : {}),
          ...(config.keyLabelPrefix !== undefined ? { keyLabelPrefix: config.keyLabelPrefix } : {}),
        },
        { provision: true },
      );
    }
    default:
      throw new CustodianError('E_HSM_CONFIG', 'unknown root kind', {});
  }
}

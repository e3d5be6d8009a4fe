/**
 * Measurements approved by the organisation manifest (DESIGN.md flows 1 and
 * 6): the broker releases a sealing key to a measurement listed in
 * `enclave.measurements` of the latest manifest it holds. Manifests form a
 * chain, each checked as the signers check it:
 *
 * - the anchor (the first manifest the broker holds) is given by the
 *   operator who starts the broker (`custodian kbs serve --manifest FILE`),
 *   like its quorum file, and must carry its own quorum's signatures;
 * - every later manifest names the installed one (`previousHash`), has the
 *   next version and the same organisation, and carries a quorum of the
 *   *installed* manifest (`verifyManifestQuorum`).
 *
 * So a new enclave measurement gets its key only after a manifest naming it
 * is installed with the quorum; a manifest that drops a measurement stops
 * its releases.
 */
import { CustodianError } from '@custodian/core/errors';
import { decodeManifest, manifestHash, verifyManifestQuorum, type Manifest, type SignedManifest } from '@custodian/protocol/manifest';

/** Most manifests kept in the broker's chain (state file bound). */
export const KBS_MANIFESTS_MAX = 1024;

/** What an installation did. */
export interface ManifestInstalled {
  readonly version: number;
  readonly hash: string;
  readonly measurements: readonly string[];
  /** False when the manifest was already the installed one (a no-op). */
  readonly changed: boolean;
}

/** The broker's manifest chain and the measurements its latest manifest approves. */
export class ManifestApprovals {
  readonly #chain: SignedManifest[] = [];
  #current: Manifest | null = null;

  /** Rebuilds (and re-verifies) a chain: `chain[0]` is the anchor, each next one its successor. */
  static fromChain(chain: readonly SignedManifest[]): ManifestApprovals {
    if (chain.length > KBS_MANIFESTS_MAX) throw new CustodianError('E_KBS_STATE_INVALID', `the manifest chain holds more than ${KBS_MANIFESTS_MAX} manifests`, {});
    const a = new ManifestApprovals();
    chain.forEach((m, i) => (i === 0 ? a.anchor(m) : a.install(m)));
    return a;
  }

  /** Sets the anchor: a manifest signed by its own quorum. Only on an empty chain. */
  anchor(signed: SignedManifest): ManifestInstalled {
    if (this.#current !== null) throw new CustodianError('E_MANIFEST_SEQUENCE', 'the key broker already holds a manifest chain', {});
    const m = decodeManifest(signed.payload);
    verifyManifestQuorum(signed, m);
    return this.#push(signed, m);
  }

  /**
   * Installs the successor of the latest manifest: E_MANIFEST_SEQUENCE when
   * it does not follow it, E_MANIFEST_QUORUM without a quorum of the
   * installed manifest. Installing the latest one again is a no-op.
   */
  install(signed: SignedManifest): ManifestInstalled {
    const current = this.#current;
    const last = this.#chain[this.#chain.length - 1];
    if (current === null || last === undefined) throw new CustodianError('E_MANIFEST_SEQUENCE', 'the key broker holds no organisation manifest yet; start it with --manifest', {});
    const next = decodeManifest(signed.payload);
    const hash = manifestHash(signed.payload);
    if (hash === manifestHash(last.payload)) return { version: next.version, hash, measurements: next.enclave.measurements, changed: false };
    if (next.orgId !== current.orgId || next.version !== current.version + 1 || next.previousHash !== manifestHash(last.payload)) {
      throw new CustodianError('E_MANIFEST_SEQUENCE', `a new manifest must be version ${current.version + 1} of ${current.orgId} and name the installed one as previous`, {
        installedVersion: current.version,
        version: next.version,
      });
    }
    if (this.#chain.length >= KBS_MANIFESTS_MAX) throw new CustodianError('E_KBS_BUSY', `the key broker keeps at most ${KBS_MANIFESTS_MAX} manifests`, {});
    verifyManifestQuorum(signed, current);
    return this.#push(signed, next);
  }

  /** True when the latest manifest lists `measurement`. */
  isApproved(measurement: string): boolean {
    return this.#current?.enclave.measurements.includes(measurement) ?? false;
  }

  /** The latest manifest, or null. */
  current(): Manifest | null {
    return this.#current;
  }

  /** The chain, anchor first. */
  chain(): readonly SignedManifest[] {
    return [...this.#chain];
  }

  #push(signed: SignedManifest, m: Manifest): ManifestInstalled {
    this.#chain.push(signed);
    this.#current = m;
    return { version: m.version, hash: manifestHash(signed.payload), measurements: m.enclave.measurements, changed: true };
  }
}

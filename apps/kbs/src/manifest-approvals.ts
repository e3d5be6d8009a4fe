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
 *
 * The emergency path (issue 7 item 6): a successor may instead be
 * authorised by an executed `change-root-quorum` or `upgrade-measurement`
 * break-glass request, as the broker's own signed execution statement
 * (`kbs-signing`), checked as signers check it
 * (@custodian/protocol/breakglass-manifest). The statement is kept with the
 * link, so the chain re-verifies at every start under the broker key.
 */
import { CustodianError } from '@custodian/core/errors';
import type { Json } from '@custodian/core/canonical-json';
import { Fields } from '@custodian/core/fields';
import { decodeManifest, decodeSignedManifest, encodeSignedManifest, manifestHash, verifyManifestQuorum, type Manifest, type SignedManifest } from '@custodian/protocol/manifest';
import { decodeSignedBreakglassExecution, encodeSignedBreakglassExecution, type SignedBreakglassExecution } from '@custodian/protocol/breakglass-execution';
import { verifyBreakglassSuccessor } from '@custodian/protocol/breakglass-manifest';

/** Most manifests kept in the broker's chain (state file bound). */
export const KBS_MANIFESTS_MAX = 1024;

/** What an installation did. */
export interface ManifestInstalled {
  readonly version: number;
  readonly hash: string;
  readonly measurements: readonly string[];
  /** False when the manifest was already the installed one (a no-op). */
  readonly changed: boolean;
  /** The break-glass request that authorised it instead of the quorum, or null. */
  readonly breakglassId: string | null;
}

/** One manifest of the chain, with the break-glass execution that authorised it when the quorum did not. */
export interface ManifestLink extends SignedManifest {
  readonly breakglass?: SignedBreakglassExecution;
}

/** The state-file form of a link: the signed manifest, and `breakglass` when present. */
export function encodeManifestLink(l: ManifestLink): Json {
  const m = encodeSignedManifest(l) as { readonly [k: string]: Json };
  return l.breakglass ? { ...m, breakglass: encodeSignedBreakglassExecution(l.breakglass) } : m;
}

/** Decodes a link of the state file (its signatures and statement are verified when the chain is rebuilt). */
export function decodeManifestLink(json: Json): ManifestLink {
  const f = new Fields(json, 'manifestLink');
  const signed = decodeSignedManifest({ payload: f.raw('payload'), signatures: f.raw('signatures') });
  const bg = f.optRaw('breakglass');
  f.done();
  return bg === undefined ? signed : { ...signed, breakglass: decodeSignedBreakglassExecution(bg) };
}

/** The broker's manifest chain and the measurements its latest manifest approves. */
export class ManifestApprovals {
  readonly #chain: ManifestLink[] = [];
  #current: Manifest | null = null;

  /** `breakglassKey`: the broker's `kbs-signing` public key (SEC1), which break-glass links verify under; null refuses them. */
  constructor(private readonly breakglassKey: Uint8Array | null = null) {}

  /** Rebuilds (and re-verifies) a chain: `chain[0]` is the anchor, each next one its successor (by quorum or break-glass). */
  static fromChain(chain: readonly ManifestLink[], breakglassKey: Uint8Array | null = null): ManifestApprovals {
    if (chain.length > KBS_MANIFESTS_MAX) throw new CustodianError('E_KBS_STATE_INVALID', `the manifest chain holds more than ${KBS_MANIFESTS_MAX} manifests`, {});
    const a = new ManifestApprovals(breakglassKey);
    chain.forEach((m, i) => (i === 0 ? a.anchor(m) : a.install(m, m.breakglass)));
    return a;
  }

  /** Sets the anchor: a manifest signed by its own quorum. Only on an empty chain. */
  anchor(signed: SignedManifest): ManifestInstalled {
    if (this.#current !== null) throw new CustodianError('E_MANIFEST_SEQUENCE', 'the key broker already holds a manifest chain', {});
    const m = decodeManifest(signed.payload);
    verifyManifestQuorum(signed, m);
    return this.#push({ payload: signed.payload, signatures: signed.signatures }, m);
  }

  /**
   * Installs the successor of the latest manifest: E_MANIFEST_SEQUENCE when
   * it does not follow it, E_MANIFEST_QUORUM without a quorum of the
   * installed manifest — or, with `breakglass`, unless that execution
   * authorises exactly this successor (`verifyBreakglassSuccessor`).
   * Installing the latest one again is a no-op.
   */
  install(signed: SignedManifest, breakglass?: SignedBreakglassExecution): ManifestInstalled {
    const checked = this.#verify(signed, breakglass);
    return 'link' in checked ? this.#push(checked.link, checked.next) : checked;
  }

  /**
   * Runs every check of `install` without installing: what `install` would
   * answer, or its refusal. The broker audits an installation between the two
   * (an installation that could not be audited must not take effect).
   */
  check(signed: SignedManifest, breakglass?: SignedBreakglassExecution): ManifestInstalled {
    const checked = this.#verify(signed, breakglass);
    if (!('link' in checked)) return checked;
    return { version: checked.next.version, hash: manifestHash(signed.payload), measurements: checked.next.enclave.measurements, changed: true, breakglassId: breakglass?.execution.id ?? null };
  }

  #verify(signed: SignedManifest, breakglass?: SignedBreakglassExecution): ManifestInstalled | { readonly link: ManifestLink; readonly next: Manifest } {
    const current = this.#current;
    const last = this.#chain[this.#chain.length - 1];
    if (current === null || last === undefined) throw new CustodianError('E_MANIFEST_SEQUENCE', 'the key broker holds no organisation manifest yet; start it with --manifest', {});
    const next = decodeManifest(signed.payload);
    const hash = manifestHash(signed.payload);
    if (hash === manifestHash(last.payload)) return { version: next.version, hash, measurements: next.enclave.measurements, changed: false, breakglassId: last.breakglass?.execution.id ?? null };
    if (next.orgId !== current.orgId || next.version !== current.version + 1 || next.previousHash !== manifestHash(last.payload)) {
      throw new CustodianError('E_MANIFEST_SEQUENCE', `a new manifest must be version ${current.version + 1} of ${current.orgId} and name the installed one as previous`, {
        installedVersion: current.version,
        version: next.version,
      });
    }
    if (this.#chain.length >= KBS_MANIFESTS_MAX) throw new CustodianError('E_KBS_BUSY', `the key broker keeps at most ${KBS_MANIFESTS_MAX} manifests`, {});
    if (breakglass) {
      if (this.breakglassKey === null) throw new CustodianError('E_BREAKGLASS_NOT_CONFIGURED', 'this manifest chain was opened without the broker key; it cannot take break-glass successors', {});
      verifyBreakglassSuccessor(this.breakglassKey, breakglass, last.payload, signed.payload, hash);
      return { link: { payload: signed.payload, signatures: signed.signatures, breakglass }, next };
    }
    verifyManifestQuorum(signed, current);
    return { link: { payload: signed.payload, signatures: signed.signatures }, next };
  }

  /** True when the latest manifest lists `measurement`. */
  isApproved(measurement: string): boolean {
    return this.#current?.enclave.measurements.includes(measurement) ?? false;
  }

  /** The latest manifest, or null. */
  current(): Manifest | null {
    return this.#current;
  }

  /** The chain, anchor first (a link authorised by break-glass carries its execution). */
  chain(): readonly ManifestLink[] {
    return [...this.#chain];
  }

  #push(link: ManifestLink, m: Manifest): ManifestInstalled {
    this.#chain.push(link);
    this.#current = m;
    return { version: m.version, hash: manifestHash(link.payload), measurements: m.enclave.measurements, changed: true, breakglassId: link.breakglass?.execution.id ?? null };
  }
}

/**
 * The host's part in moving a signer to a new enclave build (DESIGN.md flow
 * 6; the enclave side is apps/enclave/src/migrate-ops.ts). The host relays
 * and holds nothing secret: the state travels HPKE-sealed from the old
 * build to a key attested by the new build, and each build appraises the
 * other's evidence itself against the quorum-signed manifest.
 *
 *   POST /v1/signers/:id/migrate { endpoint }
 *     connects to the new build at `endpoint` (a pristine signer with the
 *     same id), runs offer → prepare → export → import, re-points the
 *     host's link for the signer to the new endpoint, re-attests it (the
 *     same identity must answer, now from the new measurement), has it
 *     audit the move (`state.migrate.confirm`) and syncs the log checkpoint.
 *
 * The host's configuration (`serve --signer ID=HOST:PORT`) still names the
 * old endpoint: update it before the host restarts.
 */
import { CustodianError } from '@custodian/core/errors';
import type { Json } from '@custodian/core/canonical-json';
import { Fields } from '@custodian/core/fields';
import { bytesToHex } from '@custodian/core/bytes';
import type { Clock } from '@custodian/core/clock';
import type { Manifest } from '@custodian/protocol/manifest';
import { SignerLink } from './signer-link.js';
import type { HostStore } from './store.js';
import type { TransparencyLog } from './transparency-log.js';

/** What a migration needs of the custody service. */
export interface SignerMigrationDeps {
  readonly store: HostStore;
  readonly link: (signerId: string) => SignerLink;
  /** Makes `link` the signer's link (the old one is closed). */
  readonly replaceLink: (link: SignerLink) => void;
  readonly manifest: () => Manifest;
  readonly clock: Clock;
  readonly log: (line: string) => void;
  readonly auditLog: TransparencyLog | null;
  /** Backs up the moved signer under its new build (a backup opens only in the build that made it). */
  readonly backUp: (signerIds: readonly string[]) => Promise<void>;
}

/** `HOST:PORT` as `parseSignerSpec` accepts it. */
const ENDPOINT_RE = /^[0-9a-zA-Z.-]{1,253}:[0-9]{1,5}$/;
const HEX64 = /^[0-9a-f]{64}$/;
const HEX_MEASUREMENT = /^[0-9a-f]{96}$/;

/** Moves signers to new enclave builds, relayed. */
export class SignerMigration {
  readonly #running = new Set<string>();

  constructor(private readonly deps: SignerMigrationDeps) {}

  /** Migrates `signerId` to the build at `body.endpoint`; answers the move as the new build confirmed it. */
  async migrate(signerId: string, body: Json): Promise<Json> {
    const f = new Fields(body, 'migrate');
    const endpoint = f.str('endpoint', 260, ENDPOINT_RE);
    f.done();
    const old = this.deps.link(signerId);
    if (old.endpoint === endpoint) throw new CustodianError('E_FIELD_INVALID', `signer ${signerId} already runs at ${endpoint}`);
    if (this.#running.has(signerId)) throw new CustodianError('E_MIGRATION_RUNNING', `a migration of ${signerId} is already running`);
    this.#running.add(signerId);
    try {
      return await this.#run(signerId, old, endpoint);
    } finally {
      this.#running.delete(signerId);
    }
  }

  async #run(signerId: string, old: SignerLink, endpoint: string): Promise<Json> {
    const manifest = this.deps.manifest();
    const next = new SignerLink(signerId, endpoint, this.deps.store);
    next.auditLog = old.auditLog;
    let moved = false;
    try {
      const offer = new Fields(await old.call('state.migrate.offer', {}), 'state.migrate.offer');
      const nonce = offer.str('nonce', 64, HEX64);
      const prepared = new Fields(await next.call('state.migrate.prepare', { nonce }), 'state.migrate.prepare');
      const publicKey = prepared.str('publicKey', 64, HEX64);
      const evidence = prepared.str('evidence', 32 * 1024, /^[0-9a-f]*$/);
      // The old build appraises the new build's evidence against its manifest, retires and audits the move.
      const exported = new Fields(await old.call('state.migrate.export', { nonce, publicKey, evidence }), 'state.migrate.export');
      const toMeasurement = exported.str('toMeasurement', 96, HEX_MEASUREMENT);
      const pkg = exported.raw('package');
      this.deps.log(`signer ${signerId}: the build at ${old.endpoint} handed its state to measurement ${toMeasurement.slice(0, 16)}… and retired`);
      const imported = new Fields(await next.call('state.migrate.import', { package: pkg }), 'state.migrate.import');
      const identityKey = imported.str('identityKey', 64, HEX64);
      // The new build is the same signer: the host learns that from fresh evidence before accepting its entries.
      const rec = await next.attest(manifest, this.deps.clock.nowMs());
      const oldIdentity = old.identityKey ? bytesToHex(old.identityKey) : null;
      if (rec.identityKey !== identityKey || (oldIdentity !== null && oldIdentity !== identityKey)) {
        throw new CustodianError('E_SIGNER_RESPONSE', `the build at ${endpoint} attested identity ${rec.identityKey.slice(0, 16)}…, not the migrated ${identityKey.slice(0, 16)}…`);
      }
      if (rec.measurement !== toMeasurement) throw new CustodianError('E_SIGNER_RESPONSE', `the build at ${endpoint} attested measurement ${rec.measurement.slice(0, 16)}…, not ${toMeasurement.slice(0, 16)}…`);
      // The old build is retired whatever happens next: the signer is the new build from here on.
      this.deps.replaceLink(next);
      moved = true;
      const confirmed = await next.call('state.migrate.confirm', {});
      await this.deps.auditLog?.syncSigners(this.deps.log);
      await this.deps.backUp([signerId]);
      this.deps.log(`signer ${signerId} migrated to ${endpoint} (measurement ${rec.measurement.slice(0, 16)}…)`);
      return { ...(confirmed as Record<string, Json>), identityKey, endpoint, previousEndpoint: old.endpoint };
    } finally {
      if (!moved) next.close();
    }
  }
}

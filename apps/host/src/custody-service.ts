/**
 * The host's custody workflow: it stores and relays, and believes nothing it
 * cannot check. Every custody decision is made and audited inside the signer
 * enclaves; the host verifies their attestation and signatures, keeps the
 * records, and broadcasts what they signed.
 */
import { CustodianError, isCustodianError } from '@custodian/core/errors';
import { parseJson, type Json } from '@custodian/core/canonical-json';
import { Fields } from '@custodian/core/fields';
import type { Clock } from '@custodian/core/clock';
import { decodeManifest, decodeSignedManifest, encodeSignedManifest, manifestHash, type Manifest } from '@custodian/protocol/manifest';
import { decodeSignedRequest, encodeSignedRequest, payloadHash, type SignedRequest } from '@custodian/protocol/operator-request';
import { decodeTxProposal, decodeWalletCreate, decodeWalletRefresh, type ThresholdWalletCreatePayload } from '@custodian/protocol/payloads';
import { decodeEnclaveSigned, encodeEnclaveSigned, SUMMARY_KIND, verifyStatement, type EnclaveSigned } from '@custodian/protocol/enclave-signed';
import { decodeSignedBreakglassExecution, encodeSignedBreakglassExecution } from '@custodian/protocol/breakglass-execution';
import { ThresholdRelay, UNAVAILABLE_CODES } from './threshold-relay.js';
import type { EthRpc } from './eth-rpc.js';
import { parseAddress, toChecksumAddress } from '@custodian/chains/evm/address';
import type { SignerLink } from './signer-link.js';
import type { TransparencyLog } from './transparency-log.js';
import { SignerBackups } from './signer-backups.js';
import { SignerMigration } from './signer-migration.js';
import type { ApprovalRow, HostStore, RequestRow, SignerRecord, WalletRow } from './store.js';

/** The signer ids of a wallet row: one for `single`, the parties (comma-separated) for a threshold wallet. */
export function walletSigners(w: WalletRow): string[] {
  return w.signerId.split(',');
}

/** The threshold of a wallet row (1 for `single`), from its stored enclave statements. */
export function walletThreshold(w: WalletRow): number {
  if (w.scheme === 'single') return 1;
  const list = JSON.parse(w.statement) as { statement: { threshold: number } }[];
  return list[0]!.statement.threshold;
}

/** How long after a time-lock's end the host tries again (the enclave's clock may trail). */
export const TIME_LOCK_SLACK_MS = 1_000;
/** Longest single timer (setTimeout holds up to 2^31−1 ms); longer locks are re-armed. */
const TIMER_MAX_MS = 2 ** 31 - 1;

/**
 * When an E_QUORUM_NOT_MET refusal is only a time-lock — no approvals
 * missing, `notBefore` still ahead — the time it ends; null otherwise.
 */
export function timeLockedUntil(e: CustodianError, nowMs: number): number | null {
  const notBefore = e.detail['notBefore'];
  const missing = e.detail['missing'];
  if (typeof notBefore !== 'number' || notBefore <= nowMs - 60_000) return null;
  if (missing !== undefined && (missing === null || typeof missing !== 'object' || Object.values(missing as Record<string, unknown>).some((n) => n !== 0))) return null;
  return notBefore;
}

/** Longest transaction id a signer may answer (a base58 Solana signature is at most 88 characters). */
export const TX_ID_CHARS_MAX = 128;
/** How often a broadcast transaction's receipt is polled. */
export const RECEIPT_POLL_MS = 250;
/** How long the host waits for a receipt before it marks the request failed. */
export const RECEIPT_WAIT_MAX_MS = 120_000;
/** Longest wallet address a statement may carry (a P2TR bech32m address is the longest: 62 characters on mainnet, 64 on regtest). */
export const WALLET_ADDRESS_CHARS_MAX = 90;

/** How often an approved threshold request whose signers are unavailable is tried again. */
export const SIGN_RETRY_MS = 2_000;
/** How many times it is tried again before the host waits for the next approval or restart. */
export const SIGN_RETRIES_MAX = 300;

/** Operator-facing view of a request. */
export interface RequestView {
  readonly requestId: string;
  readonly walletId: string;
  readonly initiator: string;
  readonly status: string;
  readonly decision: string;
  readonly reasons: readonly string[];
  readonly txDigest: string;
  readonly summaryHash: string;
  readonly summary: Json;
  /** The initiator-signed proposal, for approvers to check themselves. */
  readonly proposal: Json;
  readonly approvals: readonly { operatorId: string; accepted: boolean; code: string | null }[];
  readonly approvalsNeeded: number;
  readonly signedTx: string | null;
  readonly txHash: string | null;
  readonly receiptStatus: string | null;
  readonly error: string | null;
}

export class CustodyService {
  #manifest: Manifest | null = null;
  readonly #locks = new Map<string, Promise<unknown>>();
  /** Per wallet: the running or queued refresh (exclusive) and the signings in flight (shared among themselves). */
  readonly #walletExclusive = new Map<string, Promise<unknown>>();
  readonly #walletShared = new Map<string, Set<Promise<unknown>>>();
  readonly #polling = new Set<string>();
  #closed = false;
  readonly #relay: ThresholdRelay;
  readonly #retries = new Map<string, NodeJS.Timeout>();

  constructor(
    private readonly store: HostStore,
    // Shared with the transparency log; a migration re-points one entry (replaceLink).
    private readonly links: Map<string, SignerLink>,
    private readonly eth: EthRpc | null,
    private readonly clock: Clock,
    private readonly log: (line: string) => void = () => undefined,
    private readonly auditLog: TransparencyLog | null = null,
  ) {
    this.#relay = new ThresholdRelay((id) => this.#link(id));
    this.backups = new SignerBackups({ store, link: (id) => this.#link(id), manifest: () => this.manifest(), clock, log, auditLog });
    this.migration = new SignerMigration({ store, link: (id) => this.#link(id), replaceLink: (l) => this.#replaceLink(l), manifest: () => this.manifest(), clock, log, auditLog, backUp: (ids) => this.backups.afterSharesChanged(ids) });
  }

  /** Signer backups to the recovery key, and restores of lost signers (signer-backups.ts). */
  readonly backups: SignerBackups;

  /** Moves of signers to new enclave builds (signer-migration.ts). */
  readonly migration: SignerMigration;

  /** Makes `link` the link of its signer (a migration to a new endpoint); the old one is closed. */
  #replaceLink(link: SignerLink): void {
    const old = this.#link(link.signerId);
    this.links.set(link.signerId, link);
    old.close();
  }

  /** Loads the installed manifest, re-attests signers, resumes broadcasts. */
  async start(): Promise<void> {
    const m = await this.store.latestManifest();
    if (m) {
      this.#manifest = decodeManifest(decodeSignedManifest(parseJson(m.signedManifest)).payload);
      for (const link of this.links.values()) {
        try {
          const rec = await link.attest(this.#manifest, this.clock.nowMs());
          this.log(`signer ${rec.signerId} attested (measurement ${rec.measurement.slice(0, 16)}…)`);
        } catch (e) {
          this.log(`signer ${link.signerId} NOT usable: ${(e as Error).message}`);
        }
      }
      await this.auditLog?.writePolicy();
      // A signer behind the log (restored from an older state, or new) takes the checkpoint its peers cosigned first.
      await this.auditLog?.syncSigners(this.log);
    }
    for (const r of [...(await this.store.listRequests({ status: 'signed' })), ...(await this.store.listRequests({ status: 'broadcast' }))]) {
      void this.#broadcast(r.requestId);
    }
    // A host that stopped between the last approval and recording the signature finishes the job
    // (the enclave answers a repeated tx.sign with the same signed transaction).
    for (const r of await this.store.listRequests({ status: 'pending' })) {
      const view = await this.view(r);
      if ((await this.#acceptedApprovals(r.requestId)).length < view.approvalsNeeded) continue;
      await this.#serial(r.requestId, () => this.#trySign(r)).catch((e: unknown) => this.log(`resuming ${r.requestId.slice(0, 12)}…: ${(e as Error).message}`));
    }
  }

  /** Stops background work. */
  stop(): void {
    this.#closed = true;
    for (const t of this.#retries.values()) clearTimeout(t);
    this.#retries.clear();
  }

  manifest(): Manifest {
    if (!this.#manifest) throw new CustodianError('E_NO_MANIFEST', 'no organisation manifest has been installed');
    return this.#manifest;
  }

  async #serial<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.#locks.get(key) ?? Promise.resolve();
    const run = prev.then(fn, fn);
    const tail = run.catch(() => undefined);
    this.#locks.set(key, tail);
    try {
      return await run;
    } finally {
      if (this.#locks.get(key) === tail) this.#locks.delete(key);
    }
  }

  /** Runs a signing of a wallet beside its other signings, never during a refresh of its shares. */
  async #walletSigningLock<T>(walletId: string, fn: () => Promise<T>): Promise<T> {
    for (let x = this.#walletExclusive.get(walletId); x !== undefined; x = this.#walletExclusive.get(walletId)) await x.catch(() => undefined);
    const set = this.#walletShared.get(walletId) ?? new Set<Promise<unknown>>();
    this.#walletShared.set(walletId, set);
    const run = fn();
    const tracked = run.catch(() => undefined);
    set.add(tracked);
    try {
      return await run;
    } finally {
      set.delete(tracked);
      if (set.size === 0 && this.#walletShared.get(walletId) === set) this.#walletShared.delete(walletId);
    }
  }

  /** Runs a refresh of a wallet's shares alone: after the signings in flight, before any new one. */
  async #walletRefreshLock<T>(walletId: string, fn: () => Promise<T>): Promise<T> {
    const before = this.#walletExclusive.get(walletId) ?? Promise.resolve();
    const inFlight = [...(this.#walletShared.get(walletId) ?? [])];
    const run = before.catch(() => undefined).then(() => Promise.all(inFlight)).then(fn);
    const tail = run.catch(() => undefined);
    this.#walletExclusive.set(walletId, tail);
    try {
      return await run;
    } finally {
      if (this.#walletExclusive.get(walletId) === tail) this.#walletExclusive.delete(walletId);
    }
  }

  #link(signerId: string): SignerLink {
    const l = this.links.get(signerId);
    if (!l) throw new CustodianError('E_SIGNER_UNKNOWN', `no signer ${signerId} is configured on this host`);
    return l;
  }

  /**
   * Installs a quorum-signed manifest on every signer after verifying each
   * signer's evidence against it. The body is the signed manifest, plus
   * `rulebook` (file name → hex bytes) when the manifest pins a Cedar
   * rulebook: the host only relays the files, each signer checks them
   * against the pinned digest.
   */
  async submitManifest(body: Json): Promise<Json> {
    return this.#serial('manifest', async () => {
      // `breakglass`: a broker-signed execution authorising the successor instead of the quorum; relayed, signers verify it.
      const { rulebook, breakglass, ...rest } = (body !== null && typeof body === 'object' && !Array.isArray(body) ? body : {}) as Record<string, Json>;
      const signed = decodeSignedManifest(body !== null && typeof body === 'object' && !Array.isArray(body) ? rest : body);
      const next = decodeManifest(signed.payload);
      // Signers judge the manifest themselves (quorum, sequence, their own measurement) and audit
      // their verdict; the host learns their identity keys first so it can check those entries.
      for (const link of this.links.values()) {
        if (link.identityKey) continue;
        const h = await link.hello();
        link.identityKey = h.identityKey;
        link.adoptNoteKeys(h);
      }
      const refusals: CustodianError[] = [];
      for (const link of this.links.values()) {
        try {
          await link.call('manifest.install', { signedManifest: encodeSignedManifest(signed), ...(rulebook === undefined ? {} : { rulebook }), ...(breakglass === undefined ? {} : { breakglass }) });
        } catch (e) {
          if (!(e instanceof CustodianError)) throw e;
          refusals.push(e);
        }
      }
      if (refusals.length > 0) throw new CustodianError(refusals[0]!.code, `${refusals.length} signer(s) refused the manifest: ${refusals[0]!.message}`, { ...refusals[0]!.detail, refusals: refusals.length });
      // Defence in depth: the host verifies every signer's fresh evidence against the new manifest before using it.
      const now = this.clock.nowMs();
      const records: SignerRecord[] = [];
      for (const link of this.links.values()) records.push(await link.attest(next, now));
      const peers: Json[] = [];
      for (const link of this.links.values()) {
        const h = await link.hello();
        peers.push({ signerId: h.signerId, identityKey: Buffer.from(h.identityKey).toString('hex'), nonce: Buffer.from(h.nonce).toString('hex'), evidence: Buffer.from(h.evidence).toString('hex'), ...(h.peerKey ? { peerKey: encodeEnclaveSigned(h.peerKey) } : {}), ...(h.credential ? { credential: h.credential } : {}) });
      }
      const verdicts: Json[] = [];
      for (const link of this.links.values()) {
        const r = (await link.call('peers.install', { peers: peers.filter((p) => (p as { signerId: string }).signerId !== link.signerId) })) as Json;
        verdicts.push({ signerId: link.signerId, ...(r as Record<string, Json>) });
      }
      await this.auditLog?.writePolicy();
      const hash = manifestHash(signed.payload);
      await this.store.putManifest(hash, next.version, JSON.stringify(encodeSignedManifest(signed)));
      this.#manifest = next;
      // A backup restores the manifest it holds: every signer is backed up again under the new one.
      if (next.version > 1) await this.backups.afterSharesChanged([...this.links.keys()]);
      return { manifestHash: hash, version: next.version, signers: records.map((r) => ({ signerId: r.signerId, measurement: r.measurement, identityKey: r.identityKey })), peerVerdicts: verdicts };
    });
  }

  /** Relays an admin's wallet request to its designated signer. */
  async createWallet(body: Json): Promise<Json> {
    this.manifest();
    const req = decodeSignedRequest(new Fields(body, 'body').raw('request'));
    const payload = decodeWalletCreate(req.payload);
    if (payload.scheme !== 'single') return this.#createThresholdWallet(req, payload);
    const link = this.#link(payload.signerId);
    const res = decodeEnclaveSigned(await link.call('wallet.create', { request: encodeSignedRequest(req) }), 'wallet');
    if (!link.identityKey || !verifyStatement('wallet.v1', res, link.identityKey)) throw new CustodianError('E_SIGNER_RESPONSE', 'wallet statement is not signed by the attested signer');
    const f = new Fields(res.statement, 'wallet');
    const row = { walletId: f.str('walletId', 64), scheme: f.str('scheme', 32), signerId: f.str('signerId', 64), address: f.str('address', 42), publicKey: f.str('publicKey', 66), statement: JSON.stringify(encodeEnclaveSigned(res)), createdAtMs: this.clock.nowMs() };
    await this.store.putWallet(row);
    await this.backups.afterSharesChanged([row.signerId]);
    return { walletId: row.walletId, scheme: row.scheme, signerId: row.signerId, address: row.address, publicKey: row.publicKey, statement: encodeEnclaveSigned(res) };
  }

  /**
   * A threshold wallet: key generation among the named signers, relayed
   * (sealed peer messages only); every signer's statement is verified under
   * its attested identity key and all must name the same key and address.
   */
  async #createThresholdWallet(req: SignedRequest, payload: ThresholdWalletCreatePayload): Promise<Json> {
    const links = payload.parties.map((id) => this.#link(id));
    const started = this.clock.nowMs();
    const out = await this.#relay.run(payload.parties, { kind: 'dkg', request: encodeSignedRequest(req) });
    const statements: EnclaveSigned[] = [];
    let first: { publicKey: string; address: string } | null = null;
    for (const link of links) {
      const r = out.results.get(link.signerId);
      if (r === undefined) throw new CustodianError('E_SIGNER_RESPONSE', `${link.signerId} finished key generation without a wallet statement`);
      const st = decodeEnclaveSigned(r, 'wallet');
      if (!link.identityKey || !verifyStatement('wallet.v1', st, link.identityKey)) throw new CustodianError('E_SIGNER_RESPONSE', `the wallet statement of ${link.signerId} is not signed by the attested signer`);
      const f = new Fields(st.statement, 'wallet');
      const mine = { walletId: f.str('walletId', 64), scheme: f.str('scheme', 32), signerId: f.str('signerId', 64), publicKey: f.str('publicKey', 66), address: f.str('address', WALLET_ADDRESS_CHARS_MAX) };
      if (mine.walletId !== payload.walletId || mine.scheme !== payload.scheme || mine.signerId !== link.signerId) throw new CustodianError('E_SIGNER_RESPONSE', `${link.signerId} attested another wallet`);
      first ??= mine;
      if (mine.publicKey !== first.publicKey || mine.address !== first.address) throw new CustodianError('E_DKG_PUBLIC_KEY_MISMATCH', `${link.signerId} ended key generation with another public key`);
      statements.push(st);
    }
    const row: WalletRow = {
      walletId: payload.walletId,
      scheme: payload.scheme,
      signerId: payload.parties.join(','),
      address: first!.address,
      publicKey: first!.publicKey,
      statement: JSON.stringify(statements.map(encodeEnclaveSigned)),
      createdAtMs: this.clock.nowMs(),
    };
    await this.store.putWallet(row);
    await this.backups.afterSharesChanged(payload.parties);
    this.log(`threshold wallet ${row.walletId} (${payload.threshold}-of-${payload.parties.length}) created in ${this.clock.nowMs() - started} ms: ${row.address}`);
    return { walletId: row.walletId, scheme: row.scheme, signerId: row.signerId, signers: [...payload.parties], threshold: payload.threshold, address: row.address, publicKey: row.publicKey, statements: statements.map(encodeEnclaveSigned) };
  }

  /**
   * Refreshes a threshold wallet's shares among all its parties (an admin's
   * signed request; same key, new shares). Each party commits only with every
   * party's confirmation; when the session ends part-way, the parties are
   * brought back to one share (`#repairRefresh`) and the failure is reported.
   */
  async refreshWallet(walletId: string, body: Json): Promise<Json> {
    this.manifest();
    const req = decodeSignedRequest(new Fields(body, 'body').raw('request'));
    const payload = decodeWalletRefresh(req.payload);
    if (payload.walletId !== walletId) throw new CustodianError('E_FIELD_INVALID', `the request refreshes wallet ${payload.walletId}, not ${walletId}`);
    return this.#walletRefreshLock(walletId, async () => {
      const wallet = await this.store.getWallet(walletId);
      if (!wallet) throw new CustodianError('E_WALLET_UNKNOWN', `wallet ${walletId} does not exist`);
      if (wallet.scheme === 'single') throw new CustodianError('E_SCHEME_MISMATCH', `wallet ${walletId} is a single-key wallet: it has no shares to refresh`);
      const parties = walletSigners(wallet);
      const started = this.clock.nowMs();
      let out;
      try {
        out = await this.#relay.run(parties, { kind: 'refresh', request: encodeSignedRequest(req) });
      } catch (e) {
        await this.#repairRefresh(wallet);
        throw e;
      }
      for (const id of parties) {
        const r = out.results.get(id);
        if (r === undefined || new Fields(r, 'refresh').raw('committed') !== true) throw new CustodianError('E_SIGNER_RESPONSE', `${id} finished the refresh without committing`);
      }
      const ms = this.clock.nowMs() - started;
      await this.backups.afterSharesChanged(parties);
      this.log(`wallet ${walletId}: shares refreshed by ${parties.join(', ')} in ${ms} ms (session ${String(out.sessionId).slice(0, 16)}…)`);
      return { walletId, scheme: wallet.scheme, sessionId: out.sessionId, parties, refreshedInMs: ms };
    });
  }

  /**
   * Brings every party of a wallet back to one share after a refresh that did
   * not finish everywhere: a party holding a pending share commits it with
   * the confirmations another party committed with; a pending share that no
   * party committed is dropped — only when every party answered, since an
   * unreachable one might have committed (it is repaired on a later call).
   */
  async #repairRefresh(wallet: WalletRow): Promise<void> {
    const parties = walletSigners(wallet);
    const states = new Map<string, { committed: string | null; confirmations: Json; pending: string | null }>();
    for (const id of parties) {
      try {
        const f = new Fields(await this.#link(id).call('wallet.refresh.proof', { walletId: wallet.walletId }), 'refresh.proof');
        const refresh = f.raw('refresh');
        const r = refresh === null ? null : new Fields(refresh, 'refresh');
        states.set(id, { committed: r ? r.str('sessionId', 64) : null, confirmations: r ? r.raw('confirmations') : [], pending: f.raw('pending') === null ? null : f.str('pending', 64) });
      } catch (e) {
        this.log(`refresh repair of ${wallet.walletId}: ${id} did not answer (${(e as Error).message})`);
      }
    }
    for (const [id, st] of states) {
      if (st.pending === null) continue;
      const source = [...states.values()].find((o) => o.committed === st.pending);
      try {
        if (source) {
          await this.#link(id).call('wallet.refresh.commit', { walletId: wallet.walletId, sessionId: st.pending, confirmations: source.confirmations });
          this.log(`refresh repair of ${wallet.walletId}: ${id} committed the refresh the others committed`);
        } else if (states.size === parties.length) {
          await this.#link(id).call('wallet.refresh.abort', { walletId: wallet.walletId, sessionId: st.pending });
          this.log(`refresh repair of ${wallet.walletId}: no party committed; ${id} dropped its pending share`);
        }
      } catch (e) {
        this.log(`refresh repair of ${wallet.walletId}: ${id}: ${(e as Error).message}`);
      }
    }
  }

  /** Whether a signer answers (a stopped one does not; a restarted one is re-attested on the way). */
  async #reachable(signerId: string): Promise<boolean> {
    try {
      await this.#link(signerId).connect();
      return true;
    } catch {
      return false;
    }
  }

  /** Calls `op` on the wallet's signer (`single`) or on the first of its parties that answers (threshold). */
  async #walletCall(wallet: WalletRow, op: string, body: Json): Promise<{ link: SignerLink; answer: Json }> {
    const ids = walletSigners(wallet);
    let last: unknown = null;
    for (const id of ids) {
      const link = this.#link(id);
      try {
        return { link, answer: await link.call(op, body) };
      } catch (e) {
        if (!isCustodianError(e) || !UNAVAILABLE_CODES.has(e.code) || ids.length === 1) throw e;
        last = e;
      }
    }
    throw last as Error;
  }

  /** Relays a proposal; the enclave decodes the raw transaction and decides. */
  async propose(body: Json): Promise<RequestView> {
    this.manifest();
    const req = decodeSignedRequest(new Fields(body, 'body').raw('request'));
    const payload = decodeTxProposal(req.payload);
    const requestId = payloadHash(req.payload);
    return this.#serial(requestId, async () => {
      const existing = await this.store.getRequest(requestId);
      if (existing) return this.view(existing);
      const wallet = await this.store.getWallet(payload.walletId);
      if (!wallet) throw new CustodianError('E_WALLET_UNKNOWN', `wallet ${payload.walletId} does not exist`);
      const { link, answer } = await this.#walletCall(wallet, 'tx.propose', { request: encodeSignedRequest(req) });
      const f = new Fields(answer, 'proposal');
      const summary = decodeEnclaveSigned(f.raw('summary'), 'summary');
      if (!link.identityKey || !verifyStatement(SUMMARY_KIND, summary, link.identityKey)) throw new CustodianError('E_SIGNER_RESPONSE', 'summary is not signed by the attested signer');
      const decision = f.str('decision', 32);
      const now = this.clock.nowMs();
      const row: RequestRow = {
        requestId: f.str('requestId', 64),
        walletId: payload.walletId,
        initiator: req.operatorId,
        proposal: JSON.stringify(encodeSignedRequest(req)),
        summary: JSON.stringify(encodeEnclaveSigned(summary)),
        txDigest: f.str('txDigest', 66),
        summaryHash: f.str('summaryHash', 64),
        decision,
        reasons: JSON.stringify(f.arr('reasons', 64)),
        status: decision === 'deny' ? 'denied' : 'pending',
        signedTx: null,
        txHash: null,
        receiptStatus: null,
        error: typeof f.optRaw('code') === 'string' ? (f.raw('code') as string) : null,
        createdAtMs: now,
        updatedAtMs: now,
      };
      await this.store.insertRequest(row);
      // The other parties of a threshold wallet see the proposal now too: each decides and records the summary of first sight.
      if (wallet.scheme !== 'single') await this.#proposeToOthers(wallet, link.signerId, req);
      if (decision === 'allow') await this.#sign(row);
      // No approvals to wait for but a time-lock: tried now, so it is armed for when the lock ends.
      else if (decision === 'needs-approval' && (await this.view(row)).approvalsNeeded === 0) await this.#trySign(row);
      return this.view((await this.store.getRequest(requestId))!);
    });
  }

  /**
   * Hands a proposal to every other party of a threshold wallet (best effort:
   * one that is down sees it when it is next asked), so that each decides it
   * and seals the summaries of first sight that approvals are given for.
   */
  async #proposeToOthers(wallet: WalletRow, answered: string, req: SignedRequest): Promise<void> {
    const others = walletSigners(wallet).filter((id) => id !== answered);
    const results = await Promise.allSettled(others.map((id) => this.#link(id).call('tx.propose', { request: encodeSignedRequest(req) })));
    results.forEach((r, i) => {
      if (r.status === 'rejected') this.log(`proposal not seen by ${others[i]!} yet: ${(r.reason as Error).message}`);
    });
  }

  /** Relays an approval; signs once the enclave has counted enough. */
  async approve(requestId: string, body: Json): Promise<RequestView> {
    const approval = decodeSignedRequest(new Fields(body, 'body').raw('approval'), 'approval');
    return this.#serial(requestId, async () => {
      const r = await this.#request(requestId);
      const wallet = (await this.store.getWallet(r.walletId))!;
      const prior = (await this.#acceptedApprovals(requestId)).map((a) => parseJson(a.approval));
      try {
        await this.#walletCall(wallet, 'approval.check', { proposal: parseJson(r.proposal), approval: encodeSignedRequest(approval), prior });
      } catch (e) {
        if (e instanceof CustodianError) {
          await this.store.addApproval({ requestId, operatorId: approval.operatorId, approval: JSON.stringify(encodeSignedRequest(approval)), accepted: false, code: e.code, createdAtMs: this.clock.nowMs() });
        }
        throw e;
      }
      await this.store.addApproval({ requestId, operatorId: approval.operatorId, approval: JSON.stringify(encodeSignedRequest(approval)), accepted: true, code: null, createdAtMs: this.clock.nowMs() });
      const view = await this.view(r);
      if (r.status === 'pending' && (await this.#acceptedApprovals(requestId)).length >= view.approvalsNeeded) await this.#trySign(r);
      return this.view(await this.#request(requestId));
    });
  }

  /** Accepted approvals, the latest per operator (a renewed approval supersedes an expired one). */
  async #acceptedApprovals(requestId: string): Promise<ApprovalRow[]> {
    const latest = new Map<string, ApprovalRow>();
    for (const a of await this.store.listApprovals(requestId)) if (a.accepted) latest.set(a.operatorId, a);
    return [...latest.values()];
  }

  async #request(requestId: string): Promise<RequestRow> {
    const r = await this.store.getRequest(requestId);
    if (!r) throw new CustodianError('E_REQUEST_NOT_FOUND', `request ${requestId} does not exist`);
    return r;
  }

  /** Signs when the enclave agrees the approvals suffice; an approval that lapsed meanwhile leaves the request pending. */
  async #trySign(r: RequestRow, attempt = 0): Promise<void> {
    try {
      await this.#sign(r);
    } catch (e) {
      if (isCustodianError(e, 'E_QUORUM_UNAVAILABLE')) {
        // Approved, but too few of the wallet's signers answer: the request stays pending (its reason recorded)
        // and is tried again while they come back.
        await this.store.updateRequest(r.requestId, { error: e.code }, this.clock.nowMs());
        this.log(`request ${r.requestId.slice(0, 12)}… approved, not signed yet: ${e.message}`);
        this.#retryLater(r.requestId, attempt + 1);
        return;
      }
      if (!(e instanceof CustodianError) || e.code !== 'E_QUORUM_NOT_MET') throw e;
      const until = timeLockedUntil(e, this.clock.nowMs());
      if (until !== null) {
        // Every approval is in; only a time-lock (`@delay`) holds it: signed when the lock ends, by the enclave's clock.
        await this.store.updateRequest(r.requestId, { error: 'E_TIME_LOCKED' }, this.clock.nowMs());
        this.log(`request ${r.requestId.slice(0, 12)}… approved, time-locked until ${new Date(until).toISOString()}`);
        this.#retryAt(r.requestId, until);
        return;
      }
      this.log(`request ${r.requestId.slice(0, 12)}… not signed yet: ${e.message}`);
    }
  }

  /**
   * Tries a time-locked request again once its lock ends (a little after, as
   * the enclave's clock may trail the host's by the tolerated skew); long
   * locks are re-armed in steps a timer can hold. A restarted host re-arms
   * them from `start` (every pending request with its approvals is tried).
   */
  #retryAt(requestId: string, atMs: number): void {
    this.#retryAfter(requestId, Math.min(Math.max(0, atMs - this.clock.nowMs()) + TIME_LOCK_SLACK_MS, TIMER_MAX_MS), 0, 'time-locked ');
  }

  /** Tries a request whose signers were unavailable again shortly, up to `SIGN_RETRIES_MAX` times. */
  #retryLater(requestId: string, attempt: number): void {
    if (attempt <= SIGN_RETRIES_MAX) this.#retryAfter(requestId, SIGN_RETRY_MS, attempt, '');
  }

  /** One pending retry per request: after `waitMs`, signs it if it is still pending. */
  #retryAfter(requestId: string, waitMs: number, attempt: number, what: string): void {
    if (this.#closed || this.#retries.has(requestId)) return;
    const t = setTimeout(() => {
      this.#retries.delete(requestId);
      void this.#serial(requestId, async () => {
        const r = await this.store.getRequest(requestId);
        if (r?.status === 'pending') await this.#trySign(r, attempt);
      }).catch((e: unknown) => this.log(`retrying ${what}${requestId.slice(0, 12)}…: ${(e as Error).message}`));
    }, waitMs);
    t.unref();
    this.#retries.set(requestId, t);
  }

  async #sign(r: RequestRow): Promise<void> {
    const wallet = (await this.store.getWallet(r.walletId))!;
    const approvals = (await this.#acceptedApprovals(r.requestId)).map((a) => parseJson(a.approval));
    const proposal = parseJson(r.proposal);
    let answer: Json;
    if (wallet.scheme !== 'single') {
      const started = this.clock.nowMs();
      const run = () => this.#relay.sign(walletSigners(wallet), walletThreshold(wallet), (id) => this.#reachable(id), (signers, combiner) => ({ kind: 'sign', proposal, approvals, signers: [...signers], combiner }), this.log);
      const out = await this.#walletSigningLock(wallet.walletId, async () => {
        try {
          return await run();
        } catch (e) {
          // A party still holding a refreshed share that was not committed everywhere: repair, then once more.
          if (!isCustodianError(e, 'E_REFRESH_PENDING')) throw e;
          await this.#repairRefresh(wallet);
          return run();
        }
      });
      this.log(`request ${r.requestId.slice(0, 12)}… signed by ${out.signers.join(' + ')} (threshold session, ${this.clock.nowMs() - started} ms)`);
      answer = out.answer;
    } else {
      answer = await this.#link(wallet.signerId).call('tx.sign', { proposal, approvals });
    }
    const f = new Fields(answer, 'signed');
    const signedTx = f.str('signedTx', 1 << 20);
    // EVM: the 0x transaction hash; Solana: the first signature, base58; Bitcoin: the txid.
    const txHash = f.str('txHash', TX_ID_CHARS_MAX);
    await this.store.updateRequest(r.requestId, { status: 'signed', signedTx, txHash, ...(r.error === 'E_QUORUM_UNAVAILABLE' ? { error: null } : {}) }, this.clock.nowMs());
    this.log(`request ${r.requestId.slice(0, 12)}… signed: ${txHash}`);
    // Only EVM transactions are broadcast (to the configured node); Solana and Bitcoin ones stay `signed` for the operator to submit.
    if (decodeTxProposal(decodeSignedRequest(proposal, 'proposal').payload).chain === 'eth') void this.#broadcast(r.requestId);
  }

  async #broadcast(requestId: string): Promise<void> {
    if (!this.eth || this.#polling.has(requestId)) return;
    this.#polling.add(requestId);
    try {
      const r = await this.#request(requestId);
      if (!r.signedTx || !r.txHash) return;
      if (r.status === 'signed') {
        try {
          await this.eth.sendRaw(r.signedTx);
        } catch (e) {
          // Already known or already mined: the receipt below decides.
          this.log(`broadcast of ${r.txHash}: ${(e as Error).message}`);
        }
        await this.store.updateRequest(requestId, { status: 'broadcast' }, this.clock.nowMs());
      }
      const deadline = this.clock.nowMs() + RECEIPT_WAIT_MAX_MS;
      while (!this.#closed && this.clock.nowMs() < deadline) {
        const receipt = await this.eth.receipt(r.txHash).catch(() => null);
        if (receipt) {
          await this.store.updateRequest(requestId, { status: receipt.status === 'success' ? 'confirmed' : 'failed', receiptStatus: receipt.status }, this.clock.nowMs());
          this.log(`request ${requestId.slice(0, 12)}… mined in block ${receipt.blockNumber}: ${receipt.status}`);
          return;
        }
        await new Promise((res) => setTimeout(res, RECEIPT_POLL_MS));
      }
    } finally {
      this.#polling.delete(requestId);
    }
  }

  /** The operator-facing view of a request. */
  async view(r: RequestRow): Promise<RequestView> {
    const summary = parseJson(r.summary);
    const needed = new Fields(new Fields(new Fields(summary, 'summary').raw('statement'), 'statement').raw('policy'), 'policy');
    const count = new Fields(needed.raw('requiredApprovals'), 'requiredApprovals').int('count');
    return {
      requestId: r.requestId,
      walletId: r.walletId,
      initiator: r.initiator,
      status: r.status,
      decision: r.decision,
      reasons: JSON.parse(r.reasons) as string[],
      txDigest: r.txDigest,
      summaryHash: r.summaryHash,
      summary,
      proposal: parseJson(r.proposal),
      approvals: (await this.store.listApprovals(r.requestId)).map((a) => ({ operatorId: a.operatorId, accepted: a.accepted, code: a.code })),
      approvalsNeeded: count,
      signedTx: r.signedTx,
      txHash: r.txHash,
      receiptStatus: r.receiptStatus,
      error: r.error,
    };
  }

  async getRequest(requestId: string): Promise<RequestView> {
    return this.view(await this.#request(requestId));
  }

  async listRequests(): Promise<RequestView[]> {
    return Promise.all((await this.store.listRequests()).map((r) => this.view(r)));
  }

  /** Chain facts an initiator needs to build a transaction (untrusted hints). */
  async chainHints(address: string): Promise<Json> {
    if (!this.eth) throw new CustodianError('E_UNAVAILABLE', 'no Ethereum node is configured');
    const checked = toChecksumAddress(parseAddress(address));
    const [nonce, fees, chainId] = await Promise.all([this.eth.nonceOf(checked), this.eth.fees(), this.eth.chainId()]);
    return { chainId: chainId.toString(), nonce: nonce.toString(), maxPriorityFeePerGas: fees.maxPriorityFeePerGas.toString(), maxFeePerGas: fees.maxFeePerGas.toString() };
  }

  /** Fresh evidence from one signer, for operators who verify it themselves. */
  async attestation(signerId: string, nonce: Uint8Array): Promise<Json> {
    const h = await this.#link(signerId).hello(nonce);
    const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
    return { signerId: h.signerId, identityKey: hex(h.identityKey), evidence: hex(h.evidence), nonce: hex(h.nonce), credential: h.credential ?? null };
  }

  /**
   * Quorum provisioning, relayed to one signer: `announce` (the signer's
   * evidence for a share manifest) and `share` (a member's posting). The
   * host sees the share manifest (public) and HPKE ciphertext only; the
   * signer parses and checks everything, and the member's CLI verifies the
   * evidence itself.
   */
  async provision(signerId: string, step: 'announce' | 'share', body: Json): Promise<Json> {
    return this.#link(signerId).call(step === 'announce' ? 'provision.announce' : 'provision.share', body);
  }

  /**
   * Hands a break-glass execution statement signed by the key broker (its
   * shape checked here, its signature by each signer) to every signer at
   * once (`breakglass.apply`). Each signer verifies, applies and audits it
   * itself — those entries are the record; the host stores nothing. Answers
   * each signer's outcome, with the refusal's code.
   */
  async applyBreakglass(body: Json): Promise<Json> {
    const execution = encodeSignedBreakglassExecution(decodeSignedBreakglassExecution(body));
    const links = [...this.links.values()];
    const results = await Promise.allSettled(links.map((l) => l.call('breakglass.apply', { execution })));
    const applied = results.map((r, i): Json => {
      const signerId = links[i]!.signerId;
      if (r.status === 'fulfilled') return { signerId, ok: true };
      this.log(`break-glass execution not applied by ${signerId}: ${(r.reason as Error).message}`);
      return { signerId, ok: false, code: isCustodianError(r.reason) ? r.reason.code : 'E_INTERNAL' };
    });
    // A restore brings back the freezes its backup holds: back up every signer that applied this one.
    await this.backups.afterSharesChanged(links.filter((_, i) => results[i]!.status === 'fulfilled').map((l) => l.signerId));
    return { applied };
  }
}

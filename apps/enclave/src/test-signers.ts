/**
 * Test fixture (not bundled: only tests import it): signer enclaves
 * in-process on in-memory sim platforms, an organisation manifest signed by
 * its quorum (optionally pinning a Cedar rulebook), a host that records every
 * audit entry, and a scripted relay that runs threshold sessions between the
 * enclaves the way the host's ThresholdRelay does. It imports only what the
 * enclave may (test/architecture checks every non-test file here), so it
 * fails with plain errors rather than node:assert.
 */
import { randomBytes } from 'node:crypto';
import { CustodianError, isCustodianError } from '@custodian/core/errors';
import { canonicalJsonBytes, parseJson, type Json } from '@custodian/core/canonical-json';
import { decodeWorkloadCredentialRequest, encodeWorkloadCredential, WORKLOAD_CREDENTIAL_TTL_MS_DEFAULT, workloadCredentialStatement } from '@custodian/protocol/workload-credential';
import { bytesTo0x, bytesToHex } from '@custodian/core/bytes';
import { createSimRoot, issueSimEvidence } from '@custodian/attestation/sim/sim-evidence';
import { generateOperatorKey, type OperatorKeyPair } from '@custodian/protocol/operator-key';
import { encodeSignedManifest, MANIFEST_TYPE, signManifest } from '@custodian/protocol/manifest';
import { decodeAuditEntry, decodeEnclaveSigned, statementHash } from '@custodian/protocol/enclave-signed';
import type { RpcPeer } from '@custodian/protocol/frame-rpc';
import { p256 } from '@noble/curves/nist.js';
import { encodeSignedRequest, signRequest } from '@custodian/protocol/operator-request';
import { APPROVAL_TYPE, TX_PROPOSAL_TYPE, WALLET_CREATE_TYPE } from '@custodian/protocol/payloads';
import { encodeUnsignedEip1559 } from '@custodian/chains/evm/eip1559';
import { parseAddress } from '@custodian/chains/evm/address';
import { breakglassExecutionStatement, encodeSignedBreakglassExecution, payloadHashOf, type BreakglassAction, type BreakglassExecution } from '@custodian/protocol/breakglass-execution';
import type { KbsChannel, KeyBrokerTrust, Platform } from './platform.js';
import { Enclave } from './enclave.js';

type R = Record<string, Json>;

/** An in-memory sim platform whose sealed blob and counter tests can inspect, swap or roll back, and whose clock they can skew. */
export interface MemoryPlatform extends Platform {
  blob: Uint8Array | null;
  counter: bigint;
  readonly key: Uint8Array;
  /** Added to the real clock (ms). */
  skewMs: number;
  /** The key broker this platform trusts (tests of break-glass and recovery set it). */
  kbs: KeyBrokerTrust | null;
  /** The broker's nonce and credential routes as this platform's parent forwards them (workload-credential tests set it). */
  kbsLink: KbsChannel | null;
}

/** A sim root and measurement shared by one test file's signers. */
export function simHardware(): { root: ReturnType<typeof createSimRoot>; measurement: Uint8Array } {
  return { root: createSimRoot(), measurement: new Uint8Array(48).fill(7) };
}

/** `key` is the sealing key (random by default; the same one for another machine of the same signer and build, as the broker releases it). */
export function memoryPlatform(hw: ReturnType<typeof simHardware>, key: Uint8Array = new Uint8Array(randomBytes(32))): MemoryPlatform {
  const p: MemoryPlatform = {
    name: 'sim',
    blob: null,
    counter: 0n,
    key,
    skewMs: 0,
    kbs: null,
    kbsLink: null,
    keyBroker: () => p.kbs,
    kbsChannel: () => p.kbsLink,
    readCounter: async () => p.counter,
    advanceCounter: async (v: bigint) => {
      // The platform contract: the counter never goes back.
      if (v < p.counter) throw new Error(`counter advanced backwards: ${v} < ${p.counter}`);
      p.counter = v;
    },
    attest: async (rd: Uint8Array) => issueSimEvidence(hw.root, hw.measurement, rd, Date.now()),
    sealingKey: async () => p.key,
    loadSealed: async () => p.blob,
    storeSealed: async (b: Uint8Array) => {
      p.blob = b;
    },
    nowMs: () => Date.now() + p.skewMs,
  };
  return p;
}

/** One audit entry as the recording host decoded it. */
export interface RecordedEntry {
  readonly signerId: string;
  readonly kind: string;
  readonly requestId: string | null;
  readonly data: R;
}

/** A host that acknowledges every audit entry and keeps them, decoded, in order. */
export class RecordingHost {
  readonly entries: RecordedEntry[] = [];
  /** The enclave-signed entries as they arrived (what a host stores). */
  readonly signed: Json[] = [];
  readonly peer = { call: async (op: string, body: Json) => this.#call(op, body) } as unknown as RpcPeer;
  #call(op: string, body: Json): Json {
    if (op !== 'audit.append') throw new CustodianError('E_UNKNOWN_OP', op);
    const signed = decodeEnclaveSigned((body as R)['entry']!, 'entry');
    const e = decodeAuditEntry(signed.statement);
    // Every event the enclave writes must map to a typed entry auditors can read (not the audit.unmapped fallback).
    const typed = (e as { entry?: Json }).entry as R | undefined;
    if (typed === undefined) throw new Error(`${e.kind}: no typed entry`);
    if (typed['name'] === 'audit.unmapped') throw new Error(`${e.kind} did not map to a typed entry: ${JSON.stringify(typed['detail'])}`);
    this.entries.push({ signerId: e.signerId, kind: e.kind, requestId: e.requestId, data: e.data as R });
    this.signed.push((body as R)['entry']!);
    return { hash: statementHash(signed.statement) };
  }
  /** Entries of `kind` (optionally for one request). */
  of(kind: string, requestId?: string): RecordedEntry[] {
    return this.entries.filter((e) => e.kind === kind && (requestId === undefined || e.requestId === requestId));
  }
}

/** The organisation's operators: alice admin, dave initiator, bob and carol treasury approvers. */
export function orgKeys(): Record<string, OperatorKeyPair> {
  return { alice: generateOperatorKey('ed25519'), dave: generateOperatorKey('ed25519'), bob: generateOperatorKey('ed25519'), carol: generateOperatorKey('ed25519') };
}

/** A genesis manifest signed by alice and bob; `rulebookDigest` pins a Cedar rulebook; the first policy's limit defaults to 10 ETH; `measurements` lists other builds too (hw's first). */
export function orgManifest(hw: ReturnType<typeof simHardware>, keys: Record<string, OperatorKeyPair>, o: { rulebookDigest?: string; allowlist?: string[]; maxValueWei?: string; measurements?: readonly Uint8Array[] } = {}): Json {
  const op = (id: string, roles: string[], groups: string[]): Json => ({ id, name: id, roles, groups, publicKey: { alg: keys[id]!.alg, key: bytesToHex(keys[id]!.publicKey) } });
  const payload = {
    type: MANIFEST_TYPE,
    orgId: 'acme',
    version: 1,
    previousHash: '',
    chainId: '31337',
    operators: [op('alice', ['admin'], []), op('dave', ['initiator'], []), op('bob', ['approver'], ['treasury']), op('carol', ['approver'], ['treasury'])],
    quorum: { threshold: 2, members: ['alice', 'bob', 'carol'] },
    enclave: { platform: 'sim', measurements: [hw.measurement, ...(o.measurements ?? [])].map(bytesToHex), simRoot: bytesToHex(hw.root.publicKey) },
    policy: { maxValueWei: o.maxValueWei ?? '10000000000000000000', allowlist: o.allowlist ?? [], approvals: { group: 'treasury', count: 2 }, ...(o.rulebookDigest ? { rulebookDigest: o.rulebookDigest } : {}) },
  };
  return encodeSignedManifest({ payload, signatures: [signManifest(payload, 'alice', keys['alice']!), signManifest(payload, 'bob', keys['bob']!)] });
}

/** A fresh 16-byte request nonce, hex. */
export const requestNonce = (): string => bytesToHex(randomBytes(16));

/** Signers booted on their platforms, the manifest (and rulebook files) installed, each having verified the others. */
export async function bootSigners(ids: readonly string[], platforms: ReadonlyMap<string, MemoryPlatform>, manifest: Json, host: RecordingHost, rulebook?: Json): Promise<Map<string, Enclave>> {
  const enclaves = new Map<string, Enclave>();
  for (const id of ids) {
    const e = new Enclave(platforms.get(id)!, id);
    await e.boot();
    if (e.phase !== 'READY') await e.handle('manifest.install', { signedManifest: manifest, ...(rulebook === undefined ? {} : { rulebook }) }, host.peer);
    enclaves.set(id, e);
  }
  await connectPeers(enclaves, host);
  return enclaves;
}

/** Each signer verifies the others' fresh evidence and channel keys (as the host's peers.install does). */
export async function connectPeers(enclaves: ReadonlyMap<string, Enclave>, host: RecordingHost): Promise<void> {
  const hellos: R[] = [];
  for (const [id, e] of enclaves) {
    const n = bytesToHex(randomBytes(32));
    const h = (await e.handle('hello', { nonce: n }, host.peer)) as R;
    hellos.push({ signerId: id, identityKey: h['identityKey']!, nonce: n, evidence: h['evidence']!, peerKey: h['peerKey']!, ...(h['credential'] ? { credential: h['credential'] } : {}) });
  }
  for (const [id, e] of enclaves) await e.handle('peers.install', { peers: hellos.filter((h) => h['signerId'] !== id) }, host.peer);
}

/** Rewrites or drops (null) one relayed envelope: the untrusted network. */
export type Tamper = (to: string, round: number, envelope: string, from: string) => string | null;

/**
 * The scripted relay: open, start, then move every outbox to its recipient
 * until all are done; returns each participant's result.
 */
export async function runSession(enclaves: ReadonlyMap<string, Enclave>, host: RecordingHost, ids: readonly string[], open: Json, tamper?: Tamper): Promise<Map<string, Json>> {
  const opened = new Map<string, R>();
  for (const id of ids) opened.set(id, (await enclaves.get(id)!.handle('mpc.open', open, host.peer)) as R);
  const contributions = ids.map((id) => ({ signerId: id, nonce: opened.get(id)!['nonce']! }));
  let answers = new Map<string, R>();
  for (const id of ids) answers.set(id, (await enclaves.get(id)!.handle('mpc.start', { nonce: opened.get(id)!['nonce']!, contributions }, host.peer)) as R);
  const sessionId = answers.get(ids[0]!)!['sessionId']!;
  const results = new Map<string, Json>();
  for (let round = 1; ; round++) {
    const inbox = new Map<string, Json[]>(ids.map((id) => [id, []]));
    for (const [from, a] of answers) {
      for (const e of a['outbox'] as R[]) {
        const envelope = tamper ? tamper(String(e['to']), round, String(e['envelope']), from) : String(e['envelope']);
        if (envelope !== null) inbox.get(String(e['to']))!.push({ ...e, envelope });
      }
    }
    for (const [id, a] of answers) if (a['done'] === true && a['result'] !== undefined) results.set(id, a['result']);
    const running = [...answers].filter(([, a]) => a['done'] !== true).map(([id]) => id);
    if (running.length === 0) return results;
    const next = new Map<string, R>();
    for (const id of running) next.set(id, (await enclaves.get(id)!.handle('mpc.step', { sessionId, inbox: inbox.get(id)! }, host.peer)) as R);
    answers = next;
  }
}

/** Asserts that `p` rejects with a CustodianError of `code`. */
export async function rejectsWith(p: Promise<unknown>, code: string): Promise<void> {
  try {
    await p;
  } catch (e) {
    if (isCustodianError(e, code)) return;
    throw new Error(`expected ${code}, got ${(e as CustodianError).code}: ${(e as Error).message}`, { cause: e });
  }
  throw new Error(`expected ${code}, but it succeeded`);
}

/**
 * A key broker as the signers see it, for tests: its `kbs-signing` key (a
 * P-256 key standing in for the HSM's), the trust a platform is launched
 * with, and broker-signed break-glass executions, each executed a second
 * after the one before unless `over` says otherwise.
 */
export class TestBroker {
  readonly secret = p256.utils.randomSecretKey();
  readonly publicKey = p256.getPublicKey(this.secret, false);
  #clockMs = 1_800_000_000_000;

  constructor(readonly recoveryKey: Uint8Array | null = null) {}

  /** When the last execution it signed took effect. */
  get lastExecutedAtMs(): number {
    return this.#clockMs;
  }

  /** What a platform launched with this broker trusts. */
  get trust(): KeyBrokerTrust {
    return { publicKey: this.publicKey, recoveryKey: this.recoveryKey };
  }

  /**
   * The broker's routes as a platform reaches them, for signers that need
   * workload credentials (their peers require one once a broker is
   * configured): a nonce, and a credential for whatever identity key is
   * asked, naming `hw`'s measurement. A stand-in: the real route appraises
   * the evidence first (apps/kbs, credential-route tests).
   */
  channel(hw: ReturnType<typeof simHardware>): KbsChannel {
    const answer = (json: Json): Uint8Array => canonicalJsonBytes(json);
    return {
      nonce: async () => answer({ ok: true, nonce: bytesToHex(randomBytes(32)), expiresAtMs: Date.now() + 60_000 }),
      credential: async (body) => {
        const req = decodeWorkloadCredentialRequest(parseJson(body));
        const now = Date.now();
        const claims = { measurement: bytesToHex(hw.measurement), platform: 'sim', subjectKey: bytesToHex(req.publicKey), issuedAtMs: now, expiresAtMs: now + WORKLOAD_CREDENTIAL_TTL_MS_DEFAULT };
        const signature = p256.sign(workloadCredentialStatement(claims), this.secret, { prehash: true, format: 'compact' });
        return answer({ ok: true, credential: encodeWorkloadCredential({ claims, signature }) });
      },
    };
  }

  /** A platform launched with this broker: its trust and its routes (credentials for peers). */
  platform(hw: ReturnType<typeof simHardware>, sealingKey?: Uint8Array): MemoryPlatform {
    const p = memoryPlatform(hw, sealingKey);
    p.kbs = this.trust;
    p.kbsLink = this.channel(hw);
    return p;
  }

  /** A signed execution of `action` on `payload` (signed by `secret`, the broker's own key by default). */
  execution(id: string, action: BreakglassAction, payload: Json, over: Partial<BreakglassExecution> = {}, secret: Uint8Array = this.secret): Json {
    this.#clockMs += 1_000;
    const e: BreakglassExecution = { id, action, payloadHash: payloadHashOf(payload), approvals: ['carol'], executedAtMs: this.#clockMs, ...over };
    return encodeSignedBreakglassExecution({ execution: e, payload, signature: p256.sign(breakglassExecutionStatement(e), secret, { prehash: true, format: 'compact' }) });
  }
}

/** One booted signer (`signer-1`) whose platform trusts `kbs` (with `sealingKey`, if given), holding a single-key wallet `w` created by alice. */
export async function singleKeySigner(hw: ReturnType<typeof simHardware>, manifest: Json, keys: Record<string, OperatorKeyPair>, kbs: KeyBrokerTrust | null, sealingKey?: Uint8Array): Promise<{ platform: MemoryPlatform; host: RecordingHost; enclave: Enclave }> {
  const platform = memoryPlatform(hw, sealingKey);
  platform.kbs = kbs;
  const host = new RecordingHost();
  const enclave = (await bootSigners(['signer-1'], new Map([['signer-1', platform]]), manifest, host)).get('signer-1')!;
  const wc = signRequest({ type: WALLET_CREATE_TYPE, orgId: 'acme', walletId: 'w', scheme: 'single', signerId: 'signer-1', nonce: requestNonce(), createdAtMs: Date.now() }, 'alice', keys['alice']!);
  await enclave.handle('wallet.create', { request: encodeSignedRequest(wc) }, host.peer);
  return { platform, host, enclave };
}

/** An EIP-1559 transfer of 5 wei to `to` from `walletId`, proposed by dave to `signer`, with bob's and carol's approvals of the summary it answered. */
export async function proposeTransfer(signer: Enclave, host: RecordingHost, keys: Record<string, OperatorKeyPair>, walletId: string, to: string): Promise<{ proposal: Json; approvals: Json[]; requestId: string; answer: R }> {
  const raw = encodeUnsignedEip1559({ chainId: 31337n, nonce: BigInt(Math.floor(Math.random() * 1e6)), maxPriorityFeePerGas: 1n, maxFeePerGas: 2n, gasLimit: 21000n, to: parseAddress(to), value: 5n, data: new Uint8Array(0), accessList: [] });
  const proposal = encodeSignedRequest(signRequest({ type: TX_PROPOSAL_TYPE, orgId: 'acme', walletId, chain: 'eth', rawTx: bytesTo0x(raw), nonce: requestNonce(), createdAtMs: Date.now() }, 'dave', keys['dave']!));
  const answer = (await signer.handle('tx.propose', { request: proposal }, host.peer)) as R;
  const approvals = ['bob', 'carol'].map((who) =>
    encodeSignedRequest(signRequest({ type: APPROVAL_TYPE, orgId: 'acme', requestId: String(answer['requestId']), txDigest: String(answer['txDigest']), summaryHash: String(answer['summaryHash']), expiresAtMs: Date.now() + 600_000, nonce: requestNonce() }, who, keys[who]!)),
  );
  return { proposal, approvals, requestId: String(answer['requestId']), answer };
}

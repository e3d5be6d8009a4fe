/**
 * The host's connection to one signer enclave: framed RPC over TCP (vsock in
 * production). The host verifies the signer's attestation before using it,
 * and stores the enclave's audit entries durably before acknowledging them —
 * the acknowledgement is what lets the enclave release a signature.
 *
 * Configured with the key broker's signing key (`custodian serve --kbs-key`),
 * the host also requires the signer's workload credential (issue 7 item 7):
 * the broker's statement that it appraised this identity key and measurement.
 */
import { connect } from 'node:net';
import { randomBytes } from 'node:crypto';
import { CustodianError } from '@custodian/core/errors';
import type { Json } from '@custodian/core/canonical-json';
import { Fields } from '@custodian/core/fields';
import { bytesToHex } from '@custodian/core/bytes';
import { RpcPeer } from '@custodian/protocol/frame-rpc';
import { AUDIT_ENTRY_KIND, decodeAuditEntry, decodeEnclaveSigned, encodeEnclaveSigned, statementHash, verifyStatement, type EnclaveSigned } from '@custodian/protocol/enclave-signed';
import { cosignKeyName, logKeyName, NOTE_KEYS_KIND } from '@custodian/protocol/audit-log';
import { canonicalJsonBytes } from '@custodian/core/canonical-json';
import type { TransparencyLog } from './transparency-log.js';
import { identityReportData } from '@custodian/protocol/identity-binding';
import type { Manifest } from '@custodian/protocol/manifest';
import { verifySimEvidence, appraiseSimClaims } from '@custodian/attestation/sim/sim-evidence';
import type { HostStore, SignerRecord } from './store.js';
import { verifyWorkloadCredential } from '@custodian/protocol/workload-credential';

/** Most time a signer call may take (signing includes audit round trips). */
export const SIGNER_CALL_TIMEOUT_MS = 30_000;

/** What a signer says about itself in `hello`. */
export interface SignerHello {
  readonly signerId: string;
  readonly phase: string;
  readonly identityKey: Uint8Array;
  readonly evidence: Uint8Array;
  readonly nonce: Uint8Array;
  readonly manifestHash: string | null;
  /** Its note keys, signed by the identity key (checked once the identity key is trusted). */
  readonly noteKeys?: EnclaveSigned;
  /** Its HPKE peer-channel key, signed by the identity key (passed on to its peers, which check it). */
  readonly peerKey?: EnclaveSigned;
  /** Its workload credential from the key broker (wire form); null or absent without one. */
  readonly credential?: Json | null;
  /** Why it has none, in its own words (shown, never acted on). */
  readonly credentialError?: string;
}

/**
 * Checks a signer's workload credential under the broker key: signed by the
 * broker, naming the attested identity key and measurement, valid at `nowMs`.
 * Every failure is E_CREDENTIAL_INVALID (the verifier's code in the detail).
 */
export function verifySignerCredential(hello: SignerHello, measurement: string, kbsPublicKey: Uint8Array, nowMs: number): void {
  if (hello.credential === undefined || hello.credential === null) {
    const why = hello.credentialError ? `: ${hello.credentialError}` : '';
    throw new CustodianError('E_CREDENTIAL_INVALID', `signer ${hello.signerId} presented no workload credential${why}`, { signerId: hello.signerId });
  }
  try {
    verifyWorkloadCredential(hello.credential, kbsPublicKey, nowMs, { subjectKey: hello.identityKey, measurement, platform: 'sim', signerId: hello.signerId });
  } catch (e) {
    if (!(e instanceof CustodianError)) throw e;
    throw new CustodianError('E_CREDENTIAL_INVALID', `the workload credential of signer ${hello.signerId} is refused: ${e.message}`, { signerId: hello.signerId, check: e.code });
  }
}

/** Verifies a signer's evidence against the manifest; returns its measurement. */
export function verifySignerEvidence(hello: SignerHello, manifest: Manifest, nowMs: number): string {
  const claims = verifySimEvidence(hello.evidence, { rootPublicKey: manifest.enclave.simRoot, nowMs, expectedReportData: identityReportData(hello.identityKey, hello.nonce) });
  appraiseSimClaims(claims, { measurements: manifest.enclave.measurements, allowSim: manifest.enclave.platform === 'sim' });
  return claims.measurement;
}

/** A live connection to one signer. */
export class SignerLink {
  #peer: RpcPeer | null = null;
  #attesting = false;
  identityKey: Uint8Array | null = null;
  /** The manifest the signer was last attested against; a reconnect re-attests under it. */
  manifest: Manifest | null = null;
  /** The signer's audit-log note keys (vkeys), from a statement signed by its identity key. */
  noteKeys: { log: string; cosign: string } | null = null;
  /** The same note keys as the signer's signed statement (its peers verify it themselves, in checkpoint.sync). */
  noteKeysStatement: Json | null = null;
  /** Where the signer's audit entries go besides the store (the transparency log). */
  auditLog: TransparencyLog | null = null;
  /** The key broker's signing key (SEC1): when set, `attest` requires a valid workload credential. */
  kbsPublicKey: Uint8Array | null = null;
  /** The signer's workload credential as last checked (or seen, without a broker key), passed on to its peers. */
  credential: Json | null = null;

  constructor(
    readonly signerId: string,
    readonly endpoint: string,
    private readonly store: HostStore,
  ) {}

  /**
   * Opens the connection (idempotent). A reconnection re-attests the signer
   * before it is used again: a restarted signer may be another enclave.
   */
  async connect(): Promise<void> {
    if (this.#peer && !this.#peer.closed) return;
    const reconnect = this.#peer !== null;
    await this.#open();
    if (reconnect && this.manifest && !this.#attesting) {
      this.identityKey = null;
      await this.attest(this.manifest, Date.now());
    }
  }

  async #open(): Promise<void> {
    const [host, port] = this.endpoint.split(':');
    const socket = connect({ host: host ?? '127.0.0.1', port: Number(port) });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', (e) => reject(new CustodianError('E_SIGNER_UNAVAILABLE', `signer ${this.signerId} at ${this.endpoint} is unreachable: ${e.message}`)));
    });
    this.#peer = new RpcPeer(socket, (op, body) => this.#onEnclaveCall(op, body), SIGNER_CALL_TIMEOUT_MS);
  }

  /** Calls the enclave. */
  async call(op: string, body: Json): Promise<Json> {
    await this.connect();
    return this.#peer!.call(op, body);
  }

  /** Takes the signer's note keys from a hello whose identity key is (provisionally or by attestation) trusted. */
  adoptNoteKeys(h: SignerHello): void {
    if (!h.noteKeys || !verifyStatement(NOTE_KEYS_KIND, h.noteKeys, h.identityKey)) throw new CustodianError('E_SIGNER_RESPONSE', `signer ${this.signerId} did not sign its note keys`);
    const f = new Fields(h.noteKeys.statement, 'noteKeys');
    const keys = { log: f.str('log', 256), cosign: f.str('cosign', 256) };
    if (f.str('signerId', 64) !== this.signerId || !keys.log.startsWith(`${logKeyName(this.signerId)}+`) || !keys.cosign.startsWith(`${cosignKeyName(this.signerId)}+`)) {
      throw new CustodianError('E_SIGNER_RESPONSE', `signer ${this.signerId} published note keys under other names`);
    }
    f.done();
    this.noteKeys = keys;
    this.noteKeysStatement = encodeEnclaveSigned(h.noteKeys);
  }

  /** Asks for fresh evidence bound to a nonce (a new one by default). */
  async hello(nonce: Uint8Array = new Uint8Array(randomBytes(32))): Promise<SignerHello> {
    const f = new Fields(await this.call('hello', { nonce: bytesToHex(nonce) }), 'hello');
    const h: SignerHello = {
      signerId: f.str('signerId', 64),
      phase: f.str('phase', 32),
      identityKey: f.hex('identityKey', 32),
      evidence: f.hex('evidence', undefined, 16 * 1024),
      nonce,
      manifestHash: typeof f.optRaw('manifestHash') === 'string' ? (f.raw('manifestHash') as string) : null,
      noteKeys: decodeEnclaveSigned(f.raw('noteKeys'), 'noteKeys'),
      ...(f.optRaw('peerKey') === undefined ? {} : { peerKey: decodeEnclaveSigned(f.raw('peerKey'), 'peerKey') }),
      // Checked by whoever relies on it (attest below, and the peers); here only relayed.
      credential: f.optRaw('credential') ?? null,
      ...credentialErrorOf(f.optRaw('credentialError')),
    };
    f.done();
    if (h.signerId !== this.signerId) throw new CustodianError('E_SIGNER_MISMATCH', `endpoint ${this.endpoint} answers as ${h.signerId}, expected ${this.signerId}`);
    return h;
  }

  /** Verifies the signer against the manifest and records it. */
  async attest(manifest: Manifest, nowMs: number): Promise<SignerRecord> {
    this.#attesting = true;
    let h: SignerHello;
    try {
      h = await this.hello();
    } finally {
      this.#attesting = false;
    }
    const measurement = verifySignerEvidence(h, manifest, nowMs);
    if (this.kbsPublicKey) verifySignerCredential(h, measurement, this.kbsPublicKey, nowMs);
    this.credential = h.credential ?? null;
    this.identityKey = h.identityKey;
    this.manifest = manifest;
    this.adoptNoteKeys(h);
    const rec: SignerRecord = { signerId: this.signerId, endpoint: this.endpoint, identityKey: bytesToHex(h.identityKey), measurement, evidence: bytesToHex(h.evidence), nonce: bytesToHex(h.nonce), verifiedAtMs: nowMs };
    await this.store.upsertSigner(rec);
    return rec;
  }

  close(): void {
    this.#peer?.close();
  }

  async #onEnclaveCall(op: string, body: Json): Promise<Json> {
    if (op !== 'audit.append') throw new CustodianError('E_UNKNOWN_OP', `host does not serve ${op.slice(0, 64)}`);
    const signed = decodeEnclaveSigned(new Fields(body, 'audit.append').raw('entry'), 'entry');
    if (!this.identityKey || !verifyStatement(AUDIT_ENTRY_KIND, signed, this.identityKey)) {
      throw new CustodianError('E_AUDIT_SIGNATURE', 'audit entry is not signed by the attested signer identity');
    }
    const e = decodeAuditEntry(signed.statement);
    if (e.signerId !== this.signerId) throw new CustodianError('E_AUDIT_SIGNATURE', 'audit entry names another signer');
    const hash = statementHash(signed.statement);
    const text = JSON.stringify(encodeEnclaveSigned(signed));
    // Idempotent for the same entry; a different one at a taken position is answered with the stored one.
    const existing = await this.store.getAudit(e.signerId, e.seq);
    if (existing) {
      if (existing.hash === hash) return { hash };
      throw new CustodianError('E_AUDIT_CONFLICT', `audit position ${e.signerId}#${e.seq} already holds another entry`, { signerId: e.signerId, seq: e.seq, entry: existing.entry });
    }
    // The transparency log first (durable under a cosigned checkpoint), then the store:
    // a row in the store is always in the log.
    const receipt = this.auditLog ? await this.auditLog.append(canonicalJsonBytes(encodeEnclaveSigned(signed))) : null;
    await this.store.appendAudit({ signerId: e.signerId, seq: e.seq, hash, kind: e.kind, requestId: e.requestId, timeMs: e.timeMs, entry: text });
    if (receipt) return { hash, index: receipt.index, size: receipt.size };
    return { hash };
  }
}

/** The signer's reason for having no credential, bounded (untrusted words). */
function credentialErrorOf(raw: Json | undefined): { credentialError?: string } {
  if (raw === undefined || raw === null || typeof raw !== 'object' || Array.isArray(raw)) return {};
  const r = raw as { readonly [k: string]: Json };
  return { credentialError: `${String(r['code']).slice(0, 64)} ${String(r['message']).slice(0, 512)}` };
}

/** Parses `id=host:port`. */
export function parseSignerSpec(spec: string): { signerId: string; endpoint: string } {
  const m = /^([a-z0-9][a-z0-9._-]{0,63})=([0-9a-zA-Z.-]+:[0-9]{1,5})$/.exec(spec);
  if (!m) throw new CustodianError('E_USAGE', `signer "${spec}" must look like signer-1=127.0.0.1:7101`);
  return { signerId: m[1]!, endpoint: m[2]! };
}

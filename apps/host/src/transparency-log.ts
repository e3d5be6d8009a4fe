/**
 * The organisation's audit log as a C2SP tlog-tiles transparency log, kept
 * by the host in its data directory (servable as static files). Leaves are
 * the enclave-signed audit statements, byte for byte, each carrying its typed
 * entry (@custodian/audit/custody-leaf decodes them); beside the log the host
 * keeps the checkpoint policy and the signers' attested identity keys. Checkpoints are signed
 * inside the signer enclaves: any signer's log key signs, and a majority of
 * signers must cosign — each only if the checkpoint extends, append-only, the
 * last one it signed. An entry is acknowledged to its enclave only once it is
 * durable under such a checkpoint (fail closed: no checkpoint, no release).
 */
import { join } from 'node:path';
import { CustodianError, isCustodianError } from '@custodian/core/errors';
import { bytesToHex } from '@custodian/core/bytes';
import { Fields } from '@custodian/core/fields';
import type { Json } from '@custodian/core/canonical-json';
import { TileLogWriter } from '@custodian/audit/tile-log-writer';
import { BatchingAppender, type AppendReceipt } from '@custodian/audit/batching-appender';
import { FileTileStorage } from '@custodian/audit/tile-storage';
import { decodeCheckpoint } from '@custodian/audit/checkpoint';
import { decodeNoteUnverified, encodeNote, type NoteSignature } from '@custodian/audit/note';
import { proveConsistencyFromTiles } from '@custodian/audit/tile-proofs';
import { writeLogPolicyDocument } from '@custodian/audit/log-policy-file';
import { writeFileDurable } from '@custodian/audit/durable-file';
import { CUSTODY_SIGNERS_FILE_NAME, CUSTODY_SIGNERS_FORMAT, encodeCustodySigners } from '@custodian/audit/custody-signers';
import { witnessCosigner, type Cosigner } from '@custodian/audit/checkpoint-signer';
import { HttpWitnessClient } from '@custodian/audit/http-witness-client';
import { decodeVerifierKey } from '@custodian/audit/ed25519-note-key';
import { AUDIT_LOG_ORIGIN } from '@custodian/protocol/audit-log';
import type { SignerLink } from './signer-link.js';

/** Most time to wait for company before writing a batch. */
export const AUDIT_BATCH_DELAY_MS = 2;

/** An independent witness the log must also be cosigned by. */
export interface WitnessConfig {
  readonly url: string;
  /** Its cosignature verifier key (type 0x04). */
  readonly vkey: string;
}

export class TransparencyLog {
  readonly #lastSize = new Map<string, number>();
  #appender: BatchingAppender | null = null;
  readonly #storage: FileTileStorage;
  readonly #witnesses: readonly Cosigner[];

  constructor(
    readonly dir: string,
    private readonly links: ReadonlyMap<string, SignerLink>,
    private readonly witnesses: readonly WitnessConfig[] = [],
  ) {
    this.#storage = new FileTileStorage(dir);
    this.#witnesses = witnesses.map((w) => witnessCosigner(decodeVerifierKey(w.vkey).name, new HttpWitnessClient(w.url), this.#storage));
  }

  /** Signer cosignatures needed: a majority of the configured signers. */
  get quorum(): number {
    return Math.floor(this.links.size / 2) + 1;
  }

  /** Opens the writer (checking the stored tiles reproduce the checkpoint, F16). */
  async open(): Promise<void> {
    const writer = await TileLogWriter.open({ storage: this.#storage, origin: AUDIT_LOG_ORIGIN, sign: (text) => this.#sign(text) });
    this.#appender = new BatchingAppender(writer, { maxDelayMs: AUDIT_BATCH_DELAY_MS });
  }

  /** Appends one entry; resolves when it is durable under a signed and cosigned checkpoint. */
  append(entry: Uint8Array): Promise<AppendReceipt> {
    if (!this.#appender) return Promise.reject(new CustodianError('E_AUDIT_UNAVAILABLE', 'the transparency log is not open'));
    return this.#appender.appendBytes(entry);
  }

  /**
   * Writes the verification policy beside the log (keys from the signers' attested statements),
   * and the signers document: each signer's attested identity key, which its leaves are signed with.
   */
  async writePolicy(): Promise<void> {
    const links = [...this.links.values()];
    const keys = links.map((l) => l.noteKeys).filter((k): k is NonNullable<typeof k> => k !== null);
    if (keys.length !== this.links.size || links.some((l) => l.identityKey === null)) return;
    const signers = links.map((l) => ({ signerId: l.signerId, identityKey: bytesToHex(l.identityKey!), logKey: l.noteKeys!.log, cosignKey: l.noteKeys!.cosign }));
    await writeFileDurable(join(this.dir, CUSTODY_SIGNERS_FILE_NAME), encodeCustodySigners({ format: CUSTODY_SIGNERS_FORMAT, origin: AUDIT_LOG_ORIGIN, signers }));
    // Every configured witness is required on top of the signer majority.
    await writeLogPolicyDocument(this.dir, {
      origin: AUDIT_LOG_ORIGIN,
      logKeys: keys.map((k) => k.log),
      witnessKeys: [...keys.map((k) => k.cosign), ...this.witnesses.map((w) => w.vkey)],
      witnessQuorum: this.quorum + this.witnesses.length,
    });
  }

  async #sign(text: string): Promise<Uint8Array> {
    const size = decodeCheckpoint(text).size;
    const links = [...this.links.values()];
    const results = await Promise.allSettled(links.map((l) => this.#signWith(l, text, size)));
    const ok = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    if (ok.length < this.quorum) {
      const failures = results.flatMap((r, i) => (r.status === 'rejected' ? [`${links[i]!.signerId}: ${(r.reason as Error).message}`] : []));
      throw new CustodianError('E_CHECKPOINT_UNWITNESSED', `only ${ok.length} of the required ${this.quorum} signers signed checkpoint ${size}`, { size, failures });
    }
    // Independent witnesses see the log-signed checkpoint and add theirs; all are required (fail closed).
    const logSigned = encodeNote(text, [ok[0]!.log]);
    const cp = decodeCheckpoint(text);
    let witnessed: NoteSignature[];
    try {
      witnessed = await Promise.all(this.#witnesses.map((w) => w.cosign(logSigned, cp)));
    } catch (e) {
      throw new CustodianError('E_CHECKPOINT_UNWITNESSED', `a witness refused or did not answer for checkpoint ${size}: ${(e as Error).message}`, { size });
    }
    return encodeNote(text, [ok[0]!.log, ...ok.map((r) => r.cosign), ...witnessed]);
  }

  /**
   * Hands every signer the log's latest checkpoint as its peers signed and
   * cosigned it (`checkpoint.sync`), with a consistency proof from the size
   * the signer last signed: a signer restored from an older state, or new,
   * adopts it before it signs anything else. Failures are reported, not
   * thrown (the signer then refuses whatever would fork the log anyway).
   */
  async syncSigners(log: (line: string) => void): Promise<void> {
    const note = await this.#storage.read('checkpoint');
    if (note === null) return;
    const size = decodeCheckpoint(decodeNoteUnverified(note).text).size;
    const links = [...this.links.values()];
    for (const link of links) {
      const noteKeys = links.filter((l) => l !== link && l.noteKeysStatement !== null).map((l) => l.noteKeysStatement!);
      if (noteKeys.length === 0) continue;
      const attempt = async (oldSize: number): Promise<Json> => {
        const proof = oldSize === 0 || oldSize >= size ? [] : await proveConsistencyFromTiles(this.#storage, oldSize, size);
        return link.call('checkpoint.sync', { note: new TextDecoder().decode(note), noteKeys, oldSize, proof: proof.map(bytesToHex) });
      };
      try {
        let res: Json;
        try {
          res = await attempt(this.#lastSize.get(link.signerId) ?? 0);
        } catch (e) {
          const base = isCustodianError(e, 'E_CHECKPOINT_PROOF_BASE') ? e.detail['size'] : undefined;
          if (typeof base !== 'number') throw e;
          res = await attempt(base);
        }
        const f = new Fields(res, 'checkpoint.synced');
        const signed = f.int('size');
        this.#lastSize.set(link.signerId, signed);
        if (f.raw('adopted') === true) log(`signer ${link.signerId} adopted the log checkpoint of size ${signed} its peers cosigned`);
      } catch (e) {
        log(`signer ${link.signerId} did not take the log checkpoint of size ${size}: ${(e as Error).message}`);
      }
    }
  }

  /** Asks one signer to sign, proving consistency from the size it last signed. */
  async #signWith(link: SignerLink, text: string, size: number): Promise<{ log: NoteSignature; cosign: NoteSignature }> {
    const attempt = async (oldSize: number): Promise<Json> => {
      const proof = oldSize === 0 || oldSize >= size ? [] : await proveConsistencyFromTiles(this.#storage, oldSize, size);
      return link.call('checkpoint.sign', { text, oldSize, proof: proof.map(bytesToHex) });
    };
    const old = this.#lastSize.get(link.signerId) ?? 0;
    let res: Json;
    try {
      res = await attempt(old);
    } catch (e) {
      const base = isCustodianError(e, 'E_CHECKPOINT_PROOF_BASE') ? e.detail['size'] : undefined;
      if (typeof base !== 'number' || base === old) throw e;
      res = await attempt(base);
    }
    this.#lastSize.set(link.signerId, size);
    const f = new Fields(res, 'checkpoint.signed');
    const sig = (k: string): NoteSignature => {
      const g = f.obj(k);
      const s = { name: g.str('name', 128), keyId: g.int('keyId', 0, 0xffffffff), signature: g.hex('signature', undefined, 128) };
      g.done();
      return s;
    };
    const out = { log: sig('log'), cosign: sig('cosign') };
    f.done();
    return out;
  }
}

/**
 * A file-backed WitnessStore: one canonical-JSON state file per log origin
 * and one file per piece of evidence, each written durably (fsync before the
 * promise resolves) so the witness never cosigns and then forgets.
 */
import { readFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { bytesToHex, utf8 } from '@custodian/core/bytes';
import { canonicalJsonBytes, parseJson } from '@custodian/core/canonical-json';
import { Fields } from '@custodian/core/fields';
import { isCustodianError } from '@custodian/core/errors';
import { auditError } from './errors.js';
import { decodeBase64Strict, encodeBase64 } from './base64.js';
import { sha256 } from './hash.js';
import { writeFileDurable } from './durable-file.js';
import { NOTE_BYTES_MAX } from './limits.js';
import type { WitnessEvidence, WitnessRecord, WitnessStore } from './witness.js';

/** Stores witness state under `dir` (state/<sha256(origin)>.json, evidence/...). */
export class FileWitnessStore implements WitnessStore {
  #evidenceSeq = 0;

  constructor(readonly dir: string) {}

  #statePath(origin: string): string {
    return join(this.dir, 'state', `${bytesToHex(sha256(utf8(origin)))}.json`);
  }

  /** Loads the last cosigned checkpoint; E_AUDIT_CORRUPT if the file is damaged. */
  async load(origin: string): Promise<WitnessRecord | null> {
    let bytes: Uint8Array;
    try {
      bytes = await readFile(this.#statePath(origin));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw auditError('E_AUDIT_UNAVAILABLE', 'witness state cannot be read', { origin });
    }
    try {
      const f = new Fields(parseJson(bytes, 4 * NOTE_BYTES_MAX), 'witnessState');
      const rec = { origin: f.str('origin'), size: f.int('size'), rootHash: f.hex('rootHash', 32), note: decodeBase64Strict(f.str('note', 2 * NOTE_BYTES_MAX), 'E_AUDIT_CORRUPT', 'witness note') };
      f.done();
      if (rec.origin !== origin) throw auditError('E_AUDIT_CORRUPT', 'witness state names another origin');
      return rec;
    } catch (e) {
      if (isCustodianError(e, 'E_AUDIT_CORRUPT')) throw e;
      throw auditError('E_AUDIT_CORRUPT', 'witness state file is damaged', { origin });
    }
  }

  /** Saves the record durably. */
  async save(record: WitnessRecord): Promise<void> {
    const doc = { origin: record.origin, size: record.size, rootHash: bytesToHex(record.rootHash), note: encodeBase64(record.note) };
    await writeFileDurable(this.#statePath(record.origin), canonicalJsonBytes(doc));
  }

  /** Keeps the offending signed checkpoint and the proof as a durable evidence file. */
  async saveEvidence(ev: WitnessEvidence): Promise<void> {
    await mkdir(join(this.dir, 'evidence'), { recursive: true });
    const doc = {
      origin: ev.origin, reason: ev.reason, atMs: ev.atMs,
      offending: encodeBase64(ev.offending), trusted: encodeBase64(ev.trusted), proof: ev.proof.map(encodeBase64),
    };
    const name = `${ev.atMs}-${process.pid}-${this.#evidenceSeq++}-${ev.reason}.json`;
    await writeFileDurable(join(this.dir, 'evidence', name), canonicalJsonBytes(doc));
  }
}

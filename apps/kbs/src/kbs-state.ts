/**
 * The broker's persistent state in its data directory: the wrapped sealing
 * master (useless without the root's wrapping key) and the quorum-signed
 * measurement approvals and organisation manifest chain (verifiable by anyone,
 * and re-verified at every start). Nothing in it is secret; it is
 * written atomically (temporary file, fsync, rename).
 */
import { existsSync, readFileSync } from 'node:fs';
import { writeFileDurableSync } from '@custodian/core/durable-file';
import { join } from 'node:path';
import { CustodianError } from '@custodian/core/errors';
import { bytesToHex } from '@custodian/core/bytes';
import { canonicalJson, parseJson } from '@custodian/core/canonical-json';
import { Fields } from '@custodian/core/fields';
import { decodeMeasurementChangeRecord, encodeMeasurementChangeRecord, type MeasurementChangeRecord } from './measurement-approvals.js';
import { decodeManifestLink, encodeManifestLink, KBS_MANIFESTS_MAX, type ManifestLink } from './manifest-approvals.js';

/** File name of the state inside the data directory. */
export const KBS_STATE_FILE = 'kbs-state.json';
/** Most measurement approvals kept. */
export const KBS_APPROVALS_MAX = 1024;

/** The persistent state. */
export interface KbsState {
  readonly wrappedMaster: Uint8Array;
  readonly approvals: readonly MeasurementChangeRecord[];
  /** The organisation manifest chain, anchor first (absent in states written before manifests were held). */
  readonly manifests: readonly ManifestLink[];
}

/** Reads the state, or undefined when the directory has none yet. */
export function readKbsState(dataDir: string): KbsState | undefined {
  const path = join(dataDir, KBS_STATE_FILE);
  if (!existsSync(path)) return undefined;
  const f = new Fields(parseJson(readFileSync(path)), 'kbsState');
  const version = f.int('version', 1, 1);
  const wrappedMaster = f.hex('wrappedMaster', undefined, 1024);
  const approvals = f.arr('approvals', KBS_APPROVALS_MAX).map((r) => decodeMeasurementChangeRecord(r));
  const manifests = f.optRaw('manifests') === undefined ? [] : f.arr('manifests', KBS_MANIFESTS_MAX).map((m) => decodeManifestLink(m));
  f.done();
  if (version !== 1) throw new CustodianError('E_KBS_STATE_INVALID', 'unknown KBS state version', {});
  return { wrappedMaster, approvals, manifests };
}

/** Writes the state atomically. */
export function writeKbsState(dataDir: string, state: KbsState): void {
  const path = join(dataDir, KBS_STATE_FILE);
  const text = canonicalJson({ version: 1, wrappedMaster: bytesToHex(state.wrappedMaster), approvals: state.approvals.map(encodeMeasurementChangeRecord), manifests: state.manifests.map(encodeManifestLink) }) + '\n';
  writeFileDurableSync(path, text);
}

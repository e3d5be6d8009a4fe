/**
 * The sim root file written by `custodian init` (`sim-root.json`,
 * `{ "type": "custodian.sim-root.v1", "warning", "secretKey"?, "publicKey" }`).
 * Verifiers need only the public key, so a copy without `secretKey` is
 * accepted too; when both are present they must belong together.
 */
import { parseJson } from '@custodian/core/canonical-json';
import { Fields } from '@custodian/core/fields';
import { equalBytes } from '@custodian/core/bytes';
import { CustodianError } from '@custodian/core/errors';
import { createSimRoot, type SimRoot } from './sim/sim-evidence.js';

/** The `type` of a sim root file. */
export const SIM_ROOT_FILE_TYPE = 'custodian.sim-root.v1';
/** Largest sim root file accepted. */
export const SIM_ROOT_FILE_BYTES_MAX = 4096;

/** A sim root file's contents: always the public key, the secret key when the file holds it. */
export interface SimRootFile {
  readonly publicKey: Uint8Array;
  readonly root?: SimRoot;
}

/** Parses a sim root file strictly; unknown fields are refused. */
export function parseSimRootFile(bytes: Uint8Array | string): SimRootFile {
  const f = new Fields(parseJson(bytes, SIM_ROOT_FILE_BYTES_MAX), 'simRoot');
  if (f.str('type', 64) !== SIM_ROOT_FILE_TYPE) throw new CustodianError('E_ATTEST_INPUT', `sim root file type must be ${SIM_ROOT_FILE_TYPE}`);
  if (f.optRaw('warning') !== undefined) f.str('warning', 200);
  const secret = f.optRaw('secretKey') === undefined ? undefined : f.hex('secretKey', 32);
  const publicKey = f.hex('publicKey', 32);
  f.done();
  if (secret === undefined) return { publicKey };
  const root = createSimRoot(secret);
  if (!equalBytes(root.publicKey, publicKey)) throw new CustodianError('E_ATTEST_INPUT', 'sim root file: publicKey does not belong to secretKey');
  return { publicKey, root };
}

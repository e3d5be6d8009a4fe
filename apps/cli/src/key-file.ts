/**
 * Operator key files: JSON with the algorithm, the secret key and the public
 * key, written with mode 0600. The secret never leaves the operator's machine.
 */
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { CustodianError } from '@custodian/core/errors';
import { parseJson } from '@custodian/core/canonical-json';
import { Fields } from '@custodian/core/fields';
import { bytesToHex, equalBytes } from '@custodian/core/bytes';
import { operatorKeyFromSecret, type OperatorKeyAlg, type OperatorKeyPair } from '@custodian/protocol/operator-key';

/** Payload type of key files. */
export const KEY_FILE_TYPE = 'custodian.operator-key.v1';

/** Writes a key file (refuses to overwrite). */
export function writeKeyFile(path: string, key: OperatorKeyPair): void {
  if (existsSync(path)) throw new CustodianError('E_IO', `${path} already exists; refusing to overwrite a key file`);
  const body = { type: KEY_FILE_TYPE, alg: key.alg, secretKey: bytesToHex(key.secretKey.expose()), publicKey: bytesToHex(key.publicKey) };
  writeFileSync(path, JSON.stringify(body, null, 2) + '\n', { mode: 0o600, flag: 'wx' });
}

/** Reads a key file and checks that its public key matches its secret. */
export function readKeyFile(path: string): OperatorKeyPair {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new CustodianError('E_IO', `cannot read key file ${path}: ${(e as Error).message}`);
  }
  const f = new Fields(parseJson(text, 4096), 'keyFile');
  if (f.str('type', 64) !== KEY_FILE_TYPE) throw new CustodianError('E_KEY_INVALID', `${path} is not a Custodian operator key file`);
  const alg = f.str('alg', 16) as OperatorKeyAlg;
  if (alg !== 'ed25519' && alg !== 'p256') throw new CustodianError('E_KEY_INVALID', `unsupported key algorithm ${alg}`);
  const key = operatorKeyFromSecret(alg, f.hex('secretKey', 32));
  if (!equalBytes(key.publicKey, f.hex('publicKey'))) throw new CustodianError('E_KEY_INVALID', `${path}: public key does not match the secret key`);
  f.done();
  return key;
}

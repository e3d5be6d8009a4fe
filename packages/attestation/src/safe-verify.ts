/** Signature checks that answer true or false and never throw on malformed keys or signatures. */
import { verify as cryptoVerify, type KeyObject, type VerifyKeyObjectInput } from 'node:crypto';

/** node:crypto verify that turns any exception into `false` (fail closed). */
export function safeVerify(hash: string | undefined, data: Uint8Array, key: KeyObject | VerifyKeyObjectInput | undefined, sig: Uint8Array): boolean {
  if (hash === undefined || key === undefined) return false;
  try {
    return cryptoVerify(hash, data, key, sig);
  } catch {
    return false;
  }
}

/**
 * Per-measurement sealing keys. One random sealing master is generated at
 * first start and kept only wrapped under the HSM's KBS wrapping key; each
 * release unwraps it in the root and derives the measurement's key with HKDF
 * (RFC 5869), so a key exists for exactly one measurement and the master
 * never rests in clear.
 */
import { hkdfSync, randomBytes } from 'node:crypto';
import { CustodianError } from '@custodian/core/errors';
import { concatBytes, utf8 } from '@custodian/core/bytes';
import { Secret } from '@custodian/core/secret';
import type { RootOfTrust } from './hsm/root-of-trust.js';

/** Length of the sealing master and of every sealing key. */
export const SEALING_KEY_BYTES = 32;
/** HKDF salt: names the master's purpose. */
export const SEALING_MASTER_SALT = 'custodian/kbs/sealing-master/v1';
/** HKDF info prefix: `prefix ‖ 0x00 ‖ measurement`. */
export const SEALING_KEY_INFO_PREFIX = 'custodian/kbs/sealing-key/v1';

/** Generates a sealing master and returns it wrapped under the root's wrapping key. */
export async function createWrappedSealingMaster(root: RootOfTrust): Promise<Uint8Array> {
  const master = new Secret(new Uint8Array(randomBytes(SEALING_KEY_BYTES)));
  try {
    return await root.wrapKey(master);
  } finally {
    master.zeroise();
  }
}

/** Unwraps the master in the root and derives the sealing key of `measurement`. */
export async function deriveSealingKey(root: RootOfTrust, wrappedMaster: Uint8Array, measurement: string): Promise<Secret<Uint8Array>> {
  const master = await root.unwrapKey(wrappedMaster);
  try {
    const ikm = master.expose();
    if (ikm.length !== SEALING_KEY_BYTES) throw new CustodianError('E_KBS_STATE_INVALID', 'the unwrapped sealing master has the wrong length', {});
    const info = concatBytes(utf8(SEALING_KEY_INFO_PREFIX), Uint8Array.of(0), utf8(measurement));
    return new Secret(new Uint8Array(hkdfSync('sha256', ikm, utf8(SEALING_MASTER_SALT), info, SEALING_KEY_BYTES)));
  } finally {
    master.zeroise();
  }
}

/**
 * BIP340 identity keys for parties 1..n, standing in for the enclaves'
 * attested identity keys in tests of the authenticated echo broadcast.
 */
import { schnorr } from '@noble/curves/secp256k1.js';
import type { Random } from '@custodian/core/clock';
import type { BroadcastAuthenticator } from './echo.js';

/** One authenticator per party, all sharing the same public-key directory (tests only). */
export function testAuthenticators(parties: number, random: Random): Map<bigint, BroadcastAuthenticator> {
  const keys = Array.from({ length: parties }, () => schnorr.keygen(random.bytes(48)));
  const directory = new Map(keys.map((k, i) => [BigInt(i + 1), k.publicKey]));
  return new Map(
    keys.map((k, i) => [
      BigInt(i + 1),
      {
        sign: (statement: Uint8Array) => schnorr.sign(statement, k.secretKey, random.bytes(32)),
        verify: (party: bigint, statement: Uint8Array, signature: Uint8Array) => {
          const pk = directory.get(party);
          return pk !== undefined && schnorr.verify(signature, statement, pk);
        },
      },
    ]),
  );
}

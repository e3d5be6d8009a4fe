/**
 * `custodian tss ...` (issue 4 §6, CONTRACTS.md "Threshold signing").
 *
 *   custodian tss sign-demo --scheme frost-ed25519|frost-secp256k1-tr|frost-secp256k1|ecdsa-dkls
 *                           --threshold t --parties n --message HEX [--json]
 *
 * Runs a full local DKG and a t-of-n signing among n in-process parties and
 * prints `{ "groupPublicKey": hex, "signature": hex }`: the key a plain
 * verifier checks the signature under (for the taproot suite the x-only key,
 * untweaked), checked here with that verifier before printing. A demo: every
 * share lives in this one process.
 */
import { hexToBytes, bytesToHex } from '@custodian/core/bytes';
import { systemRandom } from '@custodian/core/clock';
import { CustodianError } from '@custodian/core/errors';
import { verifierKeyOf } from '@custodian/tss/frost/key-package';
import { FROST_PARTIES_MAX, FROST_MESSAGE_BYTES_MAX } from '@custodian/tss/frost/limits';
import { runLocalDkg, signLocally } from '@custodian/tss/frost/local';
import { frostSuite, type FrostSuiteId } from '@custodian/tss/frost/suite';
import { emit, emitError, EXIT_OK, parseArgs, progress, UsageError } from '../output.js';
import { signDemoEcdsa } from '@custodian/tss/ecdsa/sign-demo';

const USAGE = `usage: custodian tss sign-demo --scheme frost-ed25519|frost-secp256k1-tr|frost-secp256k1|ecdsa-dkls --threshold t --parties n --message HEX [--json]`;

/** The schemes `sign-demo` knows; `ecdsa-dkls` is served by packages/tss/src/ecdsa/. */
export const SIGN_DEMO_SCHEMES = ['frost-ed25519', 'frost-secp256k1-tr', 'frost-secp256k1', 'ecdsa-dkls'] as const;
/** One of SIGN_DEMO_SCHEMES. */
export type SignDemoScheme = (typeof SIGN_DEMO_SCHEMES)[number];

/** The CONTRACTS.md result of a demo run. */
export interface SignDemoResult {
  readonly groupPublicKey: string;
  readonly signature: string;
}

/** Entry point of `custodian tss ...`. */
export async function tssCommand(args: readonly string[]): Promise<number> {
  const json = args.includes('--json');
  try {
    const [sub, ...rest] = args;
    if (sub !== 'sign-demo') throw new UsageError(USAGE);
    const { values } = parseArgs(rest, { strings: ['scheme', 'threshold', 'parties', 'message'], booleans: ['json'] });
    const one = (k: string): string => {
      const v = values.get(k)?.[0];
      if (v === undefined) throw new UsageError(`--${k} is required\n${USAGE}`);
      return v;
    };
    const scheme = one('scheme');
    if (!(SIGN_DEMO_SCHEMES as readonly string[]).includes(scheme)) throw new UsageError(`--scheme must be one of ${SIGN_DEMO_SCHEMES.join(', ')}`);
    const n = integer(one('parties'), '--parties', 2, FROST_PARTIES_MAX);
    const t = integer(one('threshold'), '--threshold', 2, n);
    const message = parseMessage(one('message'));
    progress(`tss sign-demo: ${scheme}, ${t}-of-${n}, ${message.length}-byte message`);
    const result = await runSignDemo(scheme as SignDemoScheme, t, n, message);
    emit(json, result, `groupPublicKey ${result.groupPublicKey}\nsignature      ${result.signature}`);
    return EXIT_OK;
  } catch (e) {
    return emitError(json, e);
  }
}

/** Runs DKG + signing for one scheme in this process; the one switch over schemes. */
export async function runSignDemo(scheme: SignDemoScheme, threshold: number, parties: number, message: Uint8Array): Promise<SignDemoResult> {
  switch (scheme) {
    case 'frost-ed25519':
    case 'frost-secp256k1-tr':
    case 'frost-secp256k1':
      return frostDemo(scheme, threshold, parties, message);
    case 'ecdsa-dkls':
      // DKLs23 keygen, pre-signing and online signing among in-process parties: compressed SEC1 key, r‖s over SHA-256(message).
      return signDemoEcdsa(threshold, parties, message);
  }
}

async function frostDemo(suiteId: FrostSuiteId, threshold: number, parties: number, message: Uint8Array): Promise<SignDemoResult> {
  const shares = runLocalDkg(suiteId, threshold, parties, systemRandom, `sign-demo-dkg-${bytesToHex(systemRandom.bytes(8))}`);
  // Any t parties sign; pick a random subset to show that any t suffice.
  const order = shares.map((s) => ({ s, k: bytesToHex(systemRandom.bytes(4)) })).sort((a, b) => a.k.localeCompare(b.k));
  const signers = order.slice(0, threshold).map((o) => o.s);
  const signature = await signLocally(signers, message, systemRandom, `sign-demo-${bytesToHex(systemRandom.bytes(8))}`);
  const key = verifierKeyOf(shares[0]!.publicPackage);
  if (!frostSuite(suiteId).verifyPlain(signature, message, key)) throw new CustodianError('E_INTERNAL', 'the demo signature did not verify');
  return { groupPublicKey: bytesToHex(key), signature: bytesToHex(signature) };
}

function integer(v: string, flag: string, min: number, max: number): number {
  if (!/^[0-9]{1,4}$/.test(v)) throw new UsageError(`${flag} must be an integer`);
  const n = Number(v);
  if (n < min || n > max) throw new UsageError(`${flag} must be between ${min} and ${max}`);
  return n;
}

function parseMessage(hex: string): Uint8Array {
  let bytes: Uint8Array;
  try {
    bytes = hexToBytes(hex, '--message');
  } catch {
    throw new UsageError('--message must be hex (even length, optional 0x)');
  }
  if (bytes.length > FROST_MESSAGE_BYTES_MAX) throw new UsageError(`--message is longer than ${FROST_MESSAGE_BYTES_MAX} bytes`);
  return bytes;
}

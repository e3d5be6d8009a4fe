/**
 * A signer process for the crash test (nonce-crash.test.ts): one FROST
 * signer over a durable JournalNonceStore. Modes:
 *   commit DIR SESSION        → prints its commitment, then waits to be killed
 *   sign-and-die DIR          → consumes the nonce for DIR/package, then kill -9 itself before releasing the share
 *   sign DIR                  → prints the signature share, or the error code
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { hexToBytes } from '@custodian/core/bytes';
import { systemRandom } from '@custodian/core/clock';
import { CustodianError } from '@custodian/core/errors';
import { Secret } from '@custodian/core/secret';
import { JournalNonceStore } from './journal-nonce-store.js';
import { decodeKeyShare } from './key-share-codec.js';
import type { NonceLookup, NonceStore } from './nonce-store.js';
import { commitNonces, signPackage } from './signer.js';
import type { SigningPackage } from './signing-messages.js';
import { decodeFrostMessage, encodeFrostMessage } from './wire.js';

const [mode, dir, session] = process.argv.slice(2);
if (mode === undefined || dir === undefined) throw new Error('usage: mode dir [session]');
const share = decodeKeyShare(new Secret(hexToBytes(readFileSync(join(dir, 'share.hex'), 'utf8'))));
const journal = JournalNonceStore.open(join(dir, 'nonces.journal'), new Secret(new Uint8Array(32).fill(42)), systemRandom);

const dieAfterConsume: NonceStore = {
  reserve: (k, r) => journal.reserve(k, r),
  lookup: (k) => journal.lookup(k),
  async consume(k): Promise<NonceLookup> {
    await journal.consume(k);
    process.kill(process.pid, 'SIGKILL');
    return new Promise<NonceLookup>(() => undefined);
  },
};

function readPackage(): SigningPackage {
  const d = decodeFrostMessage(new Uint8Array(readFileSync(join(dir!, 'package.json'))));
  if (d.kind !== 'frost/signing-package') throw new Error('not a package');
  return d.message;
}

if (mode === 'commit') {
  const c = await commitNonces(share, session ?? 'crash', systemRandom, journal);
  process.stdout.write(Buffer.from(encodeFrostMessage('frost/commitment', c)).toString('utf8') + '\n');
  setInterval(() => undefined, 1000); // stay alive until killed
} else if (mode === 'sign-and-die') {
  await signPackage(share, readPackage(), dieAfterConsume);
  process.stdout.write('released\n'); // never reached
} else if (mode === 'sign') {
  try {
    const z = await signPackage(share, readPackage(), journal);
    process.stdout.write(Buffer.from(encodeFrostMessage('frost/signature-share', z)).toString('utf8') + '\n');
  } catch (e) {
    process.stdout.write((e instanceof CustodianError ? e.code : 'E_UNKNOWN') + '\n');
    process.exitCode = 1;
  }
}

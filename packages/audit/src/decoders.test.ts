/** "Only typed errors escape" for the decoders of untrusted log files and requests. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isCustodianError } from '@custodian/core/errors';
import { readVector } from '@custodian/core/vectors';
import { decodeEntryBundle, encodeEntryBundle } from './entry-bundle.js';
import { decodeHashTile } from './tile-hashes.js';
import { decodeAddCheckpointRequest, encodeAddCheckpointRequest } from './witness-protocol.js';
import { decodeCheckpointPolicyDocument } from './checkpoint-policy.js';
import { decodeVerifierKey } from './ed25519-note-key.js';

const typed = (e: unknown): boolean => isCustodianError(e);
const mutate = (seed: Uint8Array, muts: readonly [number, number][], cut: number): Uint8Array => {
  const b = seed.slice(0, seed.length - (cut % (seed.length + 1)));
  for (const [pos, val] of muts) if (b.length > 0) b[pos % b.length] = val;
  return b;
};
const mutations = fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 });

test('entry bundles and hash tiles: round trip, and only typed errors on mutated or truncated input (property)', () => {
  const real = readVector('tlog', 'tessera-testdata-log', 'tile', 'entries', '000.p', '15');
  assert.equal(decodeEntryBundle(real, 15, 0).length, 15);
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ maxLength: 300 }), { minLength: 1, maxLength: 20 }), (entries) => {
      assert.deepEqual(decodeEntryBundle(encodeEntryBundle(entries), entries.length, 0).map((e) => [...e]), entries.map((e) => [...e]));
    }),
    { numRuns: 200 },
  );
  fc.assert(
    fc.property(mutations, fc.nat(), fc.integer({ min: 1, max: 256 }), (muts, cut, count) => {
      const b = mutate(real, muts, cut);
      for (const run of [() => decodeEntryBundle(b, count, 0), () => decodeHashTile(b, count, 'tile/0/000')]) {
        try {
          run();
        } catch (e) {
          assert.ok(typed(e), String(e));
        }
      }
    }),
    { numRuns: 1500 },
  );
});

test('witness requests, policy documents and verifier keys: only typed errors on mutated input (property)', () => {
  const note = readVector('tlog', 'tessera-testdata-log', 'checkpoint');
  const req = encodeAddCheckpointRequest({ oldSize: 7, proof: [new Uint8Array(32).fill(1), new Uint8Array(32).fill(2)], checkpoint: note });
  const doc = new TextEncoder().encode(JSON.stringify({ logKeys: ['example.com/log/testdata+33d7b496+AeHTu4Q3hEIMHNqc6fASMsq3rKNx280NI+oO5xCFkkSx'], origin: 'example.com/log/testdata', witnessKeys: [], witnessQuorum: 0 }));
  assert.equal(decodeCheckpointPolicyDocument(doc).doc.origin, 'example.com/log/testdata');
  fc.assert(
    fc.property(mutations, fc.nat(), (muts, cut) => {
      for (const run of [
        () => decodeAddCheckpointRequest(mutate(req, muts, cut)),
        () => decodeCheckpointPolicyDocument(mutate(doc, muts, cut)),
        () => decodeVerifierKey(new TextDecoder().decode(mutate(doc.subarray(13, 90), muts, cut))),
      ]) {
        try {
          run();
        } catch (e) {
          assert.ok(typed(e), String(e));
        }
      }
    }),
    { numRuns: 1500 },
  );
});

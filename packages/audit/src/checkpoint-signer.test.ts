import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { isCustodianError } from '@custodian/core/errors';
import { Secret } from '@custodian/core/secret';
import { Ed25519NoteKey, NOTE_KEY_TYPE_COSIGNATURE_V1 } from './ed25519-note-key.js';
import { checkpointPolicyFromKeys } from './checkpoint-policy.js';
import { keyCosigner, makeCheckpointSigner, witnessCosigner, type Cosigner } from './checkpoint-signer.js';
import { HttpWitnessClient } from './http-witness-client.js';
import { handleAddCheckpoint } from './witness-protocol.js';
import { MemoryWitnessStore, Witness } from './witness.js';
import { MemoryTileStorage } from './memory-tile-storage.js';
import { TileLogWriter } from './tile-log-writer.js';
import { verifyTileLog } from './tile-log-verifier.js';

const ORIGIN = 'custodian.example/audit';
const key = (name: string, seed: number, type: 0x01 | 0x04 = NOTE_KEY_TYPE_COSIGNATURE_V1): Ed25519NoteKey => new Ed25519NoteKey(name, new Secret(new Uint8Array(32).fill(seed)), type, () => 1_764_000_000);
const logKey = key(ORIGIN, 1, 0x01);
const enclaves = [key('signer-0.custodian.example', 2), key('signer-1.custodian.example', 3)];
const witnessKeys = [key('w1.example', 4), key('w2.example', 5)];
const policy = checkpointPolicyFromKeys(ORIGIN, [logKey.verifierKey()], [...enclaves, ...witnessKeys].map((k) => k.verifierKey()), 3);
const newWitness = (k: Ed25519NoteKey, store = new MemoryWitnessStore()): Witness => new Witness({ key: k, logs: new Map([[ORIGIN, [logKey.verifier()]]]), store, nowMs: () => 0 });
const entry = (i: number): Uint8Array => new TextEncoder().encode(`{"at":${i},"detail":{},"kind":"event","name":"signer.test","v":1}`);

test('checkpoints are signed by the log and cosigned by enclaves, a local witness and an HTTP witness (3 of 4)', async () => {
  const httpWitness = newWitness(witnessKeys[1]!);
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void handleAddCheckpoint(httpWitness, new Uint8Array(Buffer.concat(chunks))).then((r) => res.writeHead(r.status, { 'content-type': r.contentType }).end(r.body));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const port = (server.address() as { port: number }).port;
    const storage = new MemoryTileStorage();
    const local = newWitness(witnessKeys[0]!);
    let enclaveDown = false;
    const flaky: Cosigner = { name: enclaves[1]!.name, cosign: (n, c) => (enclaveDown ? Promise.reject(new Error('enclave unreachable')) : keyCosigner(enclaves[1]!).cosign(n, c)) };
    const cosigners = [keyCosigner(enclaves[0]!), flaky, witnessCosigner('w1.example', local, storage), witnessCosigner('w2.example', new HttpWitnessClient(`http://127.0.0.1:${port}/`), storage)];
    const writer = await TileLogWriter.open({ storage, origin: ORIGIN, policy, sign: makeCheckpointSigner({ log: logKey, cosigners, quorum: 3 }) });
    for (let b = 0; b < 4; b++) await writer.appendBatch(Array.from({ length: 100 }, (_, i) => entry(b * 100 + i)));
    enclaveDown = true; // 3 of 4 still answer
    await writer.appendBatch([entry(400)]);
    const r = await verifyTileLog(storage, { policy });
    assert.equal(r.size, 401);
    assert.equal(r.cosigners.length, 3);
    // A restarted log (fresh cosigner state) meets the witnesses' 409 and recovers from the size they report.
    const again = await TileLogWriter.open({
      storage, origin: ORIGIN, policy,
      sign: makeCheckpointSigner({ log: logKey, cosigners: [keyCosigner(enclaves[0]!), witnessCosigner('w1.example', local, storage), witnessCosigner('w2.example', new HttpWitnessClient(`http://127.0.0.1:${port}`), storage)], quorum: 3 }),
    });
    await again.appendBatch([entry(401)]);
    assert.equal((await verifyTileLog(storage, { policy })).size, 402);
    // Below the quorum the writer fails closed.
    const starved = await TileLogWriter.open({ storage, origin: ORIGIN, policy, sign: makeCheckpointSigner({ log: logKey, cosigners: [keyCosigner(enclaves[0]!), flaky], quorum: 3 }) });
    await assert.rejects(starved.appendBatch([entry(402)]), (e) => isCustodianError(e, 'E_AUDIT_UNAVAILABLE') && /only 1 of the required 3/.test((e as Error).message));
  } finally {
    server.close();
  }
});

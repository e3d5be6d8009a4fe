import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isCustodianError } from '@custodian/core/errors';
import { HttpWitnessClient } from './http-witness-client.js';

test('an endless witness response is refused once it passes the bound (E_NOTE_MALFORMED), not buffered', async () => {
  const server = createServer((req, res) => {
    req.resume();
    // No Content-Length and no end: an endless body, which only a reader that counts as it streams can refuse.
    res.writeHead(200, { 'content-type': 'text/plain' });
    const chunk = Buffer.alloc(1024, 0x61);
    const pump = (): void => {
      while (!res.destroyed) if (!res.write(chunk)) return void res.once('drain', pump);
    };
    pump();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const client = new HttpWitnessClient(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
    await assert.rejects(client.addCheckpoint({ oldSize: 0, proof: [], checkpoint: new TextEncoder().encode('origin\n1\nAAAA\n') }), (e) => isCustodianError(e, 'E_NOTE_MALFORMED'));
  } finally {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  }
});

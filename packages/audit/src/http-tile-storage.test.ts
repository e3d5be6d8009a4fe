import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { readFile } from 'node:fs/promises';
import { join, normalize } from 'node:path';
import { isCustodianError } from '@custodian/core/errors';
import { vectorPath } from '@custodian/core/vectors';
import { HttpTileStorage } from './http-tile-storage.js';
import { checkpointPolicyFromKeys } from './checkpoint-policy.js';
import { verifyTileLog } from './tile-log-verifier.js';
import { ENTRY_BUNDLE_BYTES_MAX } from './limits.js';

const ROOT = vectorPath('tlog', 'tessera-testdata-log');
const policy = checkpointPolicyFromKeys('example.com/log/testdata', ['example.com/log/testdata+33d7b496+AeHTu4Q3hEIMHNqc6fASMsq3rKNx280NI+oO5xCFkkSx'], [], 0);

async function serve(): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    const path = normalize(decodeURIComponent((req.url ?? '/').split('?')[0]!)).replace(/^\/+/, '');
    if (path === 'tile/0/999') {
      res.writeHead(200);
      const chunk = Buffer.alloc(1 << 16);
      let sent = 0;
      const push = (): void => {
        while (sent <= ENTRY_BUNDLE_BYTES_MAX + chunk.length && res.write(chunk)) sent += chunk.length;
        if (sent > ENTRY_BUNDLE_BYTES_MAX + chunk.length) res.end();
        else res.once('drain', push);
      };
      push();
      return;
    }
    readFile(join(ROOT, path)).then(
      (b) => res.writeHead(200).end(b),
      () => res.writeHead(404).end(),
    );
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  assert.ok(addr !== null && typeof addr === 'object');
  return { server, url: `http://127.0.0.1:${addr.port}/` };
}

test('verifies a tlog-tiles log served over HTTP, and bounds what it buffers', async () => {
  const { server, url } = await serve();
  try {
    const storage = new HttpTileStorage(url);
    const r = await verifyTileLog(storage, { policy, decodeEntries: false });
    assert.equal(r.size, 15);
    assert.equal(await storage.read('tile/0/001'), null);
    await assert.rejects(storage.read('../etc/passwd'), (e) => isCustodianError(e, 'E_AUDIT_RANGE'));
    // attacker-controlled body larger than any tile: refused while streaming, without buffering it all.
    await assert.rejects(storage.read('tile/0/999'), (e) => isCustodianError(e, 'E_AUDIT_CORRUPT'));
    const unreachable = new HttpTileStorage('http://127.0.0.1:9/');
    await assert.rejects(unreachable.read('checkpoint'), (e) => isCustodianError(e, 'E_AUDIT_UNAVAILABLE'));
  } finally {
    server.close();
  }
});

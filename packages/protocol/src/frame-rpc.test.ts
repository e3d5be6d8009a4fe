import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, connect, type Server } from 'node:net';
import { CustodianError, isCustodianError } from '@custodian/core/errors';
import { RpcPeer } from './frame-rpc.js';

function listen(handler: ConstructorParameters<typeof RpcPeer>[1]): Promise<{ server: Server; port: number }> {
  const server = createServer((s) => void new RpcPeer(s, handler));
  return new Promise((res) => server.listen(0, '127.0.0.1', () => res({ server, port: (server.address() as { port: number }).port })));
}

async function client(port: number, handler: ConstructorParameters<typeof RpcPeer>[1] = async () => null): Promise<RpcPeer> {
  const s = connect({ port, host: '127.0.0.1' });
  await new Promise((r) => s.once('connect', r));
  return new RpcPeer(s, handler, 2000);
}

function rawFrame(text: string): Buffer {
  const b = Buffer.from(text);
  const h = Buffer.alloc(4);
  h.writeUInt32BE(b.length);
  return Buffer.concat([h, b]);
}

test('calls go both ways, and typed errors cross with their code and detail', async () => {
  const { server, port } = await listen(async (op, body, peer) => {
    if (op === 'echo') return { got: body, back: await peer.call('ping', null) };
    throw new CustodianError('E_NOPE', 'refused', { big: 2n ** 70n });
  });
  const c = await client(port, async () => 'pong');
  assert.deepEqual(await c.call('echo', { a: 1 }), { got: { a: 1 }, back: 'pong' });
  await assert.rejects(c.call('other', null), (e) => isCustodianError(e, 'E_NOPE') && e.detail['big'] === '1180591620717411303424');
  c.close();
  server.close();
});

test('malformed frames end the connection, never the process', async () => {
  const { server, port } = await listen(async () => 'ok');
  for (const bad of ['{"op":"hello","body":{}}', '{"id":1,"ok":"yes","body":1}', 'not json', '{"id":1,"op":"x","body":{},"extra":1}', '{"id":-1,"op":"x","body":{}}']) {
    const s = connect({ port, host: '127.0.0.1' });
    await new Promise((r) => s.once('connect', r));
    s.write(rawFrame(bad));
    await new Promise((r) => s.once('close', r));
  }
  const c = await client(port);
  assert.equal(await c.call('still-alive', null), 'ok');
  c.close();
  server.close();
});

test('an oversized frame header closes the connection before allocation', async () => {
  const { server, port } = await listen(async () => 'ok');
  const s = connect({ port, host: '127.0.0.1' });
  await new Promise((r) => s.once('connect', r));
  const h = Buffer.alloc(4);
  h.writeUInt32BE(0xffffffff);
  s.write(h);
  await new Promise((r) => s.once('close', r));
  server.close();
});

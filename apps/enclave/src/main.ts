/**
 * Entry point of the enclave bundle (`npm run build:enclave` bundles this file;
 * the bundle's SHA-384 is the sim measurement). It boots the phase machine on
 * the platform and serves framed RPC on the port the launcher names — the
 * stand-in for a vsock listener.
 */
import { createServer } from 'node:net';
import { RpcPeer } from '@custodian/protocol/frame-rpc';
import { createSimPlatform } from './platform-sim.js';
import { Enclave } from './enclave.js';

const signerId = process.env['CUSTODIAN_SIGNER_ID'] ?? '';
const port = Number(process.env['CUSTODIAN_ENCLAVE_PORT'] ?? '0');
if (!/^[a-z0-9][a-z0-9._-]{0,63}$/.test(signerId)) {
  process.stderr.write('enclave: CUSTODIAN_SIGNER_ID is missing or invalid\n');
  process.exit(2);
}

const enclave = new Enclave(createSimPlatform(), signerId);
enclave.boot().then(
  () => {
    const server = createServer((socket) => {
      new RpcPeer(socket, (op, body, peer) => enclave.handle(op, body, peer));
    });
    server.listen(port, '127.0.0.1', () => {
      const addr = server.address();
      process.send?.({ event: 'ready', port: typeof addr === 'object' && addr ? addr.port : port, phase: enclave.phase });
    });
  },
  (e: unknown) => {
    process.stderr.write(`enclave: boot failed: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(3);
  },
);

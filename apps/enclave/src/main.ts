/**
 * Entry point of the enclave bundle (`npm run build:enclave` bundles this file;
 * the bundle's SHA-384 is the sim measurement). It boots the phase machine on
 * the platform and serves framed RPC on the port the launcher names — the
 * stand-in for a vsock listener. Launch configuration (environment set by the
 * launcher): `CUSTODIAN_SIGNER_ID`, `CUSTODIAN_ENCLAVE_PORT` and, when the
 * sealing key comes from the key broker, `CUSTODIAN_KBS_PUBLIC_KEY` (the
 * broker's signing key, hex SEC1). A failed boot is reported to the launcher
 * (`{ event: 'boot-failed', code, message, reasons }`) before the exit.
 */
import { createServer } from 'node:net';
import { RpcPeer } from '@custodian/protocol/frame-rpc';
import { createSimPlatform } from './platform-sim.js';
import { Enclave } from './enclave.js';
import { CustodianError } from '@custodian/core/errors';

const signerId = process.env['CUSTODIAN_SIGNER_ID'] ?? '';
const port = Number(process.env['CUSTODIAN_ENCLAVE_PORT'] ?? '0');
if (!/^[a-z0-9][a-z0-9._-]{0,63}$/.test(signerId)) {
  process.stderr.write('enclave: CUSTODIAN_SIGNER_ID is missing or invalid\n');
  process.exit(2);
}

const kbsKeyHex = process.env['CUSTODIAN_KBS_PUBLIC_KEY'];
if (kbsKeyHex !== undefined && !/^04[0-9a-f]{128}$/.test(kbsKeyHex)) {
  process.stderr.write('enclave: CUSTODIAN_KBS_PUBLIC_KEY must be an uncompressed SEC1 P-256 key in lower-case hex\n');
  process.exit(2);
}

const platform = createSimPlatform({ signerId, ...(kbsKeyHex !== undefined ? { kbsPublicKey: new Uint8Array(Buffer.from(kbsKeyHex, 'hex')) } : {}) });
const enclave = new Enclave(platform, signerId);
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
    const message = e instanceof Error ? e.message : String(e);
    process.stderr.write(`enclave: boot failed: ${message}\n`);
    const code = e instanceof CustodianError ? e.code : 'E_INTERNAL';
    const reasons = e instanceof CustodianError && Array.isArray(e.detail['reasons']) ? e.detail['reasons'].map(String) : [];
    // The launcher reports why; exit once the report has left (or at once without a channel).
    if (process.send) process.send({ event: 'boot-failed', code, message, reasons }, () => process.exit(3));
    else process.exit(3);
  },
);

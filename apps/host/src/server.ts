/**
 * Starts the untrusted host: store, signer links, custody service, HTTP API.
 */
import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import type { Server } from 'node:http';
import { systemClock, type Clock } from '@custodian/core/clock';
import { openSqliteStore } from './sqlite-store.js';
import { openPgStore } from './pg-store.js';
import { SignerLink } from './signer-link.js';
import { CustodyService } from './custody-service.js';
import { EthRpc } from './eth-rpc.js';
import { createHttpApi } from './http-api.js';
import type { HostStore } from './store.js';
import { TransparencyLog, type WitnessConfig } from './transparency-log.js';

/** The transparency log's folder inside the host's data directory (C2SP tlog-tiles layout). */
export const AUDIT_LOG_DIR = 'tlog';

/** Host configuration. */
export interface HostOptions {
  readonly dataDir: string;
  readonly port: number;
  readonly signers: readonly { signerId: string; endpoint: string }[];
  readonly ethRpcUrl: string | null;
  /** `postgres://…` to use PostgreSQL (schema `storeSchema`); SQLite in dataDir otherwise. */
  readonly storeUrl?: string;
  readonly storeSchema?: string;
  /** Independent witnesses that must cosign every checkpoint. */
  readonly witnesses?: readonly WitnessConfig[];
  /** The key broker's signing key (SEC1): signers must then present a valid workload credential from it. */
  readonly kbsPublicKey?: Uint8Array;
  readonly clock?: Clock;
  readonly log?: (line: string) => void;
}

/** A running host. */
export interface RunningHost {
  readonly url: string;
  /** The transparency log's directory. */
  readonly auditLogDir: string;
  readonly port: number;
  readonly service: CustodyService;
  readonly store: HostStore;
  close(): Promise<void>;
}

/** Starts the host and resolves once it listens. */
export async function startHost(o: HostOptions): Promise<RunningHost> {
  mkdirSync(o.dataDir, { recursive: true });
  const store = o.storeUrl ? await openPgStore(o.storeUrl, o.storeSchema) : openSqliteStore(join(o.dataDir, 'host.sqlite'));
  const links = new Map(o.signers.map((s) => [s.signerId, new SignerLink(s.signerId, s.endpoint, store)]));
  const auditLog = new TransparencyLog(join(o.dataDir, AUDIT_LOG_DIR), links, o.witnesses ?? []);
  await auditLog.open();
  for (const l of links.values()) {
    l.auditLog = auditLog;
    l.kbsPublicKey = o.kbsPublicKey ?? null;
  }
  const service = new CustodyService(store, links, o.ethRpcUrl ? new EthRpc(o.ethRpcUrl) : null, o.clock ?? systemClock, o.log, auditLog);
  await service.start();
  const server: Server = createHttpApi(service, store);
  await new Promise<void>((resolve) => server.listen(o.port, '127.0.0.1', resolve));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : o.port;
  return {
    url: `http://127.0.0.1:${port}`,
    auditLogDir: auditLog.dir,
    port,
    service,
    store,
    close: async () => {
      service.stop();
      for (const l of links.values()) l.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await store.close();
    },
  };
}

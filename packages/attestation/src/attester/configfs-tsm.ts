/**
 * Evidence collection through Linux configfs-tsm (Documentation/ABI/testing/
 * configfs-tsm, Linux 6.7+): TDX, SEV-SNP and CCA guests. One report entry
 * per collection: mkdir, write `inblob` (the 64-byte report data), read
 * `outblob` (and `auxblob` when present), read `provider`, then check that
 * `generation` is exactly 1 (no other writer raced us), and remove the entry.
 */
import { mkdir, readFile, rmdir, writeFile, access } from 'node:fs/promises';
import { join } from 'node:path';
import { CustodianError } from '@custodian/core/errors';
import type { Random } from '@custodian/core/clock';
import type { AttestationFormat } from '../claims.js';

/** Default configfs-tsm report directory. */
export const CONFIGFS_TSM_REPORT_DIR = '/sys/kernel/config/tsm/report';
/** configfs-tsm accepts at most 64 bytes of report data. */
export const TSM_INBLOB_BYTES_MAX = 64;
/** Largest outblob/auxblob read back. */
export const TSM_BLOB_BYTES_MAX = 64 * 1024;

/** Evidence as collected on the current platform. */
export interface CollectedEvidence {
  readonly format: AttestationFormat;
  readonly provider: string;
  readonly evidence: Uint8Array;
  /** Extra material the provider returns (SEV-SNP certificate table), when any. */
  readonly auxblob?: Uint8Array;
}

/** The attester side: produce evidence that binds `reportData`. */
export interface Attester {
  collect(reportData: Uint8Array): Promise<CollectedEvidence>;
}

/** The filesystem calls the attester makes (injected so tests can play the kernel). */
export interface TsmFs {
  mkdir(path: string): Promise<void>;
  rmdir(path: string): Promise<void>;
  writeFile(path: string, data: Uint8Array): Promise<void>;
  readFile(path: string): Promise<Uint8Array | undefined>;
}

/** node:fs implementation of TsmFs; readFile answers undefined for a missing file. */
export const nodeTsmFs: TsmFs = {
  mkdir: async (p) => void (await mkdir(p)),
  rmdir: (p) => rmdir(p),
  writeFile: (p, d) => writeFile(p, d),
  readFile: async (p) => {
    try {
      await access(p);
    } catch {
      return undefined;
    }
    return new Uint8Array(await readFile(p));
  },
};

/** configfs-tsm provider names and the evidence format each produces. */
export const TSM_PROVIDERS: Readonly<Record<string, AttestationFormat>> = { tdx_guest: 'tdx', sev_guest: 'sev-snp', arm_cca_guest: 'cca' };

function unavailable(message: string, detail: Record<string, unknown> = {}): never {
  throw new CustodianError('E_UNAVAILABLE', message, detail);
}

/** Collects evidence through configfs-tsm. */
export class ConfigfsTsmAttester implements Attester {
  constructor(
    private readonly random: Random,
    private readonly root: string = CONFIGFS_TSM_REPORT_DIR,
    private readonly fs: TsmFs = nodeTsmFs,
  ) {}

  /** Collects one report binding `reportData` (1..64 bytes; shorter data is zero-padded by the kernel). */
  async collect(reportData: Uint8Array): Promise<CollectedEvidence> {
    if (reportData.length === 0 || reportData.length > TSM_INBLOB_BYTES_MAX) {
      throw new CustodianError('E_ATTEST_INPUT', `report data must be 1..${TSM_INBLOB_BYTES_MAX} bytes`, { length: reportData.length });
    }
    const dir = join(this.root, `custodian-${Buffer.from(this.random.bytes(8)).toString('hex')}`);
    try {
      await this.fs.mkdir(dir);
    } catch (e) {
      unavailable(`configfs-tsm is not available at ${this.root} (needs a TDX, SEV-SNP or CCA guest on Linux 6.7+)`, { cause: e instanceof Error ? e.message : String(e) });
    }
    try {
      await this.fs.writeFile(join(dir, 'inblob'), reportData);
      const evidence = await this.read(dir, 'outblob', true);
      const aux = await this.read(dir, 'auxblob', false);
      const provider = Buffer.from((await this.read(dir, 'provider', true)) ?? []).toString('utf8').trim();
      const generation = Buffer.from((await this.read(dir, 'generation', true)) ?? []).toString('utf8').trim();
      // ABI: generation counts inblob writes; anything but 1 means another writer changed the request.
      if (generation !== '1') unavailable('configfs-tsm report entry was written concurrently; retry', { generation });
      const format = TSM_PROVIDERS[provider];
      if (format === undefined) unavailable(`unknown configfs-tsm provider "${provider.slice(0, 32)}"`);
      return { format, provider, evidence: evidence!, ...(aux !== undefined && aux.length > 0 ? { auxblob: aux } : {}) };
    } finally {
      await this.fs.rmdir(dir).catch(() => undefined);
    }
  }

  private async read(dir: string, name: string, required: boolean): Promise<Uint8Array | undefined> {
    const b = await this.fs.readFile(join(dir, name));
    if (b === undefined && required) unavailable(`configfs-tsm entry has no ${name}`);
    if (b !== undefined && b.length > TSM_BLOB_BYTES_MAX) unavailable(`configfs-tsm ${name} exceeds ${TSM_BLOB_BYTES_MAX} bytes`);
    if (required && name === 'outblob' && b!.length === 0) unavailable('configfs-tsm returned empty evidence');
    return b;
  }
}

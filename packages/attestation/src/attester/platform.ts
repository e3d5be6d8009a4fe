/**
 * Which attester the current machine offers. Probed in this order: the Nitro
 * NSM device (inside a Nitro enclave), then configfs-tsm (TDX, SEV-SNP and CCA
 * guests on Linux 6.7+). `sim` is never chosen automatically: development
 * evidence is asked for by name.
 */
import { existsSync } from 'node:fs';
import { NSM_DEVICE_PATH } from './nitro-nsm.js';
import { CONFIGFS_TSM_REPORT_DIR } from './configfs-tsm.js';

/** The attester kinds `custodian attest collect` knows. */
export type AttesterPlatform = 'nitro' | 'configfs-tsm' | 'sim';

/** Every attester kind, for usage text and option checking. */
export const ATTESTER_PLATFORMS: readonly AttesterPlatform[] = ['nitro', 'configfs-tsm', 'sim'];

/** The hardware attester present on this machine, or undefined (`exists` is injected so tests can play the machine). */
export function detectAttesterPlatform(exists: (path: string) => boolean = existsSync): Exclude<AttesterPlatform, 'sim'> | undefined {
  if (exists(NSM_DEVICE_PATH)) return 'nitro';
  if (exists(CONFIGFS_TSM_REPORT_DIR)) return 'configfs-tsm';
  return undefined;
}

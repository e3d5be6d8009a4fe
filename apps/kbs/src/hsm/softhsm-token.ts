/**
 * Creates SoftHSM2 tokens in a directory of their own (tests, the demo's data
 * directory, benchmarks) — never the system token store. SoftHSM reads
 * SOFTHSM2_CONF when the module is initialised, so a process sets it once,
 * before the first `openPkcs11Root`, and creates all its tokens in one store.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CustodianError } from '@custodian/core/errors';

/** Where Debian's softhsm2 package puts the module. */
export const SOFTHSM_MODULE_PATHS = ['/usr/lib/softhsm/libsofthsm2.so', '/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so', '/usr/local/lib/softhsm/libsofthsm2.so'] as const;

/** The SoftHSM2 module path on this machine, or undefined when it is not installed. */
export function softHsmModulePath(): string | undefined {
  return SOFTHSM_MODULE_PATHS.find((p) => existsSync(p));
}

/** A token store in `dir`: its config file (for SOFTHSM2_CONF) and the module. */
export interface SoftHsmStore {
  readonly confPath: string;
  readonly tokenDir: string;
  readonly modulePath: string;
}

/** Writes a SoftHSM2 config whose token directory is inside `dir`. */
export function createSoftHsmStore(dir: string): SoftHsmStore {
  const modulePath = softHsmModulePath();
  if (modulePath === undefined) throw new CustodianError('E_HSM_CONFIG', 'SoftHSM2 is not installed (Debian: apt-get install softhsm2)', {});
  const tokenDir = join(dir, 'tokens');
  mkdirSync(tokenDir, { recursive: true });
  const confPath = join(dir, 'softhsm2.conf');
  writeFileSync(confPath, `directories.tokendir = ${tokenDir}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n`);
  return { confPath, tokenDir, modulePath };
}

/** Initialises a new token labelled `label` in the store (softhsm2-util --init-token --free). */
export function initSoftHsmToken(store: SoftHsmStore, label: string, pin: string, soPin: string): void {
  try {
    execFileSync('softhsm2-util', ['--init-token', '--free', '--label', label, '--pin', pin, '--so-pin', soPin], {
      env: { ...process.env, SOFTHSM2_CONF: store.confPath },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
  } catch (e) {
    throw new CustodianError('E_HSM_CONFIG', `softhsm2-util could not initialise token "${label}"`, { cause: e instanceof Error ? e.message : String(e) });
  }
}

/** A token prepared by `ensureSoftHsmToken`. */
export interface SoftHsmToken extends SoftHsmStore {
  readonly tokenLabel: string;
}

/**
 * Makes sure `dir` holds a SoftHSM2 store with a token labelled `label`
 * (created once; a marker file records it) and points this process's
 * SOFTHSM2_CONF at it. Used by `custodian kbs serve --hsm softhsm` and the
 * demo; must run before the module is first loaded in the process.
 */
export function ensureSoftHsmToken(dir: string, label: string, pin: string): SoftHsmToken {
  const store = createSoftHsmStore(dir);
  const marker = join(dir, `token-${label}.created`);
  if (!existsSync(marker)) {
    initSoftHsmToken(store, label, pin, `${pin}-so`);
    writeFileSync(marker, `${label}\n`);
  }
  process.env['SOFTHSM2_CONF'] = store.confPath;
  return { ...store, tokenLabel: label };
}

/**
 * Builds the enclave bundle (dist/enclave/enclave.mjs) and prints its SHA-384,
 * which is the enclave measurement on the sim platform. The build is
 * reproducible: no timestamps, no absolute paths, fixed esbuild options, so
 * two builds of one commit print the same value.
 */
import { build } from 'esbuild';
import { createHash } from 'node:crypto';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

/** Where the bundle is written, relative to the repository root. */
export const ENCLAVE_BUNDLE = 'dist/enclave/enclave.mjs';

/** Builds the bundle and returns its measurement (hex SHA-384). */
export async function buildEnclave(root: string): Promise<string> {
  mkdirSync(join(root, 'dist/enclave'), { recursive: true });
  const result = await build({
    write: false,
    absWorkingDir: root,
    entryPoints: ['apps/enclave/src/main.ts'],
    outfile: ENCLAVE_BUNDLE,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    legalComments: 'none',
    sourcemap: false,
    minify: false,
    charset: 'utf8',
    logLevel: 'warning',
  });
  const bytes = result.outputFiles[0]!.contents;
  // Atomic replace: a signer starting meanwhile measures the old or the new bundle, never half of one.
  const tmp = join(root, `${ENCLAVE_BUNDLE}.${process.pid}.tmp`);
  writeFileSync(tmp, bytes);
  renameSync(tmp, join(root, ENCLAVE_BUNDLE));
  return createHash('sha384').update(bytes).digest('hex');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const root = fileURLToPath(new URL('..', import.meta.url));
  const m = await buildEnclave(root);
  process.stderr.write(`enclave bundle: ${ENCLAVE_BUNDLE}\n`);
  process.stdout.write(m + '\n');
}

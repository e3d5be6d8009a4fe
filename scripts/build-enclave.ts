/**
 * Builds the enclave bundle (dist/enclave/enclave.mjs) and prints its SHA-384,
 * which is the enclave measurement on the sim platform. The build is
 * reproducible: no timestamps, no absolute paths, fixed esbuild options, so
 * two builds of one commit print the same value.
 *
 * Cedar's WebAssembly is carried inside the bundle: `@cedar-policy/cedar-wasm`
 * (the `nodejs` build reads `cedar_wasm_bg.wasm` from disk at load time) is
 * replaced at build time by a shim that instantiates the `web` build with
 * `initSync` from bytes embedded by esbuild's `binary` loader. The
 * measurement therefore covers the policy engine's interpreter, and the
 * enclave does no file I/O to load it.
 */
import { build, type BuildOptions, type Plugin } from 'esbuild';
import { createHash } from 'node:crypto';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

/** Where the bundle is written, relative to the repository root. */
export const ENCLAVE_BUNDLE = 'dist/enclave/enclave.mjs';
/** The enclave's entry point, relative to the repository root. */
export const ENCLAVE_ENTRY = 'apps/enclave/src/main.ts';

const CEDAR_NAMESPACE = 'custodian-cedar-wasm';
const CEDAR_BYTES_SPECIFIER = 'custodian:cedar-wasm-bytes';
/** The Cedar import specifiers redirected to the embedded shim (the package root is the same wasm). */
const CEDAR_SPECIFIER_RE = /^@cedar-policy\/cedar-wasm(\/nodejs)?$/;
/** The shim: the `web` build, instantiated synchronously from embedded bytes before any importer runs. */
const CEDAR_SHIM = [
  `import wasmBytes from '${CEDAR_BYTES_SPECIFIER}';`,
  `import { initSync } from '@cedar-policy/cedar-wasm/web';`,
  'initSync({ module: wasmBytes });',
  `export * from '@cedar-policy/cedar-wasm/web';`,
  '',
].join('\n');

/** esbuild plugin: Cedar's wasm embedded in the bundle instead of read from disk. */
export function cedarWasmEmbedded(): Plugin {
  return {
    name: 'custodian-cedar-wasm-embedded',
    setup(b) {
      b.onResolve({ filter: CEDAR_SPECIFIER_RE }, () => ({ path: 'cedar-wasm', namespace: CEDAR_NAMESPACE }));
      b.onLoad({ filter: /.*/, namespace: CEDAR_NAMESPACE }, () => ({ contents: CEDAR_SHIM, loader: 'js', resolveDir: b.initialOptions.absWorkingDir ?? process.cwd() }));
      b.onResolve({ filter: /^custodian:cedar-wasm-bytes$/ }, async (args) => {
        // The package's exports map hides the .wasm file; find it beside the web build's JS.
        const js = await b.resolve('@cedar-policy/cedar-wasm/web', { kind: 'import-statement', resolveDir: args.resolveDir });
        if (js.errors.length > 0) return { errors: js.errors };
        return { path: join(dirname(js.path), 'cedar_wasm_bg.wasm') };
      });
    },
  };
}

/** Where and what to bundle: the enclave entry by default, or in-memory source (tests). */
export type BundleEntry = { readonly path: string } | { readonly contents: string; readonly resolveDir: string; readonly sourcefile: string };

/** Bundles `entry` with the enclave's fixed options (Cedar embedded) and returns the bytes, writing nothing. */
export async function bundleForEnclave(root: string, entry: BundleEntry = { path: ENCLAVE_ENTRY }): Promise<Uint8Array> {
  const source: BuildOptions = 'path' in entry ? { entryPoints: [entry.path] } : { stdin: { contents: entry.contents, resolveDir: entry.resolveDir, sourcefile: entry.sourcefile, loader: 'ts' } };
  const result = await build({
    ...source,
    write: false,
    absWorkingDir: root,
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
    loader: { '.wasm': 'binary' },
    plugins: [cedarWasmEmbedded()],
  });
  return result.outputFiles[0]!.contents;
}

/** Builds the bundle and returns its measurement (hex SHA-384). */
export async function buildEnclave(root: string): Promise<string> {
  mkdirSync(join(root, 'dist/enclave'), { recursive: true });
  const bytes = await bundleForEnclave(root);
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

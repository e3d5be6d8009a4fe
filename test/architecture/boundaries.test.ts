/**
 * The trust boundaries of DESIGN.md, enforced on the source: each workspace
 * imports only the workspaces its package.json names, nothing reaches across
 * a package root with a relative path, and the enclave's dependency set stays
 * an allow-list (no host code, HTTP framework, database driver or file I/O).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve, dirname } from 'node:path';
import { REPO_ROOT } from '@custodian/core/vectors';

const IMPORT_RE = /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;

function sources(dir: string, out: string[] = []): string[] {
  // A workspace without sources yet (apps/console) has nothing to check.
  if (!existsSync(dir)) return out;
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) sources(p, out);
    else if (name.endsWith('.ts') && !name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(IMPORT_RE)].map((m) => m[1] ?? m[2]!).filter(Boolean);
}

const workspaces = ['packages', 'apps'].flatMap((top) => readdirSync(join(REPO_ROOT, top)).map((n) => join(REPO_ROOT, top, n)));

/**
 * What the enclave may import besides its declared workspaces: pure
 * computation from Node (zlib compresses backups and migration packages
 * before they are encrypted), the socket it serves on, nothing that reaches
 * files, processes or HTTP.
 */
const ENCLAVE_ALLOWED = [/^@noble\//, /^@custodian\//, /^node:(crypto|net|util|zlib)$/, /^\./];
/** What no trusted package may import. */
const TRUSTED_FORBIDDEN = [/^node:(http|https|child_process)$/, /^(http|https)$/, /^(better-sqlite3|pg|express|fastify|hono|undici|axios|kysely|drizzle-orm)(\/|$)/];

test('each workspace imports only the workspaces its package.json declares', () => {
  for (const ws of workspaces) {
    const pkg = JSON.parse(readFileSync(join(ws, 'package.json'), 'utf8')) as { name: string; dependencies?: Record<string, string> };
    const allowed = new Set(Object.keys(pkg.dependencies ?? {}).filter((d) => d.startsWith('@custodian/')));
    for (const file of sources(join(ws, 'src'))) {
      for (const spec of importsOf(file)) {
        if (!spec.startsWith('@custodian/')) continue;
        const target = spec.split('/').slice(0, 2).join('/');
        if (target === pkg.name) continue;
        assert.ok(allowed.has(target), `${relative(REPO_ROOT, file)} imports ${spec}, which ${pkg.name} does not declare`);
      }
    }
  }
});

test('no relative import reaches across a package root', () => {
  for (const ws of workspaces) {
    for (const file of sources(join(ws, 'src'))) {
      for (const spec of importsOf(file)) {
        if (!spec.startsWith('.')) continue;
        const target = resolve(dirname(file), spec);
        assert.ok(target.startsWith(ws + '/'), `${relative(REPO_ROOT, file)} imports ${spec} outside its package`);
      }
    }
  }
});

test('trusted packages and the enclave never import HTTP, database or process-spawning code', () => {
  const trusted = ['packages/core', 'packages/attestation', 'packages/tss', 'packages/chains', 'packages/policy', 'packages/audit', 'packages/protocol', 'apps/enclave'];
  for (const ws of trusted) {
    for (const file of sources(join(REPO_ROOT, ws, 'src'))) {
      for (const spec of importsOf(file)) {
        assert.ok(!TRUSTED_FORBIDDEN.some((re) => re.test(spec)), `${relative(REPO_ROOT, file)} imports ${spec}`);
      }
    }
  }
});

test('the enclave imports only its allow-list (noble, our packages, node crypto/net/util)', () => {
  for (const file of sources(join(REPO_ROOT, 'apps/enclave/src'))) {
    for (const spec of importsOf(file)) {
      assert.ok(ENCLAVE_ALLOWED.some((re) => re.test(spec)), `${relative(REPO_ROOT, file)} imports ${spec}, outside the enclave allow-list`);
    }
  }
});

test('the check itself sees imports (it cannot pass vacuously)', () => {
  const enclaveImports = sources(join(REPO_ROOT, 'apps/enclave/src')).flatMap(importsOf);
  assert.ok(enclaveImports.includes('@custodian/protocol/manifest'));
  assert.ok(enclaveImports.length > 20);
});

/**
 * Runs the test suite with Node's own runner: unit tests (`*.test.ts` beside
 * the code) and integration tests (`test/integration/*.test.ts`, which start
 * real processes). Usage: run-tests.ts unit|integration|all [filter]
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const [mode = 'all', filter = ''] = process.argv.slice(2);

function walk(dir: string, out: string[]): void {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === 'dist' || name.startsWith('.')) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (name.endsWith('.test.ts')) out.push(relative(root, p));
  }
}

const files: string[] = [];
for (const top of ['packages', 'apps', 'test']) walk(join(root, top), files);
const selected = files
  .filter((f) => (mode === 'unit' ? !f.startsWith('test/') : mode === 'integration' ? f.startsWith('test/') : true))
  .filter((f) => f.includes(filter))
  .sort();
if (selected.length === 0) {
  console.error(`no test files for mode=${mode} filter=${filter}`);
  process.exit(1);
}
const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=2', '--test-timeout=300000', ...selected], { cwd: root, stdio: 'inherit' });
process.exit(r.status ?? 1);

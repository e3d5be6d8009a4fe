/**
 * `npm run bench`: every benchmark, each printing figures and ratios against
 * a baseline measured in the same process. Benchmarks in bench/*.bench.ts are
 * run after the signing path, each in its own process.
 */
import { readdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { benchSigningPath } from './signing-path.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const only = process.argv[2];

if (!only || only === 'signing') {
  console.log('== signing path');
  await benchSigningPath(Number(process.env['BENCH_N'] ?? '60'));
}
for (const f of readdirSync(here).filter((n) => n.endsWith('.bench.ts')).sort()) {
  if (only && !f.startsWith(only)) continue;
  console.log(`== ${f}`);
  spawnSync(process.execPath, ['--import', 'tsx', `${here}${f}`], { stdio: 'inherit' });
}

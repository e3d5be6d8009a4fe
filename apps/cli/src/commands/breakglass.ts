/**
 * `custodian breakglass list --data-dir DIR [--json]`: the break-glass
 * requests kept by the key broker in DIR (`breakglass.json`, written by
 * `BreakglassBook`), with their state and time-lock. With `--json` the last
 * stdout line is a JSON array (../shared/CONTRACTS.md "Key hierarchy").
 */
import { readBreakglassFile } from '@custodian/kbs/breakglass/breakglass-book';
import { summary } from '@custodian/kbs/breakglass/breakglass';
import { emitError, parseArgs, UsageError } from '../output.js';

const USAGE = 'usage: custodian breakglass list --data-dir DIR [--json]';

/** Entry point of `custodian breakglass ...`. */
export async function breakglassCommand(args: readonly string[]): Promise<number> {
  const json = args.includes('--json');
  try {
    const [sub, ...rest] = args;
    if (sub !== 'list') throw new UsageError(USAGE);
    const { values } = parseArgs(rest, { strings: ['data-dir'], booleans: ['json'] });
    const dataDir = values.get('data-dir')?.[0];
    if (dataDir === undefined) throw new UsageError(USAGE);
    const rows = readBreakglassFile(dataDir).map(summary);
    if (json) {
      process.stdout.write(JSON.stringify(rows) + '\n');
    } else if (rows.length === 0) {
      process.stdout.write('no break-glass requests\n');
    } else {
      for (const r of rows) {
        const lock = r['unlocksAtMs'] === null ? 'no time-lock running' : `unlocks ${new Date(Number(r['unlocksAtMs'])).toISOString()}`;
        process.stdout.write(`${String(r['id'])}  ${String(r['action'])}  ${String(r['status'])}  ${(r['approvals'] as string[]).length}/${String(r['threshold'])} approvals  ${lock}\n`);
      }
    }
    return 0;
  } catch (e) {
    return emitError(json, e);
  }
}

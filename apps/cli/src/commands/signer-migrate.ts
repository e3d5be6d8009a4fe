/**
 * Moving a signer to a new enclave build (DESIGN.md flow 6):
 *
 *   custodian signer migrate --signer S --to HOST:PORT [--json]
 *     once the installed manifest (quorum-signed) lists the new build's
 *     measurement and a pristine signer S of that build runs at HOST:PORT,
 *     has the host move S's state there: the old build checks the new
 *     build's evidence, retires and hands its state over sealed to it; the
 *     host re-points S to HOST:PORT, re-attests it (same identity) and has
 *     it audit the move. Update the host's `--signer S=HOST:PORT` before it
 *     restarts.
 *
 * The command holds no secret: the host relays, the enclaves decide.
 */
import { Fields } from '@custodian/core/fields';
import { DEFAULT_HOST_URL, HostClient } from '../host-client.js';
import { emit, emitError, parseArgs, UsageError } from '../output.js';

const USAGE = 'usage: custodian signer migrate --signer S --to HOST:PORT [--json]';

const SIGNER_RE = /^[a-z0-9][a-z0-9._-]{0,63}$/;
const ENDPOINT_RE = /^[0-9a-zA-Z.-]{1,253}:[0-9]{1,5}$/;

/** Entry point of `custodian signer migrate ...` (main passes `--host URL`). */
export async function signerMigrateCommand(args: readonly string[]): Promise<number> {
  const json = args.includes('--json');
  try {
    const { values } = parseArgs(args, { strings: ['signer', 'to', 'host'], booleans: ['json'] });
    const one = (k: string): string | undefined => values.get(k)?.[0];
    const signer = one('signer');
    const to = one('to');
    if (signer === undefined || !SIGNER_RE.test(signer) || to === undefined) throw new UsageError(USAGE);
    if (!ENDPOINT_RE.test(to)) throw new UsageError('--to is the new build\'s HOST:PORT');
    const host = new HostClient(one('host') ?? DEFAULT_HOST_URL);
    const f = new Fields(await host.post(`/v1/signers/${signer}/migrate`, { endpoint: to }), 'migrate');
    const out = {
      signerId: f.str('signerId', 64),
      identityKey: f.str('identityKey', 64),
      fromMeasurement: f.str('fromMeasurement', 96),
      toMeasurement: f.str('toMeasurement', 96),
      wallets: f.arr('wallets', 100_000).map(String),
      endpoint: f.str('endpoint', 260),
      previousEndpoint: f.str('previousEndpoint', 260),
    };
    f.done();
    emit(json, out, `signer ${signer} moved from ${out.previousEndpoint} (measurement ${out.fromMeasurement.slice(0, 16)}…, now retired) to ${out.endpoint} (measurement ${out.toMeasurement.slice(0, 16)}…), identity ${out.identityKey.slice(0, 16)}…, ${out.wallets.length} wallets\nupdate the host's --signer ${signer}=${out.endpoint} before it restarts`);
    return 0;
  } catch (e) {
    return emitError(json, e);
  }
}

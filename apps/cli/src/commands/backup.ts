/**
 * Signer backups and the recovery of a lost signer (issue 7 item 5):
 *
 *   custodian backup show --signer S [--backup SHA256] [--json]
 *     the newest backup the host keeps for S (or the one named): its digest
 *     and wallets. The digest is what a `recover-signer` break-glass request
 *     names: `{ "signerId": S, "backupSha256": SHA256 }`.
 *   custodian backup export --signer S [--json]
 *     has S export a fresh backup now (the host also does after every wallet
 *     creation and refresh).
 *   custodian backup restore --signer S --kbs URL --request ID [--backup SHA256] [--json]
 *     re-creates a lost signer on a pristine one (a new machine running S's
 *     measurement) once the break-glass request ID is executed: asks the key
 *     broker for a nonce, has the pristine signer attest an ephemeral key
 *     with it, hands the broker that evidence with the backup (the broker
 *     checks the evidence and the executed request, opens the backup in its
 *     HSM and re-encrypts it to the attested key), and relays the answer to
 *     the signer. The host then re-attests it and it audits the restore.
 *
 * Everything relayed is ciphertext or public; this command holds no secret.
 */
import { CustodianError } from '@custodian/core/errors';
import { Fields } from '@custodian/core/fields';
import type { Json } from '@custodian/core/canonical-json';
import { DEFAULT_HOST_URL, HostClient } from '../host-client.js';
import { emit, emitError, parseArgs, progress, UsageError } from '../output.js';

const USAGE = `usage:
  custodian backup show --signer S [--backup SHA256] [--json]
  custodian backup export --signer S [--json]
  custodian backup restore --signer S --kbs URL --request ID [--backup SHA256] [--json]`;

const SIGNER_RE = /^[a-z0-9][a-z0-9._-]{0,63}$/;
const HEX64 = /^[0-9a-f]{64}$/;

/** Entry point of `custodian backup ...` (main passes `--host URL`). */
export async function backupCommand(args: readonly string[]): Promise<number> {
  const json = args.includes('--json');
  try {
    const [sub, ...rest] = args;
    const { values } = parseArgs(rest, { strings: ['signer', 'backup', 'kbs', 'request', 'host'], booleans: ['json'] });
    const one = (k: string): string | undefined => values.get(k)?.[0];
    const signer = one('signer');
    if (signer === undefined || !SIGNER_RE.test(signer)) throw new UsageError(USAGE);
    const backup = one('backup');
    if (backup !== undefined && !HEX64.test(backup)) throw new UsageError('--backup is a SHA-256 digest in lower-case hex');
    const host = new HostClient(one('host') ?? DEFAULT_HOST_URL);
    switch (sub) {
      case 'show': {
        const b = new Fields(await host.get(`/v1/signers/${signer}/backup${backup ? `?backupSha256=${backup}` : ''}`), 'backup');
        const out = { signerId: signer, backupSha256: b.str('backupSha256', 64, HEX64), wallets: b.arr('wallets', 100_000).map(String), createdAtMs: b.int('createdAtMs') };
        emit(json, out, `signer ${signer}: backup ${out.backupSha256} of ${new Date(out.createdAtMs).toISOString()}, ${out.wallets.length} wallets (${out.wallets.join(', ') || 'none'})\nrecover-signer payload: ${JSON.stringify({ signerId: signer, backupSha256: out.backupSha256 })}`);
        return 0;
      }
      case 'export': {
        const b = new Fields(await host.post(`/v1/signers/${signer}/backup`, {}), 'backup');
        const out = { signerId: signer, backupSha256: b.str('backupSha256', 64, HEX64), wallets: b.arr('wallets', 100_000).map(String) };
        emit(json, out, `signer ${signer}: backup ${out.backupSha256} kept by the host, ${out.wallets.length} wallets`);
        return 0;
      }
      case 'restore': {
        const kbsUrl = one('kbs');
        const request = one('request');
        if (kbsUrl === undefined || request === undefined) throw new UsageError(USAGE);
        const out = await restore(host, new HostClient(kbsUrl.replace(/\/+$/, '')), signer, request, backup, json);
        emit(json, out, `signer ${signer} restored from backup ${String(out['backupSha256'])} (${(out['wallets'] as string[]).length} wallets) under break-glass request ${request}; identity ${String(out['identityKey']).slice(0, 16)}…`);
        return 0;
      }
      default:
        throw new UsageError(USAGE);
    }
  } catch (e) {
    return emitError(json, e);
  }
}

async function restore(host: HostClient, kbs: HostClient, signerId: string, requestId: string, backupSha256: string | undefined, json: boolean): Promise<Record<string, Json>> {
  const say = (line: string): void => {
    if (!json) progress(line);
  };
  const n = new Fields(await kbs.post('/v1/nonce', {}), 'nonce');
  const nonce = n.str('nonce', 64, HEX64);
  say(`key broker nonce ${nonce.slice(0, 16)}…`);
  const p = new Fields(await host.post(`/v1/signers/${signerId}/restore/prepare`, { nonce, ...(backupSha256 ? { backupSha256 } : {}) }), 'prepare');
  const prepared = { publicKey: p.str('publicKey', 64, HEX64), evidence: p.str('evidence', 64 * 1024), backupSha256: p.str('backupSha256', 64, HEX64), backup: p.raw('backup') };
  say(`signer ${signerId} attested an ephemeral key; backup ${prepared.backupSha256.slice(0, 16)}…`);
  const answer = await kbs.post('/v1/recover', { nonce, evidence: prepared.evidence, publicKey: prepared.publicKey, requestId, signerId, backup: prepared.backup });
  if (new Fields(answer, 'recover').optRaw('ok') !== true) throw new CustodianError('E_KBS_ANSWER_INVALID', 'the key broker answered the recovery without ok', {});
  say('key broker re-encrypted the backup to the attested key');
  const done = await host.post(`/v1/signers/${signerId}/restore/complete`, { nonce, requestId, backupSha256: prepared.backupSha256, answer });
  return done as Record<string, Json>;
}

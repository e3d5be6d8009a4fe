/**
 * The `custodian` command: one dispatcher, the output contract of
 * CONTRACTS.md (`--json`, exit codes 0/1/2/3) applied to every command.
 */
import { emitError, progress, UsageError } from './output.js';
import { DEFAULT_HOST_URL } from './host-client.js';
import { initCommand, manifestCommand, operatorCommand } from './commands/org.js';
import { serveCommand, signerCommand } from './commands/run.js';
import { auditListCommand, txCommand, walletCommand } from './commands/custody.js';

const USAGE = `usage: custodian <command> [options] [--json] [--host URL]

  init --data-dir D                         create a data directory (sim root, development only)
  operator keygen --out FILE [--alg ed25519|p256]
  manifest create|sign|submit|show ...      organisation manifest, signed by the root quorum (--rulebook DIR pins Cedar)
  signer --platform sim --id ID --data-dir D [--port N] [--kbs URL [--kbs-key HEX]]
  signer migrate --signer S --to HOST:PORT  move S's state to a new enclave build the manifest lists (the old build retires)
  serve --data-dir D --signer ID=HOST:PORT ... [--port N] [--eth-rpc URL]
  wallet create --id W --key F --operator ID (--signer ID | --scheme ecdsa-dkls|frost-ed25519|frost-secp256k1-tr --threshold t --signers A,B,C) | list
  wallet refresh --wallet W --key F --operator ID   new shares for a threshold wallet, same key
  tx propose --wallet W (--to A --value-wei N | --raw HEX | --raw-base64 B64) --key F --operator ID
  tx approve|status|list ...                EVM transaction, Solana message or taproot PSBT by the wallet's scheme
  audit list [--request ID]                 enclave-signed audit entries, chains verified
  audit verify|prove|show ...               transparency log (see CONTRACTS.md)
  evidence export|verify ...                evidence bundles for auditors (docs/evidence.md)
  witness serve --data-dir D --policy FILE  an independent witness of the audit log
  attest verify ...                         verify TEE evidence (see CONTRACTS.md)
  tss sign-demo ...                         threshold signing demo
  policy simulate --chain C (--tx|--tx-base64) ...   decide an EVM tx, Solana message or taproot PSBT with a rulebook
  kbs ... | breakglass request|approve|veto|cancel|execute|show|list|apply   key broker, break-glass steps
  provision keygen|split|post ...           quorum provisioning: split a secret to members; each posts its share to an attested signer
  backup show|export|restore --signer S ... signer backups to the HSM recovery key; restore a lost signer (break-glass)
`;

/** Commands implemented in their own modules, loaded when present. */
const OPTIONAL: Record<string, [string, string]> = {
  attest: ['./commands/attest.js', 'attestCommand'],
  tss: ['./commands/tss.js', 'tssCommand'],
  policy: ['./commands/policy.js', 'policyCommand'],
  kbs: ['./commands/kbs.js', 'kbsCommand'],
  evidence: ['./commands/evidence.js', 'evidenceCommand'],
  witness: ['./commands/witness.js', 'witnessCommand'],
};

async function runOptional(name: string, args: readonly string[]): Promise<number> {
  const [path, fn] = OPTIONAL[name]!;
  return runModule(path, fn, args);
}

/** Loads a command module and runs its entry point (each command keeps its own dependencies). */
async function runModule(path: string, fn: string, args: readonly string[]): Promise<number> {
  let mod: Record<string, unknown>;
  try {
    mod = (await import(path)) as Record<string, unknown>;
  } catch (e) {
    throw new UsageError(`${path} could not be loaded: ${(e as Error).message}`);
  }
  return (mod[fn] as (a: readonly string[]) => Promise<number>)(args);
}

/** Runs the CLI with `argv` (without node and script) and returns the exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  const json = argv.includes('--json');
  let hostUrl = process.env['CUSTODIAN_HOST'] ?? DEFAULT_HOST_URL;
  const args: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--host') hostUrl = argv[++i] ?? hostUrl;
    else if (argv[i]!.startsWith('--host=')) hostUrl = argv[i]!.slice(7);
    else args.push(argv[i]!);
  }
  const [cmd, ...rest] = args;
  const own = rest.filter((a) => a !== '--json');
  try {
    switch (cmd) {
      case 'init':
        return await initCommand(own, json);
      case 'operator':
        return await operatorCommand(own, json);
      case 'manifest':
        return await manifestCommand(own, json, hostUrl);
      case 'signer':
        // `signer migrate` asks the host to move a signer to a new build: the command gets the host URL.
        if (own[0] === 'migrate') return await runModule('./commands/signer-migrate.js', 'signerMigrateCommand', [...rest.slice(0, rest.indexOf('migrate')), ...rest.slice(rest.indexOf('migrate') + 1), '--host', hostUrl]);
        return await signerCommand(own);
      case 'serve':
        return await serveCommand(own);
      case 'wallet':
        return await walletCommand(own, json, hostUrl);
      case 'tx':
        return await txCommand(own, json, hostUrl);
      case 'backup':
        return await runModule('./commands/backup.js', 'backupCommand', [...rest, '--host', hostUrl]);
      case 'provision':
        // The member's step talks to the host: the command gets the host URL.
        return await runModule('./commands/provision.js', 'provisionCommand', [...rest, '--host', hostUrl]);
      case 'breakglass':
        // `breakglass apply` posts to the host: the command gets the host URL.
        return await runModule('./commands/breakglass.js', 'breakglassCommand', [...rest, '--host', hostUrl]);
      case 'audit':
        if (own[0] === 'list') return await auditListCommand(own.slice(1), json, hostUrl);
        if (own[0] === 'show') return await runModule('./commands/audit-show.js', 'auditShowCommand', rest);
        return await runAuditLog(rest);
      case undefined:
      case 'help':
      case '--help':
        progress(USAGE);
        return cmd === undefined ? 2 : 0;
      default:
        if (cmd in OPTIONAL) return await runOptional(cmd, rest);
        throw new UsageError(`unknown command ${cmd} (custodian help lists the commands)`);
    }
  } catch (e) {
    return emitError(json, e);
  }
}

async function runAuditLog(args: readonly string[]): Promise<number> {
  return runModule('./commands/audit-log.js', 'auditLogCommand', args);
}


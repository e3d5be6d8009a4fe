/**
 * `custodian audit show --log DIR|URL --request ID [trust] [--json]`: the
 * full story of one request — request, policy decision (with the rulebook,
 * address-book, price-table and screening-list hashes), approvals,
 * signature released, refusals — and the attestations and manifest in force,
 * each with its inclusion proof verified against the log's witnessed
 * checkpoint. It reads the whole log once (the story is complete for that
 * checkpoint) and needs no server.
 *
 * trust: as for `custodian evidence` (--policy FILE or --origin/--log-key;
 * else the policy document in the log directory, reported as such).
 * Exit codes: 0 shown and verified, 1 refused or no such request, 2 usage, 3 unreadable.
 */
import { exportEvidenceBundle } from '@custodian/audit/evidence-export';
import { verifyEvidenceBundle } from '@custodian/audit/evidence-verify';
import type { EvidenceEntry } from '@custodian/audit/evidence-bundle';
import type { AuditEntry } from '@custodian/audit/entry';
import { emit, emitError, parseArgs, UsageError } from '../output.js';
import { one, openLog, trustDocument } from './evidence.js';

const USAGE = `usage: custodian audit show --log DIR|URL --request ID [trust] [--json]
trust: --policy FILE | --origin O --log-key VKEY|FILE... [--witness-key VKEY|FILE...] [--quorum K]`;

const SPEC = { strings: ['log', 'request', 'policy', 'origin', 'quorum'], multi: ['log-key', 'witness-key'], booleans: ['json'] };

/** Entry point of `custodian audit show` (args after `show`, or including `audit show`). */
export async function auditShowCommand(args: readonly string[]): Promise<number> {
  const json = args.includes('--json');
  try {
    let rest = args[0] === 'audit' ? args.slice(1) : args;
    if (rest[0] === 'show') rest = rest.slice(1);
    const opts = parseArgs(rest, SPEC);
    if (opts.positionals.length > 0) throw new UsageError(`unexpected argument ${opts.positionals[0]}\n${USAGE}`);
    const requestId = one(opts.values, 'request');
    if (requestId === undefined) throw new UsageError(`--request ID is required\n${USAGE}`);
    const { storage, location } = openLog(opts.values);
    const { doc, trust } = trustDocument(opts.values, location, true);
    if (doc === null) throw new UsageError(`no keys given: pass --policy FILE or --origin with --log-key\n${USAGE}`);
    const bundle = await exportEvidenceBundle(storage, { policy: doc, subject: { kind: 'request', requestId }, nowMs: Date.now() });
    const r = verifyEvidenceBundle(bundle);
    const cp = r.checkpoints[0]!;
    const story = bundle.entries.map((e) => ({ index: e.index, role: e.role, kind: e.entry.kind, time: new Date(e.entry.at).toISOString(), entry: e.entry, leafHash: e.leafHash, proofVerified: true, objectives: e.objectives }));
    const summary = summarise(bundle.entries);
    emit(json, { ok: true, log: location, trust, origin: r.origin, requestId, checkpoint: cp, summary, story }, [
      `request ${requestId} in ${r.origin}: ${bundle.entries.filter((e) => e.role === 'story').length} entries, every inclusion proof verified against the checkpoint of size ${cp.size}`,
      `checkpoint root ${cp.rootHash}; signed by ${cp.logSigners.join(', ')}; cosigned by ${cp.cosigners.join(', ') || 'nobody'} (quorum ${r.witnessQuorum})`,
      '',
      ...bundle.entries.map((e) => `${e.role === 'context' ? '  (in force) ' : ''}#${e.index} ${new Date(e.entry.at).toISOString()} ${describe(e.entry)}`),
      '',
      `outcome: ${summary.outcome}`,
      trust === 'log-directory' ? 'warning: keys taken from the log directory itself; pass --policy or --log-key to check against keys you hold' : '',
    ].filter((l, i, a) => l !== '' || (i > 0 && a[i - 1] !== '')).join('\n'));
    return 0;
  } catch (e) {
    return emitError(json, e);
  }
}

/** The outcome of a request as its story tells it. */
interface StorySummary {
  readonly decision: string | null;
  readonly approvers: readonly string[];
  readonly signatureReleased: boolean;
  readonly refusals: readonly string[];
  readonly outcome: string;
}

function summarise(entries: readonly EvidenceEntry[]): StorySummary {
  const story = entries.filter((e) => e.role === 'story').map((e) => e.entry);
  let decision: string | null = null;
  const approvers: string[] = [];
  const refusals: string[] = [];
  let signatureReleased = false;
  for (const x of story) {
    if (x.kind === 'policy.decision') decision = x.decision;
    if (x.kind === 'approval') approvers.push(x.approver);
    if (x.kind === 'signature.released') signatureReleased = true;
    if (x.kind === 'refusal') refusals.push(x.code);
  }
  const outcome = signatureReleased ? `signed (decision ${decision ?? 'not logged'}, ${approvers.length} approval(s))`
    : refusals.length > 0 ? `refused (${refusals.join(', ')})`
    : `not signed yet (decision ${decision ?? 'not logged'}, ${approvers.length} approval(s))`;
  return { decision, approvers, signatureReleased, refusals, outcome };
}

function describe(x: AuditEntry): string {
  switch (x.kind) {
    case 'request':
      return `request: ${x.initiator} asked to ${x.action} on ${x.chain} (payload ${x.payloadHash})`;
    case 'policy.decision':
      return `policy decision: ${x.decision} by [${x.policies.join(', ')}]${x.reasons.length > 0 ? ` because ${x.reasons.join('; ')}` : ''}\n      rulebook ${x.policyHash}\n      address book ${x.addressBookHash}\n      price table ${x.priceTableHash}\n      screening list ${x.screeningListHash}`;
    case 'approval':
      return `approval: ${x.approver} (${x.group}) over digest ${x.digest}`;
    case 'attestation':
      return `attestation of ${x.subject} on ${x.platform}: ${x.status} (evidence ${x.evidenceHash}, measurement ${x.measurement.slice(0, 16)}…)`;
    case 'signature.released':
      return `signature released: ${x.scheme} key ${x.keyId} over digest ${x.digest} (signature ${x.signatureHash})`;
    case 'manifest.change':
      return `manifest ${x.change}: ${x.manifestHash}${x.previousManifestHash === null ? '' : ` (was ${x.previousManifestHash})`}`;
    case 'breakglass.step':
      return `break-glass ${x.breakglassId} ${x.step} by ${x.actor}`;
    case 'refusal':
      return `refused ${x.code}: ${x.reason}`;
    case 'event':
      return `event ${x.name}`;
  }
}

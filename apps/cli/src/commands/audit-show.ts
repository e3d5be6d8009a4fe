/**
 * `custodian audit show --log DIR|URL --request ID [--signers FILE] [trust] [--json]`:
 * the full story of one request — request, policy decision (with the
 * rulebook, address-book, price-table and screening-list hashes), approvals,
 * each signer's decision to sign, signature released, refusals — and the
 * attestations and manifest in force, each with its inclusion proof verified
 * against the log's witnessed checkpoint. It reads the whole log once (the
 * story is complete for that checkpoint) and needs no server. On the custody
 * log every leaf's enclave signature and each signer's chain are verified on
 * the way, and each story line names the signer and its sequence number.
 *
 * trust: as for `custodian evidence` (--policy FILE or --origin/--log-key;
 * else the policy document in the log directory, reported as such; signer
 * keys from --signers FILE or the signers document in the log directory).
 * Exit codes: 0 shown and verified, 1 refused or no such request, 2 usage, 3 unreadable.
 */
import { exportEvidenceBundle } from '@custodian/audit/evidence-export';
import { verifyEvidenceBundle } from '@custodian/audit/evidence-verify';
import type { EvidenceEntry } from '@custodian/audit/evidence-bundle';
import type { AuditEntry } from '@custodian/audit/entry';
import type { Json } from '@custodian/core/canonical-json';
import { emit, emitError, parseArgs, UsageError } from '../output.js';
import { one, openLog, signerKeysFor, trustDocument } from './evidence.js';

const USAGE = `usage: custodian audit show --log DIR|URL --request ID [--signers FILE] [trust] [--json]
trust: --policy FILE | --origin O --log-key VKEY|FILE... [--witness-key VKEY|FILE...] [--quorum K]`;

const SPEC = { strings: ['log', 'request', 'policy', 'origin', 'quorum', 'signers'], multi: ['log-key', 'witness-key'], booleans: ['json'] };

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
    const { keys, signerTrust } = signerKeysFor(opts.values, location, doc);
    const bundle = await exportEvidenceBundle(storage, { policy: doc, subject: { kind: 'request', requestId }, nowMs: Date.now(), ...(keys === undefined ? {} : { signerKeys: keys }) });
    const r = verifyEvidenceBundle(bundle);
    const cp = r.checkpoints[0]!;
    const story = bundle.entries.map((e) => ({
      index: e.index, role: e.role, kind: e.entry.kind, time: new Date(e.entry.at).toISOString(), entry: e.entry, leafHash: e.leafHash, proofVerified: true, objectives: e.objectives,
      ...(e.leaf === undefined ? {} : { signedBy: writerOf(e.leaf), signatureVerified: true }),
    }));
    const summary = summarise(bundle.entries);
    emit(json, { ok: true, log: location, trust, signerTrust, origin: r.origin, requestId, checkpoint: cp, summary, story }, [
      `request ${requestId} in ${r.origin}: ${bundle.entries.filter((e) => e.role === 'story').length} entries, every inclusion proof verified against the checkpoint of size ${cp.size}`,
      keys === undefined ? '' : `every leaf of the log verified under the signers' identity keys (enclave signature, typed entry, each signer's chain)`,
      `checkpoint root ${cp.rootHash}; signed by ${cp.logSigners.join(', ')}; cosigned by ${cp.cosigners.join(', ') || 'nobody'} (quorum ${r.witnessQuorum})`,
      '',
      ...bundle.entries.map((e) => {
        const w = e.leaf === undefined ? null : writerOf(e.leaf);
        return `${e.role === 'context' ? '  (in force) ' : ''}#${e.index} ${new Date(e.entry.at).toISOString()}${w === null ? '' : ` ${w.signerId}#${w.seq} ${w.event}:`} ${describe(e.entry)}`;
      }),
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
    if (x.kind === 'approval' && !approvers.includes(x.approver)) approvers.push(x.approver);
    if (x.kind === 'signature.released') signatureReleased = true;
    if (x.kind === 'refusal' || x.kind === 'session.aborted') refusals.push(x.code);
  }
  const outcome = signatureReleased ? `signed (decision ${decision ?? 'not logged'}, ${approvers.length} approval(s))`
    : refusals.length > 0 ? `refused (${refusals.join(', ')})`
    : `not signed yet (decision ${decision ?? 'not logged'}, ${approvers.length} approval(s))`;
  return { decision, approvers, signatureReleased, refusals, outcome };
}

/** The writer of a custody leaf (already verified by the exporter). */
function writerOf(leaf: Json): { signerId: string; seq: number; event: string } {
  const st = (leaf as { statement: { signerId: string; seq: number; kind: string } }).statement;
  return { signerId: st.signerId, seq: st.seq, event: st.kind };
}

const short = (h: string | null): string => (h === null ? 'not recorded' : `${h.slice(0, 16)}…`);

function describe(x: AuditEntry): string {
  switch (x.kind) {
    case 'request':
      return `request: ${x.initiator} asked to ${x.action} on ${x.chain}${x.walletId ? ` from wallet ${x.walletId}` : ''} (payload ${short(x.payloadHash)}${x.digest ? `, digest ${short(x.digest)}` : ''})`;
    case 'policy.decision':
      return `policy decision: ${x.decision}${x.code ? ` (${x.code})` : ''} by [${x.policies.join(', ')}]${x.reasons.length > 0 ? ` because ${x.reasons.join('; ')}` : ''}`
        + `${x.approvalsRequired && Object.keys(x.approvalsRequired).length > 0 ? `; approvals needed ${Object.entries(x.approvalsRequired).map(([g, n]) => `${n} from ${g}`).join(', ')}` : ''}`
        + `\n      policy ${x.policyHash}\n      address book ${x.addressBookHash ?? 'none'}\n      price table ${x.priceTableHash ?? 'none'}\n      screening list ${x.screeningListHash ?? 'none'}`
        + (x.versions ? Object.entries(x.versions).filter(([k]) => !['policySet', 'addressBook', 'priceTable', 'screeningList'].includes(k)).map(([k, val]) => `\n      ${k} ${val}`).join('') : '');
    case 'approval':
      return `approval: ${x.approver}${x.group === null ? '' : ` (${x.group})`} over digest ${short(x.digest)}${x.expiresAt ? `, valid until ${new Date(x.expiresAt).toISOString()}` : ''}`;
    case 'attestation':
      return `attestation of ${x.subject} on ${x.platform}: ${x.status}${x.identityKey ? ` (identity key ${short(x.identityKey)}, ` : ' ('}measurement ${x.measurement === null ? 'none' : `${x.measurement.slice(0, 16)}…`}, evidence ${short(x.evidenceHash)})${x.reasons.length > 0 ? ` ${x.reasons.join('; ')}` : ''}`;
    case 'signature.released':
      return `signature released: ${x.scheme} key ${x.keyId}${x.address ? ` (${x.address})` : ''}${x.txId ? `, tx ${x.txId}` : ''}${x.digest ? `, digest ${short(x.digest)}` : ''}`;
    case 'manifest.change':
      return `manifest ${x.change}${x.version === undefined ? '' : ` v${x.version}`}: ${x.manifestHash}${x.previousManifestHash === null ? '' : ` (was ${x.previousManifestHash})`}${x.signedBy ? ` signed by ${x.signedBy.join(', ')}` : ''}`;
    case 'breakglass.step':
      return `break-glass ${x.breakglassId} ${x.step} by ${x.actor}`;
    case 'refusal':
      return `refused ${x.code}${x.event ? ` (${x.event})` : ''}: ${x.reason}`;
    case 'event':
      return `event ${x.name}${Object.keys(x.detail).length > 0 ? ` ${Object.entries(x.detail).map(([k, val]) => `${k}=${val}`).join(' ')}` : ''}`;
    case 'wallet.created':
      return `wallet ${x.walletId} created: ${x.scheme} ${x.threshold}-of-${x.parties.length} (${x.parties.join(', ')}) address ${x.address}, asked by ${x.requestedBy}`;
    case 'signing.approved':
      return `decided to sign: policy ${x.decision}, approvals ${x.approvals.map((a) => a.split(':')[0]).join(', ') || 'none'}${x.scheme ? `; ${x.scheme}` : ''}${x.signers.length > 0 ? ` with ${x.signers.join(', ')}` : ''}${x.combiner ? `, combiner ${x.combiner}` : ''}`;
    case 'session.aborted':
      return `threshold ${x.session} session aborted ${x.code}: ${x.reason}${x.culprit ? `; culprit ${x.culprit}` : ''}`;
  }
}

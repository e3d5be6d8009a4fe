/**
 * The auditor's report of a verified evidence bundle: one self-contained
 * static HTML page (inline CSS and SVG, no script, no external asset) with the
 * verification result, charts (entries per day, policy decisions by outcome,
 * refusals by code), the story of each request as a table, the checkpoints
 * and their cosigners, the signers and attestations, the control objectives
 * evidenced, and every entry. It is a pure function of the bundle and its
 * verification, so the archive's copy can be re-rendered and compared.
 * Every value from the bundle is HTML-escaped.
 */
import type { EvidenceBundle, EvidenceEntry } from './evidence-bundle.js';
import type { EvidenceVerification } from './evidence-verify.js';
import type { AuditEntry } from './entry.js';

/** Most rows in the report's full entry table (the bundle holds them all). */
export const REPORT_ENTRY_ROWS_MAX = 2000;
/** Most bars in one chart (the rest are summed as "other"). */
export const REPORT_BARS_MAX = 40;

/** Renders the report (UTF-8 HTML text). */
export function renderEvidenceReport(bundle: EvidenceBundle, v: EvidenceVerification): string {
  const entries = bundle.entries;
  const subject = bundle.subject.kind === 'request' ? `request ${bundle.subject.requestId}` : `entries from ${iso(bundle.subject.fromMs)} to ${iso(bundle.subject.toMs)}`;
  const decisions = count(entries.flatMap((e) => (e.entry.kind === 'policy.decision' ? [e.entry.decision] : [])));
  const refusals = count(entries.flatMap((e) => (e.entry.kind === 'refusal' || e.entry.kind === 'session.aborted' ? [e.entry.code] : [])));
  const perDay = count(entries.map((e) => iso(e.entry.at).slice(0, 10)));
  const signaturesPerDay = count(entries.flatMap((e) => (e.entry.kind === 'signature.released' ? [iso(e.entry.at).slice(0, 10)] : [])));
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Custodian evidence report — ${esc(subject)}</title>
<style>${CSS}</style></head><body>
<h1>Custodian evidence report</h1>
<p class="sub">${esc(subject)} · log <code>${esc(v.origin)}</code> · exported ${esc(iso(bundle.exportedAtMs))}</p>
${verificationSection(v)}
<h2>Charts</h2>
<div class="charts">
${chart('Entries per day', perDay)}
${chart('Signatures released per day', signaturesPerDay)}
${chart('Policy decisions by outcome', decisions)}
${chart('Refusals by code', refusals)}
</div>
${storySection(entries)}
${checkpointSection(v)}
${signerSection(bundle, entries, v)}
${controlsSection(bundle, v)}
${entriesSection(entries)}
<p class="foot">Rendered from evidence.json (bundle digest <code>${esc(v.bundleDigest)}</code>). A bundle proves each entry is in the log; only the log itself shows nothing was left out.</p>
</body></html>
`;
}

function verificationSection(v: EvidenceVerification): string {
  const cp = v.checkpoints.map((c) => `size ${c.size}, root <code>${esc(c.rootHash.slice(0, 16))}…</code>`).join('; ');
  const rows: [string, string][] = [
    ['Result', '<span class="ok">verified</span>: manifest, control mapping, checkpoint signatures and cosignatures, every inclusion proof' + (v.leaves ? ', every entry\u2019s enclave signature' : '') + (v.consistencyProofs > 0 ? ', consistency proofs' : '')],
    ['Checkpoint keys', v.trust === 'given-policy' ? 'supplied by the auditor' : 'carried in the bundle (pass your own to the verifier)'],
    ['Signer keys', v.leaves === null ? 'not a custody log (entries are unsigned records)' : v.leaves.signerTrust === 'given-keys' ? 'supplied by the auditor' : 'carried in the bundle (pass your own to the verifier)'],
    ['Checkpoints', cp],
    ['Entries', `${v.entries} (${Object.entries(v.entriesByKind).map(([k, n]) => `${esc(k)} ${n}`).join(', ')})`],
    ['Trusted checkpoint', v.trustedSize === null ? 'none given' : `consistent with size ${v.trustedSize}`],
    ['Attachments', v.attachments.length === 0 ? 'none' : v.attachments.map((a) => `${esc(a.name)} (<code>${esc(a.sha256.slice(0, 16))}…</code>)`).join(', ')],
  ];
  return `<h2>Verification</h2>${table(['', ''], rows.map(([k, x]) => [esc(k), x]), true)}`;
}

interface Story {
  requestId: string;
  firstAt: number;
  proposal: string;
  decision: string;
  versions: string;
  approvals: string[];
  firstApprovalAt: number | null;
  signing: string;
  released: string;
  releasedAt: number | null;
  refusals: string[];
}

function storySection(entries: readonly EvidenceEntry[]): string {
  const stories = new Map<string, Story>();
  for (const { entry: x } of entries) {
    const id = 'requestId' in x ? x.requestId : undefined;
    if (typeof id !== 'string') continue;
    const s = stories.get(id) ?? { requestId: id, firstAt: x.at, proposal: '', decision: '', versions: '', approvals: [], firstApprovalAt: null, signing: '', released: '', releasedAt: null, refusals: [] };
    stories.set(id, s);
    storyStep(s, x);
  }
  if (stories.size === 0) return '';
  const rows = [...stories.values()].map((s) => [
    `<code>${esc(short(s.requestId))}</code>`, esc(s.proposal), esc(s.decision) + (s.versions ? `<br><small>${esc(s.versions)}</small>` : ''),
    esc(s.approvals.join(', ')) + (s.firstApprovalAt === null ? '' : `<br><small>first after ${ms(s.firstApprovalAt - s.firstAt)}</small>`),
    esc(s.signing), esc(s.released) + (s.releasedAt === null ? '' : `<br><small>${ms(s.releasedAt - s.firstAt)} after the request</small>`),
    esc(s.refusals.join('; ')),
    s.released ? '<span class="ok">signed</span>' : s.refusals.length > 0 ? '<span class="bad">refused</span>' : 'open',
  ]);
  return `<h2>Requests</h2>${table(['Request', 'Proposal', 'Decision (versions)', 'Approvals', 'Signing decision', 'Signature released', 'Refusals', 'Outcome'], rows)}`;
}

function storyStep(s: Story, x: AuditEntry): void {
  switch (x.kind) {
    case 'request':
      s.proposal = `${x.initiator}: ${x.action} on ${x.chain}${x.walletId ? ` from ${x.walletId}` : ''}`;
      break;
    case 'policy.decision':
      s.decision = x.decision + (x.code ? ` (${x.code})` : '');
      s.versions = `policy ${x.policyHash.slice(0, 12)}…` + (x.addressBookHash ? `, address book ${x.addressBookHash.slice(0, 12)}…` : '') + (x.screeningListHash ? `, screening ${x.screeningListHash.slice(0, 12)}…` : '');
      break;
    case 'approval':
      s.approvals.push(x.approver);
      s.firstApprovalAt ??= x.at;
      break;
    case 'signing.approved':
      s.signing = `${x.decision} with ${x.approvals.length} approval(s)${x.signers.length > 0 ? ` by ${x.signers.join(', ')}` : ''}`;
      break;
    case 'signature.released':
      s.released = `${x.scheme} key ${x.keyId}${x.txId ? ` tx ${x.txId.slice(0, 14)}…` : ''}`;
      s.releasedAt = x.at;
      break;
    case 'refusal':
    case 'session.aborted':
      s.refusals.push(x.code);
      break;
    default:
      break;
  }
}

function checkpointSection(v: EvidenceVerification): string {
  const rows = v.checkpoints.map((c) => [String(c.size), `<code>${esc(c.rootHash)}</code>`, esc(c.logSigners.join(', ')), esc(c.cosigners.join(', ') || 'nobody'), `${c.cosigners.length} of quorum ${v.witnessQuorum}`]);
  return `<h2>Checkpoints and cosigners</h2>${table(['Size', 'Root', 'Signed by', 'Cosigned by', 'Quorum'], rows)}`;
}

function signerSection(bundle: EvidenceBundle, entries: readonly EvidenceEntry[], v: EvidenceVerification): string {
  const signers = (bundle.log.signers ?? []).map((s) => [esc(s.signerId), `<code>${esc(s.identityKey)}</code>`, String(v.leaves?.signers[s.signerId] ?? 0)]);
  const attest = entries.flatMap(({ entry: x }) =>
    x.kind === 'attestation' ? [[esc(iso(x.at)), esc(x.subject), esc(x.platform), x.status === 'affirming' ? `<span class="ok">${esc(x.status)}</span>` : `<span class="bad">${esc(x.status)}</span>`, `<code>${esc((x.measurement ?? '—').slice(0, 24))}</code>`, esc(x.reasons.join('; '))]] : [],
  );
  const manifests = entries.flatMap(({ entry: x }) => (x.kind === 'manifest.change' ? [[esc(iso(x.at)), esc(x.change), `<code>${esc(x.manifestHash.slice(0, 16))}…</code>`, String(x.version ?? ''), esc((x.measurements ?? x.measurementsAdded ?? []).map((m) => m.slice(0, 16)).join(', '))]] : []));
  return [
    signers.length > 0 ? `<h2>Signers</h2>${table(['Signer', 'Identity key (Ed25519)', 'Entries in bundle'], signers)}` : '',
    attest.length > 0 ? `<h2>Attestations</h2>${table(['Time', 'Subject', 'Platform', 'Result', 'Measurement', 'Reasons'], attest)}` : '',
    manifests.length > 0 ? `<h2>Manifest and measurement changes</h2>${table(['Time', 'Change', 'Manifest', 'Version', 'Measurements'], manifests)}` : '',
  ].join('\n');
}

function controlsSection(bundle: EvidenceBundle, v: EvidenceVerification): string {
  const rows = bundle.controls.objectives.map((o) => [esc(o.objective), esc(o.references.map((r) => `${r.framework} ${r.ref}`).join(', ')), String(v.objectives[o.id] ?? 0)]);
  return `<h2>Control objectives (${esc(bundle.controls.version)})</h2>${table(['Objective', 'References', 'Items'], rows)}`;
}

function entriesSection(entries: readonly EvidenceEntry[]): string {
  const rows = entries.slice(0, REPORT_ENTRY_ROWS_MAX).map((e) => [String(e.index), esc(iso(e.entry.at)), esc(e.role), esc(e.entry.kind), esc(brief(e.entry))]);
  const more = entries.length > REPORT_ENTRY_ROWS_MAX ? `<p>${entries.length - REPORT_ENTRY_ROWS_MAX} more entries are in evidence.json.</p>` : '';
  return `<h2>Entries</h2>${table(['Index', 'Time', 'Role', 'Kind', 'Record'], rows)}${more}`;
}

function brief(x: AuditEntry): string {
  const { v: _v, kind: _k, at: _a, ...rest } = x;
  return JSON.stringify(rest).slice(0, 400);
}

/** A horizontal bar chart as inline SVG. */
function chart(title: string, data: ReadonlyMap<string, number>): string {
  let bars = [...data].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  if (bars.length > REPORT_BARS_MAX) bars = [...bars.slice(0, REPORT_BARS_MAX - 1), ['other', bars.slice(REPORT_BARS_MAX - 1).reduce((n, [, c]) => n + c, 0)]];
  if (bars.length === 0) return `<figure><figcaption>${esc(title)}</figcaption><p class="none">none</p></figure>`;
  const max = Math.max(...bars.map(([, c]) => c));
  const row = 22;
  const height = bars.length * row + 8;
  const body = bars.map(([label, c], i) => {
    const y = 4 + i * row;
    const w = Math.max(2, Math.round((c / max) * 200));
    return `<text x="0" y="${y + 15}" class="l">${esc(label.slice(0, 28))}</text><rect x="190" y="${y + 3}" width="${w}" height="16" rx="2"/><text x="${196 + w}" y="${y + 15}" class="n">${c}</text>`;
  }).join('');
  return `<figure><figcaption>${esc(title)}</figcaption><svg xmlns="http://www.w3.org/2000/svg" width="440" height="${height}" role="img" aria-label="${esc(title)}">${body}</svg></figure>`;
}

function table(head: readonly string[], rows: readonly (readonly string[])[], noHead = false): string {
  const th = noHead ? '' : `<thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead>`;
  return `<table>${th}<tbody>${rows.map((r) => `<tr>${r.map((c) => `<td>${c}</td>`).join('')}</tr>`).join('\n')}</tbody></table>`;
}

function count(keys: readonly string[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const k of keys) m.set(k, (m.get(k) ?? 0) + 1);
  return m;
}

const iso = (ms: number): string => new Date(ms).toISOString();
const short = (id: string): string => (id.length > 20 ? `${id.slice(0, 16)}…` : id);
const ms = (d: number): string => (d < 1000 ? `${d} ms` : d < 120_000 ? `${(d / 1000).toFixed(1)} s` : `${(d / 60_000).toFixed(1)} min`);

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

const CSS = `body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem auto;max-width:1200px;padding:0 1rem;color:#1d2330}
h1{margin-bottom:.2rem}h2{margin-top:2rem;border-bottom:1px solid #d6dbe4;padding-bottom:.2rem}.sub,.foot{color:#5a6475}
table{border-collapse:collapse;width:100%;margin:.5rem 0}td,th{border:1px solid #d6dbe4;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#f1f4f8}code{font:12px ui-monospace,monospace;word-break:break-all}small{color:#5a6475}
.ok{color:#11703a;font-weight:600}.bad{color:#a4161a;font-weight:600}.charts{display:flex;flex-wrap:wrap;gap:1.5rem}
figure{margin:0}figcaption{font-weight:600;margin-bottom:.3rem}svg rect{fill:#3b6fd8}svg text{font:12px system-ui,sans-serif;fill:#1d2330}.none{color:#5a6475}`;

/**
 * The control objectives an evidence bundle maps its records to: plain
 * language first ("dual control on outgoing transfers"), then the framework
 * references an auditor files them under — AICPA SOC 2 Trust Services
 * Criteria (2017, points of focus revised 2022), ISO/IEC 27001:2022 Annex A,
 * Regulation (EU) 2023/1114 (MiCA) and Regulation (EU) 2022/2554 (DORA).
 *
 * The mapping is Custodian's reading of which record evidences which
 * control; it is versioned, carried inside every bundle so the bundle stands
 * alone, and checked against this table by the verifier (a bundle cannot
 * claim more than this version maps). It is not legal advice: the auditor
 * decides what a record proves.
 */
import type { AuditEntryKind } from './entry.js';

/** Version of the table below, written into every bundle. */
export const CONTROLS_VERSION = 'custodian-controls/2026-12';

/** One framework reference (e.g. SOC 2 CC6.1). */
export interface ControlReference {
  readonly framework: 'SOC2' | 'ISO27001:2022' | 'MiCA' | 'DORA';
  readonly ref: string;
  readonly title: string;
}

/** A control objective in plain words with its framework references. */
export interface ControlObjective {
  readonly id: string;
  readonly objective: string;
  readonly references: readonly ControlReference[];
}

/** What a bundle item is, for the mapping: an audit entry kind or a checkpoint. */
export type EvidenceItemKind = AuditEntryKind | 'checkpoint';

const soc2 = (ref: string, title: string): ControlReference => ({ framework: 'SOC2', ref, title });
const iso = (ref: string, title: string): ControlReference => ({ framework: 'ISO27001:2022', ref, title });
const mica = (ref: string, title: string): ControlReference => ({ framework: 'MiCA', ref, title });
const dora = (ref: string, title: string): ControlReference => ({ framework: 'DORA', ref, title });

const CC61 = soc2('CC6.1', 'Logical access security over protected information assets');
const CC63 = soc2('CC6.3', 'Access authorised on roles, least privilege and segregation of duties');
const CC67 = soc2('CC6.7', 'Transmission and movement of information restricted to authorised users and processes');
const CC68 = soc2('CC6.8', 'Unauthorised or malicious software prevented or detected');
const CC71 = soc2('CC7.1', 'Configuration changes and vulnerabilities detected');
const CC72 = soc2('CC7.2', 'System components monitored for anomalies');
const CC73 = soc2('CC7.3', 'Security events evaluated');
const CC81 = soc2('CC8.1', 'Changes authorised, tested, approved and implemented');
const A53 = iso('A.5.3', 'Segregation of duties');
const A515 = iso('A.5.15', 'Access control');
const A518 = iso('A.5.18', 'Access rights');
const A533 = iso('A.5.33', 'Protection of records');
const A82 = iso('A.8.2', 'Privileged access rights');
const A85 = iso('A.8.5', 'Secure authentication');
const A89 = iso('A.8.9', 'Configuration management');
const A815 = iso('A.8.15', 'Logging');
const A816 = iso('A.8.16', 'Monitoring activities');
const A824 = iso('A.8.24', 'Use of cryptography');
const A832 = iso('A.8.32', 'Change management');
const MICA70 = mica('Art. 70', "Safekeeping of clients' crypto-assets and funds");
const MICA75 = mica('Art. 75', 'Providing custody and administration of crypto-assets on behalf of clients');
const DORA9 = dora('Art. 9', 'Protection and prevention');
const DORA10 = dora('Art. 10', 'Detection');
const DORA17 = dora('Art. 17', 'ICT-related incident management process');

/** The objectives of CONTROLS_VERSION, in a stable order. */
export const CONTROL_OBJECTIVES: readonly ControlObjective[] = deepFreeze([
  { id: 'request-traceability', objective: 'Every outgoing transfer is traceable from the request that initiated it to its outcome.', references: [CC72, A815, MICA75] },
  { id: 'policy-enforcement', objective: 'Every transfer is decided by the policy in force, with the rulebook, address book, price table and screening list it used identified by hash.', references: [CC61, CC67, A515, MICA75, DORA9] },
  { id: 'dual-control', objective: 'Dual control on outgoing transfers: a transfer is signed only with the approvals its policy requires, each bound to the exact signing digest.', references: [CC61, CC63, A53, A515, A85, MICA70, MICA75, DORA9] },
  { id: 'signature-accountability', objective: 'Every signature is recorded in the audit log before it is released (fail closed).', references: [CC72, A815, A824, MICA70] },
  { id: 'attested-execution', objective: 'Attested execution: signing runs only in enclaves whose attestation evidence was appraised, with platform, measurement and result recorded.', references: [CC68, CC71, A89, A824, DORA9] },
  { id: 'change-control', objective: 'Changes to the organisation manifest and to allowed enclave measurements are recorded with the hashes before and after.', references: [CC81, A832, A89, DORA9] },
  { id: 'refusal-recording', objective: 'Every refusal is recorded with its error code and a reason an operator understands.', references: [CC73, A815, A816, DORA10, DORA17] },
  { id: 'emergency-access', objective: 'Emergency (break-glass) access is time-locked, approved by a quorum and recorded at every step.', references: [CC61, CC63, A82, A518, DORA9] },
  { id: 'event-recording', objective: 'Operational events (sealing, recovery, corruption detected) are recorded.', references: [CC72, A815, A816, DORA10] },
  { id: 'key-lifecycle', objective: 'Wallet keys are generated inside attested enclaves (alone or across several in a threshold session) only on an authorised administrator\'s request, and every creation is recorded with the public key and parties.', references: [CC61, A82, A824, MICA70, MICA75, DORA9] },
  { id: 'tamper-evident-logging', objective: 'Tamper-evident logging: every record is in an append-only Merkle log whose checkpoints are signed by the log and cosigned by a quorum of enclaves and witnesses.', references: [CC72, A815, A533, A824, DORA9, DORA10] },
]);

/** Which objectives each kind of item evidences (CONTROLS_VERSION). */
export const OBJECTIVES_BY_KIND: Readonly<Record<EvidenceItemKind, readonly string[]>> = deepFreeze({
  request: ['request-traceability', 'tamper-evident-logging'],
  'policy.decision': ['policy-enforcement', 'dual-control', 'tamper-evident-logging'],
  approval: ['dual-control', 'tamper-evident-logging'],
  attestation: ['attested-execution', 'tamper-evident-logging'],
  'signature.released': ['signature-accountability', 'dual-control', 'tamper-evident-logging'],
  'manifest.change': ['change-control', 'attested-execution', 'tamper-evident-logging'],
  'breakglass.step': ['emergency-access', 'tamper-evident-logging'],
  refusal: ['refusal-recording', 'tamper-evident-logging'],
  event: ['event-recording', 'tamper-evident-logging'],
  'wallet.created': ['key-lifecycle', 'tamper-evident-logging'],
  'signing.approved': ['dual-control', 'policy-enforcement', 'tamper-evident-logging'],
  'session.aborted': ['refusal-recording', 'event-recording', 'tamper-evident-logging'],
  checkpoint: ['tamper-evident-logging'],
});

/** The objective ids an item of `kind` evidences. */
export function objectivesFor(kind: EvidenceItemKind): readonly string[] {
  return OBJECTIVES_BY_KIND[kind];
}

function deepFreeze<T>(v: T): T {
  if (v !== null && typeof v === 'object') {
    for (const x of Object.values(v)) deepFreeze(x);
    Object.freeze(v);
  }
  return v;
}

/** Evidence bundles: export from a witnessed log built here, offline verification, and every refusal by its code. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { canonicalJsonBytes } from '@custodian/core/canonical-json';
import { bytesToHex } from '@custodian/core/bytes';
import { sha256 } from './hash.js';
import { isCustodianError } from '@custodian/core/errors';
import { Secret } from '@custodian/core/secret';
import { Ed25519NoteKey, NOTE_KEY_TYPE_COSIGNATURE_V1 } from './ed25519-note-key.js';
import { addNoteSignatures, decodeNoteUnverified, encodeNote, signNote } from './note.js';
import { checkpointPolicyFromKeys, type CheckpointPolicyDocument } from './checkpoint-policy.js';
import { encodeAuditEntry, type AuditEntry } from './entry.js';
import { MemoryTileStorage } from './memory-tile-storage.js';
import { TileLogWriter, type CheckpointSignFn } from './tile-log-writer.js';
import { computeManifestItems, decodeEvidenceBundle, encodeEvidenceBundle, EVIDENCE_BUNDLE_BYTES_MAX, type EvidenceBundle } from './evidence-bundle.js';
import { exportEvidenceBundle } from './evidence-export.js';
import { verifyEvidenceBundle } from './evidence-verify.js';
import { CONTROL_OBJECTIVES, OBJECTIVES_BY_KIND } from './evidence-controls.js';

const ORIGIN = 'custodian.example/audit';
const T0 = 1_764_000_000_000;
const H = (c: string): string => c.repeat(64);
const RULEBOOK = new TextEncoder().encode('permit (principal, action == Action::"transfer", resource) when { context.amountWei < 10 };\n');
const RULEBOOK_HASH = bytesToHex(sha256(RULEBOOK));
const logKey = new Ed25519NoteKey(ORIGIN, new Secret(new Uint8Array(32).fill(11)));
const cosigners = [21, 22, 23].map((s, i) => new Ed25519NoteKey(`custodian.example/signer-${i}`, new Secret(new Uint8Array(32).fill(s)), NOTE_KEY_TYPE_COSIGNATURE_V1, () => 1_764_000_000));
const doc: CheckpointPolicyDocument = { origin: ORIGIN, logKeys: [logKey.verifierKey()], witnessKeys: cosigners.map((c) => c.verifierKey()), witnessQuorum: 2 };
const policy = checkpointPolicyFromKeys(doc.origin, doc.logKeys, doc.witnessKeys, doc.witnessQuorum);
const code = (...codes: string[]) => (e: unknown): boolean => isCustodianError(e, ...codes);

function signer(k = 2, key: Ed25519NoteKey = logKey): CheckpointSignFn {
  return async (text) => {
    const note = await signNote(text, [key]);
    const msg = new TextEncoder().encode(text);
    const sigs = [];
    for (const c of cosigners.slice(0, k)) sigs.push({ name: c.name, keyId: c.keyId, signature: await c.sign(msg) });
    return k === 0 ? note : addNoteSignatures(note, sigs);
  };
}

const event = (i: number): AuditEntry => ({ v: 1, kind: 'event', at: T0 + i, name: 'test.filler', detail: { n: String(i) } });

/** The custody story of request r-1 (and a refused r-2) among filler events, in three batches. */
function batches(): AuditEntry[][] {
  const first: AuditEntry[] = [
    { v: 1, kind: 'manifest.change', at: T0, change: 'genesis', manifestHash: H('a'), previousManifestHash: null, measurementsAdded: ['ab'.repeat(48)], measurementsRemoved: [] },
    ...[0, 1, 2].map((i): AuditEntry => ({ v: 1, kind: 'attestation', at: T0 + 1, subject: `signer-${i}`, platform: 'sim', evidenceHash: H(String(i)), status: 'affirming', measurement: 'ab'.repeat(48), reasons: [] })),
    ...Array.from({ length: 300 }, (_, i) => event(10 + i)),
  ];
  const second: AuditEntry[] = [
    { v: 1, kind: 'request', at: T0 + 1000, requestId: 'r-1', initiator: 'alice', action: 'transfer', chain: 'eth', payloadHash: H('b') },
    { v: 1, kind: 'policy.decision', at: T0 + 1001, requestId: 'r-1', decision: 'needs-approval', policyHash: RULEBOOK_HASH, addressBookHash: H('d'), priceTableHash: H('e'), screeningListHash: H('f'), policies: ['large-transfer'], reasons: ['above 10 ETH'] },
    { v: 1, kind: 'request', at: T0 + 1002, requestId: 'r-2', initiator: 'mallory', action: 'transfer', chain: 'eth', payloadHash: H('9') },
    { v: 1, kind: 'refusal', at: T0 + 1003, requestId: 'r-2', code: 'E_SANCTIONED_DESTINATION', reason: 'destination is on the screening list', detail: {} },
    ...Array.from({ length: 200 }, (_, i) => event(2000 + i)),
    { v: 1, kind: 'attestation', at: T0 + 3000, subject: 'signer-1', platform: 'sim', evidenceHash: H('7'), status: 'affirming', measurement: 'ab'.repeat(48), reasons: [] },
  ];
  const third: AuditEntry[] = [
    { v: 1, kind: 'approval', at: T0 + 4000, requestId: 'r-1', approver: 'bob', group: 'treasury', digest: H('1'), approvalHash: H('2') },
    { v: 1, kind: 'approval', at: T0 + 4001, requestId: 'r-1', approver: 'carol', group: 'treasury', digest: H('1'), approvalHash: H('3') },
    { v: 1, kind: 'signature.released', at: T0 + 4002, requestId: 'r-1', scheme: 'frost-ed25519', keyId: 'wallet-1', digest: H('1'), signatureHash: H('4') },
    ...Array.from({ length: 40 }, (_, i) => event(5000 + i)),
  ];
  return [first, second, third];
}

interface Log {
  storage: MemoryTileStorage;
  checkpoints: Uint8Array[];
}

async function buildLog(sign: CheckpointSignFn = signer(), origin = ORIGIN, tweak = '', batchCount = 3): Promise<Log> {
  const storage = new MemoryTileStorage();
  const writer = await TileLogWriter.open({ storage, origin, sign });
  const checkpoints: Uint8Array[] = [];
  for (const b of batches().slice(0, batchCount)) checkpoints.push((await writer.appendBatch(b.map((e) => encodeAuditEntry(e.kind === 'event' && tweak !== '' ? { ...e, name: tweak } : e)))).checkpoint);
  return { storage, checkpoints };
}

const logP = buildLog();
const bundleP = logP.then((l) => exportEvidenceBundle(l.storage, { policy: doc, subject: { kind: 'request', requestId: 'r-1' }, attachments: [{ name: 'rulebook.cedar', bytes: RULEBOOK }], nowMs: T0 + 9000 }));

/** A JSON copy of a bundle to tamper with. */
type Mutable = { [k: string]: unknown } & { entries: { [k: string]: unknown }[]; checkpoints: { note: string }[]; attachments: { name: string; base64: string; sha256: string }[]; manifest: { items: Record<string, string> } };
const copy = (b: EvidenceBundle): Mutable => JSON.parse(new TextDecoder().decode(encodeEvidenceBundle(b))) as Mutable;

/** Recomputes the manifest (what a forger who edits items would do), then decodes. */
function reseal(j: Mutable): EvidenceBundle {
  const { manifest: _m, ...content } = j;
  return decodeEvidenceBundle(canonicalJsonBytes({ ...content, manifest: { algorithm: 'sha-256', items: computeManifestItems(content as unknown as Omit<EvidenceBundle, 'manifest'>) } }));
}

const refusal = (b: EvidenceBundle, o: Parameters<typeof verifyEvidenceBundle>[1] = { policy }): unknown => {
  try {
    verifyEvidenceBundle(b, o);
    return null;
  } catch (e) {
    return e;
  }
};

test('a request bundle holds the whole story with the context in force, round-trips, and verifies offline', async () => {
  const bundle = await bundleP;
  const bytes = encodeEvidenceBundle(bundle);
  const decoded = decodeEvidenceBundle(bytes);
  assert.deepEqual(encodeEvidenceBundle(decoded), bytes);
  const story = decoded.entries.filter((e) => e.role === 'story').map((e) => e.entry.kind);
  assert.deepEqual(story, ['request', 'policy.decision', 'approval', 'approval', 'signature.released']);
  const context = decoded.entries.filter((e) => e.role === 'context');
  assert.deepEqual(context.map((e) => e.entry.kind), ['manifest.change', 'attestation', 'attestation', 'attestation']);
  // The latest attestation of signer-1 before the signature replaces its first one.
  assert.ok(context.some((e) => e.entry.kind === 'attestation' && e.entry.evidenceHash === H('7')));
  const r = verifyEvidenceBundle(decoded, { policy });
  assert.equal(r.trust, 'given-policy');
  assert.equal(r.entries, 9);
  assert.deepEqual(r.checkpoints.map((c) => c.size), [304 + 205 + 43]);
  assert.equal(r.checkpoints[0]!.cosigners.length, 2);
  assert.equal(r.objectives['dual-control'], 4);
  assert.equal(r.objectives['tamper-evident-logging'], 10);
  assert.equal(verifyEvidenceBundle(decoded).trust, 'bundle-policy');
  assert.deepEqual(r.attachments, [{ name: 'rulebook.cedar', sha256: RULEBOOK_HASH, referencedBy: [{ index: 305, field: 'policyHash' }] }]);
  assert.deepEqual(decoded.controls.objectives, CONTROL_OBJECTIVES);
});

test('a time-range bundle holds exactly the entries of the range', async () => {
  const l = await logP;
  const b = await exportEvidenceBundle(l.storage, { policy: doc, subject: { kind: 'range', fromMs: T0 + 1000, toMs: T0 + 1004 }, nowMs: T0 });
  assert.deepEqual(b.entries.map((e) => e.entry.kind), ['request', 'policy.decision', 'request', 'refusal']);
  assert.equal(verifyEvidenceBundle(decodeEvidenceBundle(encodeEvidenceBundle(b)), { policy }).entries, 4);
});

test('a request the log does not hold is E_EVIDENCE_EMPTY', async () => {
  const l = await logP;
  await assert.rejects(exportEvidenceBundle(l.storage, { policy: doc, subject: { kind: 'request', requestId: 'r-404' }, nowMs: T0 }), code('E_EVIDENCE_EMPTY'));
});

test('a trusted earlier checkpoint gets a consistency proof that verifies; without one the bundle is E_EVIDENCE_UNLINKED', async () => {
  const l = await logP;
  const trusted = l.checkpoints[0]!;
  const b = await exportEvidenceBundle(l.storage, { policy: doc, subject: { kind: 'request', requestId: 'r-1' }, trustedCheckpoint: trusted, nowMs: T0 });
  assert.equal(b.consistency.length, 1);
  assert.equal(verifyEvidenceBundle(b, { policy, trustedCheckpoint: trusted }).trustedSize, 304);
  assert.ok(code('E_EVIDENCE_UNLINKED')(refusal(await bundleP, { policy, trustedCheckpoint: trusted })));
  // The head itself as the trusted checkpoint needs no proof.
  assert.equal(verifyEvidenceBundle(await bundleP, { policy, trustedCheckpoint: l.checkpoints[2]! }).trustedSize, 552);
});

test('F13 a trusted checkpoint from a forked log of the same size is E_CHECKPOINT_FORK (export and verify)', async () => {
  const forked = await buildLog(signer(), ORIGIN, 'test.forked');
  const l = await logP;
  assert.ok(code('E_CHECKPOINT_FORK')(refusal(await bundleP, { policy, trustedCheckpoint: forked.checkpoints[2]! })));
  await assert.rejects(exportEvidenceBundle(l.storage, { policy: doc, subject: { kind: 'request', requestId: 'r-1' }, trustedCheckpoint: forked.checkpoints[2]!, nowMs: T0 }), code('E_CHECKPOINT_FORK'));
  // A forked earlier view: its consistency proof cannot be produced honestly, and a forged one fails.
  const b = copy(await bundleP);
  const t = decodeNoteUnverified(forked.checkpoints[0]!).text.split('\n');
  b['consistency'] = [{ fromSize: 304, fromRoot: Buffer.from(t[2]!, 'base64').toString('hex'), toCheckpoint: 0, proof: [H('0')] }];
  assert.ok(code('E_PROOF_INVALID')(refusal(reseal(b), { policy, trustedCheckpoint: forked.checkpoints[0]! })));
});

test('B34 a tampered entry is E_PROOF_INVALID even with the manifest recomputed', async () => {
  const b = copy(await bundleP);
  const sig = b.entries.find((e) => (e['entry'] as { kind: string }).kind === 'signature.released')!;
  (sig['entry'] as Record<string, unknown>)['signatureHash'] = H('5');
  const e = refusal(reseal(b));
  assert.ok(code('E_PROOF_INVALID')(e), String(e));
});

test('a tampered entry with the manifest left alone is E_EVIDENCE_MANIFEST_MISMATCH naming the item', async () => {
  const text = new TextDecoder().decode(encodeEvidenceBundle(await bundleP)).replace(`"approver":"bob"`, `"approver":"eve"`);
  const e = refusal(decodeEvidenceBundle(new TextEncoder().encode(text)));
  assert.ok(code('E_EVIDENCE_MANIFEST_MISMATCH')(e), String(e));
  assert.match(String((e as { detail: { item: string } }).detail.item), /^entries\/\d+$/);
});

test('B34 an inclusion proof presented for another index is E_PROOF_INVALID', async () => {
  const b = copy(await bundleP);
  b.entries[4]!['index'] = (b.entries[4]!['index'] as number) + 1;
  assert.ok(code('E_PROOF_INVALID')(refusal(reseal(b))));
  const swapped = copy(await bundleP);
  [swapped.entries[4]!['proof'], swapped.entries[5]!['proof']] = [swapped.entries[5]!['proof'], swapped.entries[4]!['proof']];
  assert.ok(code('E_PROOF_INVALID')(refusal(reseal(swapped))));
  const beyond = copy(await bundleP);
  beyond.entries[8]!['index'] = 551;
  assert.ok(code('E_PROOF_INVALID')(refusal(reseal(beyond))));
});

test('F13 B34 a checkpoint missing cosignatures is E_CHECKPOINT_UNWITNESSED', async () => {
  const b = copy(await bundleP);
  const n = decodeNoteUnverified(new TextEncoder().encode(b.checkpoints[0]!.note));
  b.checkpoints[0]!.note = new TextDecoder().decode(encodeNote(n.text, n.signatures.slice(0, 2)));
  const e = refusal(reseal(b));
  assert.ok(code('E_CHECKPOINT_UNWITNESSED')(e), String(e));
  assert.equal((e as { detail: { cosigned: number } }).detail.cosigned, 1);
  // Nor is an unwitnessed head ever exported.
  const bare = await buildLog(signer(0));
  await assert.rejects(exportEvidenceBundle(bare.storage, { policy: doc, subject: { kind: 'request', requestId: 'r-1' }, nowMs: T0 }), code('E_CHECKPOINT_UNWITNESSED'));
});

test('a checkpoint signed by a key the auditor does not hold is E_NOTE_UNVERIFIED; a bad cosignature is E_NOTE_SIGNATURE_INVALID', async () => {
  const other = new Ed25519NoteKey(ORIGIN, new Secret(new Uint8Array(32).fill(99)));
  const mine = checkpointPolicyFromKeys(ORIGIN, [other.verifierKey()], doc.witnessKeys, 2);
  assert.ok(code('E_NOTE_UNVERIFIED')(refusal(await bundleP, { policy: mine })));
  const b = copy(await bundleP);
  const n = decodeNoteUnverified(new TextEncoder().encode(b.checkpoints[0]!.note));
  const bad = n.signatures.map((s, i) => (i === 2 ? { ...s, signature: s.signature.map((x, j) => (j === 20 ? x ^ 1 : x)) } : s));
  b.checkpoints[0]!.note = new TextDecoder().decode(encodeNote(n.text, bad));
  assert.ok(code('E_NOTE_SIGNATURE_INVALID')(refusal(reseal(b))));
});

test('a manifest hash mismatch, a missing item and an extra item are E_EVIDENCE_MANIFEST_MISMATCH', async () => {
  const changed = copy(await bundleP);
  changed.manifest.items['checkpoints/0'] = H('0');
  assert.ok(code('E_EVIDENCE_MANIFEST_MISMATCH')(refusal(decodeEvidenceBundle(canonicalJsonBytes(changed)))));
  const removed = copy(await bundleP);
  removed.entries.splice(6, 1);
  assert.ok(code('E_EVIDENCE_MANIFEST_MISMATCH')(refusal(decodeEvidenceBundle(canonicalJsonBytes(removed)))));
  const extra = copy(await bundleP);
  extra.manifest.items['consistency/0'] = H('0');
  assert.ok(code('E_EVIDENCE_MANIFEST_MISMATCH')(refusal(decodeEvidenceBundle(canonicalJsonBytes(extra)))));
});

test('an entry of another request (with a valid proof) is E_EVIDENCE_SUBJECT; a story-less bundle is E_EVIDENCE_EMPTY', async () => {
  const l = await logP;
  const range = await exportEvidenceBundle(l.storage, { policy: doc, subject: { kind: 'range', fromMs: T0 + 1000, toMs: T0 + 1004 }, nowMs: T0 });
  const b = copy(range);
  b['subject'] = { kind: 'request', requestId: 'r-1' };
  assert.ok(code('E_EVIDENCE_SUBJECT')(refusal(reseal(b))));
  const onlyContext = copy(await bundleP);
  onlyContext.entries = onlyContext.entries.filter((e) => e['role'] === 'context');
  onlyContext.attachments = [];
  assert.ok(code('E_EVIDENCE_EMPTY')(refusal(reseal(onlyContext))));
});

test('objectives a kind does not evidence, or a changed catalogue, are E_EVIDENCE_CONTROLS', async () => {
  const b = copy(await bundleP);
  b.entries[0]!['objectives'] = [...OBJECTIVES_BY_KIND['manifest.change'], 'dual-control'];
  assert.ok(code('E_EVIDENCE_CONTROLS')(refusal(reseal(b))));
  const c = copy(await bundleP);
  (c['controls'] as { version: string }).version = 'custodian-controls/1999-01';
  assert.ok(code('E_EVIDENCE_CONTROLS')(refusal(reseal(c))));
});

test('entries out of order or repeated are E_EVIDENCE_MALFORMED', async () => {
  const b = copy(await bundleP);
  b.entries.push(b.entries[0]!);
  assert.ok(code('E_EVIDENCE_MALFORMED')(refusal(reseal(b))));
});

test('the decoder refuses non-canonical, oversized, unknown-field and wrong-format bundles with typed codes', async () => {
  const bytes = encodeEvidenceBundle(await bundleP);
  const pretty = new TextEncoder().encode(JSON.stringify(JSON.parse(new TextDecoder().decode(bytes)), null, 1));
  assert.throws(() => decodeEvidenceBundle(pretty), code('E_EVIDENCE_MALFORMED'));
  assert.throws(() => decodeEvidenceBundle(new Uint8Array(EVIDENCE_BUNDLE_BYTES_MAX + 1)), code('E_EVIDENCE_TOO_LARGE'));
  const extra = copy(await bundleP);
  extra['comment'] = 'trust me';
  assert.throws(() => decodeEvidenceBundle(canonicalJsonBytes(extra)), code('E_EVIDENCE_MALFORMED'));
  const v2 = copy(await bundleP);
  v2['format'] = 'custodian-evidence/v2';
  assert.throws(() => decodeEvidenceBundle(canonicalJsonBytes(v2)), code('E_EVIDENCE_MALFORMED'));
});

// True when the bytes decode and verify; a failure must be a typed error.
function verifiesOrFailsTyped(b: Uint8Array): boolean {
  try {
    verifyEvidenceBundle(decodeEvidenceBundle(b), { policy });
    return true;
  } catch (e) {
    assert.ok(isCustodianError(e), String(e));
    return false;
  }
}

test('only typed errors escape decoding and verifying mutated bundles (property)', async () => {
  const bytes = encodeEvidenceBundle(await bundleP);
  const text = new TextDecoder().decode(bytes);
  const mutations = fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 });
  let decoded = 0;
  fc.assert(
    fc.property(mutations, fc.nat(), fc.boolean(), (muts, cut, doCut) => {
      const b = bytes.slice(0, doCut ? bytes.length - (cut % (bytes.length + 1)) : bytes.length);
      for (const [pos, val] of muts) if (b.length > 0) b[pos % b.length] = val;
      if (verifiesOrFailsTyped(b)) decoded++;
    }),
    { numRuns: 300 },
  );
  // Structured mutations: swap one character for another inside string values (stays valid JSON more often).
  fc.assert(
    fc.property(fc.nat(), fc.constantFrom('0', 'f', 'a', 'Z', '-', '"', '1'), (pos, ch) => {
      const i = pos % text.length;
      const b = new TextEncoder().encode(text.slice(0, i) + ch + text.slice(i + 1));
      if (verifiesOrFailsTyped(b)) decoded++;
    }),
    { numRuns: 300 },
  );
  assert.ok(decoded <= 600);
});

test('an attachment whose bytes do not hash to its digest, or that no entry names, is E_EVIDENCE_ATTACHMENT', async () => {
  const altered = copy(await bundleP);
  altered.attachments[0]!.base64 = Buffer.from('permit (principal, action, resource);\n').toString('base64');
  assert.ok(code('E_EVIDENCE_ATTACHMENT')(refusal(reseal(altered))));
  const unnamed = copy(await bundleP);
  const other = new TextEncoder().encode('forbid (principal, action, resource);\n');
  unnamed.attachments[0] = { name: 'other.cedar', sha256: bytesToHex(sha256(other)), base64: Buffer.from(other).toString('base64') };
  assert.ok(code('E_EVIDENCE_ATTACHMENT')(refusal(reseal(unnamed))));
  const l = await logP;
  await assert.rejects(exportEvidenceBundle(l.storage, { policy: doc, subject: { kind: 'request', requestId: 'r-1' }, attachments: [{ name: 'other.cedar', bytes: other }], nowMs: T0 }), code('E_EVIDENCE_ATTACHMENT'));
});

test('a bundle older than the auditor\'s trusted checkpoint is E_CHECKPOINT_ROLLBACK (no proof links them)', async () => {
  const early = await buildLog(signer(), ORIGIN, '', 1);
  const b = await exportEvidenceBundle(early.storage, { policy: doc, subject: { kind: 'range', fromMs: T0, toMs: T0 + 2 }, nowMs: T0 });
  assert.equal(verifyEvidenceBundle(b, { policy, trustedCheckpoint: early.checkpoints[0]! }).trustedSize, 304);
  assert.ok(code('E_CHECKPOINT_ROLLBACK')(refusal(b, { policy, trustedCheckpoint: (await logP).checkpoints[2]! })));
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { isCustodianError } from '@custodian/core/errors';
import { Secret } from '@custodian/core/secret';
import { readVector, vectorPath } from '@custodian/core/vectors';
import { decodeNoteUnverified, openNote, signNote, addNoteSignatures, formatSignatureLine } from './note.js';
import {
  decodeSignerKey, decodeVerifierKey, noteVerifierFromKey, Ed25519NoteKey, cosignatureMessage, NOTE_KEY_TYPE_COSIGNATURE_V1,
} from './ed25519-note-key.js';
import { decodeCheckpoint, encodeCheckpoint } from './checkpoint.js';
import { checkpointPolicyFromKeys, verifyCheckpointNote } from './checkpoint-policy.js';

const text = (...p: string[]): string => readFileSync(vectorPath('tlog', ...p), 'utf8');
const code = (...codes: string[]) => (e: unknown): boolean => isCustodianError(e, ...codes);

test('C2SP signed-note example: key ID, signature and re-encoding', () => {
  const v = noteVerifierFromKey(text('c2sp', 'signed-note-example-foo.vkey'));
  const note = readVector('tlog', 'c2sp', 'signed-note-example-foo.note');
  const opened = openNote(note, [v]);
  assert.equal(opened.text, 'This is an example message.\n');
  assert.deepEqual(opened.verified.map((s) => s.name), ['example.com/foo']);
});

test('golang sumdb/note example: signer key derives the vkey and reproduces the signature', async () => {
  const skey = decodeSignerKey(new Secret(text('golang-sumdb-note', 'peterneumann.skey')));
  assert.equal(skey.verifierKey(), text('golang-sumdb-note', 'peterneumann.vkey').trim());
  const original = readVector('tlog', 'golang-sumdb-note', 'peterneumann.note');
  const parsed = decodeNoteUnverified(original);
  assert.deepEqual(await signNote(parsed.text, [skey]), original);
  // Doubly signed: the unknown EnochRoot signature is ignored, PeterNeumann's counts.
  const doubly = openNote(readVector('tlog', 'golang-sumdb-note', 'peterneumann-enochroot-doubly-signed.note'), [skey.verifier()]);
  assert.equal(doubly.verified.length, 1);
  assert.deepEqual(doubly.unknown.map((s) => s.name), ['EnochRoot']);
});

test('C2SP checkpoint and cosignature examples decode; the cosigned message matches the spec', () => {
  const cp = decodeNoteUnverified(readVector('tlog', 'c2sp', 'tlog-cosignature-example.note'));
  const body = decodeCheckpoint(cp.text);
  assert.equal(body.origin, 'example.com/behind-the-sofa');
  assert.equal(body.size, 20852163);
  assert.equal(encodeCheckpoint(body), cp.text);
  const cosig = cp.signatures[1]!;
  assert.equal(cosig.name, 'witness.example.com/w1');
  assert.equal(cosig.keyId.toString(16), '8d66cf3f');
  assert.equal(cosig.signature.length, 72);
  const ts = Number(new DataView(cosig.signature.buffer, cosig.signature.byteOffset, 8).getBigUint64(0));
  assert.equal(ts, 1679315147);
  const expected = readVector('tlog', 'c2sp', 'tlog-cosignature-v1-signed-message-example.txt');
  assert.deepEqual(cosignatureMessage(new TextEncoder().encode(cp.text), ts), expected);
  assert.doesNotThrow(() => decodeNoteUnverified(readVector('tlog', 'c2sp', 'signed-note-example-quasimodo.note')));
});

test('Tessera test log: all 17 checkpoints verify with the published key', () => {
  const v = noteVerifierFromKey('example.com/log/testdata+33d7b496+AeHTu4Q3hEIMHNqc6fASMsq3rKNx280NI+oO5xCFkkSx');
  const policy = { origin: 'example.com/log/testdata', logKeys: [v], witnesses: [], witnessQuorum: 0 };
  for (const name of ['checkpoint', ...Array.from({ length: 16 }, (_, i) => `checkpoint.${i}`)]) {
    const r = verifyCheckpointNote(readVector('tlog', 'tessera-testdata-log', name), policy);
    if (name !== 'checkpoint') assert.equal(r.checkpoint.size, Number(name.split('.')[1]));
  }
});

test('rejects a note whose known signature is bad, and one with no known signature', () => {
  const v = noteVerifierFromKey(text('c2sp', 'signed-note-example-foo.vkey'));
  const note = readVector('tlog', 'c2sp', 'signed-note-example-foo.note');
  const tampered = new TextEncoder().encode(new TextDecoder().decode(note).replace('example message', 'exemple message'));
  assert.throws(() => openNote(tampered, [v]), code('E_NOTE_SIGNATURE_INVALID'));
  const other = new Ed25519NoteKey('example.com/other', new Secret(new Uint8Array(32).fill(7)));
  assert.throws(() => openNote(note, [other.verifier()]), code('E_NOTE_UNVERIFIED'));
});

test('rejects malformed notes and keys with typed errors', () => {
  const bad = ['', 'no signatures\n', 'text\n\n', 'text\n\n- name AAAA\n', 'text\n\n— name AAAA\n', 'text\n\n— name !!!!\n', 'a\tb\n\n— n AAAAAAA=\n', 'text\n\n— na+me AAAAAAA=\n'];
  for (const b of bad) assert.throws(() => decodeNoteUnverified(new TextEncoder().encode(b)), code('E_NOTE_MALFORMED'), JSON.stringify(b));
  assert.throws(() => decodeNoteUnverified(new Uint8Array([0xff, 0x0a, 0x0a])), code('E_NOTE_MALFORMED'));
  assert.throws(() => decodeNoteUnverified(new Uint8Array(70_000)), code('E_NOTE_MALFORMED'));
  for (const k of ['x', 'a+b', 'example.com/foo+530d903b+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k', 'example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2']) {
    assert.throws(() => decodeVerifierKey(k), code('E_KEY_INVALID'), k);
  }
  for (const c of ['o\n01\n' + 'A'.repeat(43) + '=\n', 'o\n1\nAAAA\n', 'o\n1\n', '\n1\n' + 'A'.repeat(43) + '=\n', 'o\n1\n' + 'A'.repeat(43) + '=\n\n']) {
    assert.throws(() => decodeCheckpoint(c), code('E_CHECKPOINT_MALFORMED'), JSON.stringify(c));
  }
});

test('only typed errors escape the note decoder over mutated real notes (property)', () => {
  const seeds = [readVector('tlog', 'c2sp', 'tlog-cosignature-example.note'), readVector('tlog', 'golang-sumdb-note', 'peterneumann-enochroot-doubly-signed.note')];
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 1 }), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 3 }), (i, muts) => {
      const b = seeds[i]!.slice();
      for (const [pos, val] of muts) b[pos % b.length] = val;
      try {
        const n = decodeNoteUnverified(b);
        try {
          decodeCheckpoint(n.text);
        } catch (e) {
          assert.ok(code('E_CHECKPOINT_MALFORMED')(e), String(e));
        }
      } catch (e) {
        assert.ok(code('E_NOTE_MALFORMED')(e), String(e));
      }
    }),
    { numRuns: 1500 },
  );
});

async function cosignedCheckpoint(cosigners: number): Promise<{ note: Uint8Array; policyKeys: { log: string; witnesses: string[] } }> {
  const log = new Ed25519NoteKey('custodian.example/log', new Secret(new Uint8Array(32).fill(1)));
  const ws = [2, 3, 4].map((s, i) => new Ed25519NoteKey(`custodian.example/signer-${i}`, new Secret(new Uint8Array(32).fill(s)), NOTE_KEY_TYPE_COSIGNATURE_V1, () => 1_764_000_000));
  const body = encodeCheckpoint({ origin: 'custodian.example/log', size: 3, rootHash: new Uint8Array(32).fill(9), extensions: [] });
  let note = await signNote(body, [log]);
  const sigs = [];
  for (const w of ws.slice(0, cosigners)) sigs.push({ name: w.name, keyId: w.keyId, signature: await w.sign(new TextEncoder().encode(body)) });
  if (sigs.length > 0) note = addNoteSignatures(note, sigs);
  return { note, policyKeys: { log: log.verifierKey(), witnesses: ws.map((w) => w.verifierKey()) } };
}

test('a checkpoint counts with 2-of-3 cosignatures and reports their timestamps', async () => {
  const { note, policyKeys } = await cosignedCheckpoint(2);
  const policy = checkpointPolicyFromKeys('custodian.example/log', [policyKeys.log], policyKeys.witnesses, 2);
  const r = verifyCheckpointNote(note, policy);
  assert.equal(r.cosignatures.length, 2);
  assert.deepEqual(r.cosignatures.map((c) => c.timestamp), [1_764_000_000, 1_764_000_000]);
});

test('B34/F13 rejects a checkpoint signed by the log but not witnessed (E_CHECKPOINT_UNWITNESSED)', async () => {
  for (const n of [0, 1]) {
    const { note, policyKeys } = await cosignedCheckpoint(n);
    const policy = checkpointPolicyFromKeys('custodian.example/log', [policyKeys.log], policyKeys.witnesses, 2);
    assert.throws(() => verifyCheckpointNote(note, policy), code('E_CHECKPOINT_UNWITNESSED'));
  }
  // A duplicated cosignature line by the same witness counts once.
  const { note, policyKeys } = await cosignedCheckpoint(1);
  const n = decodeNoteUnverified(note);
  const dup = new TextEncoder().encode(new TextDecoder().decode(note) + formatSignatureLine(n.signatures[1]!));
  const policy = checkpointPolicyFromKeys('custodian.example/log', [policyKeys.log], policyKeys.witnesses, 2);
  assert.throws(() => verifyCheckpointNote(dup, policy), code('E_CHECKPOINT_UNWITNESSED'));
});

test('rejects a checkpoint signed by an unknown key, for another origin, or cosigned only', async () => {
  const { note, policyKeys } = await cosignedCheckpoint(2);
  const stranger = new Ed25519NoteKey('custodian.example/log', new Secret(new Uint8Array(32).fill(66)));
  assert.throws(() => verifyCheckpointNote(note, checkpointPolicyFromKeys('custodian.example/log', [stranger.verifierKey()], policyKeys.witnesses, 2)), code('E_NOTE_UNVERIFIED'));
  assert.throws(() => verifyCheckpointNote(note, checkpointPolicyFromKeys('other.example/log', [policyKeys.log], policyKeys.witnesses, 2)), code('E_CHECKPOINT_ORIGIN'));
  const cosignOnly = new TextEncoder().encode(new TextDecoder().decode(note).replace(/^— custodian\.example\/log .*\n/m, ''));
  assert.throws(() => verifyCheckpointNote(cosignOnly, checkpointPolicyFromKeys('custodian.example/log', [policyKeys.log], policyKeys.witnesses, 2)), code('E_NOTE_UNVERIFIED'));
});

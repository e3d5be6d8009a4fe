import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ed25519 } from '@noble/curves/ed25519.js';
import { canonicalJsonBytes, type Json } from '@custodian/core/canonical-json';
import { bytesToHex, concatBytes, utf8 } from '@custodian/core/bytes';
import { isCustodianError } from '@custodian/core/errors';
import { CUSTODY_GENESIS_HASH, CUSTODY_STATEMENT_DOMAIN, CustodyChains, decodeCustodyLeaf } from './custody-leaf.js';
import { CustodyLogReader } from './custody-log-reader.js';
import { CUSTODY_SIGNERS_FORMAT, decodeCustodySigners, encodeCustodySigners, signerKeysOf } from './custody-signers.js';
import { sha256 } from './hash.js';
import type { AuditEntry } from './entry.js';

const H = (c: string): string => c.repeat(64);
const AT = 1_764_000_000_000;

interface Signer {
  readonly id: string;
  readonly secret: Uint8Array;
  readonly key: Uint8Array;
  seq: number;
  head: string;
}

function signer(id: string): Signer {
  const secret = ed25519.utils.randomSecretKey();
  return { id, secret, key: ed25519.getPublicKey(secret), seq: 0, head: CUSTODY_GENESIS_HASH };
}

/** A leaf as the enclave signs it and the host stores it (canonical JSON of the signed statement). */
function leaf(s: Signer, entry: AuditEntry, patch: Record<string, Json> = {}, advance = true): Uint8Array {
  const requestId = 'requestId' in entry ? (entry.requestId ?? null) : null;
  const statement = { signerId: s.id, seq: s.seq, prevHash: s.head, timeMs: entry.at, kind: 'test.event', requestId, data: {}, entry: entry as unknown as Json, ...patch };
  const signature = ed25519.sign(concatBytes(utf8(CUSTODY_STATEMENT_DOMAIN), canonicalJsonBytes(statement)), s.secret);
  if (advance) {
    s.seq += 1;
    s.head = bytesToHex(sha256(canonicalJsonBytes(statement)));
  }
  return canonicalJsonBytes({ statement, signature: bytesToHex(signature) });
}

const request = (at = AT): AuditEntry => ({ v: 1, kind: 'request', at, requestId: 'req-1', initiator: 'dave', action: 'sign-transaction', chain: 'evm', payloadHash: H('a') });
const attestation = (subject: string, key: Uint8Array): AuditEntry => ({
  v: 1, kind: 'attestation', at: AT, subject, platform: 'sim', evidenceHash: null, status: 'affirming', measurement: '09'.repeat(48), reasons: [], identityKey: bytesToHex(key),
});
const code = (c: string) => (e: unknown): boolean => isCustodianError(e, c);

test('a leaf signed by a known signer decodes to its typed entry and its chain position', () => {
  const s = signer('signer-1');
  const l = decodeCustodyLeaf(leaf(s, request()), new Map([[s.id, s.key]]));
  assert.deepEqual(l.entry, request());
  assert.equal(l.seq, 0);
  assert.equal(l.prevHash, CUSTODY_GENESIS_HASH);
  assert.equal(l.statementHash, s.head);
});

test('rejects a tampered leaf (one byte of the typed entry changed after signing)', () => {
  const s = signer('signer-1');
  const bytes = leaf(s, request());
  const text = new TextDecoder().decode(bytes).replace('"initiator":"dave"', '"initiator":"mall"');
  assert.throws(() => decodeCustodyLeaf(new TextEncoder().encode(text), new Map([[s.id, s.key]])), code('E_LEAF_SIGNATURE'));
});

test('rejects a leaf signed by a key that is not the named signer\'s, and a signer nobody knows', () => {
  const s = signer('signer-1');
  const impostor = { ...signer('signer-1') };
  assert.throws(() => decodeCustodyLeaf(leaf(impostor, request()), new Map([[s.id, s.key]])), code('E_LEAF_SIGNATURE'));
  assert.throws(() => decodeCustodyLeaf(leaf(signer('signer-9'), request()), new Map([[s.id, s.key]])), code('E_LEAF_SIGNER_UNKNOWN'));
});

test('rejects a statement without a typed entry, and a typed entry that disagrees with its statement', () => {
  const s = signer('signer-1');
  const keys = new Map([[s.id, s.key]]);
  const typed = leaf(s, request(), {}, false);
  const statement = { signerId: s.id, seq: 0, prevHash: CUSTODY_GENESIS_HASH, timeMs: AT, kind: 'old', requestId: null, data: {} };
  const sig = ed25519.sign(concatBytes(utf8(CUSTODY_STATEMENT_DOMAIN), canonicalJsonBytes(statement)), s.secret);
  assert.ok(decodeCustodyLeaf(typed, keys));
  assert.throws(() => decodeCustodyLeaf(canonicalJsonBytes({ statement, signature: bytesToHex(sig) }), keys), code('E_LEAF_UNTYPED'));
  assert.throws(() => decodeCustodyLeaf(leaf(s, request(), { timeMs: AT + 1 }, false), keys), code('E_LEAF_MISMATCH'));
  assert.throws(() => decodeCustodyLeaf(leaf(s, request(), { requestId: 'req-2' }, false), keys), code('E_LEAF_MISMATCH'));
});

test('rejects non-canonical leaves, unknown fields and a bad signature length as malformed', () => {
  const s = signer('signer-1');
  const keys = new Map([[s.id, s.key]]);
  const bytes = leaf(s, request(), {}, false);
  const pretty = new TextEncoder().encode(JSON.stringify(JSON.parse(new TextDecoder().decode(bytes)), null, 1));
  assert.throws(() => decodeCustodyLeaf(pretty, keys), code('E_LEAF_MALFORMED'));
  assert.throws(() => decodeCustodyLeaf(leaf(s, request(), { extra: 1 }, false), keys), code('E_LEAF_MALFORMED'));
  assert.throws(() => decodeCustodyLeaf(canonicalJsonBytes({ statement: {}, signature: 'ab' }), keys), code('E_LEAF_MALFORMED'));
  assert.throws(() => decodeCustodyLeaf(new Uint8Array(70_000).fill(0x20), keys), code('E_ENTRY_TOO_LARGE'));
});

test('rejects a broken seq chain: a dropped, repeated or reordered statement, or a rewritten predecessor', () => {
  const s = signer('signer-1');
  const keys = new Map([[s.id, s.key]]);
  const leaves = [0, 1, 2].map((i) => decodeCustodyLeaf(leaf(s, request(AT + i)), keys));
  const chain = (order: number[]): void => {
    const c = new CustodyChains();
    order.forEach((i, index) => c.accept(leaves[i]!, index));
  };
  chain([0, 1, 2]);
  assert.throws(() => chain([0, 2]), (e) => isCustodianError(e, 'E_LEAF_CHAIN') && e.detail['index'] === 1 && e.detail['expectedSeq'] === 1);
  assert.throws(() => chain([0, 0, 0, 1]), code('E_LEAF_CHAIN'));
  assert.throws(() => chain([0, 1, 0]), code('E_LEAF_CHAIN'));
  assert.throws(() => chain([1, 0]), code('E_LEAF_CHAIN'));
  // Same seq, but it does not name the statement before it.
  const forked = signer('signer-1');
  Object.assign(forked, { secret: s.secret, key: s.key });
  decodeCustodyLeaf(leaf(forked, request(AT + 5)), keys);
  const other = decodeCustodyLeaf(leaf(forked, request(AT + 6)), keys);
  const c = new CustodyChains();
  c.accept(leaves[0]!, 0);
  assert.throws(() => c.accept(other, 1), (e) => isCustodianError(e, 'E_LEAF_CHAIN') && e.detail['seq'] === 1 && e.detail['expected'] === leaves[0]!.statementHash);
});

test('accepts a re-signed statement after an unacknowledged append (at-least-once), and a successor of either', () => {
  const s = signer('signer-1');
  const keys = new Map([[s.id, s.key]]);
  const first = decodeCustodyLeaf(leaf(s, request(AT)), keys);
  const savedHead = { seq: s.seq, head: s.head };
  const lost = decodeCustodyLeaf(leaf(s, request(AT + 1)), keys);
  Object.assign(s, savedHead);
  const retried = decodeCustodyLeaf(leaf(s, request(AT + 2)), keys);
  const next = decodeCustodyLeaf(leaf(s, request(AT + 3)), keys);
  assert.equal(lost.seq, retried.seq);
  const c = new CustodyChains();
  [first, lost, retried, next].forEach((l, i) => c.accept(l, i));
  assert.deepEqual(c.counts(), { 'signer-1': 3 });
  assert.deepEqual(c.superseded(), { 'signer-1': 1 });
  // A repeat that names another predecessor is no retry.
  const c2 = new CustodyChains();
  c2.accept(first, 0);
  c2.accept(retried, 1);
  assert.throws(() => c2.accept(first, 2), code('E_LEAF_CHAIN'));
});

test('the log reader learns a peer key attested in the log and refuses one that contradicts the key held', () => {
  const a = signer('signer-1');
  const b = signer('signer-2');
  const reader = new CustodyLogReader(new Map([[a.id, a.key]]));
  reader.read(leaf(a, attestation('signer-2', b.key)), 0);
  assert.equal(reader.read(leaf(b, request()), 1).signerId, 'signer-2');
  assert.deepEqual(reader.book.summary()['signer-2'], { source: 'attested-in-log', attestedBy: ['signer-1'] });
  const liar = new CustodyLogReader(new Map([[a.id, a.key], [b.id, b.key]]));
  const c = signer('signer-1');
  Object.assign(c, { secret: a.secret, key: a.key });
  assert.throws(() => liar.read(leaf(c, attestation('signer-2', signer('x').key)), 0), (e) => isCustodianError(e, 'E_SIGNER_KEY_MISMATCH') && e.detail['index'] === 0);
  assert.throws(() => new CustodyLogReader(new Map()).read(leaf(signer('signer-1'), request()), 0), (e) => isCustodianError(e, 'E_LEAF_SIGNER_UNKNOWN') && e.detail['index'] === 0);
});

test('signers document: round trip, strict decoding, and it must belong to the log\'s policy', () => {
  const a = signer('signer-1');
  const doc = { format: CUSTODY_SIGNERS_FORMAT, origin: 'o', signers: [{ signerId: 'signer-1', identityKey: bytesToHex(a.key), logKey: 'log+1', cosignKey: 'cos+2' }] } as const;
  const bytes = encodeCustodySigners(doc);
  assert.deepEqual(decodeCustodySigners(bytes), doc);
  assert.deepEqual(signerKeysOf(decodeCustodySigners(bytes), { origin: 'o', logKeys: ['log+1'], witnessKeys: [], witnessQuorum: 0 }).get('signer-1'), a.key);
  assert.throws(() => signerKeysOf(doc, { origin: 'o', logKeys: ['other+1'], witnessKeys: [], witnessQuorum: 0 }), code('E_SIGNER_KEY_MISMATCH'));
  assert.throws(() => signerKeysOf(doc, { origin: 'p', logKeys: ['log+1'], witnessKeys: [], witnessQuorum: 0 }), code('E_SIGNER_KEY_MISMATCH'));
  assert.throws(() => decodeCustodySigners(canonicalJsonBytes({ ...doc, extra: 1 })), code('E_SIGNERS_MALFORMED'));
  assert.throws(() => decodeCustodySigners(canonicalJsonBytes({ ...doc, signers: [doc.signers[0], doc.signers[0]] })), code('E_SIGNERS_MALFORMED'));
});

test('only typed errors escape the custody leaf decoder over mutated real leaves (property)', () => {
  const s = signer('signer-1');
  const keys = new Map([[s.id, s.key]]);
  const seed = leaf(s, request(), {}, false);
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }), (muts) => {
      const b = seed.slice();
      for (const [pos, val] of muts) b[pos % b.length] = val;
      try {
        decodeCustodyLeaf(b, keys);
      } catch (e) {
        assert.ok(isCustodianError(e), String(e));
        assert.match(e.code, /^E_(LEAF_|ENTRY_)/);
      }
    }),
    { numRuns: 1000 },
  );
});

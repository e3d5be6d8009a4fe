import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isCustodianError } from '@custodian/core/errors';
import { decodeAuditEntry, encodeAuditEntry, type AuditEntry } from './entry.js';

const H = (c: string): string => c.repeat(64);

/** One valid entry of every kind. */
const SAMPLE_ENTRIES: readonly AuditEntry[] = [
  { v: 1, kind: 'request', at: 1_764_000_000_000, requestId: 'req-1', initiator: 'alice', action: 'transfer', chain: 'eth', payloadHash: H('a') },
  {
    v: 1, kind: 'policy.decision', at: 1_764_000_000_001, requestId: 'req-1', decision: 'needs-approval',
    policyHash: H('1'), addressBookHash: H('2'), priceTableHash: H('3'), screeningListHash: H('4'), policies: ['limits.daily'], reasons: ['amount above 10 ETH needs 2 approvals'],
  },
  { v: 1, kind: 'approval', at: 1_764_000_000_002, requestId: 'req-1', approver: 'bob', group: 'treasury', digest: H('d'), approvalHash: H('e') },
  { v: 1, kind: 'attestation', at: 1_764_000_000_003, subject: 'signer-1', platform: 'sev-snp', evidenceHash: H('f'), status: 'affirming', measurement: 'ab'.repeat(48), reasons: [] },
  { v: 1, kind: 'signature.released', at: 1_764_000_000_004, requestId: 'req-1', scheme: 'frost-ed25519', keyId: 'wallet-1', digest: H('d'), signatureHash: H('c') },
  { v: 1, kind: 'manifest.change', at: 1_764_000_000_005, change: 'measurement', manifestHash: H('b'), previousManifestHash: null, measurementsAdded: ['00ff'], measurementsRemoved: [] },
  { v: 1, kind: 'breakglass.step', at: 1_764_000_000_006, breakglassId: 'bg-7', action: 'unfreeze', step: 'proposed', actor: 'carol', payloadHash: H('9'), notBefore: 1_764_086_400_000 },
  { v: 1, kind: 'breakglass.step', at: 1_764_000_000_006, breakglassId: 'bg-8', action: 'freeze-wallet', step: 'applied', actor: 'signer-1', payloadHash: H('9'), notBefore: 1_764_000_000_005, target: 'wallet:hot-eth-1' },
  { v: 1, kind: 'refusal', at: 1_764_000_000_007, requestId: 'req-2', code: 'E_POLICY_VELOCITY_EXCEEDED', reason: 'daily limit reached', detail: { limit: '100', window: '24h' } },
  { v: 1, kind: 'event', at: 1_764_000_000_008, name: 'audit.gap_recovered', detail: { from: '1764000000000', to: '1764000060000' } },
];

const invalid = (e: unknown): boolean => isCustodianError(e, 'E_ENTRY_INVALID', 'E_ENTRY_TOO_LARGE');

test('every entry kind round-trips through its canonical encoding', () => {
  for (const e of SAMPLE_ENTRIES) {
    const bytes = encodeAuditEntry(e);
    assert.deepEqual(decodeAuditEntry(bytes), e);
    assert.deepEqual(encodeAuditEntry(decodeAuditEntry(bytes)), bytes);
  }
});

test('rejects non-canonical bytes (key order, white space) for an otherwise valid entry', () => {
  const e = SAMPLE_ENTRIES[0]!;
  const pretty = new TextEncoder().encode(JSON.stringify(e, null, 1));
  assert.throws(() => decodeAuditEntry(pretty), invalid);
  const { kind, ...rest } = e;
  const reordered = new TextEncoder().encode(JSON.stringify({ kind, ...rest }));
  assert.throws(() => decodeAuditEntry(reordered), invalid);
});

test('rejects unknown kinds, unknown fields, missing fields and bad hashes', () => {
  const enc = (o: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(o));
  const req = SAMPLE_ENTRIES[0]! as unknown as Record<string, unknown>;
  assert.throws(() => decodeAuditEntry(enc({ ...req, kind: 'nope' })), invalid);
  assert.throws(() => decodeAuditEntry(enc({ ...req, extra: 1 })), invalid);
  const { payloadHash: _omit, ...missing } = req;
  assert.throws(() => decodeAuditEntry(enc(missing)), invalid);
  assert.throws(() => decodeAuditEntry(enc({ ...req, payloadHash: 'AA'.repeat(32) })), invalid);
  assert.throws(() => decodeAuditEntry(enc({ ...req, v: 2 })), invalid);
  assert.throws(() => encodeAuditEntry({ ...SAMPLE_ENTRIES[0]!, at: 1.5 } as AuditEntry), invalid);
});

test('rejects duplicate keys and oversized entries before parsing', () => {
  assert.throws(() => decodeAuditEntry(new TextEncoder().encode('{"v":1,"v":1}')), invalid);
  assert.throws(() => decodeAuditEntry(new Uint8Array(70_000).fill(0x20)), (e) => isCustodianError(e, 'E_ENTRY_TOO_LARGE'));
});

test('only typed errors escape the decoder over mutated real entries (property)', () => {
  const seeds = SAMPLE_ENTRIES.map((e) => encodeAuditEntry(e));
  fc.assert(
    fc.property(fc.integer({ min: 0, max: seeds.length - 1 }), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }), (i, muts) => {
      const b = seeds[i]!.slice();
      for (const [pos, val] of muts) b[pos % b.length] = val;
      try {
        const e = decodeAuditEntry(b);
        assert.deepEqual(encodeAuditEntry(e), b);
      } catch (err) {
        assert.ok(invalid(err), String(err));
      }
    }),
    { numRuns: 2000 },
  );
});

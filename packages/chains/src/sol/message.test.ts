import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isCustodianError } from '@custodian/core/errors';
import { bytesToHex, concatBytes } from '@custodian/core/bytes';
import { base58Decode, base58Encode, solanaAddressBytes } from './base58.js';
import { decodeSolanaMessage, encodeSolanaMessage, solanaAccountRoles, SOLANA_PACKET_BYTES_MAX } from './message.js';
import { ByteReader } from '../btc/byte-reader.js';
import { encodeShortVec, readShortVec } from './short-vec.js';
import { compileTestMessage, compileTestMessageBytes, computeUnitPrice, createAta, systemTransfer, testAddress, tokenTransferChecked } from './test-messages.js';
import { associatedTokenAddress } from './instructions.js';
import { TOKEN_PROGRAM_ID } from './program-ids.js';

const payer = testAddress('payer');
const to = testAddress('recipient');
const blockhash = testAddress('blockhash');

const malformed = (e: unknown): boolean => isCustodianError(e, 'E_SOLANA_MESSAGE_MALFORMED');

test('a legacy System transfer has the wire layout of the Solana message format, field by field', () => {
  const bytes = compileTestMessageBytes({ payer, instructions: [systemTransfer(payer, to, 42n)], blockhash });
  const expected = concatBytes(
    Uint8Array.of(1, 0, 1), // header: 1 signature, 0 read-only signed, 1 read-only unsigned (the System Program)
    Uint8Array.of(3), // compact-u16 account count
    solanaAddressBytes(payer),
    solanaAddressBytes(to),
    new Uint8Array(32), // System Program id: 32 zero bytes
    base58Decode(blockhash, 32),
    Uint8Array.of(1, 2, 2, 0, 1, 12), // 1 instruction: program index 2, accounts [0, 1], 12 bytes of data
    Uint8Array.of(2, 0, 0, 0, 42, 0, 0, 0, 0, 0, 0, 0), // u32 LE 2 = Transfer, u64 LE lamports
  );
  assert.equal(bytesToHex(bytes), bytesToHex(expected));
  const m = decodeSolanaMessage(bytes);
  assert.equal(m.version, 'legacy');
  const roles = solanaAccountRoles(m);
  assert.deepEqual(
    roles.map((r) => [r.address, r.isSigner, r.isWritable]),
    [[payer, true, true], [to, false, true], ['11111111111111111111111111111111', false, false]],
  );
});

test('base58: leading zeros, round trip and the 32-byte check', () => {
  assert.equal(base58Encode(new Uint8Array(32)), '11111111111111111111111111111111');
  const k = Uint8Array.from({ length: 32 }, (_, i) => i * 7);
  assert.deepEqual(base58Decode(base58Encode(k), 32), k);
  assert.throws(() => base58Decode('0OIl'), (e) => isCustodianError(e, 'E_ADDRESS_INVALID'));
  assert.throws(() => solanaAddressBytes('1111'), (e) => isCustodianError(e, 'E_ADDRESS_INVALID'));
});

test('compact-u16: canonical forms only', () => {
  for (const n of [0, 1, 127, 128, 255, 16383, 16384, 0xffff]) {
    const r = new ByteReader(encodeShortVec(n), 'E_T');
    assert.equal(readShortVec(r, 'n', 0xffff), n);
    assert.equal(r.remaining, 0);
  }
  const rejects = (b: number[]) => assert.throws(() => readShortVec(new ByteReader(Uint8Array.from(b), 'E_T'), 'n', 0xffff), (e) => isCustodianError(e, 'E_T'));
  rejects([0x80, 0x00]); // alias of 0
  rejects([0xff, 0xff, 0x04]); // > 0xffff
  rejects([0x80, 0x80, 0x80, 0x01]); // 4 bytes
});

test('v0 message with address table lookups: roles of loaded accounts, round trip', () => {
  const mint = testAddress('mint');
  const src = associatedTokenAddress(payer, TOKEN_PROGRAM_ID, mint);
  const dst = testAddress('dest-ata');
  const table = testAddress('lookup-table');
  const m = compileTestMessage({ payer, version: 0, blockhash, instructions: [computeUnitPrice(1000n), tokenTransferChecked(src, mint, dst, payer, 5n, 6)], lookups: [{ table, writable: [dst], readonly: [mint] }] });
  const bytes = encodeSolanaMessage(m);
  assert.equal(bytes[0], 0x80);
  const d = decodeSolanaMessage(bytes);
  assert.equal(d.version, 0);
  assert.deepEqual(encodeSolanaMessage(d), bytes);
  const roles = solanaAccountRoles(d);
  const loaded = roles.filter((r) => r.lookup !== null);
  assert.deepEqual(loaded.map((r) => [r.lookup!.table, r.lookup!.entry, r.isWritable, r.isSigner]), [[table, 0, true, false], [table, 100, false, false]]);
});

test('rejects malformed messages: bad header, out-of-range index, fee-payer program, duplicates, version 1, oversize, trailing bytes', () => {
  const good = compileTestMessageBytes({ payer, instructions: [systemTransfer(payer, to, 1n), createAta(payer, associatedTokenAddress(to, TOKEN_PROGRAM_ID, testAddress('m')), to, testAddress('m'))], blockhash });
  const m = decodeSolanaMessage(good);
  const variants = [
    { ...m, header: { ...m.header, numRequiredSignatures: 0 } },
    { ...m, header: { ...m.header, numReadonlySignedAccounts: 1 } },
    { ...m, header: { ...m.header, numReadonlyUnsignedAccounts: m.staticAccountKeys.length } },
    { ...m, instructions: [{ ...m.instructions[0]!, accountIndexes: [0, m.staticAccountKeys.length] }] },
    { ...m, instructions: [{ ...m.instructions[0]!, programIdIndex: 0 }] },
    { ...m, staticAccountKeys: [m.staticAccountKeys[0]!, m.staticAccountKeys[0]!, ...m.staticAccountKeys.slice(2)] },
    { ...m, version: 0 as const, addressTableLookups: [{ accountKey: new Uint8Array(32), writableIndexes: [], readonlyIndexes: [] }] },
  ];
  for (const v of variants) assert.throws(() => decodeSolanaMessage(encodeSolanaMessage(v)), malformed);
  assert.throws(() => decodeSolanaMessage(Uint8Array.from([0x81, ...good])), malformed);
  assert.throws(() => decodeSolanaMessage(Uint8Array.from([...good, 0])), malformed);
  assert.throws(() => decodeSolanaMessage(new Uint8Array(SOLANA_PACKET_BYTES_MAX + 1)), malformed);
  assert.throws(() => decodeSolanaMessage(new Uint8Array(0)), malformed);
});

test('property: only typed errors escape the message decoder on mutated legacy and v0 messages', () => {
  const mint = testAddress('mint');
  const samples = [
    compileTestMessageBytes({ payer, instructions: [systemTransfer(payer, to, 7n)], blockhash }),
    encodeSolanaMessage(compileTestMessage({ payer, version: 0, blockhash, instructions: [tokenTransferChecked(testAddress('s'), mint, testAddress('d'), payer, 5n, 6)], lookups: [{ table: testAddress('t'), writable: [testAddress('d')], readonly: [mint] }] })),
  ];
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 1 }), fc.nat(), fc.integer({ min: 0, max: 255 }), fc.boolean(), (which, p, b, cut) => {
      const good = samples[which]!;
      const pos = p % good.length;
      const m = Uint8Array.from(good);
      m[pos] = b;
      try {
        const d = decodeSolanaMessage(cut ? m.subarray(0, pos) : m);
        solanaAccountRoles(d);
      } catch (e) {
        assert.ok(isCustodianError(e), String(e));
      }
    }),
    { numRuns: 3000 },
  );
});

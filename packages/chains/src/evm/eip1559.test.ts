import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { parseTransaction, serializeTransaction, recoverTransactionAddress, keccak256 } from 'viem';
import { isCustodianError } from '@custodian/core/errors';
import { bytesTo0x, hexToBytes } from '@custodian/core/bytes';
import { decodeUnsignedEip1559, encodeSignedEip1559, eip1559SigningDigest, decodeSignedEip1559, txHash, type Eip1559Tx } from './eip1559.js';
import { addressFromPublicKey, toChecksumAddress, parseAddress } from './address.js';
import { encodeRlp, uintToBytes } from './rlp.js';
import { concatBytes } from '@custodian/core/bytes';

/** Hand-built envelope so tests can produce what no well-behaved encoder would. */
function rawFrom(fields: (Uint8Array | Uint8Array[])[]): Uint8Array {
  return concatBytes(Uint8Array.of(2), encodeRlp(fields));
}
const u = uintToBytes;
const baseFields = (): (Uint8Array | Uint8Array[])[] => [u(31337n), u(7n), u(1n), u(2n), u(21000n), new Uint8Array(20).fill(1), u(5n), new Uint8Array(0), []];

const sample: Eip1559Tx = {
  chainId: 31337n,
  nonce: 7n,
  maxPriorityFeePerGas: 1_000_000_000n,
  maxFeePerGas: 30_000_000_000n,
  gasLimit: 21000n,
  to: hexToBytes('0x70997970c51812dc3a010c7d01b50e0d17dc79c8'),
  value: 10n ** 18n,
  data: new Uint8Array(0),
  accessList: [],
};

function viemUnsigned(tx: Eip1559Tx): `0x${string}` {
  return serializeTransaction({
    type: 'eip1559',
    chainId: Number(tx.chainId),
    nonce: Number(tx.nonce),
    maxPriorityFeePerGas: tx.maxPriorityFeePerGas,
    maxFeePerGas: tx.maxFeePerGas,
    gas: tx.gasLimit,
    ...(tx.to ? { to: bytesTo0x(tx.to) as `0x${string}` } : {}),
    value: tx.value,
    data: bytesTo0x(tx.data) as `0x${string}`,
  });
}

test('decodes a transaction serialised by an independent implementation (viem)', () => {
  const raw = hexToBytes(viemUnsigned(sample));
  const tx = decodeUnsignedEip1559(raw);
  assert.deepEqual({ ...tx, to: bytesTo0x(tx.to!) }, { ...sample, to: bytesTo0x(sample.to!) });
  assert.equal(bytesTo0x(eip1559SigningDigest(tx)), keccak256(raw));
});

test('a signed transaction recovers to the signing key under viem', async () => {
  const sk = secp256k1.utils.randomSecretKey();
  const tx = decodeUnsignedEip1559(hexToBytes(viemUnsigned(sample)));
  const sig = secp256k1.Signature.fromBytes(secp256k1.sign(eip1559SigningDigest(tx), sk, { prehash: false, format: 'recovered' }), 'recovered');
  const signed = encodeSignedEip1559(tx, { r: sig.r, s: sig.s, yParity: sig.recovery as 0 | 1 });
  const from = await recoverTransactionAddress({ serializedTransaction: bytesTo0x(signed) as `0x02${string}` });
  assert.equal(from, toChecksumAddress(addressFromPublicKey(secp256k1.getPublicKey(sk))));
  const parsed = parseTransaction(bytesTo0x(signed) as `0x${string}`);
  assert.equal(parsed.value, sample.value);
  assert.equal(decodeSignedEip1559(signed).signature.s, sig.s);
  assert.equal(txHash(signed).length, 32);
});

test('property: random transactions round-trip against viem', () => {
  fc.assert(
    fc.property(
      fc.record({
        chainId: fc.bigInt({ min: 1n, max: 2n ** 32n }),
        nonce: fc.bigInt({ min: 0n, max: 2n ** 40n }),
        tip: fc.bigInt({ min: 0n, max: 2n ** 64n }),
        fee: fc.bigInt({ min: 0n, max: 2n ** 64n }),
        gas: fc.bigInt({ min: 0n, max: 2n ** 32n }),
        value: fc.bigInt({ min: 0n, max: 2n ** 256n - 1n }),
        data: fc.uint8Array({ maxLength: 200 }),
        to: fc.uint8Array({ minLength: 20, maxLength: 20 }),
      }),
      (r) => {
        if (r.tip > r.fee) return;
        const tx: Eip1559Tx = { chainId: r.chainId, nonce: r.nonce, maxPriorityFeePerGas: r.tip, maxFeePerGas: r.fee, gasLimit: r.gas, to: r.to, value: r.value, data: r.data, accessList: [] };
        const raw = hexToBytes(viemUnsigned(tx));
        const back = decodeUnsignedEip1559(raw);
        assert.equal(back.value, tx.value);
        assert.equal(back.nonce, tx.nonce);
        assert.deepEqual(back.data, tx.data);
      },
    ),
    { numRuns: 300 },
  );
});

const rejects = (raw: Uint8Array, re: RegExp): void => {
  assert.throws(() => decodeUnsignedEip1559(raw), (e) => isCustodianError(e, 'E_TX_MALFORMED') && re.test((e as Error).message));
};

test('rejects truncated RLP', () => {
  const raw = hexToBytes(viemUnsigned(sample));
  rejects(raw.subarray(0, raw.length - 3), /truncated/);
});

test('rejects a wrong type byte (legacy or EIP-2930)', () => {
  const raw = hexToBytes(viemUnsigned(sample));
  const legacy = Uint8Array.from(raw);
  legacy[0] = 0x01;
  rejects(legacy, /not EIP-1559/);
  rejects(raw.subarray(1), /not EIP-1559/);
});

test('rejects oversized fields (value over 32 bytes, chainId over 8 bytes)', () => {
  const f = baseFields();
  f[6] = u(2n ** 256n);
  rejects(rawFrom(f), /value is longer than 32 bytes/);
  const g = baseFields();
  g[0] = u(2n ** 70n);
  rejects(rawFrom(g), /chainId is longer than 8 bytes/);
  const h = baseFields();
  h[5] = new Uint8Array(21);
  rejects(rawFrom(h), /to must be 20 bytes/);
});

test('rejects trailing bytes and non-canonical integers', () => {
  const raw = hexToBytes(viemUnsigned(sample));
  rejects(Uint8Array.from([...raw, 0x00]), /trailing/);
  const f = baseFields();
  f[1] = Uint8Array.of(0, 7);
  rejects(rawFrom(f), /leading zero/);
  const g = baseFields();
  g.pop();
  rejects(rawFrom(g), /expected 9 fields/);
});

test('rejects an oversized transaction before decoding', () => {
  rejects(new Uint8Array(200 * 1024).fill(2), /exceeds/);
});

test('property: only typed errors escape the decoder on mutated transactions', () => {
  const raw = hexToBytes(viemUnsigned({ ...sample, data: new Uint8Array(40).fill(7) }));
  fc.assert(
    fc.property(fc.integer({ min: 0, max: raw.length - 1 }), fc.integer({ min: 0, max: 255 }), fc.boolean(), (pos, byte, cut) => {
      const m = Uint8Array.from(raw);
      m[pos] = byte;
      try {
        decodeUnsignedEip1559(cut ? m.subarray(0, pos) : m);
      } catch (e) {
        assert.ok(isCustodianError(e), String(e));
      }
    }),
    { numRuns: 3000 },
  );
});

test('EIP-55 checksums match viem and bad checksums are refused', () => {
  const a = hexToBytes('0x70997970c51812dc3a010c7d01b50e0d17dc79c8');
  assert.equal(toChecksumAddress(a), '0x70997970C51812dc3A010C7d01b50e0d17dc79C8');
  assert.throws(() => parseAddress('0x70997970C51812dc3A010C7d01b50e0d17dc79c8'), (e) => isCustodianError(e, 'E_ADDRESS_CHECKSUM'));
  assert.deepEqual(parseAddress('0x70997970c51812dc3a010c7d01b50e0d17dc79c8'), a);
});

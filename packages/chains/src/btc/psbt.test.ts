import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import * as btc from '@scure/btc-signer';
import { isCustodianError } from '@custodian/core/errors';
import { bytesToHex, hexToBytes } from '@custodian/core/bytes';
import { vectorPath } from '@custodian/core/vectors';
import { decodeBitcoinTx, encodeBitcoinTx, txid } from './transaction.js';
import { hash160, p2wpkhScript, p2wpkhSighash, segwitV0Sighash, p2wpkhScriptCode } from './bip143.js';
import { decodePsbt } from './psbt.js';
import { finalizeP2wpkh, p2wpkhSigningDigests } from './p2wpkh-psbt.js';

/** Reads a labelled hex value from the BIP 143 example text. */
function bip143(label: string, section = 'Native P2WPKH'): string {
  const text = readFileSync(vectorPath('bip', 'bip143', 'bip-0143-examples.mediawiki.txt'), 'utf8');
  const part = text.slice(text.indexOf(`=== ${section} ===`));
  const m = new RegExp(`${label}:?\\s*\\n?\\s*([0-9a-f]{20,})`).exec(part);
  assert.ok(m, `vector field ${label}`);
  return m[1]!;
}

test('BIP 143 native P2WPKH example: our sighash equals the published one and its signature verifies', () => {
  const tx = decodeBitcoinTx(hexToBytes(bip143('The following is an unsigned transaction')));
  const pub = hexToBytes('025476c2e83188368da1ff3e292e7acafcdb3566bb0ad253f62fc70f07aeee6357');
  const script = hexToBytes('00141d0f172a0ecb48aee1be1f2687d2963ae33f71a1');
  const sighash = p2wpkhSighash(tx, 1, script, 600_000_000n, pub);
  assert.equal(bytesToHex(sighash), bip143('sigHash'));
  const sig = hexToBytes(bip143('signature')).slice(0, -1);
  assert.ok(secp256k1.verify(sig, sighash, pub, { prehash: false, format: 'der', lowS: false }));
  const signed = hexToBytes(bip143('The serialized signed transaction is'));
  assert.deepEqual(encodeBitcoinTx(decodeBitcoinTx(signed)), signed);
});

function scurePsbt(sk: Uint8Array, amount: bigint, outputs: { script: Uint8Array; amount: bigint }[]): Uint8Array {
  const pub = secp256k1.getPublicKey(sk, true);
  const tx = new btc.Transaction();
  tx.addInput({ txid: new Uint8Array(32).fill(0xab), index: 1, witnessUtxo: { script: btc.p2wpkh(pub).script, amount }, sequence: 0xfffffffd });
  for (const o of outputs) tx.addOutput({ script: o.script, amount: o.amount });
  return tx.toPSBT(0);
}

test('a P2WPKH spend from a PSBT made by an independent library: same sighash, and the finalised transaction verifies there', () => {
  const sk = secp256k1.utils.randomSecretKey();
  const pub = secp256k1.getPublicKey(sk, true);
  const psbtBytes = scurePsbt(sk, 100_000n, [{ script: p2wpkhScript(secp256k1.getPublicKey(secp256k1.utils.randomSecretKey(), true)), amount: 90_000n }]);
  const psbt = decodePsbt(psbtBytes);
  const [digest] = p2wpkhSigningDigests(psbt, pub);
  const theirs = btc.Transaction.fromPSBT(psbtBytes);
  const expected = theirs.preimageWitnessV0(0, p2wpkhScriptCode(hash160(pub)), btc.SigHash.ALL, 100_000n);
  assert.equal(bytesToHex(digest!), bytesToHex(expected));
  const sig = secp256k1.sign(digest!, sk, { prehash: false, lowS: true });
  const final = finalizeP2wpkh(psbt, pub, [sig]);
  // Independent check: @scure/btc-signer signs the same PSBT; the two final transactions must be identical
  // (RFC 6979 signatures are deterministic), and its parser accepts ours.
  theirs.sign(sk);
  theirs.finalize();
  assert.equal(bytesToHex(final), bytesToHex(theirs.extract()));
  assert.equal(txid(decodeBitcoinTx(final)), theirs.id);
});

test('refuses an input not locked to the wallet key, and non-P2WPKH inputs', () => {
  const sk = secp256k1.utils.randomSecretKey();
  const psbt = decodePsbt(scurePsbt(sk, 1000n, [{ script: p2wpkhScript(secp256k1.getPublicKey(sk, true)), amount: 500n }]));
  assert.throws(() => p2wpkhSigningDigests(psbt, secp256k1.getPublicKey(secp256k1.utils.randomSecretKey(), true)), (e) => isCustodianError(e, 'E_BTC_KEY_MISMATCH'));
  assert.throws(() => segwitV0Sighash(psbt.tx, 0, new Uint8Array(0), 1n, 0x81), (e) => isCustodianError(e, 'E_BTC_SIGHASH'));
});

test('rejects duplicate keys, a bad magic, trailing bytes and non-minimal CompactSize', () => {
  const sk = secp256k1.utils.randomSecretKey();
  const good = scurePsbt(sk, 1000n, [{ script: p2wpkhScript(secp256k1.getPublicKey(sk, true)), amount: 500n }]);
  assert.throws(() => decodePsbt(Uint8Array.from([...good, 0])), (e) => isCustodianError(e, 'E_PSBT_MALFORMED'));
  const badMagic = Uint8Array.from(good);
  badMagic[4] = 0xfe;
  assert.throws(() => decodePsbt(badMagic), (e) => isCustodianError(e, 'E_PSBT_MALFORMED'));
  // Duplicate the global unsigned-tx pair.
  const r = good.subarray(5);
  const keyLen = r[0]!;
  const valLenByte = r[1 + keyLen]!;
  assert.ok(valLenByte < 0xfd);
  const pair = r.subarray(0, 1 + keyLen + 1 + valLenByte);
  const dup = Uint8Array.from([...good.subarray(0, 5), ...pair, ...r]);
  assert.throws(() => decodePsbt(dup), (e) => isCustodianError(e, 'E_PSBT_DUPLICATE_KEY'));
  const tx = decodeBitcoinTx(decodePsbt(good).tx ? encodeBitcoinTx(decodePsbt(good).tx) : good);
  const raw = encodeBitcoinTx(tx);
  const nonMinimal = Uint8Array.from([...raw.subarray(0, 4), 0xfd, 0x01, 0x00, ...raw.subarray(5)]);
  assert.throws(() => decodeBitcoinTx(nonMinimal), (e) => isCustodianError(e, 'E_BTC_TX_MALFORMED'));
});

test('property: only typed errors escape the PSBT decoder on mutated input', () => {
  const sk = secp256k1.utils.randomSecretKey();
  const good = scurePsbt(sk, 1000n, [{ script: p2wpkhScript(secp256k1.getPublicKey(sk, true)), amount: 500n }]);
  fc.assert(
    fc.property(fc.integer({ min: 0, max: good.length - 1 }), fc.integer({ min: 0, max: 255 }), fc.boolean(), (pos, b, cut) => {
      const m = Uint8Array.from(good);
      m[pos] = b;
      try {
        decodePsbt(cut ? m.subarray(0, pos) : m);
      } catch (e) {
        assert.ok(isCustodianError(e), String(e));
      }
    }),
    { numRuns: 3000 },
  );
});

/**
 * Issue 8 item 3: a Bitcoin P2WPKH spend from a PSBT, signed by a 2-of-3
 * threshold ECDSA key (DKLs23) that never exists in one place, verified by an
 * independent implementation (@scure/btc-signer's BIP 143 preimage and parser).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import * as btc from '@scure/btc-signer';
import { systemRandom } from '@custodian/core/clock';
import { bytesToHex } from '@custodian/core/bytes';
import { runKeygen, runOnline, runPresign } from '@custodian/tss/ecdsa/local-run';
import { decodePsbt } from './psbt.js';
import { hash160, p2wpkhScript, p2wpkhScriptCode } from './bip143.js';
import { finalizeP2wpkh, p2wpkhSigningDigests } from './p2wpkh-psbt.js';
import { decodeBitcoinTx } from './transaction.js';

test('a 2-of-3 DKLs23 wallet spends a P2WPKH output from a PSBT; an independent implementation agrees on the sighash and parses the spend', () => {
  const shares = runKeygen(2, 3, systemRandom.bytes(32), systemRandom);
  const publicKey = shares.get(1n)!.publicKey.toBytes(true);
  const tx = new btc.Transaction();
  tx.addInput({ txid: new Uint8Array(32).fill(0x5a), index: 0, witnessUtxo: { script: btc.p2wpkh(publicKey).script, amount: 50_000n } });
  tx.addOutput({ script: p2wpkhScript(secp256k1.getPublicKey(secp256k1.utils.randomSecretKey(), true)), amount: 40_000n });
  const psbtBytes = tx.toPSBT(0);
  const psbt = decodePsbt(psbtBytes);
  const [digest] = p2wpkhSigningDigests(psbt, publicKey);
  const theirs = btc.Transaction.fromPSBT(psbtBytes).preimageWitnessV0(0, p2wpkhScriptCode(hash160(publicKey)), btc.SigHash.ALL, 50_000n);
  assert.equal(bytesToHex(digest!), bytesToHex(theirs));
  // Parties 1 and 3 sign; party 2 is offline.
  const signature = runOnline(runPresign(shares, [1n, 3n], systemRandom.bytes(32), systemRandom), digest!).get(1n)!;
  const final = finalizeP2wpkh(psbt, publicKey, [signature.compact]);
  const parsed = btc.Transaction.fromRaw(final, { allowUnknownOutputs: true });
  assert.equal(parsed.id, btc.Transaction.fromRaw(final).id);
  const witness = decodeBitcoinTx(final).inputs[0]!.witness;
  assert.equal(bytesToHex(witness[1]!), bytesToHex(publicKey));
  const der = witness[0]!.subarray(0, -1);
  assert.ok(secp256k1.verify(der, theirs, publicKey, { prehash: false, format: 'der' }), 'the witness signature verifies over the independently computed sighash');
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { schnorr, secp256k1 } from '@noble/curves/secp256k1.js';
import * as btc from '@scure/btc-signer';
import { isCustodianError } from '@custodian/core/errors';
import { systemRandom } from '@custodian/core/clock';
import { bytesToHex, hexToBytes } from '@custodian/core/bytes';
import { readJsonVector } from '@custodian/core/vectors';
import { runLocalDkg, signLocally } from '@custodian/tss/frost/local';
import { taprootOutputKey, tweakKeyShare } from '@custodian/tss/frost/taproot';
import { decodeBitcoinTx, txid } from './transaction.js';
import { decodePsbt, type Psbt } from './psbt.js';
import { p2trProgram, p2trScript, taprootKeyPathSighash, taprootSigMsg, taprootTweakPublicKey, TAPROOT_SIGHASH_ALL } from './bip341.js';
import { encodeSegwitAddress, segwitAddressOf } from './segwit-address.js';
import { finalizeTaprootKeyPath, taprootSigningDigests, taprootSpendView } from './taproot-psbt.js';
import { p2wpkhScript } from './bip143.js';

interface Bip341Vectors {
  scriptPubKey: { given: { internalPubkey: string; scriptTree: unknown }; intermediary: { merkleRoot: string | null; tweakedPubkey: string }; expected: { scriptPubKey: string; bip350Address: string } }[];
  keyPathSpending: {
    given: { rawUnsignedTx: string; utxosSpent: { scriptPubKey: string; amountSats: number }[] };
    inputSpending: { given: { txinIndex: number; internalPrivkey: string; merkleRoot: string | null; hashType: number }; intermediary: { internalPubkey: string; sigMsg: string; sigHash: string } }[];
  }[];
}

const vectors = readJsonVector('bip', 'bip341', 'wallet-test-vectors.json') as Bip341Vectors;

test('BIP 341 key-path vectors: SigMsg and sigHash of every input match the published ones', () => {
  let checked = 0;
  for (const spend of vectors.keyPathSpending) {
    const tx = decodeBitcoinTx(hexToBytes(spend.given.rawUnsignedTx));
    const prevouts = spend.given.utxosSpent.map((u) => ({ script: hexToBytes(u.scriptPubKey), amount: BigInt(u.amountSats) }));
    for (const input of spend.inputSpending) {
      const { txinIndex, hashType, merkleRoot } = input.given;
      // The vector's sigMsg includes the 0x00 epoch byte that precedes SigMsg in hash_TapSighash.
      assert.equal('00' + bytesToHex(taprootSigMsg(tx, txinIndex, prevouts, hashType)), input.intermediary.sigMsg, `SigMsg of input ${txinIndex}`);
      assert.equal(bytesToHex(taprootKeyPathSighash(tx, txinIndex, prevouts, hashType)), input.intermediary.sigHash, `sigHash of input ${txinIndex}`);
      // The spent script is P2TR of the tweaked internal key.
      const q = taprootTweakPublicKey(hexToBytes(input.intermediary.internalPubkey), merkleRoot === null ? new Uint8Array(0) : hexToBytes(merkleRoot));
      assert.equal(bytesToHex(p2trProgram(prevouts[txinIndex]!.script)!), bytesToHex(q));
      checked++;
    }
  }
  assert.equal(checked, 7);
});

test('BIP 341 scriptPubKey vectors: output key, script and bech32m address', () => {
  for (const v of vectors.scriptPubKey) {
    const root = v.intermediary.merkleRoot === null ? new Uint8Array(0) : hexToBytes(v.intermediary.merkleRoot);
    const q = taprootTweakPublicKey(hexToBytes(v.given.internalPubkey), root);
    assert.equal(bytesToHex(q), v.intermediary.tweakedPubkey);
    assert.equal(bytesToHex(p2trScript(q)), v.expected.scriptPubKey);
    assert.equal(segwitAddressOf('mainnet', p2trScript(q)), v.expected.bip350Address);
  }
});

test('segwit addresses: bech32 for v0 (BIP 173 example) and none for P2PKH', () => {
  // BIP 173: P2WPKH of 0279BE66…F81798 is bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4.
  const pub = hexToBytes('0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798');
  assert.equal(segwitAddressOf('mainnet', p2wpkhScript(pub)), 'bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4');
  assert.equal(segwitAddressOf('mainnet', hexToBytes('76a914751e76e8199196d454941c45d1b3a323f1433bd688ac')), null);
  assert.throws(() => encodeSegwitAddress('mainnet', 0, new Uint8Array(21)), (e) => isCustodianError(e, 'E_ADDRESS_INVALID'));
});

/** A FROST(secp256k1, TR) 2-of-3 wallet: the tweaked shares and the x-only internal and output keys. */
function frostWallet() {
  const shares = runLocalDkg('frost-secp256k1-tr', 2, 3, systemRandom, 'btc-test-dkg');
  const internalKey = shares[0]!.publicPackage.groupPublicKey.slice(1);
  const outputKey = taprootOutputKey(shares[0]!.publicPackage);
  return { tweaked: shares.map((s) => tweakKeyShare(s)), internalKey, outputKey };
}

const wallet = frostWallet();
const payee = btc.p2tr(schnorr.getPublicKey(schnorr.utils.randomSecretKey())).script;

/** A PSBT built by @scure/btc-signer spending two of the wallet's coins (input 1 asks for SIGHASH_ALL). */
function scureTaprootPsbt(o: { internalKey?: Uint8Array; second?: Uint8Array; sighash1?: number } = {}): btc.Transaction {
  const internal = o.internalKey ?? wallet.internalKey;
  const mine = btc.p2tr(internal).script;
  const tx = new btc.Transaction({ allowUnknownOutputs: true });
  tx.addInput({ txid: new Uint8Array(32).fill(0x11), index: 0, witnessUtxo: { script: mine, amount: 70_000n }, tapInternalKey: internal, sequence: 0xfffffffd });
  tx.addInput({ txid: new Uint8Array(32).fill(0x22), index: 3, witnessUtxo: { script: o.second ?? mine, amount: 50_000n }, sighashType: o.sighash1 ?? btc.SigHash.ALL, sequence: 0xfffffffd });
  tx.addOutput({ script: payee, amount: 100_000n });
  tx.addOutput({ script: mine, amount: 19_000n });
  return tx;
}

test('FROST(secp256k1, TR) 2-of-3 spends a PSBT made by @scure/btc-signer: same sighashes, and the finalised transaction is accepted there', async () => {
  const theirs = scureTaprootPsbt();
  const psbtBytes = theirs.toPSBT(0);
  assert.equal(bytesToHex(p2trProgram(btc.p2tr(wallet.internalKey).script)!), bytesToHex(wallet.outputKey), 'scure derives the same output key');
  const psbt = decodePsbt(psbtBytes);
  assert.equal(bytesToHex(psbt.inputs[0]!.tapInternalKey!), bytesToHex(wallet.internalKey));

  const view = taprootSpendView(psbt, wallet.outputKey, 'mainnet');
  assert.equal(view.feeSat, 1_000n);
  assert.equal(view.totalInSat, 120_000n);
  assert.equal(view.outputs[0]!.address, btc.Address(btc.NETWORK).encode(btc.OutScript.decode(payee)));
  assert.equal(view.outputs[0]!.toWallet, false);
  assert.equal(view.outputs[1]!.toWallet, true);
  assert.match(view.inputs[0]!.address, /^bc1p/);
  assert.equal(view.txid, theirs.id);

  const digests = taprootSigningDigests(psbt, wallet.outputKey);
  const scripts = [0, 1].map(() => btc.p2tr(wallet.internalKey).script);
  const amounts = [70_000n, 50_000n];
  assert.deepEqual(digests.map((d) => d.hashType), [0, TAPROOT_SIGHASH_ALL]);
  const signatures: Uint8Array[] = [];
  for (const d of digests) {
    // Independent sighash: @scure/btc-signer's BIP 341 implementation.
    assert.equal(bytesToHex(d.sighash), bytesToHex(theirs.preimageWitnessV1(d.index, scripts, d.hashType, amounts)));
    const sig = await signLocally([wallet.tweaked[0]!, wallet.tweaked[2]!], d.sighash, systemRandom, `btc-sign-${d.index}`);
    assert.ok(schnorr.verify(sig, d.sighash, wallet.outputKey), 'BIP 340 verifies under the tweaked output key');
    signatures.push(sig);
  }
  const final = finalizeTaprootKeyPath(psbt, wallet.outputKey, signatures);

  theirs.updateInput(0, { tapKeySig: signatures[0]! });
  theirs.updateInput(1, { tapKeySig: Uint8Array.from([...signatures[1]!, TAPROOT_SIGHASH_ALL]) });
  theirs.finalize();
  assert.equal(bytesToHex(final), bytesToHex(theirs.extract()));
  const parsed = btc.Transaction.fromRaw(final, { allowUnknownOutputs: true });
  assert.equal(parsed.id, txid(decodeBitcoinTx(final)));
  assert.equal(parsed.getInput(0).finalScriptWitness![0]!.length, 64);
  assert.equal(parsed.getInput(1).finalScriptWitness![0]!.length, 65);
});

function withInput(psbt: Psbt, i: number, patch: Partial<Psbt['inputs'][number]>): Psbt {
  return { ...psbt, inputs: psbt.inputs.map((x, j) => (j === i ? { ...x, ...patch } : x)) };
}

test('rejects a PSBT missing the witness UTXO of another input (BIP 341 commits to every amount)', () => {
  const psbt = withInput(decodePsbt(scureTaprootPsbt().toPSBT(0)), 1, { witnessUtxo: null });
  assert.throws(() => taprootSigningDigests(psbt, wallet.outputKey), (e) => isCustodianError(e, 'E_BTC_UTXO_MISSING') && e.detail['index'] === 1);
  assert.throws(() => taprootSpendView(psbt, wallet.outputKey, 'mainnet'), (e) => isCustodianError(e, 'E_BTC_UTXO_MISSING'));
});

test('rejects sighash types we do not sign (NONE, SINGLE, ANYONECANPAY)', () => {
  for (const t of [btc.SigHash.NONE, btc.SigHash.SINGLE, btc.SigHash.ALL_ANYONECANPAY]) {
    const psbt = decodePsbt(scureTaprootPsbt({ sighash1: t }).toPSBT(0));
    assert.throws(() => taprootSigningDigests(psbt, wallet.outputKey), (e) => isCustodianError(e, 'E_BTC_SIGHASH'));
  }
  const psbt = decodePsbt(scureTaprootPsbt().toPSBT(0));
  const prevouts = psbt.inputs.map((x) => x.witnessUtxo!);
  // Hash types BIP 341 does not define, and SIGHASH_SINGLE without a matching output.
  for (const t of [0x04, 0x80, 0x84, 0xff]) assert.throws(() => taprootKeyPathSighash(psbt.tx, 0, prevouts, t), (e) => isCustodianError(e, 'E_BTC_SIGHASH'));
  const oneOutput = { ...psbt.tx, outputs: psbt.tx.outputs.slice(0, 1) };
  assert.throws(() => taprootKeyPathSighash(oneOutput, 1, prevouts, 0x03), (e) => isCustodianError(e, 'E_BTC_SIGHASH'));
  assert.throws(() => taprootKeyPathSighash(psbt.tx, 0, prevouts.slice(1), 0x00), (e) => isCustodianError(e, 'E_BTC_SIGHASH'));
});

test('rejects an input not locked to the wallet output key, a non-P2TR input and a lying internal key', () => {
  const other = btc.p2tr(schnorr.getPublicKey(schnorr.utils.randomSecretKey())).script;
  assert.throws(() => taprootSigningDigests(decodePsbt(scureTaprootPsbt({ second: other }).toPSBT(0)), wallet.outputKey), (e) => isCustodianError(e, 'E_BTC_KEY_MISMATCH') && e.detail['index'] === 1);
  const wpkh = p2wpkhScript(secp256k1.getPublicKey(secp256k1.utils.randomSecretKey(), true));
  assert.throws(() => taprootSigningDigests(decodePsbt(scureTaprootPsbt({ second: wpkh }).toPSBT(0)), wallet.outputKey), (e) => isCustodianError(e, 'E_BTC_NOT_P2TR'));
  const psbt = withInput(decodePsbt(scureTaprootPsbt().toPSBT(0)), 0, { tapMerkleRoot: new Uint8Array(32).fill(7) });
  assert.throws(() => taprootSigningDigests(psbt, wallet.outputKey), (e) => isCustodianError(e, 'E_BTC_KEY_MISMATCH'));
});

test('rejects a PSBT spending one outpoint twice (its amount would count twice)', () => {
  const psbt = decodePsbt(scureTaprootPsbt().toPSBT(0));
  const twice: Psbt = { ...psbt, tx: { ...psbt.tx, inputs: [psbt.tx.inputs[0]!, psbt.tx.inputs[0]!] } };
  assert.throws(() => taprootSpendView(twice, wallet.outputKey, 'mainnet'), (e) => isCustodianError(e, 'E_BTC_TX_MALFORMED'));
});

test('refuses outputs above inputs, and signatures that do not verify under the output key', async () => {
  const psbt = decodePsbt(scureTaprootPsbt().toPSBT(0));
  const greedy: Psbt = { ...psbt, tx: { ...psbt.tx, outputs: [{ script: payee, amount: 200_000n }] } };
  assert.throws(() => taprootSpendView(greedy, wallet.outputKey, 'mainnet'), (e) => isCustodianError(e, 'E_BTC_FEE_NEGATIVE'));
  const digests = taprootSigningDigests(psbt, wallet.outputKey);
  const untweaked = schnorr.sign(digests[0]!.sighash, schnorr.utils.randomSecretKey());
  assert.throws(() => finalizeTaprootKeyPath(psbt, wallet.outputKey, [untweaked, untweaked]), (e) => isCustodianError(e, 'E_SIG_INVALID'));
  assert.throws(() => finalizeTaprootKeyPath(psbt, wallet.outputKey, [untweaked]), (e) => isCustodianError(e, 'E_BTC_SIGNATURES'));
});

test('rejects malformed BIP 371 fields', () => {
  const tx = scureTaprootPsbt();
  const good = tx.toPSBT(0);
  // Input 0's PSBT_IN_TAP_INTERNAL_KEY pair: key 0x01 0x17, value length 0x20: cut the value to 31 bytes.
  const at = bytesToHex(good).indexOf('011720' + bytesToHex(wallet.internalKey));
  assert.ok(at > 0 && at % 2 === 0);
  const m = Uint8Array.from(good);
  m[at / 2 + 2] = 31;
  assert.throws(() => decodePsbt(Uint8Array.from([...m.subarray(0, at / 2 + 3 + 31), ...m.subarray(at / 2 + 3 + 32)])), (e) => isCustodianError(e, 'E_PSBT_MALFORMED'));
});

test('property: only typed errors escape decoding, viewing and hashing a mutated taproot PSBT', () => {
  const good = scureTaprootPsbt().toPSBT(0);
  fc.assert(
    fc.property(fc.integer({ min: 0, max: good.length - 1 }), fc.integer({ min: 0, max: 255 }), fc.boolean(), (pos, b, cut) => {
      const m = Uint8Array.from(good);
      m[pos] = b;
      try {
        const psbt = decodePsbt(cut ? m.subarray(0, pos) : m);
        taprootSpendView(psbt, wallet.outputKey, 'mainnet');
        taprootSigningDigests(psbt, wallet.outputKey);
      } catch (e) {
        assert.ok(isCustodianError(e), String(e));
      }
    }),
    { numRuns: 1500 },
  );
});

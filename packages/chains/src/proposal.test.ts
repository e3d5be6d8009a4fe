// Proposals decoded for a wallet: what is signed per chain, the digest approvals bind, the transfers a
// summary shows, and the signed transaction assembled from threshold signatures — checked by
// independent implementations (litesvm runs the Solana transaction, @scure/btc-signer finalises the PSBT).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sha256 } from '@noble/hashes/sha2.js';
import { ed25519 } from '@noble/curves/ed25519.js';
import { schnorr } from '@noble/curves/secp256k1.js';
import * as btc from '@scure/btc-signer';
import { LiteSVM } from 'litesvm';
import { getTransactionDecoder } from '@solana/kit';
import { isCustodianError } from '@custodian/core/errors';
import { systemRandom } from '@custodian/core/clock';
import { bytesToHex, concatBytes } from '@custodian/core/bytes';
import { runLocalDkg, signLocally } from '@custodian/tss/frost/local';
import { taprootOutputKey, tweakKeyShare } from '@custodian/tss/frost/taproot';
import { encodeUnsignedEip1559, eip1559SigningDigest } from './evm/eip1559.js';
import { base58Encode } from './sol/base58.js';
import { compileTestMessageBytes, systemTransfer, testAddress } from './sol/test-messages.js';
import { encodeSegwitAddress } from './btc/segwit-address.js';
import { assembleSigned, decodeProposal, proposalTransfers } from './proposal.js';

const solShares = runLocalDkg('frost-ed25519', 2, 3, systemRandom, 'proposal-test-sol');
const solKey = solShares[0]!.publicPackage.groupPublicKey;
const solWallet = base58Encode(solKey);

test('sol: a FROST(Ed25519) 2-of-3 signature over the decoded message gives a transaction litesvm executes', async () => {
  const svm = new LiteSVM();
  svm.airdrop(solWallet as never, 5_000_000_000n as never);
  const to = testAddress('proposal-recipient');
  const raw = compileTestMessageBytes({ payer: solWallet, instructions: [systemTransfer(solWallet, to, 1_234_567n)], blockhash: String(svm.latestBlockhash()) });
  const d = decodeProposal('sol', raw, { publicKey: solKey });
  assert.equal(d.chain, 'sol');
  assert.equal(bytesToHex(d.digest), bytesToHex(sha256(raw)), 'approvals bind SHA-256 of the message bytes');
  assert.deepEqual(d.messages.map(bytesToHex), [bytesToHex(raw)], 'Ed25519 signs the message bytes themselves');
  const { transfers, feeMax } = proposalTransfers(d);
  assert.deepEqual(transfers, [{ to, asset: 'SOL', amount: 1_234_567n }]);
  assert.equal(feeMax, 5000n);
  const sig = await signLocally([solShares[0]!, solShares[2]!], d.messages[0]!, systemRandom, 'proposal-sol-sign');
  const out = assembleSigned(d, { publicKey: solKey }, [sig]);
  assert.equal(out.txId, base58Encode(sig), 'the transaction id is its first signature');
  const result = svm.sendTransaction(getTransactionDecoder().decode(Buffer.from(out.signedTxHex, 'hex')) as never);
  assert.equal(result.constructor.name, 'TransactionMetadata', `litesvm refused the transaction: ${String((result as { err?: () => unknown }).err?.())}`);
  assert.equal(svm.getBalance(to as never), 1_234_567n);
});

test('sol: a message whose fee payer is not the wallet, or a signature under another key, is refused', () => {
  const other = base58Encode(ed25519.getPublicKey(ed25519.utils.randomSecretKey()));
  const raw = compileTestMessageBytes({ payer: other, instructions: [systemTransfer(other, testAddress('x'), 1n)], blockhash: testAddress('bh') });
  assert.throws(() => decodeProposal('sol', raw, { publicKey: solKey }), (e) => isCustodianError(e, 'E_SOLANA_ACCOUNT_MISMATCH'));
  const mine = compileTestMessageBytes({ payer: solWallet, instructions: [systemTransfer(solWallet, testAddress('x'), 1n)], blockhash: testAddress('bh') });
  const d = decodeProposal('sol', mine, { publicKey: solKey });
  const sk = ed25519.utils.randomSecretKey();
  assert.throws(() => assembleSigned(d, { publicKey: solKey }, [ed25519.sign(mine, sk)]), (e) => isCustodianError(e, 'E_SIG_INVALID'));
  assert.throws(() => assembleSigned(d, { publicKey: solKey }, []), (e) => isCustodianError(e, 'E_SIG_INVALID'));
});

const trShares = runLocalDkg('frost-secp256k1-tr', 2, 3, systemRandom, 'proposal-test-tr');
const internalKey = trShares[0]!.publicPackage.groupPublicKey.slice(1);
const outputKey = taprootOutputKey(trShares[0]!.publicPackage);
const trWallet = { publicKey: trShares[0]!.publicPackage.groupPublicKey, outputKey, network: 'regtest' as const };
const REGTEST = { bech32: 'bcrt', pubKeyHash: 0x6f, scriptHash: 0xc4, wif: 0xef };

function psbt(): { tx: btc.Transaction; payee: Uint8Array } {
  const mine = btc.p2tr(internalKey, undefined, REGTEST).script;
  const payee = btc.p2tr(schnorr.getPublicKey(schnorr.utils.randomSecretKey()), undefined, REGTEST).script;
  const tx = new btc.Transaction();
  tx.addInput({ txid: new Uint8Array(32).fill(0x31), index: 1, witnessUtxo: { script: mine, amount: 60_000n }, tapInternalKey: internalKey });
  tx.addInput({ txid: new Uint8Array(32).fill(0x32), index: 0, witnessUtxo: { script: mine, amount: 40_000n }, tapInternalKey: internalKey });
  tx.addOutput({ script: payee, amount: 80_000n });
  tx.addOutput({ script: mine, amount: 19_500n });
  return { tx, payee };
}

test('btc: one BIP 340 signature per input over its BIP 341 sighash; the digest commits to all; change is not a transfer; scure finalises the same transaction', async () => {
  const { tx, payee } = psbt();
  const d = decodeProposal('btc', tx.toPSBT(0), trWallet);
  assert.equal(d.chain, 'btc');
  assert.equal(d.messages.length, 2);
  assert.equal(bytesToHex(d.digest), bytesToHex(sha256(concatBytes(...d.messages))));
  const { transfers, feeMax } = proposalTransfers(d);
  assert.deepEqual(transfers, [{ to: encodeSegwitAddress('regtest', 1, payee.slice(2)), asset: 'BTC', amount: 80_000n }]);
  assert.equal(feeMax, 500n);
  const tweaked = trShares.map((s) => tweakKeyShare(s));
  const sigs: Uint8Array[] = [];
  for (const [i, m] of d.messages.entries()) {
    const sig = await signLocally([tweaked[1]!, tweaked[2]!], m, systemRandom, `proposal-btc-${i}`);
    assert.ok(schnorr.verify(sig, m, outputKey));
    sigs.push(sig);
  }
  const out = assembleSigned(d, trWallet, sigs);
  sigs.forEach((s, i) => tx.updateInput(i, { tapKeySig: s }));
  tx.finalize();
  assert.equal(out.signedTxHex, bytesToHex(tx.extract()), 'the same bytes as @scure/btc-signer finalisation');
  assert.equal(out.txId, tx.id);
  assert.throws(() => assembleSigned(d, trWallet, [sigs[1]!, sigs[0]!]), (e) => isCustodianError(e, 'E_SIG_INVALID'), 'signatures swapped between inputs');
});

test('btc: a PSBT spending another key, or one decoded without a taproot wallet, is refused', () => {
  const other = btc.p2tr(schnorr.getPublicKey(schnorr.utils.randomSecretKey()), undefined, REGTEST).script;
  const tx = new btc.Transaction();
  tx.addInput({ txid: new Uint8Array(32).fill(0x41), index: 0, witnessUtxo: { script: other, amount: 10_000n } });
  tx.addOutput({ script: other, amount: 9_000n });
  assert.throws(() => decodeProposal('btc', tx.toPSBT(0), trWallet), (e) => isCustodianError(e, 'E_BTC_KEY_MISMATCH'));
  assert.throws(() => decodeProposal('btc', psbt().tx.toPSBT(0), { publicKey: solKey }), (e) => isCustodianError(e, 'E_SCHEME_MISMATCH'));
});

test('eth: the EIP-1559 signing digest is what is signed and what approvals bind; assembly stays with the ECDSA path', () => {
  const raw = encodeUnsignedEip1559({ chainId: 1n, nonce: 0n, maxPriorityFeePerGas: 1n, maxFeePerGas: 2n, gasLimit: 21000n, to: new Uint8Array(20).fill(1), value: 5n, data: new Uint8Array(0), accessList: [] });
  const d = decodeProposal('eth', raw, { publicKey: new Uint8Array(33) });
  assert.equal(d.chain, 'eth');
  assert.equal(bytesToHex(d.digest), bytesToHex(eip1559SigningDigest(d.tx)));
  assert.throws(() => assembleSigned(d, { publicKey: new Uint8Array(33) }, [new Uint8Array(64)]), (e) => isCustodianError(e, 'E_SCHEME_MISMATCH'));
  assert.throws(() => proposalTransfers(d), (e) => isCustodianError(e, 'E_SCHEME_MISMATCH'));
});

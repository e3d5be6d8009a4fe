import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ed25519 } from '@noble/curves/ed25519.js';
import { isCustodianError } from '@custodian/core/errors';
import { systemRandom } from '@custodian/core/clock';
import { runLocalDkg, signLocally } from '@custodian/tss/frost/local';
import { base58Encode, solanaAddressBytes } from './base58.js';
import { decodeSolanaMessage, encodeSolanaMessage, type SolanaMessage } from './message.js';
import { checkSolanaSpend, type SolanaSpendExpectation } from './spend.js';
import { associatedTokenAddress } from './instructions.js';
import { decodeSolanaTransaction, encodeSignedSolanaTransaction } from './transaction.js';
import { TOKEN_2022_PROGRAM_ID, TOKEN_PROGRAM_ID } from './program-ids.js';
import { advanceNonce, compileTestMessage, compileTestMessageBytes, computeUnitPrice, createAta, systemTransfer, testAddress, tokenTransfer, tokenTransferChecked, type TestInstruction } from './test-messages.js';

// The wallet is a FROST(Ed25519) 2-of-3 group key: its public key is the fee payer.
const shares = runLocalDkg('frost-ed25519', 2, 3, systemRandom, 'sol-test-dkg');
const walletKey = shares[0]!.publicPackage.groupPublicKey;
const wallet = base58Encode(walletKey);
const to = testAddress('recipient');
const mint = testAddress('usdc-mint');
const blockhash = testAddress('blockhash');
const source = associatedTokenAddress(wallet, TOKEN_PROGRAM_ID, mint);
const destAta = associatedTokenAddress(to, TOKEN_PROGRAM_ID, mint);
const expect: SolanaSpendExpectation = { wallet: walletKey, recentBlockhash: solanaAddressBytes(blockhash) };

const message = (instructions: TestInstruction[], version: 'legacy' | 0 = 'legacy'): SolanaMessage => decodeSolanaMessage(compileTestMessageBytes({ payer: wallet, instructions, blockhash, version }));
const mismatch = (reason: string) => (e: unknown) => isCustodianError(e, 'E_SOLANA_ACCOUNT_MISMATCH') && e.detail['reason'] === reason;

test('legacy and v0 messages: SOL transfer, SPL Token transfer/transferChecked and ATA create decode into the spend view', () => {
  for (const version of ['legacy', 0] as const) {
    const view = checkSolanaSpend(message([computeUnitPrice(2_000_000n), createAta(wallet, destAta, to, mint), tokenTransferChecked(source, mint, destAta, wallet, 1_500_000n, 6), systemTransfer(wallet, to, 10n)], version), expect);
    assert.equal(view.version, version);
    assert.equal(view.feePayer, wallet);
    assert.equal(view.baseFeeLamports, 5000n);
    assert.equal(view.priorityFeeLamportsMax, 2_800_000n); // 2 lamports per CU × 1.4M CU ceiling
    assert.deepEqual(view.effects.map((e) => e.kind), ['ata-create', 'token-transfer', 'system-transfer']);
    assert.deepEqual(view.effects[1], { kind: 'token-transfer', tokenProgram: TOKEN_PROGRAM_ID, source, destination: destAta, owner: wallet, amount: 1_500_000n, mint, decimals: 6 });
    assert.deepEqual(view.effects[2], { kind: 'system-transfer', from: wallet, to, lamports: 10n });
  }
  const plain = checkSolanaSpend(message([tokenTransfer(source, destAta, wallet, 9n, TOKEN_2022_PROGRAM_ID)]), expect);
  assert.deepEqual(plain.effects[0], { kind: 'token-transfer', tokenProgram: TOKEN_2022_PROGRAM_ID, source, destination: destAta, owner: wallet, amount: 9n, mint: null, decimals: null });
});

test('FROST(Ed25519) 2-of-3 signs the serialised message; the signed transaction decodes and ed25519.verify accepts it', async () => {
  for (const version of ['legacy', 0] as const) {
    const bytes = compileTestMessageBytes({ payer: wallet, instructions: [systemTransfer(wallet, to, 1_000_000n)], blockhash, version });
    checkSolanaSpend(decodeSolanaMessage(bytes), expect);
    const signature = await signLocally([shares[1]!, shares[2]!], bytes, systemRandom, `sol-sign-${version}`);
    const tx = encodeSignedSolanaTransaction(bytes, [signature]);
    const decoded = decodeSolanaTransaction(tx);
    assert.deepEqual(decoded.messageBytes, bytes);
    assert.equal(tx[0], 1);
    // Independent check: RFC 8032 verification of the signature over the message bytes, under the fee payer's key.
    assert.ok(ed25519.verify(decoded.signatures[0]!, decoded.messageBytes, decoded.message.staticAccountKeys[0]!, { zip215: false }));
    const forged = Uint8Array.from(signature);
    forged[5]! ^= 1;
    assert.throws(() => encodeSignedSolanaTransaction(bytes, [forged]), (e) => isCustodianError(e, 'E_SIG_INVALID'));
    assert.throws(() => encodeSignedSolanaTransaction(bytes, []), (e) => isCustodianError(e, 'E_SOLANA_SIGNATURES'));
  }
});

test('B19 account order swapped so the fee payer differs from intent', () => {
  const m = message([systemTransfer(wallet, to, 5n)]);
  // Swap accounts 0 and 1 (and the indexes that point at them): the recipient now pays the fee and must sign.
  const swapped: SolanaMessage = { ...m, staticAccountKeys: [m.staticAccountKeys[1]!, m.staticAccountKeys[0]!, ...m.staticAccountKeys.slice(2)], instructions: m.instructions.map((ix) => ({ ...ix, accountIndexes: ix.accountIndexes.map((a) => (a === 0 ? 1 : a === 1 ? 0 : a)) })) };
  assert.throws(() => checkSolanaSpend(decodeSolanaMessage(encodeSolanaMessage(swapped)), expect), mismatch('fee-payer'));
  const otherPayer = decodeSolanaMessage(compileTestMessageBytes({ payer: to, instructions: [systemTransfer(wallet, to, 5n)], blockhash }));
  assert.throws(() => checkSolanaSpend(otherPayer, expect), (e) => isCustodianError(e, 'E_SOLANA_ACCOUNT_MISMATCH'));
});

test('B19 writable flags elevated: the mint, the program or an unused account made writable', () => {
  const m = message([tokenTransferChecked(source, mint, destAta, wallet, 1n, 6)]);
  // Accounts: [wallet, source, dest, mint, token program]; 2 read-only unsigned. One fewer makes the mint writable.
  assert.deepEqual(m.staticAccountKeys.map((k) => base58Encode(k)), [wallet, source, destAta, mint, TOKEN_PROGRAM_ID]);
  const elevated = { ...m, header: { ...m.header, numReadonlyUnsignedAccounts: 1 } };
  assert.throws(() => checkSolanaSpend(decodeSolanaMessage(encodeSolanaMessage(elevated)), expect), mismatch('writable'));
  const programWritable = { ...m, header: { ...m.header, numReadonlyUnsignedAccounts: 0 } };
  assert.throws(() => checkSolanaSpend(decodeSolanaMessage(encodeSolanaMessage(programWritable)), expect), mismatch('writable'));
  // A transfer that needs its destination writable, with the destination demoted, is refused too.
  const t = message([systemTransfer(wallet, to, 1n)]);
  const demoted = { ...t, header: { ...t.header, numReadonlyUnsignedAccounts: 2 } };
  assert.throws(() => checkSolanaSpend(decodeSolanaMessage(encodeSolanaMessage(demoted)), expect), mismatch('writable'));
});

test('B19 spoofed program id and spoofed program/sysvar accounts', () => {
  const fakeToken = testAddress('Tokenkeg-look-alike');
  const spoofed = message([{ ...tokenTransferChecked(source, mint, destAta, wallet, 1n, 6), programId: fakeToken }]);
  assert.throws(() => checkSolanaSpend(spoofed, expect), mismatch('program'));
  const ataWithFakeSystem = message([createAta(wallet, destAta, to, mint, TOKEN_PROGRAM_ID, testAddress('fake-system'))]);
  assert.throws(() => checkSolanaSpend(ataWithFakeSystem, expect), mismatch('spoofed-account'));
  const ataElsewhere = message([createAta(wallet, testAddress('attacker-ata'), to, mint)]);
  assert.throws(() => checkSolanaSpend(ataElsewhere, expect), mismatch('spoofed-account'));
  const nonceFakeSysvar = message([advanceNonce(testAddress('nonce'), wallet, testAddress('fake-sysvar')), systemTransfer(wallet, to, 1n)]);
  assert.throws(() => checkSolanaSpend(nonceFakeSysvar, { ...expect, durableNonceAccount: solanaAddressBytes(testAddress('nonce')) }), mismatch('spoofed-account'));
});

test('B19 durable-nonce advance misuse: unintended, not first, twice, another nonce account or authority', () => {
  const nonce = testAddress('nonce');
  const withNonce = { ...expect, durableNonceAccount: solanaAddressBytes(nonce) };
  const good = message([advanceNonce(nonce, wallet), systemTransfer(wallet, to, 1n)]);
  assert.equal(checkSolanaSpend(good, withNonce).durableNonceAccount, nonce);
  assert.throws(() => checkSolanaSpend(good, expect), mismatch('durable-nonce'));
  assert.throws(() => checkSolanaSpend(message([systemTransfer(wallet, to, 1n), advanceNonce(nonce, wallet)]), withNonce), mismatch('durable-nonce'));
  assert.throws(() => checkSolanaSpend(message([advanceNonce(nonce, wallet), advanceNonce(testAddress('nonce2'), wallet)]), withNonce), mismatch('durable-nonce'));
  assert.throws(() => checkSolanaSpend(message([advanceNonce(testAddress('other-nonce'), wallet), systemTransfer(wallet, to, 1n)]), withNonce), mismatch('durable-nonce'));
  assert.throws(() => checkSolanaSpend(message([systemTransfer(wallet, to, 1n)]), withNonce), mismatch('durable-nonce'));
  // Another authority must sign: more than one signer.
  assert.throws(() => checkSolanaSpend(message([advanceNonce(nonce, to), systemTransfer(wallet, to, 1n)]), withNonce), mismatch('signers'));
  // A stale or substituted blockhash.
  assert.throws(() => checkSolanaSpend(message([systemTransfer(wallet, to, 1n)]), { ...expect, recentBlockhash: solanaAddressBytes(testAddress('other-hash')) }), mismatch('blockhash'));
});

test('B19 extra signers, table-loaded accounts in recognised instructions, and malformed instruction data are refused', () => {
  const m = message([systemTransfer(to, wallet, 1n)]);
  assert.throws(() => checkSolanaSpend(m, expect), mismatch('signers'));
  const v0 = decodeSolanaMessage(encodeSolanaMessage(compileTestMessage({ payer: wallet, version: 0, blockhash, instructions: [tokenTransferChecked(source, mint, destAta, wallet, 1n, 6)], lookups: [{ table: testAddress('table'), writable: [destAta], readonly: [] }] })));
  assert.throws(() => checkSolanaSpend(v0, expect), mismatch('unresolved-account'));
  const bad = message([{ ...systemTransfer(wallet, to, 1n), data: Uint8Array.of(2, 0, 0, 0, 1) }]);
  assert.throws(() => checkSolanaSpend(bad, expect), (e) => isCustodianError(e, 'E_SOLANA_INSTRUCTION_MALFORMED'));
  const extra = message([{ ...systemTransfer(wallet, to, 1n), keys: [...systemTransfer(wallet, to, 1n).keys, { pubkey: mint, isSigner: false, isWritable: false }] }]);
  assert.throws(() => checkSolanaSpend(extra, expect), mismatch('account-count'));
});

test('property: only typed errors escape decoding and checking mutated messages', () => {
  const good = compileTestMessageBytes({ payer: wallet, instructions: [computeUnitPrice(5n), createAta(wallet, destAta, to, mint), tokenTransferChecked(source, mint, destAta, wallet, 1n, 6)], blockhash });
  fc.assert(
    fc.property(fc.integer({ min: 0, max: good.length - 1 }), fc.integer({ min: 0, max: 255 }), (pos, b) => {
      const m = Uint8Array.from(good);
      m[pos] = b;
      try {
        checkSolanaSpend(decodeSolanaMessage(m), expect);
      } catch (e) {
        assert.ok(isCustodianError(e), String(e));
      }
    }),
    { numRuns: 1000 },
  );
});

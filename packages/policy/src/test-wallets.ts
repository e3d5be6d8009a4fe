/**
 * Test support for the Solana and Bitcoin policy tests: a taproot wallet and
 * PSBTs built by @scure/btc-signer (an independent implementation), and a
 * Solana wallet whose messages are compiled by the chains package's test
 * compiler and then decoded by the real decoder. Tests only.
 */
import * as btc from '@scure/btc-signer';
import { schnorr, secp256k1 } from '@noble/curves/secp256k1.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { utf8 } from '@custodian/core/bytes';
import { p2trProgram } from '@custodian/chains/btc/bip341';
import { testAddress } from '@custodian/chains/sol/test-messages';
import type { BitcoinWalletRef } from './bitcoin-context.js';
import type { SolanaWalletRef } from './solana-context.js';

/** Bitcoin Core's regtest parameters as @scure/btc-signer takes them. */
export const REGTEST = { bech32: 'bcrt', pubKeyHash: 0x6f, scriptHash: 0xc4, wif: 0xef } as const;
/** The test time (the sample price table is dated 2026-11-25). */
export const NOW = Date.parse('2026-11-25T12:00:00Z');
/** Satoshis per BTC. */
export const BTC = 100_000_000n;
/** Lamports per SOL. */
export const SOL = 1_000_000_000n;

/** A deterministic secret key for `label`. */
export function secretFor(label: string): Uint8Array {
  return sha256(utf8(`custodian policy test ${label}`));
}

const walletSecret = secretFor('taproot wallet');
/** The taproot wallet's internal key (what a FROST DKG yields, x-only). */
export const walletInternalKey = schnorr.getPublicKey(walletSecret);
/** The wallet's P2TR output script. */
export const walletScript = btc.p2tr(walletInternalKey, undefined, REGTEST).script;
/** The wallet's BIP 341 output key Q. */
export const walletOutputKey = p2trProgram(walletScript)!;

/** The Bitcoin wallet as the engine sees it. */
export const btcWallet: BitcoinWalletRef = { id: 'btc-1', groups: ['hot'], outputKey: walletOutputKey, chains: ['bitcoin-regtest', 'btc'] };

/** The output script of a Bitcoin address on `network`. */
export function scriptOf(address: string, network: typeof REGTEST | typeof btc.NETWORK = REGTEST): Uint8Array {
  return btc.OutScript.encode(btc.Address(network).decode(address));
}

/** A P2WPKH script of a fresh key for `label`. */
export function p2wpkhOf(label: string): Uint8Array {
  return btc.p2wpkh(secp256k1.getPublicKey(secretFor(label), true), REGTEST).script;
}

/** A PSBT spending wallet coins (`inputs` amounts) to `outputs`; the unsigned scure transaction is returned too. */
export function walletPsbt(outputs: readonly { script: Uint8Array; amount: bigint }[], inputs: readonly bigint[] = [10n * BTC], inputScript = walletScript): { bytes: Uint8Array; tx: btc.Transaction } {
  const tx = new btc.Transaction({ allowUnknownOutputs: true });
  inputs.forEach((amount, i) => tx.addInput({ txid: new Uint8Array(32).fill(0x30 + i), index: i, witnessUtxo: { script: inputScript, amount }, tapInternalKey: walletInternalKey, sequence: 0xfffffffd }));
  for (const o of outputs) tx.addOutput({ script: o.script, amount: o.amount });
  return { bytes: tx.toPSBT(0), tx };
}

/** The vsize @scure/btc-signer measures once it has signed and finalised the transaction with the wallet key. */
export function scureSignedVsize(tx: btc.Transaction): number {
  tx.sign(walletSecret);
  tx.finalize();
  return tx.vsize;
}

/** The Solana wallet (fee payer and only signer). */
export const solWallet: SolanaWalletRef = { id: 'sol-1', groups: ['hot'], address: testAddress('custodian-sol-wallet'), chains: ['sol', 'solana-devnet'] };
/** The default rulebook's example Solana cold storage (address book, label internal). */
export const SOL_COLD = '7q6eGvnn5yjyruqWd4gxDsQxG973SqtEutDNUeK4UsD7';
/** The default rulebook's example regtest cold storage. */
export const BTC_COLD_REGTEST = 'bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080';
/** USDC's mint on Solana mainnet (priced in the default rulebook). */
export const USDC_MINT = 'EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v';

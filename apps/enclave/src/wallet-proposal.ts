/**
 * Which chain a wallet signs for, and a proposal's raw bytes decoded for it:
 * `single` and `ecdsa-dkls` wallets sign EVM transactions, `frost-ed25519`
 * Solana messages, `frost-secp256k1-tr` taproot key-path spends from a PSBT.
 * A proposal for another chain than the wallet's is refused before anything
 * is decoded (E_SCHEME_MISMATCH).
 */
import { CustodianError } from '@custodian/core/errors';
import { decodeProposal, type DecodedProposal } from '@custodian/chains/proposal';
import type { BtcNetwork } from '@custodian/chains/btc/segwit-address';
import { chainOfScheme, type TxChain } from '@custodian/protocol/payloads';
import type { WalletRecord } from './state.js';

/** The Bitcoin network whose P2TR address a frost-secp256k1-tr wallet statement names, and whose addresses its spends show (the sim custody path runs regtest). */
export const FROST_TAPROOT_NETWORK: BtcNetwork = 'regtest';

/** Decodes `raw` as a `chain` proposal spending from `wallet`; E_SCHEME_MISMATCH when the wallet does not sign for that chain. */
export function decodeWalletProposal(chain: TxChain, raw: Uint8Array, wallet: WalletRecord): DecodedProposal {
  const own = chainOfScheme(wallet.scheme);
  if (own !== chain) throw new CustodianError('E_SCHEME_MISMATCH', `wallet ${wallet.walletId} is a ${wallet.scheme} wallet: it signs ${own} transactions, not ${chain}`, { scheme: wallet.scheme, chain });
  if (wallet.scheme === 'frost-ed25519' || wallet.scheme === 'frost-secp256k1-tr') {
    return decodeProposal(chain, raw, { publicKey: wallet.publicKey, outputKey: wallet.outputKey, network: FROST_TAPROOT_NETWORK });
  }
  return decodeProposal(chain, raw, { publicKey: wallet.publicKey });
}

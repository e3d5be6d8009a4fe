/**
 * A proposal's raw bytes, decoded for the wallet that is to sign them — the
 * one place where the signer enclave and the approver's CLI turn a proposal
 * into what is signed, so both derive the same digest and the same facts
 * from the bytes themselves (never from the host's description, B14):
 *
 * - `eth`: an unsigned EIP-1559 transaction; one secp256k1 ECDSA signature
 *   over its signing digest.
 * - `sol`: a Solana message (legacy or v0), checked as a spend of the
 *   wallet's Ed25519 key (fee payer, only signer, recognised programs, B19);
 *   one Ed25519 signature over the message bytes.
 * - `btc`: a PSBT whose every input is a taproot key-path spend of the
 *   wallet's output key; one BIP 340 signature per input over its BIP 341
 *   sighash.
 *
 * `digest` is what approvals bind: the EIP-1559 signing digest, SHA-256 of
 * the Solana message, or SHA-256 of the concatenated BIP 341 sighashes (so it
 * commits to every spent amount and script and every output).
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { CustodianError } from '@custodian/core/errors';
import { bytesToHex, concatBytes } from '@custodian/core/bytes';
import { decodeUnsignedEip1559, eip1559SigningDigest, type Eip1559Tx } from './evm/eip1559.js';
import { decodeSolanaMessage, type SolanaMessage } from './sol/message.js';
import { checkSolanaSpend, type SolanaSpendView } from './sol/spend.js';
import { base58Encode } from './sol/base58.js';
import { encodeSignedSolanaTransaction, verifySolanaSignature } from './sol/transaction.js';
import { decodePsbt, type Psbt } from './btc/psbt.js';
import { finalizeTaprootKeyPath, taprootSigningDigests, taprootSpendView, type TaprootSigningDigest, type TaprootSpendView } from './btc/taproot-psbt.js';
import type { BtcNetwork } from './btc/segwit-address.js';

/** The chains a proposal can be for. */
export type ProposalChain = 'eth' | 'sol' | 'btc';

/** The signature scheme each chain's proposals are signed with. */
export type ProposalCurve = 'secp256k1-ecdsa' | 'ed25519' | 'bip340';

/** Most inputs of a Bitcoin proposal (each needs its own threshold signature). */
export const BTC_PROPOSAL_INPUTS_MAX = 32;

/** The wallet keys a proposal is checked against. */
export interface ProposalWallet {
  /** `eth`: unused (the EIP-1559 digest does not name the sender); `sol`: the Ed25519 public key. */
  readonly publicKey: Uint8Array;
  /** `btc`: the x-only taproot output key (tweaked). */
  readonly outputKey?: Uint8Array;
  /** `btc`: the network addresses are shown for. */
  readonly network?: BtcNetwork;
}

/** A decoded proposal. `messages` are exactly what gets signed, in order. */
export type DecodedProposal =
  | { readonly chain: 'eth'; readonly curve: 'secp256k1-ecdsa'; readonly tx: Eip1559Tx; readonly digest: Uint8Array; readonly messages: readonly Uint8Array[] }
  | {
      readonly chain: 'sol';
      readonly curve: 'ed25519';
      readonly messageBytes: Uint8Array;
      readonly message: SolanaMessage;
      readonly view: SolanaSpendView;
      readonly digest: Uint8Array;
      readonly messages: readonly Uint8Array[];
    }
  | {
      readonly chain: 'btc';
      readonly curve: 'bip340';
      readonly psbt: Psbt;
      readonly view: TaprootSpendView;
      readonly sighashes: readonly TaprootSigningDigest[];
      readonly outputKey: Uint8Array;
      readonly digest: Uint8Array;
      readonly messages: readonly Uint8Array[];
    };

/** Decodes `raw` as a proposal for `chain` spending from `wallet`; throws the chain decoders' typed errors. */
export function decodeProposal(chain: ProposalChain, raw: Uint8Array, wallet: ProposalWallet): DecodedProposal {
  if (chain === 'eth') {
    const tx = decodeUnsignedEip1559(raw);
    const digest = eip1559SigningDigest(tx);
    return { chain, curve: 'secp256k1-ecdsa', tx, digest, messages: [digest] };
  }
  if (chain === 'sol') {
    const message = decodeSolanaMessage(raw);
    const view = checkSolanaSpend(message, { wallet: wallet.publicKey });
    return { chain, curve: 'ed25519', messageBytes: raw.slice(), message, view, digest: sha256(raw), messages: [raw.slice()] };
  }
  if (!wallet.outputKey || !wallet.network) throw new CustodianError('E_SCHEME_MISMATCH', 'a Bitcoin proposal needs a taproot wallet (output key and network)');
  const psbt = decodePsbt(raw);
  if (psbt.tx.inputs.length === 0 || psbt.tx.inputs.length > BTC_PROPOSAL_INPUTS_MAX) {
    throw new CustodianError('E_BTC_TX_MALFORMED', `a proposal spends 1..${BTC_PROPOSAL_INPUTS_MAX} inputs`, { inputs: psbt.tx.inputs.length });
  }
  const view = taprootSpendView(psbt, wallet.outputKey, wallet.network);
  const sighashes = taprootSigningDigests(psbt, wallet.outputKey);
  const messages = sighashes.map((d) => d.sighash);
  return { chain, curve: 'bip340', psbt, view, sighashes, outputKey: wallet.outputKey.slice(), digest: sha256(concatBytes(...messages)), messages };
}

/** A signed transaction ready to broadcast, hex, and the id the chain will know it by. */
export interface AssembledTransaction {
  /** The signed transaction's bytes, lower-case hex without 0x. */
  readonly signedTxHex: string;
  /** Solana: the first signature, base58 (the transaction id); Bitcoin: the txid, display order hex. */
  readonly txId: string;
}

/**
 * Builds the signed Solana or Bitcoin transaction from one signature per
 * message, each checked under the wallet's key first (E_SIG_INVALID); EVM
 * transactions are assembled by the ECDSA path (they need a recovery id).
 */
export function assembleSigned(d: DecodedProposal, wallet: ProposalWallet, signatures: readonly Uint8Array[]): AssembledTransaction {
  if (signatures.length !== d.messages.length) throw new CustodianError('E_SIG_INVALID', `expected ${d.messages.length} signature(s), got ${signatures.length}`);
  if (d.chain === 'sol') {
    const sig = signatures[0]!;
    if (!verifySolanaSignature(sig, d.messageBytes, wallet.publicKey)) throw new CustodianError('E_SIG_INVALID', 'the signature does not verify under the wallet key');
    return { signedTxHex: bytesToHex(encodeSignedSolanaTransaction(d.messageBytes, [sig])), txId: base58Encode(sig) };
  }
  if (d.chain === 'btc') {
    return { signedTxHex: bytesToHex(finalizeTaprootKeyPath(d.psbt, d.outputKey, signatures)), txId: d.view.txid };
  }
  throw new CustodianError('E_SCHEME_MISMATCH', 'EVM transactions are assembled with their recovery id by the ECDSA path');
}

/** One payment a proposal makes, for summaries and policy: asset in base units. */
export interface ProposalTransfer {
  readonly to: string;
  readonly asset: string;
  readonly amount: bigint;
}

/** The transfers of a Solana or Bitcoin proposal (change back to the wallet excluded) and its most fee, in the chain's base unit. */
export function proposalTransfers(d: DecodedProposal): { transfers: ProposalTransfer[]; feeMax: bigint; other: string[] } {
  if (d.chain === 'sol') {
    const transfers: ProposalTransfer[] = [];
    const other: string[] = [];
    for (const e of d.view.effects) {
      if (e.kind === 'system-transfer') transfers.push({ to: e.to, asset: 'SOL', amount: e.lamports });
      else if (e.kind === 'token-transfer') transfers.push({ to: e.destination, asset: e.mint ?? `token-account:${e.source}`, amount: e.amount });
      else if (e.kind === 'ata-create') other.push(`creates the token account ${e.associatedAccount} of ${e.wallet} for mint ${e.mint} (rent paid by ${e.payer})`);
      else other.push(`${e.kind}`);
    }
    return { transfers, feeMax: d.view.baseFeeLamports + d.view.priorityFeeLamportsMax, other };
  }
  if (d.chain === 'btc') {
    const transfers = d.view.outputs.filter((o) => !o.toWallet).map((o) => ({ to: o.address ?? `script:${o.script}`, asset: 'BTC', amount: o.amountSat }));
    return { transfers, feeMax: d.view.feeSat, other: [] };
  }
  throw new CustodianError('E_SCHEME_MISMATCH', 'EVM proposals are summarised from their transaction fields');
}

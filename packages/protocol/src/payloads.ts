/**
 * The operator payloads of the custody path, each with its one decoder:
 * wallet creation, transaction proposal and approval.
 */
import { CustodianError } from '@custodian/core/errors';
import type { Json } from '@custodian/core/canonical-json';
import { Fields } from '@custodian/core/fields';
import { RAW_TX_BYTES_MAX } from '@custodian/core/limits';

export const WALLET_CREATE_TYPE = 'custodian.wallet-create.v1';
export const TX_PROPOSAL_TYPE = 'custodian.tx-proposal.v1';
export const APPROVAL_TYPE = 'custodian.approval.v1';

const ID_RE = /^[a-z0-9][a-z0-9._-]{0,63}$/;
const NONCE_RE = /^[0-9a-f]{32}$/;

/** Wallet schemes; threshold schemes slot in behind the same interface. */
export const WALLET_SCHEMES = ['single', 'ecdsa-dkls', 'frost-ed25519', 'frost-secp256k1-tr'] as const;
/** A wallet scheme. */
export type WalletScheme = (typeof WALLET_SCHEMES)[number];
/** The schemes whose key is generated among several signers (DKG in a threshold session). */
export type ThresholdScheme = Exclude<WalletScheme, 'single'>;
/** The FROST schemes (Schnorr threshold signatures: Solana ed25519, Bitcoin taproot). */
export const FROST_SCHEMES = ['frost-ed25519', 'frost-secp256k1-tr'] as const;
/** A FROST wallet scheme. */
export type FrostScheme = (typeof FROST_SCHEMES)[number];

/** Most signers one threshold wallet may name. */
export const WALLET_PARTIES_MAX = 16;

/** An admin's request to create a wallet with a key held by one designated signer. */
export interface SingleWalletCreatePayload {
  readonly type: typeof WALLET_CREATE_TYPE;
  readonly orgId: string;
  readonly walletId: string;
  readonly scheme: 'single';
  readonly signerId: string;
  readonly nonce: string;
  readonly createdAtMs: number;
}

/** An admin's request to create a t-of-n threshold wallet (ECDSA or FROST) across the named signers (party i + 1 is `parties[i]`). */
export interface ThresholdWalletCreatePayload {
  readonly type: typeof WALLET_CREATE_TYPE;
  readonly orgId: string;
  readonly walletId: string;
  readonly scheme: ThresholdScheme;
  readonly threshold: number;
  readonly parties: readonly string[];
  readonly nonce: string;
  readonly createdAtMs: number;
}

/** An admin's request to create a wallet. */
export type WalletCreatePayload = SingleWalletCreatePayload | ThresholdWalletCreatePayload;

/**
 * The chains a proposal's raw bytes can be for: `eth` an unsigned EIP-1559
 * transaction (RLP), `sol` a Solana message (legacy or v0, the bytes the
 * signature covers), `btc` a PSBT (BIP 174/371) spending taproot key paths.
 */
export const TX_CHAINS = ['eth', 'sol', 'btc'] as const;
/** A proposal's chain. */
export type TxChain = (typeof TX_CHAINS)[number];

/** The chain a wallet scheme signs for: ECDSA wallets EVM, frost-ed25519 Solana, frost-secp256k1-tr Bitcoin taproot. */
export function chainOfScheme(scheme: WalletScheme): TxChain {
  return scheme === 'frost-ed25519' ? 'sol' : scheme === 'frost-secp256k1-tr' ? 'btc' : 'eth';
}

/** An initiator's proposal of a raw unsigned transaction. */
export interface TxProposalPayload {
  readonly type: typeof TX_PROPOSAL_TYPE;
  readonly orgId: string;
  readonly walletId: string;
  readonly chain: TxChain;
  readonly rawTx: string;
  readonly nonce: string;
  readonly createdAtMs: number;
}

/** An approver's approval, bound to the exact digest and the enclave summary. */
export interface ApprovalPayload {
  readonly type: typeof APPROVAL_TYPE;
  readonly orgId: string;
  readonly requestId: string;
  readonly txDigest: string;
  readonly summaryHash: string;
  readonly expiresAtMs: number;
  readonly nonce: string;
}

function expectType(f: Fields, type: string): void {
  const t = f.str('type', 64);
  if (t !== type) throw new CustodianError('E_FIELD_INVALID', `expected a ${type} payload, got ${t}`);
}

/** Decodes a wallet-create payload. */
export function decodeWalletCreate(json: Json): WalletCreatePayload {
  const f = new Fields(json, 'walletCreate');
  expectType(f, WALLET_CREATE_TYPE);
  const scheme = f.str('scheme', 32);
  if (!(WALLET_SCHEMES as readonly string[]).includes(scheme)) throw new CustodianError('E_SCHEME_UNSUPPORTED', `wallet scheme ${scheme} is not supported`, { scheme });
  const orgId = f.str('orgId', 64, ID_RE);
  const walletId = f.str('walletId', 64, ID_RE);
  const nonce = f.str('nonce', 32, NONCE_RE);
  const createdAtMs = f.int('createdAtMs');
  if (scheme === 'single') {
    const p: SingleWalletCreatePayload = { type: WALLET_CREATE_TYPE, orgId, walletId, scheme, signerId: f.str('signerId', 64, ID_RE), nonce, createdAtMs };
    f.done();
    return p;
  }
  const parties = f.arr('parties', WALLET_PARTIES_MAX).map((x, i) => {
    if (typeof x !== 'string' || !ID_RE.test(x)) throw new CustodianError('E_FIELD_INVALID', `walletCreate.parties[${i}] must be a signer id`);
    return x;
  });
  if (parties.length < 2 || new Set(parties).size !== parties.length) throw new CustodianError('E_FIELD_INVALID', 'walletCreate.parties must name at least two distinct signers');
  const threshold = f.int('threshold', 2, parties.length);
  const p: ThresholdWalletCreatePayload = { type: WALLET_CREATE_TYPE, orgId, walletId, scheme: scheme as ThresholdScheme, threshold, parties, nonce, createdAtMs };
  f.done();
  return p;
}

/** Decodes a transaction proposal payload (the raw tx is decoded separately). */
export function decodeTxProposal(json: Json): TxProposalPayload {
  const f = new Fields(json, 'proposal');
  expectType(f, TX_PROPOSAL_TYPE);
  const chain = f.str('chain', 16);
  if (!(TX_CHAINS as readonly string[]).includes(chain)) throw new CustodianError('E_CHAIN_UNSUPPORTED', `chain ${chain} is not supported (${TX_CHAINS.join(', ')})`, { chain });
  const p: TxProposalPayload = {
    type: TX_PROPOSAL_TYPE,
    orgId: f.str('orgId', 64, ID_RE),
    walletId: f.str('walletId', 64, ID_RE),
    chain: chain as TxChain,
    rawTx: f.str('rawTx', RAW_TX_BYTES_MAX * 2 + 2, /^0x([0-9a-f]{2})+$/),
    nonce: f.str('nonce', 32, NONCE_RE),
    createdAtMs: f.int('createdAtMs'),
  };
  f.done();
  return p;
}

/** Decodes an approval payload. */
export function decodeApproval(json: Json): ApprovalPayload {
  const f = new Fields(json, 'approval');
  expectType(f, APPROVAL_TYPE);
  const p: ApprovalPayload = {
    type: APPROVAL_TYPE,
    orgId: f.str('orgId', 64, ID_RE),
    requestId: f.str('requestId', 64, /^[0-9a-f]{64}$/),
    txDigest: f.str('txDigest', 66, /^0x[0-9a-f]{64}$/),
    summaryHash: f.str('summaryHash', 64, /^[0-9a-f]{64}$/),
    expiresAtMs: f.int('expiresAtMs'),
    nonce: f.str('nonce', 32, NONCE_RE),
  };
  f.done();
  return p;
}

/** Type of an admin's request to refresh a threshold wallet's shares (same key, new shares). */
export const WALLET_REFRESH_TYPE = 'custodian.wallet-refresh.v1';

/** An admin's request to refresh the shares of a threshold wallet among all its parties. */
export interface WalletRefreshPayload {
  readonly type: typeof WALLET_REFRESH_TYPE;
  readonly orgId: string;
  readonly walletId: string;
  readonly nonce: string;
  readonly createdAtMs: number;
}

/** Decodes a wallet-refresh payload. */
export function decodeWalletRefresh(json: Json): WalletRefreshPayload {
  const f = new Fields(json, 'walletRefresh');
  expectType(f, WALLET_REFRESH_TYPE);
  const p: WalletRefreshPayload = { type: WALLET_REFRESH_TYPE, orgId: f.str('orgId', 64, ID_RE), walletId: f.str('walletId', 64, ID_RE), nonce: f.str('nonce', 32, NONCE_RE), createdAtMs: f.int('createdAtMs') };
  f.done();
  return p;
}

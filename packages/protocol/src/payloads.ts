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
export const WALLET_SCHEMES = ['single'] as const;
export type WalletScheme = (typeof WALLET_SCHEMES)[number];

/** An admin's request to create a wallet. */
export interface WalletCreatePayload {
  readonly type: typeof WALLET_CREATE_TYPE;
  readonly orgId: string;
  readonly walletId: string;
  readonly scheme: WalletScheme;
  readonly signerId: string;
  readonly nonce: string;
  readonly createdAtMs: number;
}

/** An initiator's proposal of a raw unsigned transaction. */
export interface TxProposalPayload {
  readonly type: typeof TX_PROPOSAL_TYPE;
  readonly orgId: string;
  readonly walletId: string;
  readonly chain: 'eth';
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
  const p: WalletCreatePayload = {
    type: WALLET_CREATE_TYPE,
    orgId: f.str('orgId', 64, ID_RE),
    walletId: f.str('walletId', 64, ID_RE),
    scheme: scheme as WalletScheme,
    signerId: f.str('signerId', 64, ID_RE),
    nonce: f.str('nonce', 32, NONCE_RE),
    createdAtMs: f.int('createdAtMs'),
  };
  f.done();
  return p;
}

/** Decodes a transaction proposal payload (the raw tx is decoded separately). */
export function decodeTxProposal(json: Json): TxProposalPayload {
  const f = new Fields(json, 'proposal');
  expectType(f, TX_PROPOSAL_TYPE);
  if (f.str('chain', 16) !== 'eth') throw new CustodianError('E_CHAIN_UNSUPPORTED', 'only chain "eth" is supported so far');
  const p: TxProposalPayload = {
    type: TX_PROPOSAL_TYPE,
    orgId: f.str('orgId', 64, ID_RE),
    walletId: f.str('walletId', 64, ID_RE),
    chain: 'eth',
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

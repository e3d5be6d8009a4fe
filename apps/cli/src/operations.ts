/**
 * Operator actions shared by the CLI commands and the demo: build, sign and
 * submit requests, and — for approvals — verify independently what is being
 * approved before signing it.
 */
import { randomBytes } from 'node:crypto';
import { CustodianError } from '@custodian/core/errors';
import type { Json } from '@custodian/core/canonical-json';
import { Fields } from '@custodian/core/fields';
import { bytesTo0x, bytesToHex, hexToBytes } from '@custodian/core/bytes';
import { APPROVAL_TTL_MAX_MS } from '@custodian/core/limits';
import { decodeUnsignedEip1559, eip1559SigningDigest, encodeUnsignedEip1559 } from '@custodian/chains/evm/eip1559';
import { addressFromPublicKey, parseAddress, toChecksumAddress } from '@custodian/chains/evm/address';
import type { OperatorKeyPair } from '@custodian/protocol/operator-key';
import { decodeSignedRequest, encodeSignedRequest, payloadHash, signRequest } from '@custodian/protocol/operator-request';
import { APPROVAL_TYPE, TX_PROPOSAL_TYPE, WALLET_CREATE_TYPE, WALLET_REFRESH_TYPE, WALLET_SCHEMES, chainOfScheme, decodeTxProposal, type ThresholdScheme, type TxChain, type TxProposalPayload } from '@custodian/protocol/payloads';
import { decodeProposal, proposalTransfers } from '@custodian/chains/proposal';
import { base58Encode } from '@custodian/chains/sol/base58';
import { taprootTweakPublicKey } from '@custodian/chains/btc/bip341';
import { BTC_HRP, encodeSegwitAddress, type BtcNetwork } from '@custodian/chains/btc/segwit-address';

/** The threshold wallet schemes (key generated in a threshold session). */
export const THRESHOLD_SCHEMES: readonly ThresholdScheme[] = WALLET_SCHEMES.filter((s): s is ThresholdScheme => s !== 'single');
import { decodeEnclaveSigned, statementHash, SUMMARY_KIND, verifyStatement } from '@custodian/protocol/enclave-signed';
import type { HostClient } from './host-client.js';
import { verifyOrg, verifyWallet, type VerifiedOrg, type VerifiedWallet } from './verify-org.js';

/** A fresh 16-byte request nonce (hex). */
export function newNonce(): string {
  return bytesToHex(new Uint8Array(randomBytes(16)));
}

/** Who acts: an operator id and its key. */
export interface Actor {
  readonly operatorId: string;
  readonly key: OperatorKeyPair;
}

/** What wallet to create: a key in one designated signer, or a t-of-n threshold key across the named signers. */
export type WalletSpec =
  | { readonly orgId: string; readonly walletId: string; readonly scheme: 'single'; readonly signerId: string }
  | { readonly orgId: string; readonly walletId: string; readonly scheme: ThresholdScheme; readonly threshold: number; readonly signers: readonly string[] };

/** Asks the designated signer (or, for a threshold wallet, every named signer) to create a wallet. */
export async function createWallet(client: HostClient, actor: Actor, o: WalletSpec): Promise<Json> {
  const common = { type: WALLET_CREATE_TYPE, orgId: o.orgId, walletId: o.walletId, nonce: newNonce(), createdAtMs: Date.now() };
  const payload = o.scheme === 'single' ? { ...common, scheme: o.scheme, signerId: o.signerId } : { ...common, scheme: o.scheme, threshold: o.threshold, parties: [...o.signers] };
  return client.post('/v1/wallets', { request: encodeSignedRequest(signRequest(payload, actor.operatorId, actor.key)) });
}

/** Signs and submits an admin's request to refresh a threshold wallet's shares (same key, new shares). */
export async function refreshWallet(client: HostClient, actor: Actor, o: { orgId: string; walletId: string }): Promise<Json> {
  const payload = { type: WALLET_REFRESH_TYPE, orgId: o.orgId, walletId: o.walletId, nonce: newNonce(), createdAtMs: Date.now() };
  return client.post(`/v1/wallets/${encodeURIComponent(o.walletId)}/refresh`, { request: encodeSignedRequest(signRequest(payload, actor.operatorId, actor.key)) });
}

/** A threshold wallet as every one of its signers attested it (FROST wallets add the key signatures verify under, and taproot its network). */
export interface VerifiedThresholdWallet extends VerifiedWallet {
  readonly threshold: number;
  readonly signers: readonly string[];
  readonly outputKey?: string;
  readonly network?: string;
}

/** Longest wallet address a statement may carry (P2TR bech32m on regtest is 64 characters). */
const ADDRESS_CHARS_MAX = 90;

/**
 * The address a threshold wallet's key gives, computed here independently of
 * the enclaves: EVM checksum address (ecdsa-dkls), Solana base58 of the
 * ed25519 group key, or the BIP341 (BIP86, key path only) P2TR address of the
 * taproot internal key; with the output key signatures verify under.
 */
function thresholdAddress(scheme: string, publicKey: Uint8Array, network: string | undefined): { address: string; outputKey: string | undefined } {
  if (scheme === 'ecdsa-dkls') return { address: toChecksumAddress(addressFromPublicKey(publicKey)), outputKey: undefined };
  if (scheme === 'frost-ed25519' && publicKey.length === 32) return { address: base58Encode(publicKey), outputKey: bytesToHex(publicKey) };
  if (scheme === 'frost-secp256k1-tr' && publicKey.length === 33 && network !== undefined && Object.hasOwn(BTC_HRP, network)) {
    const q = taprootTweakPublicKey(publicKey.slice(1));
    return { address: encodeSegwitAddress(network as BtcNetwork, 1, q), outputKey: bytesToHex(q) };
  }
  throw new CustodianError('E_WALLET_UNVERIFIED', `a ${scheme.slice(0, 32)} wallet with this key cannot be checked`);
}

/**
 * Checks a threshold wallet from the host: every party signed a statement
 * under its attested identity key (`org` must hold them all), naming this
 * organisation, the same key, threshold and parties; the address is the
 * key's; the host shows that address.
 */
export function verifyThresholdWallet(org: VerifiedOrg, row: Json): VerifiedThresholdWallet {
  const r = new Fields(row, 'wallet');
  const list = r.arr('statements', 16).map((x) => decodeEnclaveSigned(x, 'wallet.statements'));
  let first: VerifiedThresholdWallet | null = null;
  const seen: string[] = [];
  for (const st of list) {
    const f = new Fields(st.statement, 'walletStatement');
    const w = { walletId: f.str('walletId', 64), scheme: f.str('scheme', 32), signerId: f.str('signerId', 64), address: f.str('address', ADDRESS_CHARS_MAX), publicKey: f.str('publicKey', 66) };
    const outputKey = f.optRaw('outputKey') === undefined ? undefined : f.str('outputKey', 64);
    const network = f.optRaw('network') === undefined ? undefined : f.str('network', 16);
    const orgId = f.str('orgId', 64);
    f.str('manifestHash', 64);
    const threshold = f.int('threshold', 2, 16);
    const signers = f.arr('parties', 16).map(String);
    f.done();
    const key = org.identityKeys.get(w.signerId);
    if (!key || !verifyStatement('wallet.v1', st, key) || orgId !== org.manifest.orgId || !(THRESHOLD_SCHEMES as readonly string[]).includes(w.scheme)) {
      throw new CustodianError('E_WALLET_UNVERIFIED', `wallet ${w.walletId} is not attested by signer ${w.signerId} of ${org.manifest.orgId}`);
    }
    const v: VerifiedThresholdWallet = { ...w, signerId: signers.join(','), threshold, signers, ...(outputKey === undefined ? {} : { outputKey }), ...(network === undefined ? {} : { network }) };
    first ??= v;
    if (v.walletId !== first.walletId || v.scheme !== first.scheme || v.publicKey !== first.publicKey || v.address !== first.address || v.signerId !== first.signerId || v.threshold !== first.threshold || v.outputKey !== first.outputKey || v.network !== first.network) {
      throw new CustodianError('E_WALLET_UNVERIFIED', `the signers of wallet ${w.walletId} attest different keys or committees`);
    }
    seen.push(w.signerId);
  }
  if (!first || seen.length !== first.signers.length || !first.signers.every((id) => seen.includes(id))) throw new CustodianError('E_WALLET_UNVERIFIED', 'a threshold wallet needs the statement of every one of its signers');
  const expected = thresholdAddress(first.scheme, hexToBytes(first.publicKey), first.network);
  if (expected.address !== first.address || expected.outputKey !== first.outputKey) throw new CustodianError('E_WALLET_UNVERIFIED', 'the attested address is not the attested key\'s');
  const shown = row as Record<string, Json>;
  if (shown['address'] !== first.address || shown['walletId'] !== first.walletId) throw new CustodianError('E_WALLET_UNVERIFIED', `the host shows wallet ${first.walletId} with an address its signers did not attest`);
  return first;
}

/** The signer ids a wallet row from the host names (its parties for a threshold wallet). */
export function walletSignerIds(row: Json): string[] {
  return String(new Fields(row, 'wallet').optRaw('signerId') ?? '').split(',');
}

/** Verifies a wallet row of either scheme (`org` must hold the identity keys of its signers). */
export function verifyAnyWallet(org: VerifiedOrg, row: Json): VerifiedWallet {
  return (row as Record<string, Json>)['scheme'] === 'single' ? verifyWallet(org, row) : verifyThresholdWallet(org, row);
}

/** Builds an unsigned EIP-1559 transfer with chain hints from the host (the enclave checks the result). */
export async function buildTransfer(client: HostClient, from: string, to: string, valueWei: bigint, nonce?: bigint): Promise<string> {
  const h = new Fields(await client.get(`/v1/chain/hints?address=${from}`), 'hints');
  const tx = {
    chainId: BigInt(h.str('chainId', 32)),
    nonce: nonce ?? BigInt(h.str('nonce', 32)),
    maxPriorityFeePerGas: BigInt(h.str('maxPriorityFeePerGas', 80)),
    maxFeePerGas: BigInt(h.str('maxFeePerGas', 80)),
    gasLimit: 21_000n,
    to: parseAddress(to),
    value: valueWei,
    data: new Uint8Array(0),
    accessList: [],
  };
  return bytesTo0x(encodeUnsignedEip1559(tx));
}

/** Signs and submits a proposal of a raw unsigned transaction. */
export async function proposeTx(client: HostClient, actor: Actor, o: { orgId: string; walletId: string; rawTx: string; chain?: TxChain }): Promise<Json> {
  const payload = { type: TX_PROPOSAL_TYPE, orgId: o.orgId, walletId: o.walletId, chain: o.chain ?? 'eth', rawTx: o.rawTx.toLowerCase(), nonce: newNonce(), createdAtMs: Date.now() };
  return client.post('/v1/requests', { request: encodeSignedRequest(signRequest(payload, actor.operatorId, actor.key)) });
}

/** What the approver saw and checked before signing. */
export interface ApprovalCheck {
  readonly requestId: string;
  readonly text: string;
  readonly txDigest: string;
  readonly summaryHash: string;
}

/**
 * Verifies a request independently: the manifest quorum and the signer's
 * attestation, the enclave's signature on the summary, the initiator's
 * proposal, and that the summary's digest and fields match the raw
 * transaction this CLI decodes itself.
 */
export async function checkRequest(client: HostClient, requestId: string): Promise<ApprovalCheck & { orgId: string }> {
  const r = new Fields(await client.get(`/v1/requests/${requestId}`), 'request');
  const summary = decodeEnclaveSigned(r.raw('summary'), 'summary');
  const s = new Fields(summary.statement, 'summary');
  const signerId = s.str('signerId', 64);
  const proposal = decodeSignedRequest(r.raw('proposal'), 'proposal');
  if (payloadHash(proposal.payload) !== requestId) throw new CustodianError('E_REQUEST_MISMATCH', 'proposal does not hash to the request id');
  const p = decodeTxProposal(proposal.payload);
  // A Solana or Bitcoin wallet's parties are attested in the same pass as the summary's signer.
  const wallet = p.chain === 'eth' ? null : await walletRow(client, p.walletId);
  const org = await verifyOrg(client, wallet ? [...new Set([signerId, ...walletSignerIds(wallet)])] : [signerId]);
  if (!verifyStatement(SUMMARY_KIND, summary, org.identityKeys.get(signerId)!)) throw new CustodianError('E_SUMMARY_SIGNATURE', 'summary is not signed by the attested signer');
  if (wallet) return { ...checkOtherChain(org, wallet, p, s), requestId, orgId: org.manifest.orgId, summaryHash: statementHash(summary.statement) };
  const tx = decodeUnsignedEip1559(hexToBytes(p.rawTx));
  const digest = bytesTo0x(eip1559SigningDigest(tx));
  if (s.str('txDigest', 66) !== digest) throw new CustodianError('E_APPROVAL_DIGEST_MISMATCH', 'summary digest differs from the proposed transaction', { summary: s.str('txDigest', 66), actual: digest });
  if (s.str('valueWei', 80) !== tx.value.toString() || s.raw('to') !== (tx.to ? toChecksumAddress(tx.to) : null)) throw new CustodianError('E_SUMMARY_MISMATCH', 'summary does not describe the proposed transaction');
  return { requestId, orgId: org.manifest.orgId, text: s.str('text', 4000), txDigest: digest, summaryHash: statementHash(summary.statement) };
}

/** The host's row of wallet `walletId`. */
export async function walletRow(client: HostClient, walletId: string): Promise<Json> {
  const row = ((await client.get('/v1/wallets')) as Json[]).find((w) => (w as Record<string, Json>)['walletId'] === walletId);
  if (!row) throw new CustodianError('E_WALLET_UNKNOWN', `wallet ${walletId} does not exist`);
  return row;
}

/**
 * A Solana or Bitcoin proposal checked by the approver: the wallet's keys from
 * its signers' attested statements, the raw bytes decoded here with the same
 * decoder the enclave uses, and the summary's digest and transfers compared
 * with what the bytes say.
 */
function checkOtherChain(org: VerifiedOrg, row: Json, p: TxProposalPayload, s: Fields): { text: string; txDigest: string } {
  const w = verifyThresholdWallet(org, row);
  if (chainOfScheme(w.scheme as ThresholdScheme) !== p.chain) throw new CustodianError('E_SCHEME_MISMATCH', `wallet ${w.walletId} is a ${w.scheme} wallet; it does not sign ${p.chain} transactions`);
  const decoded = decodeProposal(p.chain, hexToBytes(p.rawTx), { publicKey: hexToBytes(w.publicKey), ...(w.outputKey ? { outputKey: hexToBytes(w.outputKey) } : {}), ...(w.network ? { network: w.network as BtcNetwork } : {}) });
  const digest = bytesTo0x(decoded.digest);
  if (s.str('txDigest', 66) !== digest) throw new CustodianError('E_APPROVAL_DIGEST_MISMATCH', 'summary digest differs from the proposed transaction', { summary: s.str('txDigest', 66), actual: digest });
  const mine = proposalTransfers(decoded).transfers;
  const shown = s.arr('transfers', 256).map((t) => {
    const g = new Fields(t, 'summary.transfers');
    return { to: g.str('to', 256), asset: g.str('asset', 256), amount: g.str('amount', 80) };
  });
  const same = shown.length === mine.length && shown.every((t, i) => t.to === mine[i]!.to && t.asset === mine[i]!.asset && t.amount === mine[i]!.amount.toString());
  if (!same || s.str('chain', 8) !== p.chain) throw new CustodianError('E_SUMMARY_MISMATCH', 'summary does not describe the proposed transaction');
  return { text: s.str('text', 4000), txDigest: digest };
}

/** Signs an approval over the checked digest and summary, and submits it. */
export async function approveRequest(client: HostClient, actor: Actor, requestId: string, ttlMs = 60 * 60 * 1000): Promise<{ check: ApprovalCheck; result: Json }> {
  if (ttlMs <= 0 || ttlMs > APPROVAL_TTL_MAX_MS) throw new CustodianError('E_USAGE', `approval validity must be between 1 ms and ${APPROVAL_TTL_MAX_MS} ms`);
  const check = await checkRequest(client, requestId);
  const payload = { type: APPROVAL_TYPE, orgId: check.orgId, requestId, txDigest: check.txDigest, summaryHash: check.summaryHash, expiresAtMs: Date.now() + ttlMs, nonce: newNonce() };
  const result = await client.post(`/v1/requests/${requestId}/approvals`, { approval: encodeSignedRequest(signRequest(payload, actor.operatorId, actor.key)) });
  return { check, result };
}

/** Polls a request until its status is one of `statuses`. */
export async function waitForStatus(client: HostClient, requestId: string, statuses: readonly string[], timeoutMs = 60_000): Promise<Record<string, Json>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = (await client.get(`/v1/requests/${requestId}`)) as Record<string, Json>;
    if (statuses.includes(String(r['status']))) return r;
    if (Date.now() > deadline) throw new CustodianError('E_TIMEOUT', `request ${requestId} is still ${String(r['status'])} after ${timeoutMs} ms`);
    await new Promise((res) => setTimeout(res, 200));
  }
}

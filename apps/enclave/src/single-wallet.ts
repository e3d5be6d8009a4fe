/**
 * Single-key wallets: created by this signer alone (`wallet.create`) and
 * signing EIP-1559 transactions by themselves (`tx.sign`). Threshold wallets
 * are made and sign in threshold sessions (mpc-ops.ts).
 */
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { CustodianError } from '@custodian/core/errors';
import type { Json } from '@custodian/core/canonical-json';
import { Fields } from '@custodian/core/fields';
import { bytesTo0x, bytesToHex } from '@custodian/core/bytes';
import { Secret } from '@custodian/core/secret';
import { encodeSignedEip1559, txHash } from '@custodian/chains/evm/eip1559';
import { addressFromPublicKey, toChecksumAddress } from '@custodian/chains/evm/address';
import { manifestHash } from '@custodian/protocol/manifest';
import { authenticateRequest, decodeSignedRequest } from '@custodian/protocol/operator-request';
import { decodeWalletCreate } from '@custodian/protocol/payloads';
import { encodeEnclaveSigned, signStatement } from '@custodian/protocol/enclave-signed';
import type { RpcPeer } from '@custodian/protocol/frame-rpc';
import type { EnclaveContext } from './enclave-context.js';
import { APPROVALS_PER_REQUEST_MAX, SIGN_RESERVATION_TTL_MS } from './enclave-limits.js';
import type { SignedRecord, WalletRecord } from './state.js';
import { checkProposal, evmTx, type CheckedProposal } from './proposal.js';
import { consume, countApprovals, releaseReservation } from './approvals.js';
import { answerSigned, release } from './release.js';
import { checkNotFrozen } from './freeze.js';

/** `wallet.create`: a single-key (secp256k1) wallet designated to this signer by an admin; answers the wallet statement it signs. */
export async function createWallet(ctx: EnclaveContext, body: Json, peer: RpcPeer): Promise<Json> {
  const m = ctx.manifest();
  const req = decodeSignedRequest(new Fields(body, 'wallet.create').raw('request'));
  const s = ctx.state();
  let payload;
  try {
    const op = authenticateRequest(req, m, 'admin');
    payload = decodeWalletCreate(req.payload);
    if (payload.orgId !== m.orgId) throw new CustodianError('E_ORG_MISMATCH', 'request is for another organisation');
    checkNotFrozen(ctx, null);
    if (payload.scheme !== 'single') throw new CustodianError('E_SCHEME_MISMATCH', `a ${payload.scheme} wallet is created by a threshold session (mpc.open), not wallet.create`);
    if (payload.signerId !== ctx.signerId) throw new CustodianError('E_WRONG_SIGNER', `wallet is designated to ${payload.signerId}, not ${ctx.signerId}`);
    if (s.wallets.has(payload.walletId)) throw new CustodianError('E_WALLET_EXISTS', `wallet ${payload.walletId} already exists`);
    void op;
  } catch (e) {
    return ctx.refuse(peer, 'wallet.rejected', null, e, { operatorId: req.operatorId });
  }
  const sk = secp256k1.utils.randomSecretKey();
  const publicKey = secp256k1.getPublicKey(sk, true);
  const address = toChecksumAddress(addressFromPublicKey(publicKey));
  const record: WalletRecord = { walletId: payload.walletId, scheme: 'single', secretKey: new Secret(sk), publicKey, address };
  s.wallets.set(record.walletId, record);
  const statement = { walletId: record.walletId, scheme: record.scheme, signerId: ctx.signerId, publicKey: bytesToHex(publicKey), address, orgId: m.orgId, manifestHash: manifestHash(s.signedManifest!.payload) };
  await ctx.audit(peer, 'wallet.created', null, { ...statement, requestedBy: req.operatorId });
  await ctx.persist();
  return encodeEnclaveSigned(signStatement('wallet.v1', statement, s.identitySecret.expose()));
}

/** `tx.sign` on a single-key wallet: proposal and approvals re-verified, signed, sealed write-ahead, audited, released. */
export async function sign(ctx: EnclaveContext, body: Json, peer: RpcPeer): Promise<Json> {
  const m = ctx.manifest();
  const f = new Fields(body, 'tx.sign');
  const proposal = decodeSignedRequest(f.raw('proposal'), 'proposal');
  const approvals = f.arr('approvals', APPROVALS_PER_REQUEST_MAX).map((x) => decodeSignedRequest(x, 'approval'));
  f.done();
  let p: CheckedProposal;
  try {
    p = checkProposal(ctx, proposal, m);
  } catch (e) {
    return ctx.refuse(peer, 'sign.refused', null, e, { operatorId: proposal.operatorId });
  }
  const done = ctx.state().signed.get(p.requestId);
  if (done) return answerSigned(ctx, peer, p, done);
  if (p.wallet.scheme !== 'single') {
    return ctx.refuse(peer, 'sign.refused', p.requestId, new CustodianError('E_SCHEME_MISMATCH', `wallet ${p.wallet.walletId} is a ${p.wallet.scheme} wallet: it signs in a threshold session (mpc.open)`));
  }
  const tally = await countApprovals(ctx, peer, p, m, approvals, false, SIGN_RESERVATION_TTL_MS);
  const s = ctx.state();
  let record: SignedRecord;
  try {
    const wallet = p.wallet;
    const sig = secp256k1.Signature.fromBytes(secp256k1.sign(p.digest, wallet.secretKey.expose(), { prehash: false, lowS: true, format: 'recovered' }), 'recovered');
    if (!secp256k1.verify(sig.toBytes('compact'), p.digest, wallet.publicKey, { prehash: false, lowS: true })) {
      throw new CustodianError('E_SIGNATURE_INVALID_TERMINAL', 'produced signature does not verify; nothing released');
    }
    const signedTx = encodeSignedEip1559(evmTx(p), { r: sig.r, s: sig.s, yParity: sig.recovery as 0 | 1 });
    record = { signedTx: bytesTo0x(signedTx), txHash: bytesTo0x(txHash(signedTx)), audited: false, atMs: ctx.nowMs(), approvals: [...tally.refs] };
    // The spend is committed before the signed record is sealed (an expired reservation refuses here).
    if (tally.reserved) ctx.cedar()!.commit(p.requestId, ctx.nowMs());
  } catch (e) {
    if (tally.reserved) releaseReservation(ctx, p.requestId);
    return ctx.refuse(peer, 'sign.refused', p.requestId, e);
  }
  consume(ctx, tally);
  // Write-ahead: nonces consumed, the spend committed and the signature sealed (unreleased) before anything leaves.
  s.signed.set(p.requestId, record);
  await ctx.persist();
  return release(ctx, peer, p, record, false, tally.reserved);
}

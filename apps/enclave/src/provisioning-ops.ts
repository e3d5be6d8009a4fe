/**
 * Quorum provisioning in the manner of QuorumOS (issue 7 item 4): an
 * organisation secret (e.g. the share-backup key) split k-of-n among quorum
 * members reaches this enclave only as shares each member encrypted to the
 * enclave's attested key, and is reconstructed only once k valid shares
 * arrived.
 *
 * - `provision.announce` {shareManifest, approvals, challenge}: the split
 *   must be approved by the installed organisation manifest's root quorum
 *   (threshold signatures of `custodian.provision-approval.v1` over the org
 *   and the share-manifest hash) — else a host could provision a secret of
 *   its own making first. Opens (or reuses) a collection for that split with
 *   a fresh X25519 key, and answers evidence
 *   whose report data binds this enclave's identity key, that key, the share
 *   manifest's hash (the library's provisioning nonce) and the member's fresh
 *   challenge. The member checks measurement and binding on its side.
 * - `provision.share` {shareManifestHash, memberId, enc, ciphertext}: one
 *   member's posting, checked by the library's ShareCollector against the
 *   manifest's commitments; at the threshold the secret is reconstructed,
 *   checked against the secret commitment, sealed in state
 *   (`state.provisioned`) and never leaves.
 *
 * Collection in progress lives in memory only: a restart drops it (and its
 * key), so members announce and post again. Every refusal is audited naming
 * the split and the member.
 */
import { CustodianError, isCustodianError } from '@custodian/core/errors';
import type { Json } from '@custodian/core/canonical-json';
import { Fields } from '@custodian/core/fields';
import { bytesToHex, concatBytes } from '@custodian/core/bytes';
import { generateHpkeKeyPair, X25519_PUBLIC_KEY_BYTES } from '@custodian/core/hpke-seal';
import type { Secret } from '@custodian/core/secret';
import { reportDataBinding } from '@custodian/attestation/binding';
import { verifyPayload } from '@custodian/protocol/operator-key';
import type { Manifest } from '@custodian/protocol/manifest';
import { decodeShareManifest, manifestHash, SHAMIR_MEMBER_ID_RE, SHAMIR_SECRET_BYTES_MAX, type ShareManifest } from '@custodian/tss/shamir/share-manifest';
import { ShareCollector } from '@custodian/tss/shamir/share-collector';
import type { RpcPeer } from '@custodian/protocol/frame-rpc';
import type { EnclaveContext } from './enclave-context.js';

/**
 * Purpose of the provisioning report-data binding. The member's CLI
 * (apps/cli/src/commands/provision.ts) computes the same binding; it may not
 * import the enclave, so the constant is repeated there.
 */
export const PROVISIONING_PURPOSE = 'custodian/quorum-provisioning/v1';
/** Most splits collected at once (a host can only open collections, never read them). */
export const PROVISION_COLLECTIONS_MAX = 4;
/** A collection older than this is dropped (its shares zeroised). */
export const PROVISION_COLLECTION_TTL_MS = 60 * 60 * 1000;
/** Payload type root-quorum members sign to approve a split: `{ orgId, shareManifestHash }`. */
export const PROVISION_APPROVAL_TYPE = 'custodian.provision-approval.v1';
/** Most approvals one announcement carries. */
const PROVISION_APPROVALS_MAX = 64;
/** Largest posting ciphertext: a share (secret + index byte) plus the AEAD tag. */
const POSTING_CIPHERTEXT_MAX = SHAMIR_SECRET_BYTES_MAX + 1 + 16;

/**
 * The 64-byte report data of an announcement:
 * reportDataBinding(manifestHash ‖ challenge, identityKey ‖ enclaveKey, PROVISIONING_PURPOSE)
 * (every part has a fixed length, so the concatenations are injective).
 */
export function provisioningReportData(identityKey: Uint8Array, enclaveKey: Uint8Array, shareManifestHash: Uint8Array, challenge: Uint8Array): Uint8Array {
  return reportDataBinding(concatBytes(shareManifestHash, challenge), concatBytes(identityKey, enclaveKey), PROVISIONING_PURPOSE);
}

/** One split being collected. */
interface Collection {
  readonly manifest: ShareManifest;
  readonly hashHex: string;
  readonly publicKey: Uint8Array;
  readonly privateKey: Secret<Uint8Array>;
  readonly collector: ShareCollector;
  /** Members whose shares were accepted, in order. */
  readonly members: string[];
  readonly openedAtMs: number;
}

/** The collections in progress (memory only). */
export class ProvisioningSessions {
  readonly #byHash = new Map<string, Collection>();

  /** The collection of this split, opened with a fresh key if there is none. */
  async open(manifest: ShareManifest, hashHex: string, nowMs: number): Promise<{ collection: Collection; opened: boolean }> {
    this.#expire(nowMs);
    const existing = this.#byHash.get(hashHex);
    if (existing) return { collection: existing, opened: false };
    while (this.#byHash.size >= PROVISION_COLLECTIONS_MAX) this.close(this.#byHash.keys().next().value!);
    const kp = await generateHpkeKeyPair();
    const collection: Collection = { manifest, hashHex, publicKey: kp.publicKey, privateKey: kp.privateKey, collector: new ShareCollector(manifest, kp.publicKey, kp.privateKey), members: [], openedAtMs: nowMs };
    this.#byHash.set(hashHex, collection);
    return { collection, opened: true };
  }

  /** The collection of a split, if one is open. */
  get(hashHex: string, nowMs: number): Collection | undefined {
    this.#expire(nowMs);
    return this.#byHash.get(hashHex);
  }

  /** Drops a collection, zeroising its shares and key. */
  close(hashHex: string): void {
    const c = this.#byHash.get(hashHex);
    if (!c) return;
    c.collector.zeroise();
    c.privateKey.zeroise();
    this.#byHash.delete(hashHex);
  }

  /** How many collections are open (tests). */
  get size(): number {
    return this.#byHash.size;
  }

  #expire(nowMs: number): void {
    for (const [h, c] of [...this.#byHash]) if (nowMs - c.openedAtMs > PROVISION_COLLECTION_TTL_MS || nowMs < c.openedAtMs - PROVISION_COLLECTION_TTL_MS) this.close(h);
  }
}

/** Refuses when this signer already holds a provisioned secret (replacing it is not a provisioning step). */
function assertNotProvisioned(ctx: EnclaveContext, hashHex: string): void {
  const p = ctx.state().provisioned;
  if (!p) return;
  const same = p.shareManifestHash === hashHex;
  throw new CustodianError(
    'E_PROVISION_COMPLETE',
    same ? 'this signer already holds the secret of this split' : `this signer already holds a provisioned secret (split ${p.shareManifestHash.slice(0, 16)}…); it is not replaced`,
    { shareManifestHash: p.shareManifestHash },
  );
}

/** The quorum members whose approvals of this split verify; E_PROVISION_UNAPPROVED below the quorum threshold. */
export function checkProvisionApprovals(m: Manifest, shareManifestHash: string, approvals: readonly { operatorId: string; signature: Uint8Array }[]): string[] {
  const payload = { orgId: m.orgId, shareManifestHash };
  const valid: string[] = [];
  for (const a of approvals) {
    if (!m.quorum.members.includes(a.operatorId) || valid.includes(a.operatorId)) continue;
    const op = m.operators.find((o) => o.id === a.operatorId);
    if (op && verifyPayload(op.publicKey, PROVISION_APPROVAL_TYPE, payload, a.signature)) valid.push(a.operatorId);
  }
  if (valid.length < m.quorum.threshold) {
    throw new CustodianError('E_PROVISION_UNAPPROVED', `the split carries ${valid.length} valid root-quorum approval(s); ${m.quorum.threshold} are required`, { valid, required: m.quorum.threshold });
  }
  return valid.sort();
}

/** `provision.announce`: evidence binding the identity key, the collection's fresh key, the split and the member's challenge. */
export async function provisionAnnounce(ctx: EnclaveContext, sessions: ProvisioningSessions, body: Json, peer: RpcPeer): Promise<Json> {
  const f = new Fields(body, 'provision.announce');
  const manifest = decodeShareManifest(f.raw('shareManifest'));
  const approvals = f.arr('approvals', PROVISION_APPROVALS_MAX).map((a, i) => {
    const g = new Fields(a, `provision.announce.approvals[${i}]`);
    const approval = { operatorId: g.str('operatorId', 64), signature: g.hex('signature', 64) };
    g.done();
    return approval;
  });
  const challenge = f.hex('challenge', 32);
  f.done();
  const mh = manifestHash(manifest);
  const hashHex = bytesToHex(mh);
  let approvedBy: string[];
  try {
    assertNotProvisioned(ctx, hashHex);
    approvedBy = checkProvisionApprovals(ctx.manifest(), hashHex, approvals);
  } catch (e) {
    return ctx.refuse(peer, 'provision.refused', null, e, { shareManifestHash: hashHex });
  }
  const { collection, opened } = await sessions.open(manifest, hashHex, ctx.nowMs());
  const identityKey = ctx.identityKey();
  const evidence = await ctx.attest(provisioningReportData(identityKey, collection.publicKey, mh, challenge));
  if (opened) {
    await ctx.audit(peer, 'provision.started', null, { shareManifestHash: hashHex, setId: manifest.setId, threshold: manifest.threshold, members: manifest.shares.map((s) => s.memberId), approvedBy, enclaveKey: bytesToHex(collection.publicKey) });
    await ctx.persist();
  }
  const st = collection.collector.status();
  return {
    signerId: ctx.signerId,
    identityKey: bytesToHex(identityKey),
    enclaveKey: bytesToHex(collection.publicKey),
    shareManifestHash: hashHex,
    challenge: bytesToHex(challenge),
    evidence: bytesToHex(evidence),
    accepted: st.accepted,
    threshold: st.threshold,
  };
}

/** `provision.share`: one member's posting; reconstructs and seals at the threshold. */
export async function provisionShare(ctx: EnclaveContext, sessions: ProvisioningSessions, body: Json, peer: RpcPeer): Promise<Json> {
  const f = new Fields(body, 'provision.share');
  const hashHex = bytesToHex(f.hex('shareManifestHash', 32));
  const memberId = f.str('memberId', 64, SHAMIR_MEMBER_ID_RE);
  const enc = f.hex('enc', X25519_PUBLIC_KEY_BYTES);
  const ciphertext = f.hex('ciphertext', undefined, POSTING_CIPHERTEXT_MAX);
  f.done();
  const refused = { shareManifestHash: hashHex, memberId };
  let collection: Collection;
  let complete: boolean;
  try {
    assertNotProvisioned(ctx, hashHex);
    const c = sessions.get(hashHex, ctx.nowMs());
    if (!c) throw new CustodianError('E_PROVISION_NOT_STARTED', 'no collection is open for this split on this signer (never announced, expired, or the signer restarted): announce and post again', { shareManifestHash: hashHex });
    collection = c;
    complete = (await c.collector.accept({ memberId, enc, ciphertext })).complete;
  } catch (e) {
    return ctx.refuse(peer, 'provision.share_refused', null, e, refused);
  }
  collection.members.push(memberId);
  const threshold = collection.manifest.threshold;
  await ctx.audit(peer, 'provision.share_accepted', null, { shareManifestHash: hashHex, memberId, accepted: collection.members.length, threshold });
  if (!complete) {
    await ctx.persist();
    return { shareManifestHash: hashHex, accepted: collection.members.length, threshold, complete: false };
  }
  let secret: Secret<Uint8Array>;
  try {
    secret = await collection.collector.reconstruct();
  } catch (e) {
    // The shares matched their commitments but not the secret commitment: a dealer's fault. Start over.
    sessions.close(hashHex);
    if (!isCustodianError(e)) throw e;
    return ctx.refuse(peer, 'provision.refused', null, e, { shareManifestHash: hashHex, members: [...collection.members] });
  }
  const members = collection.members.slice(0, threshold);
  sessions.close(hashHex);
  const s = ctx.state();
  s.provisioned = { shareManifestHash: hashHex, setId: collection.manifest.setId, secret, members, atMs: ctx.nowMs() };
  try {
    await ctx.audit(peer, 'provision.completed', null, { shareManifestHash: hashHex, setId: collection.manifest.setId, threshold, members, secretCommitment: collection.manifest.secretCommitment });
  } catch (e) {
    // Not audited, not kept: members post again.
    s.provisioned = null;
    secret.zeroise();
    throw e;
  }
  await ctx.persist();
  return { shareManifestHash: hashHex, accepted: members.length, threshold, complete: true, members };
}

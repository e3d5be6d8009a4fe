/**
 * Quorum provisioning from the CLI (issue 7 item 4, QuorumOS style):
 *
 *   custodian provision keygen --out FILE
 *     a member's X25519 key: FILE (secret, mode 0600) and FILE.pub.
 *   custodian provision split --secret-file F --threshold k --member id=PUBKEYFILE ... --out DIR
 *     the dealer step: F holds the secret in hex; DIR gets share-manifest.json
 *     (public) and share-<id>.json per member (encrypted to that member only).
 *   custodian provision approve --share-manifest FILE --org ORG --operator ID --key OPKEY --approvals FILE
 *     a root-quorum member approves the split (the signer opens a collection
 *     only for a split with the quorum's threshold of approvals; else a host
 *     could provision a secret of its own making first); appends to FILE.
 *   custodian provision post --signer ID --share-manifest FILE --approvals FILE --share FILE --key MEMBERKEY --measurement HEX
 *     the member step: checks the organisation manifest (root quorum, optional
 *     CUSTODIAN_MANIFEST_HASH pin) and the signer's attested identity; asks the
 *     signer to announce itself for this split with a fresh challenge; verifies
 *     the evidence against the manifest's sim root, the expected measurement
 *     and the binding of identity key, enclave key, split and challenge; only
 *     then opens its share, checks it against its commitment and posts it
 *     encrypted to the enclave's attested key. The host relays ciphertext.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync, mkdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { x25519 } from '@noble/curves/ed25519.js';
import { CustodianError } from '@custodian/core/errors';
import { parseJson, type Json } from '@custodian/core/canonical-json';
import { Fields } from '@custodian/core/fields';
import { bytesToHex, concatBytes, equalBytes, hexToBytes } from '@custodian/core/bytes';
import { Secret } from '@custodian/core/secret';
import { generateHpkeKeyPair, X25519_PUBLIC_KEY_BYTES } from '@custodian/core/hpke-seal';
import { reportDataBinding } from '@custodian/attestation/binding';
import { signPayload } from '@custodian/protocol/operator-key';
import { readKeyFile } from '../key-file.js';
import { verifySimEvidence } from '@custodian/attestation/sim/sim-evidence';
import { splitToMembers, type EncryptedShare } from '@custodian/tss/shamir/split';
import { postShareToEnclave, type EnclaveAppraiseFn } from '@custodian/tss/shamir/member';
import { decodeShareManifest, encodeShareManifest, entryOf, manifestHash, SHAMIR_MEMBER_ID_RE, SHAMIR_MEMBERS_MAX, SHAMIR_SECRET_BYTES_MAX, type ShareManifest } from '@custodian/tss/shamir/share-manifest';
import { DEFAULT_HOST_URL, HostClient } from '../host-client.js';
import { verifyOrg } from '../verify-org.js';
import { emit, emitError, parseArgs, UsageError } from '../output.js';

const USAGE = `usage:
  custodian provision keygen --out FILE
  custodian provision split --secret-file F --threshold k --member id=PUBKEYFILE ... --out DIR
  custodian provision approve --share-manifest FILE --org ORG --operator ID --key OPKEY --approvals FILE
  custodian provision post --signer ID --share-manifest FILE --approvals FILE --share FILE --key MEMBERKEY --measurement HEX [--host URL]`;

/** Member key files. */
export const MEMBER_KEY_TYPE = 'custodian.member-key.v1';
/** Member public key files. */
export const MEMBER_PUBLIC_KEY_TYPE = 'custodian.member-public-key.v1';
/** Approval files. */
export const APPROVALS_FILE_TYPE = 'custodian.provision-approvals.v1';
/** Must equal PROVISION_APPROVAL_TYPE in apps/enclave/src/provisioning-ops.ts. */
const PROVISION_APPROVAL_TYPE = 'custodian.provision-approval.v1';
/** Encrypted share files. */
export const ENCRYPTED_SHARE_TYPE = 'custodian.encrypted-share.v1';
/**
 * Must equal PROVISIONING_PURPOSE in apps/enclave/src/provisioning-ops.ts
 * (the CLI may not import the enclave); the integration test proves they agree.
 */
const PROVISIONING_PURPOSE = 'custodian/quorum-provisioning/v1';
/** Largest file this command reads (a 255-member manifest is about 60 KiB). */
const FILE_BYTES_MAX = 256 * 1024;

/** The report data the signer's announcement must carry (see provisioning-ops.ts). */
export function provisioningReportData(identityKey: Uint8Array, enclaveKey: Uint8Array, shareManifestHash: Uint8Array, challenge: Uint8Array): Uint8Array {
  return reportDataBinding(concatBytes(shareManifestHash, challenge), concatBytes(identityKey, enclaveKey), PROVISIONING_PURPOSE);
}

function readBounded(path: string, what: string): Uint8Array {
  let b: Buffer;
  try {
    b = readFileSync(path);
  } catch (e) {
    throw new CustodianError('E_IO', `cannot read ${what} ${path}: ${(e as Error).message}`);
  }
  if (b.length > FILE_BYTES_MAX) throw new CustodianError('E_IO', `${what} ${path} is larger than ${FILE_BYTES_MAX} bytes`);
  return new Uint8Array(b);
}

function readJsonFile(path: string, what: string): Json {
  return parseJson(readBounded(path, what), FILE_BYTES_MAX);
}

/** Writes a file that must not exist yet. */
function writeNew(path: string, text: string, mode = 0o644): void {
  if (existsSync(path)) throw new CustodianError('E_IO', `${path} already exists; refusing to overwrite it`);
  writeFileSync(path, text, { mode, flag: 'wx' });
}

/** Reads a member key file and checks that its public key matches its secret. */
export function readMemberKey(path: string): { publicKey: Uint8Array; privateKey: Secret<Uint8Array> } {
  const f = new Fields(readJsonFile(path, 'member key file'), 'memberKey');
  if (f.str('type', 64) !== MEMBER_KEY_TYPE) throw new CustodianError('E_KEY_INVALID', `${path} is not a Custodian member key file`);
  const secret = f.hex('secretKey', 32);
  const publicKey = f.hex('publicKey', X25519_PUBLIC_KEY_BYTES);
  f.done();
  if (!equalBytes(x25519.getPublicKey(secret), publicKey)) throw new CustodianError('E_KEY_INVALID', `${path}: public key does not match the secret key`);
  return { publicKey, privateKey: new Secret(secret) };
}

/** Reads a member public key file (or a member key file, using only its public part). */
export function readMemberPublicKey(path: string): Uint8Array {
  const f = new Fields(readJsonFile(path, 'member public key file'), 'memberPublicKey');
  const type = f.str('type', 64);
  if (type === MEMBER_KEY_TYPE) return readMemberKey(path).publicKey;
  if (type !== MEMBER_PUBLIC_KEY_TYPE) throw new CustodianError('E_KEY_INVALID', `${path} is not a Custodian member public key file`);
  const publicKey = f.hex('publicKey', X25519_PUBLIC_KEY_BYTES);
  f.done();
  return publicKey;
}

function encodeEncryptedShare(s: EncryptedShare): Json {
  return { type: ENCRYPTED_SHARE_TYPE, memberId: s.memberId, enc: bytesToHex(s.enc), ciphertext: bytesToHex(s.ciphertext) };
}

/** Reads an encrypted share file. */
export function readEncryptedShare(path: string): EncryptedShare {
  const f = new Fields(readJsonFile(path, 'share file'), 'share');
  if (f.str('type', 64) !== ENCRYPTED_SHARE_TYPE) throw new CustodianError('E_SHAMIR_SHARE_UNREADABLE', `${path} is not a Custodian encrypted share file`);
  const s = { memberId: f.str('memberId', 64, SHAMIR_MEMBER_ID_RE), enc: f.hex('enc', X25519_PUBLIC_KEY_BYTES), ciphertext: f.hex('ciphertext', undefined, SHAMIR_SECRET_BYTES_MAX + 1 + 16) };
  f.done();
  return s;
}

/** Reads a share manifest file. */
export function readShareManifest(path: string): ShareManifest {
  return decodeShareManifest(readJsonFile(path, 'share manifest'));
}

interface Approvals {
  readonly orgId: string;
  readonly shareManifestHash: string;
  readonly approvals: { operatorId: string; signature: string }[];
}

/** Reads an approvals file. */
export function readApprovals(path: string): Approvals {
  const f = new Fields(readJsonFile(path, 'approvals file'), 'approvals');
  if (f.str('type', 64) !== APPROVALS_FILE_TYPE) throw new CustodianError('E_PROVISION_UNAPPROVED', `${path} is not a Custodian provisioning approvals file`);
  const a: Approvals = {
    orgId: f.str('orgId', 64),
    shareManifestHash: f.str('shareManifestHash', 64, /^[0-9a-f]{64}$/),
    approvals: f.arr('approvals', 64).map((x, i) => {
      const g = new Fields(x, `approvals[${i}]`);
      const r = { operatorId: g.str('operatorId', 64), signature: bytesToHex(g.hex('signature', 64)) };
      g.done();
      return r;
    }),
  };
  f.done();
  return a;
}

/** A root-quorum member's approval of a split, added to (or started in) the approvals file. */
function approve(o: { manifestFile: string; orgId: string; operatorId: string; keyFile: string; approvalsFile: string }): Json {
  const shareManifestHash = bytesToHex(manifestHash(readShareManifest(o.manifestFile)));
  const prior: Approvals = existsSync(o.approvalsFile) ? readApprovals(o.approvalsFile) : { orgId: o.orgId, shareManifestHash, approvals: [] };
  if (prior.orgId !== o.orgId || prior.shareManifestHash !== shareManifestHash) throw new CustodianError('E_PROVISION_UNAPPROVED', `${o.approvalsFile} approves another split or organisation`);
  const key = readKeyFile(o.keyFile);
  const signature = bytesToHex(signPayload(key, PROVISION_APPROVAL_TYPE, { orgId: o.orgId, shareManifestHash }));
  key.secretKey.zeroise();
  const approvals = [...prior.approvals.filter((a) => a.operatorId !== o.operatorId), { operatorId: o.operatorId, signature }];
  const out: Json = { type: APPROVALS_FILE_TYPE, orgId: o.orgId, shareManifestHash, approvals };
  writeFileSync(o.approvalsFile, JSON.stringify(out, null, 2) + '\n');
  return { approvals: o.approvalsFile, shareManifestHash, approvedBy: approvals.map((a) => a.operatorId) };
}

async function keygen(out: string): Promise<Json> {
  const kp = await generateHpkeKeyPair();
  try {
    writeNew(out, JSON.stringify({ type: MEMBER_KEY_TYPE, secretKey: bytesToHex(kp.privateKey.expose()), publicKey: bytesToHex(kp.publicKey) }, null, 2) + '\n', 0o600);
    writeNew(`${out}.pub`, JSON.stringify({ type: MEMBER_PUBLIC_KEY_TYPE, publicKey: bytesToHex(kp.publicKey) }, null, 2) + '\n');
  } finally {
    kp.privateKey.zeroise();
  }
  return { keyFile: out, publicKeyFile: `${out}.pub`, publicKey: bytesToHex(kp.publicKey) };
}

/** The dealer step. The secret file holds hex (whitespace ignored). */
async function split(secretFile: string, threshold: number, members: readonly string[], outDir: string): Promise<Json> {
  const text = new TextDecoder().decode(readBounded(secretFile, 'secret file')).replace(/\s+/g, '');
  if (!/^([0-9a-f]{2})+$/i.test(text)) throw new CustodianError('E_SHAMIR_SECRET_INVALID', `${secretFile} must hold the secret in hex`);
  const secret = new Secret(hexToBytes(text.toLowerCase()));
  const recipients = members.map((m) => {
    const eq = m.indexOf('=');
    if (eq <= 0) throw new UsageError(`--member takes id=PUBKEYFILE, not ${m}`);
    return { memberId: m.slice(0, eq), publicKey: readMemberPublicKey(m.slice(eq + 1)) };
  });
  let result;
  try {
    result = await splitToMembers(secret, threshold, recipients);
  } finally {
    secret.zeroise();
  }
  mkdirSync(outDir, { recursive: true });
  const manifestFile = join(outDir, 'share-manifest.json');
  writeNew(manifestFile, JSON.stringify(encodeShareManifest(result.manifest), null, 2) + '\n');
  const shareFiles: Record<string, string> = {};
  for (const s of result.encryptedShares) {
    const file = join(outDir, `share-${s.memberId}.json`);
    writeNew(file, JSON.stringify(encodeEncryptedShare(s), null, 2) + '\n');
    shareFiles[s.memberId] = file;
  }
  return { shareManifest: manifestFile, shareManifestHash: bytesToHex(manifestHash(result.manifest)), setId: result.manifest.setId, threshold, members: result.manifest.shares.map((s) => s.memberId), shareFiles };
}

/** The member step. */
async function post(client: HostClient, o: { signer: string; manifestFile: string; approvalsFile: string; shareFile: string; keyFile: string; measurement: string }): Promise<Json> {
  if (!/^[0-9a-f]{96}$/.test(o.measurement)) throw new UsageError('--measurement must be 48 bytes of lowercase hex (SHA-384)');
  const manifest = readShareManifest(o.manifestFile);
  const encryptedShare = readEncryptedShare(o.shareFile);
  const key = readMemberKey(o.keyFile);
  const entry = entryOf(manifest, encryptedShare.memberId);
  if (entry.memberPublicKey !== bytesToHex(key.publicKey)) throw new CustodianError('E_KEY_INVALID', `the share manifest gives ${entry.memberId} another key than ${o.keyFile}`);
  const mh = manifestHash(manifest);
  const approvals = readApprovals(o.approvalsFile);
  if (approvals.shareManifestHash !== bytesToHex(mh)) throw new CustodianError('E_PROVISION_UNAPPROVED', `${o.approvalsFile} approves another split`);

  // The organisation (root quorum's manifest: sim root, platform) and this signer's attested identity key.
  const org = await verifyOrg(client, [o.signer]);
  const attestedIdentity = org.identityKeys.get(o.signer)!;
  if (approvals.orgId !== org.manifest.orgId) throw new CustodianError('E_PROVISION_UNAPPROVED', `${o.approvalsFile} approves the split for ${approvals.orgId}, not ${org.manifest.orgId}`);
  const challenge = new Uint8Array(randomBytes(32));
  const a = new Fields(await client.post(`/v1/signers/${o.signer}/provision/announce`, { shareManifest: encodeShareManifest(manifest), approvals: approvals.approvals, challenge: bytesToHex(challenge) }), 'announcement');
  const ann = { signerId: a.str('signerId', 64), identityKey: a.hex('identityKey', 32), enclaveKey: a.hex('enclaveKey', X25519_PUBLIC_KEY_BYTES), shareManifestHash: a.hex('shareManifestHash', 32), challenge: a.hex('challenge', 32), evidence: a.hex('evidence', undefined, 16 * 1024), accepted: a.int('accepted'), threshold: a.int('threshold') };
  if (ann.signerId !== o.signer || !equalBytes(ann.shareManifestHash, mh) || !equalBytes(ann.challenge, challenge)) {
    throw new CustodianError('E_SHAMIR_ENCLAVE_REFUSED', 'the announcement is for another signer, split or challenge than this member asked for', { reasons: ['announcement mismatch'] });
  }
  const appraise: EnclaveAppraiseFn = async (evidence, expected) => {
    const reasons: string[] = [];
    if (org.manifest.enclave.platform !== 'sim') reasons.push(`the organisation's platform is ${org.manifest.enclave.platform}; this CLI verifies sim evidence only`);
    if (!equalBytes(ann.identityKey, attestedIdentity)) reasons.push('the announcement names another identity key than the signer attested');
    const claims = verifySimEvidence(evidence, { rootPublicKey: org.manifest.enclave.simRoot, nowMs: Date.now(), expectedReportData: provisioningReportData(ann.identityKey, expected.publicKeyBinding, expected.nonce, challenge) });
    return { ok: reasons.length === 0, measurement: claims.measurement, reasons };
  };
  const posting = await postShareToEnclave({ manifest, encryptedShare, memberPrivateKey: key.privateKey, enclave: { evidence: ann.evidence, publicKey: ann.enclaveKey }, expectedMeasurement: o.measurement, appraise });
  key.privateKey.zeroise();
  const r = new Fields(await client.post(`/v1/signers/${o.signer}/provision/share`, { shareManifestHash: bytesToHex(mh), memberId: posting.memberId, enc: bytesToHex(posting.enc), ciphertext: bytesToHex(posting.ciphertext) }), 'provision.share');
  const accepted = r.int('accepted');
  const threshold = r.int('threshold');
  const complete = r.bool('complete');
  const members = complete ? r.arr('members', SHAMIR_MEMBERS_MAX).map(String) : null;
  return { signerId: o.signer, memberId: posting.memberId, shareManifestHash: bytesToHex(mh), measurement: o.measurement, identityKey: bytesToHex(ann.identityKey), enclaveKey: bytesToHex(ann.enclaveKey), accepted, threshold, complete, ...(members ? { members } : {}) };
}

/** Entry point of `custodian provision ...`. */
export async function provisionCommand(args: readonly string[]): Promise<number> {
  const json = args.includes('--json');
  try {
    const [sub, ...rest] = args;
    const { values } = parseArgs(rest, { strings: ['out', 'secret-file', 'threshold', 'signer', 'share-manifest', 'share', 'key', 'measurement', 'host', 'org', 'operator', 'approvals'], multi: ['member'], booleans: ['json'] });
    const one = (k: string): string => {
      const v = values.get(k)?.[0];
      if (v === undefined) throw new UsageError(`--${k} is required\n${USAGE}`);
      return v;
    };
    if (sub === 'keygen') {
      const r = await keygen(one('out'));
      emit(json, r, `member key written to ${String((r as Record<string, Json>)['keyFile'])} (public: ${String((r as Record<string, Json>)['publicKeyFile'])})`);
      return 0;
    }
    if (sub === 'split') {
      const threshold = Number(one('threshold'));
      if (!Number.isInteger(threshold)) throw new UsageError('--threshold must be an integer');
      const r = (await split(one('secret-file'), threshold, values.get('member') ?? [], one('out'))) as Record<string, Json>;
      emit(json, r, `split ${String(r['setId'])}: ${threshold} of ${(r['members'] as string[]).length} (${(r['members'] as string[]).join(', ')}); share manifest ${String(r['shareManifest'])} (sha256 ${String(r['shareManifestHash'])}); give each member only its own share file, then forget the secret`);
      return 0;
    }
    if (sub === 'approve') {
      const r = approve({ manifestFile: one('share-manifest'), orgId: one('org'), operatorId: one('operator'), keyFile: one('key'), approvalsFile: one('approvals') }) as Record<string, Json>;
      emit(json, r, `split ${String(r['shareManifestHash']).slice(0, 16)}… approved by ${(r['approvedBy'] as string[]).join(', ')} (${String(r['approvals'])})`);
      return 0;
    }
    if (sub === 'post') {
      const client = new HostClient(values.get('host')?.[0] ?? process.env['CUSTODIAN_HOST'] ?? DEFAULT_HOST_URL);
      const r = (await post(client, { signer: one('signer'), manifestFile: one('share-manifest'), approvalsFile: one('approvals'), shareFile: one('share'), keyFile: one('key'), measurement: one('measurement').toLowerCase() })) as Record<string, Json>;
      emit(json, r, `${String(r['memberId'])}: share posted to ${String(r['signerId'])} (measurement ${String(r['measurement']).slice(0, 16)}…, attested key ${String(r['enclaveKey']).slice(0, 16)}…); ${String(r['accepted'])} of ${String(r['threshold'])} shares${r['complete'] === true ? `: the secret is provisioned (members ${(r['members'] as string[]).join(', ')})` : ''}`);
      return 0;
    }
    throw new UsageError(USAGE);
  } catch (e) {
    return emitError(json, e);
  }
}

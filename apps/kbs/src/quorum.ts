/**
 * A quorum of named members with Ed25519 keys, and the check that a
 * canonical-JSON statement carries at least `threshold` valid signatures from
 * distinct members. Used for measurement changes (DESIGN.md flow 6) and
 * break-glass approvals. Signatures are over `domain ‖ 0x0a ‖ canonicalJson(body)`.
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { CustodianError } from '@custodian/core/errors';
import { type Json, domainStatementBytes } from '@custodian/core/canonical-json';
import { hexToBytes } from '@custodian/core/bytes';
import { Fields } from '@custodian/core/fields';
import { MANIFEST_OPERATORS_MAX } from '@custodian/core/limits';

/** A member of a quorum. */
export interface QuorumMember {
  readonly id: string;
  /** Ed25519 public key, 32 bytes. */
  readonly publicKey: Uint8Array;
}

/** k of n members. */
export interface Quorum {
  readonly threshold: number;
  readonly members: readonly QuorumMember[];
}

/** One member's signature on a statement. */
export interface MemberSignature {
  readonly memberId: string;
  /** Ed25519 signature, 64 bytes. */
  readonly signature: Uint8Array;
}

/** Member ids: short, printable, no separators that could confuse logs. */
export const MEMBER_ID_RE = /^[a-z0-9][a-z0-9._-]{0,63}$/;

/** The exact bytes members sign for `body` under `domain`. */
export function statementBytes(domain: string, body: Json): Uint8Array {
  return domainStatementBytes(domain, body);
}

/** Signs a statement with a member's Ed25519 secret key (member CLI and tests). */
export function signStatement(domain: string, body: Json, memberId: string, secretKey: Uint8Array): MemberSignature {
  return { memberId, signature: ed25519.sign(statementBytes(domain, body), secretKey) };
}

/** Outcome of counting signatures; `rejected` says why each signature did not count. */
export interface QuorumCount {
  readonly signers: readonly string[];
  readonly rejected: readonly { memberId: string; reason: string }[];
}

/** Counts the distinct members whose signature on the statement verifies. */
export function countQuorum(quorum: Quorum, domain: string, body: Json, signatures: readonly MemberSignature[]): QuorumCount {
  const msg = statementBytes(domain, body);
  const signers: string[] = [];
  const rejected: { memberId: string; reason: string }[] = [];
  for (const s of signatures) {
    const member = quorum.members.find((m) => m.id === s.memberId);
    if (!member) rejected.push({ memberId: s.memberId, reason: 'not a member of the quorum' });
    else if (signers.includes(member.id)) rejected.push({ memberId: s.memberId, reason: 'signed more than once; counted once' });
    else if (!verifyEd25519(s.signature, msg, member.publicKey)) rejected.push({ memberId: s.memberId, reason: 'signature does not verify' });
    else signers.push(member.id);
  }
  return { signers, rejected };
}

/** Throws E_QUORUM_NOT_MET unless at least `quorum.threshold` distinct members signed. */
export function assertQuorum(quorum: Quorum, domain: string, body: Json, signatures: readonly MemberSignature[], what: string): readonly string[] {
  const { signers, rejected } = countQuorum(quorum, domain, body, signatures);
  if (signers.length < quorum.threshold) {
    throw new CustodianError('E_QUORUM_NOT_MET', `${what} has ${signers.length} valid member signature(s); ${quorum.threshold} are required`, {
      valid: signers.length,
      required: quorum.threshold,
      rejected,
    });
  }
  return signers;
}

function verifyEd25519(sig: Uint8Array, msg: Uint8Array, pub: Uint8Array): boolean {
  try {
    return sig.length === 64 && ed25519.verify(sig, msg, pub);
  } catch {
    return false;
  }
}

/** Decodes a quorum from JSON `{ threshold, members: [{ id, publicKey: hex }] }`. */
export function decodeQuorum(json: Json, where = 'quorum'): Quorum {
  const f = new Fields(json, where);
  const members = f.arr('members', MANIFEST_OPERATORS_MAX).map((m, i) => {
    const mf = new Fields(m, `${where}.members[${i}]`);
    const member = { id: mf.str('id', 64, MEMBER_ID_RE), publicKey: mf.hex('publicKey', 32) };
    mf.done();
    return member;
  });
  const threshold = f.int('threshold', 1, MANIFEST_OPERATORS_MAX);
  f.done();
  if (new Set(members.map((m) => m.id)).size !== members.length) throw new CustodianError('E_FIELD_INVALID', `${where}.members has duplicate ids`, {});
  if (threshold > members.length) throw new CustodianError('E_FIELD_INVALID', `${where}.threshold exceeds the number of members`, {});
  return { threshold, members };
}

/** Decodes `[{ memberId, signature: hex }]`. */
export function decodeSignatures(json: readonly Json[], where: string): MemberSignature[] {
  return json.map((s, i) => {
    const f = new Fields(s, `${where}[${i}]`);
    const out = { memberId: f.str('memberId', 64), signature: f.hex('signature', 64) };
    f.done();
    return out;
  });
}

/** Hex-decodes helper re-exported for callers building quorums from config. */
export function memberFromHex(id: string, publicKeyHex: string): QuorumMember {
  return { id, publicKey: hexToBytes(publicKeyHex, 'publicKey') };
}

/**
 * An executed break-glass action as the key broker attests it to signers
 * (issue 7 item 6). The broker keeps the break-glass book (quorum, time-lock
 * on trusted time, guardian veto); once a request is executed — or at once for
 * a freeze — it signs an execution statement with its HSM-held `kbs-signing`
 * key. A signer applies an action only from a statement that verifies under
 * the broker key it was launched with, whose payload hashes to the approved
 * `payloadHash`, and whose payload is well formed for its action. The host
 * relays statements and can withhold them; it cannot forge or alter one.
 *
 * Wire form (JSON, hex for bytes):
 *   { execution: { id, action, payloadHash, approvals: [memberId], executedAtMs },
 *     payload: <action payload>, signature: r‖s hex (64 bytes) }
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { CustodianError } from '@custodian/core/errors';
import { bytesToHex } from '@custodian/core/bytes';
import { canonicalJsonBytes, type Json, domainStatementBytes } from '@custodian/core/canonical-json';
import { Fields } from '@custodian/core/fields';
import { KBS_SIGNATURE_BYTES, verifyKbsSignature } from './key-release.js';

/** Domain of the broker's execution statements. */
export const BREAKGLASS_EXECUTION_DOMAIN = 'custodian/kbs/breakglass-execution/v1';
/** Actions a break-glass request may name (the broker's book and the signers agree on these). */
export const BREAKGLASS_ACTIONS = ['recover-signer', 'change-root-quorum', 'override-policy', 'upgrade-measurement', 'unfreeze', 'freeze-wallet', 'freeze-organisation'] as const;
/** One break-glass action. */
export type BreakglassAction = (typeof BREAKGLASS_ACTIONS)[number];
/** Most approvals an execution statement lists. */
export const BREAKGLASS_EXECUTION_APPROVALS_MAX = 256;

/** Request, org, wallet and signer ids (as in the broker's book, manifests and payloads). */
const ID_RE = /^[a-z0-9][a-z0-9._-]{0,63}$/;
const HEX64_RE = /^[0-9a-f]{64}$/;

/** What the broker attests: request id, action, payload hash, who approved, when it took effect (trusted time). */
export interface BreakglassExecution {
  readonly id: string;
  readonly action: BreakglassAction;
  readonly payloadHash: string;
  readonly approvals: readonly string[];
  readonly executedAtMs: number;
}

/** Payloads of the actions signers apply. */
export type FreezePayload = { readonly scope: 'wallet'; readonly walletId: string } | { readonly scope: 'organisation'; readonly orgId: string };
/** `recover-signer`: which signer, and SHA-256 (hex) of the backup to restore. */
export interface RecoverSignerPayload {
  readonly signerId: string;
  readonly backupSha256: string;
}

/**
 * `change-root-quorum` and `upgrade-measurement`: the manifest successor the
 * request authorises in place of the installed quorum (its `manifestHash`).
 */
export interface ManifestSuccessorPayload {
  readonly manifestHash: string;
}
/** `override-policy`: the one request (proposal payload hash) and transaction digest (0x hex) a policy deny is lifted for. */
export interface OverridePolicyPayload {
  readonly requestId: string;
  readonly txDigest: string;
}

/** An execution statement with its payload and the broker's signature. */
export interface SignedBreakglassExecution {
  readonly execution: BreakglassExecution;
  readonly payload: Json;
  readonly signature: Uint8Array;
}

/** SHA-256 (hex) of a payload's canonical JSON: what a request names and approvers sign. */
export function payloadHashOf(payload: Json): string {
  return bytesToHex(sha256(canonicalJsonBytes(payload)));
}

/** The bytes the broker signs for an execution. */
export function breakglassExecutionStatement(e: BreakglassExecution): Uint8Array {
  const body: Json = { id: e.id, action: e.action, payloadHash: e.payloadHash, approvals: [...e.approvals], executedAtMs: e.executedAtMs };
  return domainStatementBytes(BREAKGLASS_EXECUTION_DOMAIN, body);
}

/** JSON form of a signed execution. */
export function encodeSignedBreakglassExecution(s: SignedBreakglassExecution): Json {
  const e = s.execution;
  return { execution: { id: e.id, action: e.action, payloadHash: e.payloadHash, approvals: [...e.approvals], executedAtMs: e.executedAtMs }, payload: s.payload, signature: bytesToHex(s.signature) };
}

/** Decodes a signed execution (untrusted, relayed by the host); shape only, the signature is checked by `verifySignedBreakglassExecution`. */
export function decodeSignedBreakglassExecution(json: Json): SignedBreakglassExecution {
  const f = new Fields(json, 'breakglassExecution');
  const x = f.obj('execution');
  const action = x.str('action', 32);
  if (!(BREAKGLASS_ACTIONS as readonly string[]).includes(action)) throw new CustodianError('E_FIELD_INVALID', 'breakglassExecution.execution.action is not a break-glass action', {});
  const execution: BreakglassExecution = {
    id: x.str('id', 64, ID_RE),
    action: action as BreakglassAction,
    payloadHash: x.str('payloadHash', 64, HEX64_RE),
    approvals: x.arr('approvals', BREAKGLASS_EXECUTION_APPROVALS_MAX).map((a, i) => {
      if (typeof a !== 'string' || a.length === 0 || a.length > 64) throw new CustodianError('E_FIELD_INVALID', `breakglassExecution.execution.approvals[${i}] must be a member id`, {});
      return a;
    }),
    executedAtMs: x.int('executedAtMs'),
  };
  x.done();
  const payload = f.raw('payload');
  const signature = f.hex('signature', KBS_SIGNATURE_BYTES);
  f.done();
  return { execution, payload, signature };
}

/**
 * Checks a signed execution against the broker key: the signature, and the
 * payload against the approved hash. E_BREAKGLASS_EXECUTION_INVALID otherwise.
 */
export function verifySignedBreakglassExecution(kbsPublicKey: Uint8Array, s: SignedBreakglassExecution): BreakglassExecution {
  if (!verifyKbsSignature(kbsPublicKey, breakglassExecutionStatement(s.execution), s.signature)) {
    throw new CustodianError('E_BREAKGLASS_EXECUTION_INVALID', `the execution of break-glass request ${s.execution.id} is not signed by the key broker this signer was launched with`, { id: s.execution.id });
  }
  if (payloadHashOf(s.payload) !== s.execution.payloadHash) {
    throw new CustodianError('E_BREAKGLASS_PAYLOAD_CHANGED', `the payload handed with break-glass request ${s.execution.id} is not the one that was approved`, { id: s.execution.id, approved: s.execution.payloadHash });
  }
  return s.execution;
}

/** Decodes the payload of `freeze-wallet`, `freeze-organisation` and `unfreeze`. */
export function decodeFreezePayload(action: BreakglassAction, payload: Json): FreezePayload {
  const f = new Fields(payload, `${action} payload`);
  const scope = f.str('scope', 16);
  let out: FreezePayload;
  if (scope === 'wallet' && action !== 'freeze-organisation') out = { scope, walletId: f.str('walletId', 64, ID_RE) };
  else if (scope === 'organisation' && action !== 'freeze-wallet') out = { scope, orgId: f.str('orgId', 64, ID_RE) };
  else throw new CustodianError('E_FIELD_INVALID', `a ${action} payload cannot have scope ${scope.slice(0, 16)}`, {});
  f.done();
  return out;
}

/** Decodes the payload of `recover-signer`. */
export function decodeRecoverSignerPayload(payload: Json): RecoverSignerPayload {
  const f = new Fields(payload, 'recover-signer payload');
  const out = { signerId: f.str('signerId', 64, ID_RE), backupSha256: f.str('backupSha256', 64, HEX64_RE) };
  f.done();
  return out;
}

/** The actions whose payload names a manifest successor (manifest-ops.ts, the broker's manifest chain). */
export const MANIFEST_SUCCESSOR_ACTIONS = ['change-root-quorum', 'upgrade-measurement'] as const;
/** One of `MANIFEST_SUCCESSOR_ACTIONS`. */
export type ManifestSuccessorAction = (typeof MANIFEST_SUCCESSOR_ACTIONS)[number];

/** True when `action` authorises a manifest successor. */
export function isManifestSuccessorAction(action: BreakglassAction): action is ManifestSuccessorAction {
  return (MANIFEST_SUCCESSOR_ACTIONS as readonly string[]).includes(action);
}

/** Decodes the payload of `change-root-quorum` and `upgrade-measurement`: `{ manifestHash }` (64 lower-case hex). */
export function decodeManifestSuccessorPayload(action: ManifestSuccessorAction, payload: Json): ManifestSuccessorPayload {
  const f = new Fields(payload, `${action} payload`);
  const out = { manifestHash: f.str('manifestHash', 64, HEX64_RE) };
  f.done();
  return out;
}

/** Decodes the payload of `override-policy`: `{ requestId, txDigest }` (64 hex; 0x and 64 hex, as approvals name them). */
export function decodeOverridePolicyPayload(payload: Json): OverridePolicyPayload {
  const f = new Fields(payload, 'override-policy payload');
  const out = { requestId: f.str('requestId', 64, HEX64_RE), txDigest: f.str('txDigest', 66, /^0x[0-9a-f]{64}$/) };
  f.done();
  return out;
}

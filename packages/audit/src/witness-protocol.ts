/**
 * The C2SP tlog-witness HTTP protocol (c2sp.org/tlog-witness) around a
 * Witness: the add-checkpoint request body
 *
 *   old <size>\n
 *   <base64 consistency proof hash>\n   (zero or more)
 *   \n
 *   <signed checkpoint note>
 *
 * and the responses: 200 with the cosignature line, 409 with the witness's
 * current size (text/x.tlog.size), 403 for an unknown log or bad signature,
 * 422 for a proof that fails, 400 for a malformed request. A host can serve
 * `handleAddCheckpoint` from any HTTP framework.
 */
import { isCustodianError } from '@custodian/core/errors';
import { auditError } from './errors.js';
import { decodeBase64Strict, encodeBase64 } from './base64.js';
import { formatSignatureLine } from './note.js';
import type { AddCheckpointRequest, Witness } from './witness.js';
import { NOTE_BYTES_MAX, PROOF_HASHES_MAX, HASH_BYTES } from './limits.js';

/** Largest add-checkpoint body: a note plus a full proof. */
export const ADD_CHECKPOINT_BYTES_MAX = NOTE_BYTES_MAX + 64 + PROOF_HASHES_MAX * 46;

const OLD_RE = /^old (0|[1-9][0-9]{0,15})$/;

/** Decodes an add-checkpoint request body (untrusted); E_NOTE_MALFORMED or E_PROOF_INVALID on bad shape. */
export function decodeAddCheckpointRequest(body: Uint8Array): AddCheckpointRequest {
  if (body.length > ADD_CHECKPOINT_BYTES_MAX) throw auditError('E_NOTE_MALFORMED', 'add-checkpoint request is too large', { size: body.length });
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(body);
  } catch {
    throw auditError('E_NOTE_MALFORMED', 'add-checkpoint request is not UTF-8');
  }
  const split = text.indexOf('\n\n');
  if (split < 0) throw auditError('E_NOTE_MALFORMED', 'add-checkpoint request has no blank line before the checkpoint');
  const head = text.slice(0, split).split('\n');
  const old = OLD_RE.exec(head[0] ?? '');
  if (old === null || Number(old[1]) > Number.MAX_SAFE_INTEGER) throw auditError('E_NOTE_MALFORMED', 'add-checkpoint request must start with "old <size>"');
  const lines = head.slice(1);
  if (lines.length > PROOF_HASHES_MAX) throw auditError('E_PROOF_INVALID', 'consistency proof is too long');
  const proof = lines.map((l) => {
    const h = decodeBase64Strict(l, 'E_PROOF_INVALID', 'proof hash');
    if (h.length !== HASH_BYTES) throw auditError('E_PROOF_INVALID', 'proof hashes must be 32 bytes');
    return h;
  });
  return { oldSize: Number(old[1]), proof, checkpoint: new TextEncoder().encode(text.slice(split + 2)) };
}

/** Encodes an add-checkpoint request body (what a log sends to a witness). */
export function encodeAddCheckpointRequest(req: AddCheckpointRequest): Uint8Array {
  const head = [`old ${req.oldSize}`, ...req.proof.map(encodeBase64)].join('\n') + '\n\n';
  const h = new TextEncoder().encode(head);
  const out = new Uint8Array(h.length + req.checkpoint.length);
  out.set(h);
  out.set(req.checkpoint, h.length);
  return out;
}

/** An HTTP answer to an add-checkpoint request. */
export interface WitnessHttpResponse {
  readonly status: 200 | 400 | 403 | 409 | 422 | 503;
  readonly contentType: string;
  readonly body: string;
}

/** Runs one add-checkpoint request against `witness` and maps the outcome to tlog-witness HTTP semantics. */
export async function handleAddCheckpoint(witness: Witness, body: Uint8Array): Promise<WitnessHttpResponse> {
  try {
    const sig = await witness.addCheckpoint(decodeAddCheckpointRequest(body));
    return { status: 200, contentType: 'text/plain; charset=utf-8', body: formatSignatureLine(sig) };
  } catch (e) {
    if (isCustodianError(e, 'E_WITNESS_CONFLICT')) return { status: 409, contentType: 'text/x.tlog.size', body: `${String(e.detail['size'])}\n` };
    const message = e instanceof Error ? e.message : String(e);
    if (isCustodianError(e, 'E_NOTE_UNVERIFIED', 'E_NOTE_SIGNATURE_INVALID')) return { status: 403, contentType: 'text/plain; charset=utf-8', body: message + '\n' };
    if (isCustodianError(e, 'E_PROOF_INVALID', 'E_CHECKPOINT_INCONSISTENT', 'E_CHECKPOINT_FORK')) return { status: 422, contentType: 'text/plain; charset=utf-8', body: message + '\n' };
    if (isCustodianError(e, 'E_NOTE_MALFORMED', 'E_CHECKPOINT_MALFORMED', 'E_CHECKPOINT_ROLLBACK')) return { status: 400, contentType: 'text/plain; charset=utf-8', body: message + '\n' };
    if (isCustodianError(e)) return { status: 503, contentType: 'text/plain; charset=utf-8', body: message + '\n' };
    throw e;
  }
}

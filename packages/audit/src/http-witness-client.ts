/**
 * A client for a remote C2SP tlog-witness (POST <url>/add-checkpoint). The
 * response is untrusted: it is size-bounded and must be exactly one
 * cosignature line; the writer's policy check verifies the signature itself.
 */
import { auditError } from './errors.js';
import { readBoundedBody } from './http-body.js';
import { decodeNoteUnverified, type NoteSignature } from './note.js';
import { encodeAddCheckpointRequest } from './witness-protocol.js';
import type { AddCheckpointRequest } from './witness.js';
import type { WitnessEndpoint } from './checkpoint-signer.js';

/** Per-request timeout for a witness. */
export const WITNESS_TIMEOUT_MS = 10_000;
/** Largest witness response accepted. */
export const WITNESS_RESPONSE_BYTES_MAX = 4096;

/** A tlog-witness reachable over HTTP(S). */
export class HttpWitnessClient implements WitnessEndpoint {
  constructor(readonly baseUrl: string) {}

  async addCheckpoint(req: AddCheckpointRequest): Promise<NoteSignature> {
    let res: Response;
    try {
      res = await fetch(new URL('add-checkpoint', this.baseUrl.endsWith('/') ? this.baseUrl : this.baseUrl + '/'), {
        method: 'POST', body: encodeAddCheckpointRequest(req), signal: AbortSignal.timeout(WITNESS_TIMEOUT_MS),
      });
    } catch (e) {
      throw auditError('E_AUDIT_UNAVAILABLE', `witness ${this.baseUrl} unreachable: ${e instanceof Error ? e.message : String(e)}`);
    }
    const body = await readBoundedBody(res, WITNESS_RESPONSE_BYTES_MAX, () => auditError('E_NOTE_MALFORMED', 'witness response is too large'));
    const text = new TextDecoder().decode(body);
    if (res.status === 409 && /^(0|[1-9][0-9]{0,15})\n$/.test(text)) throw auditError('E_WITNESS_CONFLICT', `witness has size ${text.trim()}`, { size: Number(text.trim()) });
    if (res.status !== 200) throw auditError('E_AUDIT_UNAVAILABLE', `witness ${this.baseUrl} answered HTTP ${res.status}: ${text.slice(0, 200)}`, { status: res.status });
    // Reuse the note decoder on "x\n\n<line>" to parse the single signature line strictly.
    const parsed = decodeNoteUnverified(new TextEncoder().encode('x\n\n' + text));
    const sig = parsed.signatures[0];
    if (parsed.signatures.length !== 1 || sig === undefined) throw auditError('E_NOTE_MALFORMED', 'witness must answer with exactly one cosignature line');
    return sig;
  }
}

/**
 * Length-prefixed JSON frames over a byte stream, with requests and responses
 * in both directions: the host calls the enclave (`tx.sign`), and the enclave
 * calls back during a call (`audit.append`) before it answers. This is the
 * shape of a vsock channel; in `sim` it runs over loopback TCP.
 *
 * Frame: 4-byte big-endian length, then canonical JSON
 * `{ "id": n, "op": "...", "body": {...} }` (request) or
 * `{ "id": n, "ok": true, "body": {...} }` / `{ "id": n, "ok": false, "error": {...} }`.
 */
import type { Socket } from 'node:net';
import { CustodianError } from '@custodian/core/errors';
import { canonicalJsonBytes, parseJson, type Json } from '@custodian/core/canonical-json';
import { Fields } from '@custodian/core/fields';
import { FRAME_BYTES_MAX } from '@custodian/core/limits';

/** Handles one incoming request; throw CustodianError to refuse. */
export type RpcHandler = (op: string, body: Json, peer: RpcPeer) => Promise<Json>;

/** Most requests waiting for an answer on one connection. */
export const RPC_PENDING_MAX = 1024;

/** One end of a framed RPC connection. */
export class RpcPeer {
  #nextId = 1;
  #buf = Buffer.alloc(0);
  readonly #pending = new Map<number, { resolve: (v: Json) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  #closed = false;

  constructor(
    readonly socket: Socket,
    private readonly handler: RpcHandler,
    private readonly timeoutMs = 60_000,
  ) {
    socket.on('data', (d: Buffer) => this.#onData(d));
    socket.on('close', () => this.#fail(new CustodianError('E_UNAVAILABLE', 'connection closed')));
    socket.on('error', (e) => this.#fail(new CustodianError('E_UNAVAILABLE', `connection error: ${e.message}`)));
  }

  /** True once the connection is gone. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Sends a request and waits for its answer. */
  call(op: string, body: Json): Promise<Json> {
    if (this.#closed) return Promise.reject(new CustodianError('E_UNAVAILABLE', 'connection closed'));
    if (this.#pending.size >= RPC_PENDING_MAX) return Promise.reject(new CustodianError('E_UNAVAILABLE', 'too many calls in flight'));
    const id = this.#nextId++;
    return new Promise<Json>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new CustodianError('E_TIMEOUT', `${op} got no answer within ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      this.#pending.set(id, { resolve, reject, timer });
      this.#send({ id, op, body });
    });
  }

  /** Closes the connection. */
  close(): void {
    this.socket.destroy();
  }

  #send(msg: Json): void {
    const payload = canonicalJsonBytes(msg);
    const header = Buffer.alloc(4);
    header.writeUInt32BE(payload.length);
    this.socket.write(Buffer.concat([header, payload]));
  }

  #fail(e: Error): void {
    this.#closed = true;
    for (const [, p] of this.#pending) {
      clearTimeout(p.timer);
      p.reject(e);
    }
    this.#pending.clear();
  }

  #onData(d: Buffer): void {
    this.#buf = Buffer.concat([this.#buf, d]);
    while (this.#buf.length >= 4) {
      const len = this.#buf.readUInt32BE(0);
      if (len > FRAME_BYTES_MAX) {
        this.socket.destroy();
        this.#fail(new CustodianError('E_FRAME_TOO_LARGE', `frame of ${len} bytes exceeds ${FRAME_BYTES_MAX}`));
        return;
      }
      if (this.#buf.length < 4 + len) return;
      const frame = this.#buf.subarray(4, 4 + len);
      this.#buf = this.#buf.subarray(4 + len);
      this.#onFrame(frame);
    }
  }

  #onFrame(frame: Buffer): void {
    let msg: { id: number; op: string; body: Json } | { id: number; ok: boolean; body: Json; error: Json };
    try {
      msg = decodeFrame(frame);
    } catch {
      // attacker-controlled: a frame that does not decode ends the connection, never the process.
      this.socket.destroy();
      this.#fail(new CustodianError('E_FRAME_INVALID', 'peer sent a malformed frame'));
      return;
    }
    if ('op' in msg) {
      const { id } = msg;
      let answer: Promise<Json>;
      try {
        answer = this.handler(msg.op, msg.body, this);
      } catch (e) {
        answer = Promise.reject(e);
      }
      answer.then(
        (res) => this.#send({ id, ok: true, body: res }),
        (e: unknown) => this.#send({ id, ok: false, error: errorJson(e) }),
      ).catch(() => this.socket.destroy());
      return;
    }
    const p = this.#pending.get(msg.id);
    if (!p) return;
    this.#pending.delete(msg.id);
    clearTimeout(p.timer);
    if (msg.ok) p.resolve(msg.body);
    else p.reject(errorFromJson(msg.error));
  }
}

/** Decodes one frame: a request `{id, op, body}` or a response `{id, ok, body|error}`. */
function decodeFrame(frame: Uint8Array): { id: number; op: string; body: Json } | { id: number; ok: boolean; body: Json; error: Json } {
  const f = new Fields(parseJson(frame, FRAME_BYTES_MAX), 'frame');
  const id = f.int('id');
  const op = f.optStr('op', 64);
  if (op !== undefined) {
    const body = f.raw('body');
    f.done();
    return { id, op, body };
  }
  const ok = f.bool('ok');
  const body = ok ? f.raw('body') : null;
  const error = ok ? null : f.raw('error');
  f.done();
  return { id, ok, body, error };
}

function errorJson(e: unknown): Json {
  if (e instanceof CustodianError) {
    let detail: Json;
    try {
      detail = parseJson(JSON.stringify(e.detail, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)));
    } catch {
      detail = {};
    }
    return { code: e.code, message: e.message, detail };
  }
  // Never leak internals (stack, secrets) across the boundary.
  return { code: 'E_INTERNAL', message: 'internal error', detail: {} };
}

function errorFromJson(j: Json): CustodianError {
  try {
    const f = new Fields(j, 'error');
    const detail = f.raw('detail');
    return new CustodianError(f.str('code', 64), f.str('message', 2000), detail !== null && typeof detail === 'object' && !Array.isArray(detail) ? (detail as Record<string, unknown>) : {});
  } catch {
    return new CustodianError('E_INTERNAL', 'malformed error from peer');
  }
}

/**
 * HTTP client for the host API, used by the CLI and the demo. The host is
 * untrusted: callers verify what matters (manifest quorum, attestation,
 * enclave signatures) with `verify-org.ts`.
 */
import { CustodianError } from '@custodian/core/errors';
import { parseJson, type Json } from '@custodian/core/canonical-json';
import { Fields } from '@custodian/core/fields';

/** Default host URL. */
export const DEFAULT_HOST_URL = 'http://127.0.0.1:8740';
/** Most time one API call may take. */
export const HOST_CALL_TIMEOUT_MS = 60_000;

export class HostClient {
  constructor(readonly url: string) {}

  async #do(method: string, path: string, body?: Json): Promise<Json> {
    let res: Response;
    try {
      res = await fetch(this.url + path, {
        method,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(HOST_CALL_TIMEOUT_MS),
      });
    } catch (e) {
      throw new CustodianError('E_HOST_UNAVAILABLE', `host at ${this.url} is unreachable: ${(e as Error).message}`);
    }
    const json = parseJson(new Uint8Array(await res.arrayBuffer()), 64 * 1024 * 1024);
    if (res.ok) return json;
    try {
      const err = new Fields(new Fields(json, 'response').raw('error'), 'error');
      const detail = err.raw('detail');
      throw new CustodianError(err.str('code', 64), err.str('message', 4000), detail && typeof detail === 'object' && !Array.isArray(detail) ? (detail as Record<string, unknown>) : {});
    } catch (e) {
      if (e instanceof CustodianError && !e.code.startsWith('E_FIELD')) throw e;
      throw new CustodianError('E_HOST_UNAVAILABLE', `host answered ${res.status} without a readable error`);
    }
  }

  get(path: string): Promise<Json> {
    return this.#do('GET', path);
  }

  post(path: string, body: Json): Promise<Json> {
    return this.#do('POST', path, body);
  }
}

/**
 * Strict standard base64 (RFC 4648 §4, padded): the one decoder. Node's
 * Buffer decoder skips invalid characters silently; this one refuses them
 * and refuses non-canonical encodings, so one value has one spelling.
 * Callers bound the text's length before calling, where a bound applies.
 */
import { CustodianError } from './errors.js';

const B64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Whether `text` has the form of padded standard base64 (e.g. to tell a base64 file from raw bytes). */
export function looksLikeBase64(text: string): boolean {
  return B64_RE.test(text);
}

/** Decodes canonical padded base64, or throws a CustodianError of `code` naming `what`. */
export function decodeBase64Strict(text: string, what: string, code = 'E_BASE64_INVALID'): Uint8Array {
  if (!B64_RE.test(text)) throw new CustodianError(code, `${what} is not standard padded base64`, { field: what });
  const bytes = Buffer.from(text, 'base64');
  if (bytes.toString('base64') !== text) throw new CustodianError(code, `${what} is not canonical base64`, { field: what });
  return new Uint8Array(bytes);
}

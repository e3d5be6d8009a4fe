/**
 * Strict standard base64 (RFC 4648 §4, padded) for notes and keys. Node's
 * Buffer decoder skips invalid characters silently; this one refuses them
 * and refuses non-canonical encodings, so one value has one spelling.
 */
import { auditError, type AuditErrorCode } from './errors.js';

const B64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Decodes canonical padded base64 or throws `code`. */
export function decodeBase64Strict(text: string, code: AuditErrorCode, what: string): Uint8Array {
  if (!B64_RE.test(text)) throw auditError(code, `${what} is not valid base64`);
  const bytes = Buffer.from(text, 'base64');
  if (bytes.toString('base64') !== text) throw auditError(code, `${what} is not canonical base64`);
  return new Uint8Array(bytes);
}

/** Encodes bytes as padded standard base64. */
export function encodeBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

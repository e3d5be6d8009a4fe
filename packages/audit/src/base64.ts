/**
 * Strict standard base64 (RFC 4648 §4, padded) for notes and keys. Node's
 * Buffer decoder skips invalid characters silently; this one refuses them
 * and refuses non-canonical encodings, so one value has one spelling.
 */
import { decodeBase64Strict as decodeStrict } from '@custodian/core/base64';
import type { AuditErrorCode } from './errors.js';

/** Decodes canonical padded base64 or throws `code` (the one strict decoder, @custodian/core/base64). */
export function decodeBase64Strict(text: string, code: AuditErrorCode, what: string): Uint8Array {
  return decodeStrict(text, what, code);
}

/** Encodes bytes as padded standard base64. */
export function encodeBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

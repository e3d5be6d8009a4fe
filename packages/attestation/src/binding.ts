/**
 * Freshness and key binding (THREATS.md §7, B21): report data must be
 * H(domain ‖ nonce ‖ public key ‖ purpose) so evidence cannot be replayed for
 * another session or re-bound to another key.
 */
import { createHash } from 'node:crypto';
import { equalBytes, utf8 } from '@custodian/core/bytes';
import { attestFail } from './errors.js';
import type { AttestationClaims, VerifyOptions } from './claims.js';

/** Domain-separation prefix of the report-data binding. */
export const REPORT_DATA_DOMAIN = 'custodian/attestation/report-data/v1';

function lp(b: Uint8Array): Uint8Array[] {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(b.length);
  return [len, b];
}

/** The 64-byte report data that binds a nonce, a public key and a purpose (SHA-512, length-prefixed parts). */
export function reportDataBinding(nonce: Uint8Array, publicKey: Uint8Array, purpose: string): Uint8Array {
  const h = createHash('sha512');
  for (const part of [utf8(REPORT_DATA_DOMAIN), nonce, publicKey, utf8(purpose)]) for (const p of lp(part)) h.update(p);
  return new Uint8Array(h.digest());
}

function padded(b: Uint8Array, size: number): Uint8Array {
  const out = new Uint8Array(Math.max(size, b.length));
  out.set(b);
  return out;
}

/** Refuses claims whose nonce or report data do not match what the caller expects. */
export function checkBinding(claims: AttestationClaims, opts: VerifyOptions): void {
  if (opts.nonce !== undefined) {
    const ok =
      claims.nonce !== undefined
        ? equalBytes(claims.nonce, opts.nonce)
        : opts.nonce.length <= claims.reportData.length && equalBytes(padded(opts.nonce, claims.reportData.length), claims.reportData);
    if (!ok) attestFail('E_ATTEST_NONCE', 'claims', 'the evidence does not carry the expected nonce (stale or replayed)', { format: claims.format });
  }
  if (opts.reportData !== undefined) {
    const ok = opts.reportData.length <= claims.reportData.length && equalBytes(padded(opts.reportData, claims.reportData.length), claims.reportData);
    if (!ok) attestFail('E_ATTEST_BINDING', 'claims', 'report data is not bound to the expected key and nonce', { format: claims.format });
  }
}

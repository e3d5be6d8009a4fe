/**
 * Test helpers shared by the broker's tests: a fake appraiser whose evidence
 * is JSON naming what a real report would carry, and quorum members with
 * Ed25519 keys. Not used by production code.
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { bytesToHex, equalBytes, hexToBytes, utf8 } from '@custodian/core/bytes';
import type { AppraiseFn } from './appraisal.js';
import type { Quorum } from './quorum.js';
import { signStatement } from './quorum.js';
import { MEASUREMENT_CHANGE_DOMAIN, measurementChangeBody, type MeasurementChange, type MeasurementChangeRecord } from './measurement-approvals.js';

/** Evidence a fake enclave produces: JSON bytes. */
export function fakeEvidence(e: { measurement: string; nonce: Uint8Array; publicKey: Uint8Array; debug?: boolean }): Uint8Array {
  return utf8(JSON.stringify({ measurement: e.measurement, nonce: bytesToHex(e.nonce), publicKey: bytesToHex(e.publicKey), debug: e.debug ?? false }));
}

/** Appraises `fakeEvidence`: binding of nonce and key, debug off. */
export const fakeAppraise: AppraiseFn = async (evidence, expected) => {
  const doc = JSON.parse(new TextDecoder().decode(evidence)) as { measurement: string; nonce: string; publicKey: string; debug: boolean };
  const reasons: string[] = [];
  if (doc.debug) reasons.push('E_ATTEST_DEBUG: the enclave runs in debug mode');
  if (!equalBytes(hexToBytes(doc.nonce), expected.nonce)) reasons.push('E_ATTEST_NONCE: report data binds another nonce');
  if (!equalBytes(hexToBytes(doc.publicKey), expected.publicKeyBinding)) reasons.push('E_ATTEST_BINDING: report data binds another public key');
  return { ok: reasons.length === 0, measurement: doc.measurement, reasons, platform: 'sim' };
};

/** `n` members with fresh keys and a `k`-of-`n` quorum over them. */
export function makeQuorum(k: number, n: number): { quorum: Quorum; secrets: Map<string, Uint8Array> } {
  const secrets = new Map<string, Uint8Array>();
  const members = Array.from({ length: n }, (_, i) => {
    const sk = ed25519.utils.randomSecretKey();
    secrets.set(`member-${i}`, sk);
    return { id: `member-${i}`, publicKey: ed25519.getPublicKey(sk) };
  });
  return { quorum: { threshold: k, members }, secrets };
}

/** A measurement change signed by the named members. */
export function signedChange(change: MeasurementChange, secrets: Map<string, Uint8Array>, signers: readonly string[]): MeasurementChangeRecord {
  return { change, signatures: signers.map((id) => signStatement(MEASUREMENT_CHANGE_DOMAIN, measurementChangeBody(change), id, secrets.get(id)!)) };
}

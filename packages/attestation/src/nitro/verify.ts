/**
 * Verifies an AWS Nitro Enclaves attestation document: decode → bounds →
 * chain (cabundle to the pinned AWS Nitro Root G1) → signature (COSE_Sign1
 * ES384 by the leaf) → claims → binding.
 */
import { bytesToHex } from '@custodian/core/bytes';
import { attestFail, type VerifyStep } from '../errors.js';
import { coseSignatureValid, decodeCoseSign1, decodeEvidenceCbor, COSE_ALG, COSE_SIGN1_DEPTH_MAX } from '../cose-sign1.js';
import { parseCertificate, verifyChain, type Certificate } from '../x509.js';
import { pinnedRoot } from '../roots.js';
import { checkBinding } from '../binding.js';
import type { AttestationClaims, VerifyOptions } from '../claims.js';
import { decodeNitroPayload, NITRO_DOC_BYTES_MAX } from './document.js';

/** Verifies a Nitro attestation document and returns its claims. */
export function verifyNitro(evidence: Uint8Array, opts: VerifyOptions): AttestationClaims {
  const steps: VerifyStep[] = [];
  // bounds first: refuse before parsing
  if (evidence.length > NITRO_DOC_BYTES_MAX) attestFail('E_ATTEST_TOO_LARGE', 'bounds', `Nitro document of ${evidence.length} bytes exceeds ${NITRO_DOC_BYTES_MAX}`);
  const cose = decodeCoseSign1(decodeEvidenceCbor(evidence, 'Nitro document', NITRO_DOC_BYTES_MAX, COSE_SIGN1_DEPTH_MAX), 'Nitro document', 'optional');
  if (cose.alg !== COSE_ALG.ES384) attestFail('E_ATTEST_SIGNATURE', 'decode', 'Nitro documents are signed with ES384');
  const doc = decodeNitroPayload(cose.payload);
  steps.push('decode', 'bounds');

  const leaf = parseCertificate(doc.certificate);
  const bundle = doc.cabundle.map(parseCertificate);
  const path = verifyChain([leaf, ...[...bundle].reverse()], [pinnedRoot('aws-nitro-root-g1')], opts.now);
  steps.push('chain');

  if (!coseSignatureValid(cose, leaf.publicKey)) attestFail('E_ATTEST_SIGNATURE', 'signature', 'Nitro document signature does not verify under its certificate');
  steps.push('signature');

  checkTimestamp(doc.timestampMs, leaf);
  const measurements: Record<string, string> = {};
  for (const [i, v] of [...doc.pcrs].sort((a, b) => a[0] - b[0])) measurements[`PCR${i}`] = bytesToHex(v);
  // AWS: an enclave started in debug mode reports PCR0-2 as all zeros.
  const debug = [0, 1, 2].every((i) => doc.pcrs.get(i)?.every((b) => b === 0) ?? true);
  const claims: AttestationClaims = {
    format: 'nitro',
    insecure: false,
    debug,
    measurements,
    reportData: doc.userData,
    nonce: doc.nonce,
    publicKey: doc.publicKey,
    issuedAt: new Date(doc.timestampMs).toISOString(),
    tcb: { status: 'Unevaluated', components: {}, detail: 'Nitro exposes no TCB version; the hypervisor is trusted through the AWS chain' },
    platform: { moduleId: doc.moduleId, digest: doc.digest, timestampMs: doc.timestampMs },
    chain: path.map((c) => c.subject),
    steps: [...steps, 'claims'],
  };
  checkBinding(claims, opts);
  return claims;
}

/** The document's timestamp must fall inside its leaf's validity (catches seconds-for-milliseconds). */
function checkTimestamp(ms: number, leaf: Certificate): void {
  if (ms < leaf.notBefore.getTime() || ms > leaf.notAfter.getTime()) {
    attestFail('E_ATTEST_FORMAT', 'claims', 'Nitro document timestamp lies outside its certificate validity', { timestampMs: ms });
  }
}

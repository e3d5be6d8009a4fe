/**
 * The enclave obtains its sealing key from the key broker (DESIGN.md flow 2),
 * through the untrusted parent, which only forwards bytes:
 *
 *   ask a nonce → make an ephemeral X25519 key → attest with report data
 *   `identityReportData(ephemeralPublicKey, nonce)` → send nonce, evidence and
 *   key → check the broker's signature over its answer → open the HPKE-wrapped
 *   key (info binds the measurement, aad the nonce) → derive this signer's key;
 *   keep the organisation's recovery public key the signed answer names.
 *
 * The parent sees the ephemeral public key, and HPKE base mode does not say
 * who sealed, so a parent could answer with a key of its own choosing; the
 * broker's signature over the whole answer, checked against the broker key
 * the enclave was launched with, is what rules that out. A refusal, a
 * malformed answer or a bad signature fails the boot closed, with the
 * broker's reasons when it gave some.
 */
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { CustodianError } from '@custodian/core/errors';
import { canonicalJsonBytes } from '@custodian/core/canonical-json';
import { utf8 } from '@custodian/core/bytes';
import { generateHpkeKeyPair } from '@custodian/core/hpke-seal';
import { identityReportData } from '@custodian/protocol/identity-binding';
import {
  decodeKbsNonceAnswer,
  decodeKeyReleaseAnswer,
  encodeKeyReleaseRequest,
  KBS_PUBLIC_KEY_BYTES,
  keyReleaseAnswerStatement,
  openKeyRelease,
  verifyKbsSignature,
  type KbsRefusal,
} from '@custodian/protocol/key-release';

/** Length of the released key and of the signer's sealing key. */
export const SEALING_KEY_BYTES = 32;
/** HKDF salt of a signer's sealing key under its measurement's released key. */
export const SIGNER_SEALING_KEY_SALT = 'custodian/enclave/sealing-key/v1';

/** How the enclave reaches the broker: the parent forwards these bodies and returns the answers' bytes. */
export interface KbsTransport {
  /** POST /v1/nonce; the answer body. */
  nonce(): Promise<Uint8Array>;
  /** POST /v1/release with `body` (canonical JSON); the answer body, whatever its HTTP status. */
  release(body: Uint8Array): Promise<Uint8Array>;
}

/** What a release needs. */
export interface KbsKeySourceOptions {
  readonly transport: KbsTransport;
  /** The platform's attester: evidence binding `reportData` and this enclave's measurement. */
  readonly attest: (reportData: Uint8Array) => Promise<Uint8Array>;
  /** The broker's `kbs-signing` public key (uncompressed SEC1 P-256), from launch configuration. */
  readonly kbsPublicKey: Uint8Array;
  /** This signer's id: the released key is per measurement, the sealing key per signer. */
  readonly signerId: string;
}

/** What the broker released. */
export interface ReleasedSealingKey {
  /** This signer's 32-byte sealing key. */
  readonly key: Uint8Array;
  /** The measurement the broker released it for. */
  readonly measurement: string;
  /** The organisation's recovery public key (uncompressed SEC1 P-256) the signed answer named: backups are encrypted to it. */
  readonly recoveryKey: Uint8Array;
}

/** Runs one attested key release; throws E_KBS_RELEASE_REFUSED (the broker's reasons) or E_KBS_ANSWER_INVALID. */
export async function obtainSealingKeyFromKbs(o: KbsKeySourceOptions): Promise<ReleasedSealingKey> {
  if (o.kbsPublicKey.length !== KBS_PUBLIC_KEY_BYTES) throw new CustodianError('E_PLATFORM', `the key broker's public key must be ${KBS_PUBLIC_KEY_BYTES} bytes (uncompressed SEC1 P-256)`);
  const issued = decodeKbsNonceAnswer(await o.transport.nonce());
  if (!issued.ok) throw refused(issued);
  const { nonce } = issued;
  const ephemeral = await generateHpkeKeyPair();
  try {
    const evidence = await o.attest(identityReportData(ephemeral.publicKey, nonce));
    const answer = decodeKeyReleaseAnswer(await o.transport.release(canonicalJsonBytes(encodeKeyReleaseRequest({ nonce, evidence, publicKey: ephemeral.publicKey }))));
    if (!answer.ok) throw refused(answer);
    const statement = keyReleaseAnswerStatement({ measurement: answer.measurement, nonce, publicKey: ephemeral.publicKey, enc: answer.enc, ciphertext: answer.ciphertext, credentialSignature: answer.credential.signature, recoveryKey: answer.recoveryKey });
    if (!verifyKbsSignature(o.kbsPublicKey, statement, answer.signature)) {
      throw new CustodianError('E_KBS_ANSWER_INVALID', 'the key-release answer is not signed by the key broker this enclave was launched with; refusing the key', {});
    }
    const released = await openKeyRelease(answer, ephemeral.privateKey, { measurement: answer.measurement, nonce });
    try {
      const k = released.expose();
      if (k.length !== SEALING_KEY_BYTES) throw new CustodianError('E_KBS_ANSWER_INVALID', `the released key has ${k.length} bytes, not ${SEALING_KEY_BYTES}`);
      // Only after the signature check: the recovery key is the broker's word, not the parent's.
      return { key: signerSealingKey(k, o.signerId), measurement: answer.measurement, recoveryKey: answer.recoveryKey };
    } finally {
      released.zeroise();
    }
  } finally {
    ephemeral.privateKey.zeroise();
  }
}

/** HKDF-SHA256(released, salt, info = signer id): signers of one measurement never share a sealing key. */
export function signerSealingKey(released: Uint8Array, signerId: string): Uint8Array {
  return hkdf(sha256, released, utf8(SIGNER_SEALING_KEY_SALT), utf8(signerId), SEALING_KEY_BYTES);
}

function refused(r: KbsRefusal): CustodianError {
  const reasons = r.reasons.length > 0 ? r.reasons : [r.message];
  return new CustodianError('E_KBS_RELEASE_REFUSED', `the key broker refused the sealing key (${r.code}): ${reasons.join('; ')}`, { kbsCode: r.code, reasons: [...reasons] });
}

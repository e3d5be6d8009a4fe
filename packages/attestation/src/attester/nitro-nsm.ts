/**
 * Evidence collection on AWS Nitro Enclaves through the Nitro Secure Module
 * (NSM), behind the same `collect(reportData)` interface as configfs-tsm.
 *
 * The NSM is `/dev/nsm`, spoken to with one ioctl (Linux
 * drivers/misc/nsm.c: `NSM_IOCTL_REQUEST = _IOWR(0x0A, 0, struct nsm_message)`,
 * where `nsm_message` holds a request iovec of at most 0x1000 bytes and a
 * response iovec of at most 0x3000 bytes). Node cannot issue an ioctl without
 * a native addon, so the transport is injected: an `NsmTransport` takes the
 * request CBOR and returns the response CBOR. `NsmSocketTransport` talks to
 * a local NSM service over a Unix socket (length-prefixed frames); the CLI's
 * helper-program transport lives in apps/cli (trusted packages do not spawn
 * processes). Neither the service nor a helper is part of this repository.
 *
 * Messages are the CBOR that aws-nitro-enclaves-nsm-api (serde, externally
 * tagged enums) exchanges with the device:
 *   request  { "Attestation": { "user_data": bstr|null, "nonce": bstr|null, "public_key": bstr|null } }
 *   response { "Attestation": { "document": bstr } }  or  { "Error": "InvalidArgument" | ... }
 */
import { createConnection } from 'node:net';
import { CustodianError } from '@custodian/core/errors';
import { equalBytes } from '@custodian/core/bytes';
import { decodeCbor } from '@custodian/core/cbor/decode';
import { encodeCbor } from '@custodian/core/cbor/encode';
import { CborMap, type CborValue } from '@custodian/core/cbor/types';
import { decodeCoseSign1, decodeEvidenceCbor, COSE_SIGN1_DEPTH_MAX } from '../cose-sign1.js';
import { decodeNitroPayload, NITRO_DOC_BYTES_MAX, NITRO_FIELD_BYTES_MAX } from '../nitro/document.js';
import type { Attester, CollectedEvidence } from './configfs-tsm.js';

/** The NSM character device. */
export const NSM_DEVICE_PATH = '/dev/nsm';
/** Largest request the NSM driver accepts (drivers/misc/nsm.c NSM_REQUEST_MAX_SIZE). */
export const NSM_REQUEST_BYTES_MAX = 0x1000;
/** Largest response the NSM driver returns (drivers/misc/nsm.c NSM_RESPONSE_MAX_SIZE). */
export const NSM_RESPONSE_BYTES_MAX = 0x3000;
/** How long a transport may take before it gives up. */
export const NSM_TRANSPORT_TIMEOUT_MS = 10_000;
/** Frame length prefix of the socket transport: 4 bytes, big-endian. */
export const NSM_FRAME_HEADER_BYTES = 4;
/** Deepest nesting of an NSM response: map → map → bstr. */
export const NSM_RESPONSE_DEPTH_MAX = 2;

/** Moves one request to the NSM and returns its response (both CBOR). */
export interface NsmTransport {
  request(requestCbor: Uint8Array): Promise<Uint8Array>;
}

/** The fields an NSM attestation request may carry. */
export interface NsmAttestationRequest {
  readonly userData?: Uint8Array;
  readonly nonce?: Uint8Array;
  readonly publicKey?: Uint8Array;
}

function unavailable(message: string, detail: Record<string, unknown> = {}): never {
  throw new CustodianError('E_UNAVAILABLE', message, detail);
}

/** Encodes an NSM `Attestation` request as aws-nitro-enclaves-nsm-api does. */
export function encodeNsmAttestationRequest(r: NsmAttestationRequest): Uint8Array {
  for (const [name, v] of [['user_data', r.userData], ['nonce', r.nonce], ['public_key', r.publicKey]] as const) {
    if (v !== undefined && v.length > NITRO_FIELD_BYTES_MAX) throw new CustodianError('E_ATTEST_INPUT', `${name} must be at most ${NITRO_FIELD_BYTES_MAX} bytes`, { length: v.length });
  }
  const inner = new CborMap([
    ['user_data', r.userData ?? null],
    ['nonce', r.nonce ?? null],
    ['public_key', r.publicKey ?? null],
  ]);
  const bytes = encodeCbor(new CborMap([['Attestation', inner]]));
  if (bytes.length > NSM_REQUEST_BYTES_MAX) throw new CustodianError('E_ATTEST_INPUT', `NSM request of ${bytes.length} bytes exceeds ${NSM_REQUEST_BYTES_MAX}`);
  return bytes;
}

/** Decodes an NSM response to an attestation request: the document, or a typed E_UNAVAILABLE naming the NSM error. */
export function decodeNsmAttestationResponse(response: Uint8Array): Uint8Array {
  if (response.length > NSM_RESPONSE_BYTES_MAX) unavailable(`NSM response of ${response.length} bytes exceeds ${NSM_RESPONSE_BYTES_MAX}`);
  let v: CborValue;
  try {
    v = decodeCbor(response, { maxBytes: NSM_RESPONSE_BYTES_MAX, maxDepth: NSM_RESPONSE_DEPTH_MAX });
  } catch (e) {
    return unavailable('NSM response is not valid CBOR', { cause: e instanceof Error ? e.message : String(e) });
  }
  if (!(v instanceof CborMap) || v.size !== 1) return unavailable('NSM response must be a map with one entry');
  const err = v.get('Error');
  if (err !== undefined) return unavailable(`NSM refused the request: ${typeof err === 'string' ? err.slice(0, 64) : 'unknown error'}`);
  const att = v.get('Attestation');
  if (!(att instanceof CborMap) || att.size !== 1) return unavailable('NSM response is neither Attestation nor Error');
  const doc = att.get('document');
  if (!(doc instanceof Uint8Array) || doc.length === 0 || doc.length > NITRO_DOC_BYTES_MAX) return unavailable('NSM response carries no attestation document');
  return doc;
}

/** Collects Nitro attestation documents from the NSM through an injected transport. */
export class NitroNsmAttester implements Attester {
  constructor(private readonly transport: NsmTransport) {}

  /** Collects a document whose user_data is `reportData` (1..1024 bytes). */
  async collect(reportData: Uint8Array): Promise<CollectedEvidence> {
    if (reportData.length === 0 || reportData.length > NITRO_FIELD_BYTES_MAX) {
      throw new CustodianError('E_ATTEST_INPUT', `report data must be 1..${NITRO_FIELD_BYTES_MAX} bytes`, { length: reportData.length });
    }
    return this.collectDocument({ userData: reportData });
  }

  /**
   * Collects a document carrying the given user_data / nonce / public_key.
   * The answer is decoded (unverified: verification is the verifier's job)
   * only to check that the NSM put back exactly what was asked for, so a
   * transport that replays an old document is caught here already.
   */
  async collectDocument(r: NsmAttestationRequest): Promise<CollectedEvidence> {
    const request = encodeNsmAttestationRequest(r);
    let response: Uint8Array;
    try {
      response = await this.transport.request(request);
    } catch (e) {
      if (e instanceof CustodianError) throw e;
      return unavailable('the NSM transport failed', { cause: e instanceof Error ? e.message : String(e) });
    }
    const evidence = decodeNsmAttestationResponse(response);
    const doc = readDocumentUnverified(evidence);
    const same = (want: Uint8Array | undefined, got: Uint8Array): boolean => want === undefined || equalBytes(want, got);
    if (!same(r.userData, doc.userData) || !same(r.nonce, doc.nonce) || !same(r.publicKey, doc.publicKey)) {
      unavailable('the NSM returned a document that does not carry the requested user_data, nonce or public_key');
    }
    return { format: 'nitro', provider: 'nitro_nsm', evidence };
  }
}

function readDocumentUnverified(evidence: Uint8Array): ReturnType<typeof decodeNitroPayload> {
  try {
    const cose = decodeCoseSign1(decodeEvidenceCbor(evidence, 'Nitro document', NITRO_DOC_BYTES_MAX, COSE_SIGN1_DEPTH_MAX), 'Nitro document', 'optional');
    return decodeNitroPayload(cose.payload);
  } catch (e) {
    return unavailable('the NSM returned a malformed attestation document', { cause: e instanceof Error ? e.message : String(e) });
  }
}

/**
 * Transport to a local NSM service over a Unix socket: one connection per
 * request; each direction is one frame, a 4-byte big-endian length and the
 * CBOR. A longer answer than NSM_RESPONSE_BYTES_MAX, a short one, a refused
 * connection or a timeout is E_UNAVAILABLE.
 */
export class NsmSocketTransport implements NsmTransport {
  constructor(
    private readonly socketPath: string,
    private readonly timeoutMs: number = NSM_TRANSPORT_TIMEOUT_MS,
  ) {}

  /** Sends one request frame and reads one response frame. */
  request(requestCbor: Uint8Array): Promise<Uint8Array> {
    return new Promise((resolve, reject) => {
      const sock = createConnection(this.socketPath);
      const chunks: Buffer[] = [];
      let size = 0;
      let settled = false;
      const timer = setTimeout(() => fail(`the NSM service did not answer within ${this.timeoutMs} ms`), this.timeoutMs);
      const settle = (): boolean => {
        if (settled) return false;
        settled = true;
        clearTimeout(timer);
        sock.destroy();
        return true;
      };
      const fail = (message: string, detail: Record<string, unknown> = {}): void => {
        if (settle()) reject(new CustodianError('E_UNAVAILABLE', message, detail));
      };
      sock.on('error', (e) => fail(`cannot reach the NSM service at ${this.socketPath}`, { cause: e.message }));
      sock.on('data', (c: Buffer) => {
        size += c.length;
        if (size > NSM_FRAME_HEADER_BYTES + NSM_RESPONSE_BYTES_MAX) return fail(`the NSM service answered more than ${NSM_RESPONSE_BYTES_MAX} bytes`);
        chunks.push(c);
        const all = Buffer.concat(chunks);
        if (all.length < NSM_FRAME_HEADER_BYTES) return;
        const len = all.readUInt32BE(0);
        if (len > NSM_RESPONSE_BYTES_MAX) return fail(`the NSM service announced ${len} bytes, above ${NSM_RESPONSE_BYTES_MAX}`);
        if (all.length > NSM_FRAME_HEADER_BYTES + len) return fail('the NSM service sent bytes after its answer');
        if (all.length === NSM_FRAME_HEADER_BYTES + len && settle()) resolve(new Uint8Array(all.subarray(NSM_FRAME_HEADER_BYTES)));
      });
      sock.on('close', () => fail('the NSM service closed the connection before answering'));
      const header = Buffer.alloc(NSM_FRAME_HEADER_BYTES);
      header.writeUInt32BE(requestCbor.length);
      sock.write(Buffer.concat([header, Buffer.from(requestCbor)])); // the service reads one frame by its length; we close after the answer
    });
  }
}

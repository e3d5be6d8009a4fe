import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readVector } from '@custodian/core/vectors';
import { isCustodianError } from '@custodian/core/errors';
import { decodeCbor } from '@custodian/core/cbor/decode';
import { encodeCbor } from '@custodian/core/cbor/encode';
import { CborMap } from '@custodian/core/cbor/types';
import { createServer, type Server, type Socket } from 'node:net';
import { decodeNsmAttestationResponse, encodeNsmAttestationRequest, NitroNsmAttester, NsmSocketTransport, NSM_RESPONSE_BYTES_MAX, type NsmTransport } from './nitro-nsm.js';
import { detectAttesterPlatform } from './platform.js';
import { verifyEvidence } from '../verify.js';

// attestation-doc-1.cbor: user_data, nonce and public_key are each 1024 bytes of 0x01 (vectors README / facts.json).
const DOC = readVector('attestation', 'nitro', 'attestation-doc-1.cbor');
const ONES = new Uint8Array(1024).fill(1);
const AT = new Date('2024-09-07T15:00:00Z');

const answer = (doc: Uint8Array): Uint8Array => encodeCbor(new CborMap([['Attestation', new CborMap([['document', doc]])]]));

/** A fake NSM: records each request and answers with a fixed response. */
function fakeNsm(response: Uint8Array): NsmTransport & { requests: Uint8Array[] } {
  const requests: Uint8Array[] = [];
  return { requests, request: async (r) => (requests.push(r), response) };
}

test('collects a real Nitro document through a fake NSM transport, and it verifies', async () => {
  const nsm = fakeNsm(answer(DOC));
  const got = await new NitroNsmAttester(nsm).collect(ONES);
  assert.equal(got.format, 'nitro');
  assert.equal(got.provider, 'nitro_nsm');
  assert.deepEqual(got.evidence, DOC);
  // the request is the aws-nitro-enclaves-nsm-api CBOR: { "Attestation": { user_data, nonce: null, public_key: null } }
  const req = decodeCbor(nsm.requests[0]!) as CborMap;
  const inner = req.get('Attestation') as CborMap;
  assert.deepEqual(inner.get('user_data'), ONES);
  assert.equal(inner.get('nonce'), null);
  assert.equal(inner.get('public_key'), null);
  const claims = verifyEvidence('auto', got.evidence, { now: AT, reportData: ONES });
  assert.equal(claims.format, 'nitro');
});

test('collectDocument sends nonce and public key and checks they come back', async () => {
  const got = await new NitroNsmAttester(fakeNsm(answer(DOC))).collectDocument({ userData: ONES, nonce: ONES, publicKey: ONES });
  assert.deepEqual(got.evidence, DOC);
  await assert.rejects(new NitroNsmAttester(fakeNsm(answer(DOC))).collectDocument({ userData: ONES, nonce: new Uint8Array(8) }), (e) => isCustodianError(e, 'E_UNAVAILABLE'));
});

test('B21 refuses a document that does not carry the requested user_data (replayed by the transport)', async () => {
  await assert.rejects(new NitroNsmAttester(fakeNsm(answer(DOC))).collect(new Uint8Array(64).fill(7)), (e) => isCustodianError(e, 'E_UNAVAILABLE') && /does not carry/.test(e.message));
});

test('rejects NSM errors, malformed responses and bad report data with typed errors', async () => {
  const attester = (r: Uint8Array): NitroNsmAttester => new NitroNsmAttester(fakeNsm(r));
  await assert.rejects(attester(encodeCbor(new CborMap([['Error', 'InvalidArgument']]))).collect(ONES), (e) => isCustodianError(e, 'E_UNAVAILABLE') && /InvalidArgument/.test(e.message));
  await assert.rejects(attester(new Uint8Array([0xa1, 0xff])).collect(ONES), (e) => isCustodianError(e, 'E_UNAVAILABLE'));
  await assert.rejects(attester(answer(new Uint8Array([0x84, 0x40]))).collect(ONES), (e) => isCustodianError(e, 'E_UNAVAILABLE') && /malformed/.test(e.message));
  await assert.rejects(attester(answer(DOC)).collect(new Uint8Array(0)), (e) => isCustodianError(e, 'E_ATTEST_INPUT'));
  await assert.rejects(attester(answer(DOC)).collect(new Uint8Array(1025)), (e) => isCustodianError(e, 'E_ATTEST_INPUT'));
  assert.throws(() => decodeNsmAttestationResponse(new Uint8Array(NSM_RESPONSE_BYTES_MAX + 1)), (e) => isCustodianError(e, 'E_UNAVAILABLE'));
  const thrower: NsmTransport = { request: async () => Promise.reject(new Error('EIO')) };
  await assert.rejects(new NitroNsmAttester(thrower).collect(ONES), (e) => isCustodianError(e, 'E_UNAVAILABLE'));
});

test('B01 refuses an NSM response with duplicate keys', () => {
  // { "Attestation": { "document": h'00' }, "Attestation": ... } built by hand
  const dup = Buffer.concat([Buffer.from([0xa2]), Buffer.from(answer(new Uint8Array([1]))).subarray(1), Buffer.from(answer(new Uint8Array([1]))).subarray(1)]);
  assert.throws(() => decodeNsmAttestationResponse(dup), (e) => isCustodianError(e, 'E_UNAVAILABLE'));
});

test('the request encoder refuses oversized fields', () => {
  assert.throws(() => encodeNsmAttestationRequest({ userData: new Uint8Array(1025) }), (e) => isCustodianError(e, 'E_ATTEST_INPUT'));
});

/** A fake NSM service on a Unix socket: reads one length-prefixed request, then lets `answer` reply. */
async function fakeService(reply: (req: Uint8Array, sock: Socket) => void): Promise<{ path: string; server: Server; requests: Uint8Array[] }> {
  const path = join(mkdtempSync(join(tmpdir(), 'nsm-sock-')), 'nsm.sock');
  const requests: Uint8Array[] = [];
  const server = createServer((sock) => {
    let buf = Buffer.alloc(0);
    sock.on('data', (c: Buffer) => {
      buf = Buffer.concat([buf, c]);
      if (buf.length >= 4 && buf.length === 4 + buf.readUInt32BE(0)) {
        const req = new Uint8Array(buf.subarray(4));
        requests.push(req);
        reply(req, sock);
      }
    });
    sock.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(path, r));
  return { path, server, requests };
}
const frame = (b: Uint8Array): Buffer => {
  const h = Buffer.alloc(4);
  h.writeUInt32BE(b.length);
  return Buffer.concat([h, b]);
};

test('the socket transport sends one framed request to an NSM service and reads its framed answer', async () => {
  const svc = await fakeService((_req, sock) => sock.write(frame(answer(DOC))));
  try {
    const got = await new NitroNsmAttester(new NsmSocketTransport(svc.path)).collect(ONES);
    assert.deepEqual(got.evidence, DOC);
    assert.deepEqual(svc.requests[0], encodeNsmAttestationRequest({ userData: ONES }));
  } finally {
    svc.server.close();
  }
});

test('the socket transport refuses oversized, trailing, truncated, late and missing answers', async () => {
  const cases: [string, (req: Uint8Array, sock: Socket) => void, RegExp][] = [
    ['oversized', (_r, s) => s.write(Buffer.from([0, 0, 0x40, 0])), /announced/],
    ['trailing', (_r, s) => s.write(Buffer.concat([frame(answer(DOC)), Buffer.from([0])])), /after its answer/],
    ['truncated', (_r, s) => s.end(frame(answer(DOC)).subarray(0, 100)), /closed the connection/],
    ['late', () => undefined, /within 200 ms/],
  ];
  for (const [name, reply, re] of cases) {
    const svc = await fakeService(reply);
    try {
      await assert.rejects(new NsmSocketTransport(svc.path, 200).request(encodeNsmAttestationRequest({ userData: ONES })), (e) => isCustodianError(e, 'E_UNAVAILABLE') && re.test(e.message), name);
    } finally {
      svc.server.close();
    }
  }
  await assert.rejects(new NsmSocketTransport(join(tmpdir(), 'no-such-nsm.sock')).request(new Uint8Array([0xa0])), (e) => isCustodianError(e, 'E_UNAVAILABLE'));
});

test('platform detection prefers /dev/nsm, then configfs-tsm, and never picks sim', () => {
  assert.equal(detectAttesterPlatform((p) => p === '/dev/nsm' || p.startsWith('/sys')), 'nitro');
  assert.equal(detectAttesterPlatform((p) => p === '/sys/kernel/config/tsm/report'), 'configfs-tsm');
  assert.equal(detectAttesterPlatform(() => false), undefined);
});

test('only E_UNAVAILABLE escapes the NSM response decoder and the attester on mutated responses', async () => {
  const good = answer(DOC);
  let seed = 3;
  const rand = (n: number): number => ((seed = (seed * 1103515245 + 12345) >>> 0) % n);
  for (let k = 0; k < 1500; k++) {
    const m = new Uint8Array(good);
    for (let j = 0; j <= rand(3); j++) m[rand(Math.min(m.length, 64))] = rand(256); // headers and the first document bytes
    m[rand(m.length)] = rand(256);
    const cut = rand(5) === 0 ? m.subarray(0, rand(m.length)) : m;
    try {
      await new NitroNsmAttester(fakeNsm(cut)).collect(ONES);
    } catch (e) {
      assert.ok(isCustodianError(e, 'E_UNAVAILABLE'), `unexpected error: ${String(e)}`);
    }
  }
});

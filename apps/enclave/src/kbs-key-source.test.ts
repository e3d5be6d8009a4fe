/**
 * The enclave's key release against the real key broker over HTTP (software
 * root, sim evidence appraised with the sim root), with the parent in the
 * middle as a transport that can be made hostile: it may substitute the
 * answer, forge one, or send garbage. Only a key the broker released and
 * signed for this enclave's ephemeral key and nonce is accepted.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import { systemClock, systemRandom } from '@custodian/core/clock';
import { isCustodianError } from '@custodian/core/errors';
import { bytesToHex, equalBytes, hexToBytes, utf8 } from '@custodian/core/bytes';
import { hpkeSeal } from '@custodian/core/hpke-seal';
import { createSimRoot, issueSimEvidence } from '@custodian/attestation/sim/sim-evidence';
import { parseJson } from '@custodian/core/canonical-json';
import { keyReleaseInfo, KEY_RELEASE_ANSWER_BYTES_MAX } from '@custodian/protocol/key-release';
import { openSoftwareRoot } from '@custodian/kbs/hsm/software-root';
import type { RootOfTrust } from '@custodian/kbs/hsm/root-of-trust';
import { KeyBroker } from '@custodian/kbs/key-broker';
import { NonceStore } from '@custodian/kbs/nonce-store';
import { MeasurementRegistry } from '@custodian/kbs/measurement-approvals';
import { MemoryAuditSink } from '@custodian/kbs/audit-sink';
import { createWrappedSealingMaster, deriveSealingKey } from '@custodian/kbs/sealing-keys';
import { attestationAppraiser } from '@custodian/kbs/attestation-appraiser';
import { createKbsServer, listenKbs } from '@custodian/kbs/server';
import { makeQuorum, signedChange } from '@custodian/kbs/test-fixtures';
import { obtainSealingKeyFromKbs, signerSealingKey, type KbsTransport } from './kbs-key-source.js';

const APPROVED = new Uint8Array(48).fill(0xa1);
const UNAPPROVED = new Uint8Array(48).fill(0xb2);
const simRoot = createSimRoot();
let root: RootOfTrust;
let wrappedMaster: Uint8Array;
let server: Server;
let base = '';
let kbsPublicKey: Uint8Array;
const audit = new MemoryAuditSink();

before(async () => {
  root = await openSoftwareRoot({ warn: () => undefined });
  wrappedMaster = await createWrappedSealingMaster(root);
  const { quorum, secrets } = makeQuorum(1, 1);
  const measurements = new MeasurementRegistry(quorum);
  measurements.approve(signedChange({ measurement: bytesToHex(APPROVED), previous: null, approvedAtMs: Date.now(), reason: 'test' }, secrets, ['member-0']));
  const broker = new KeyBroker({
    root,
    wrappedMaster,
    nonces: new NonceStore(systemClock, systemRandom),
    measurements,
    appraise: attestationAppraiser({ policy: { version: 1, allowSimulated: true }, simRootPublicKey: simRoot.publicKey, clock: systemClock }),
    audit,
    clock: systemClock,
  });
  server = createKbsServer({ broker, root, measurements });
  base = await listenKbs(server, '127.0.0.1', 0);
  kbsPublicKey = await root.publicKey('kbs-signing');
});

after(async () => {
  await new Promise<void>((r) => server.close(() => r()));
  await root.close();
});

async function post(path: string, body: Uint8Array): Promise<Uint8Array> {
  const r = await fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  return new Uint8Array(await r.arrayBuffer());
}

/** The honest parent: forwards bytes. */
const honest: KbsTransport = { nonce: () => post('/v1/nonce', utf8('{}')), release: (body) => post('/v1/release', body) };

function attester(measurement: Uint8Array): (rd: Uint8Array) => Promise<Uint8Array> {
  return async (rd) => issueSimEvidence(simRoot, measurement, rd, Date.now());
}

async function refusedWith(p: Promise<unknown>, code: string): Promise<Record<string, unknown>> {
  try {
    await p;
  } catch (e) {
    assert.ok(isCustodianError(e, code), `expected ${code}, got ${(e as Error).message}`);
    return { ...e.detail, message: e.message };
  }
  assert.fail(`expected ${code}, but the key was accepted`);
}

test('obtains the measurement key the broker released, per signer, and the same key again on the next boot', async () => {
  const a1 = await obtainSealingKeyFromKbs({ transport: honest, attest: attester(APPROVED), kbsPublicKey, signerId: 'signer-1' });
  const a2 = await obtainSealingKeyFromKbs({ transport: honest, attest: attester(APPROVED), kbsPublicKey, signerId: 'signer-1' });
  const b = await obtainSealingKeyFromKbs({ transport: honest, attest: attester(APPROVED), kbsPublicKey, signerId: 'signer-2' });
  assert.equal(a1.measurement, bytesToHex(APPROVED));
  const released = await deriveSealingKey(root, wrappedMaster, bytesToHex(APPROVED));
  assert.ok(equalBytes(a1.key, signerSealingKey(released.expose(), 'signer-1')));
  assert.ok(equalBytes(a1.key, a2.key), 'a restart gets the same key');
  assert.ok(!equalBytes(a1.key, b.key), 'signers of one measurement do not share a sealing key');
  assert.ok(equalBytes(a1.recoveryKey, await root.publicKey('recovery')), 'the signed answer names the HSM recovery key');
  assert.equal(audit.ofKind('kbs.key_released').length, 3);
});

test('B24 a measurement the quorum did not approve fails closed with the broker reasons', async () => {
  const d = await refusedWith(obtainSealingKeyFromKbs({ transport: honest, attest: attester(UNAPPROVED), kbsPublicKey, signerId: 'signer-1' }), 'E_KBS_RELEASE_REFUSED');
  assert.equal(d['kbsCode'], 'E_KBS_MEASUREMENT_NOT_APPROVED');
  assert.ok((d['reasons'] as string[]).some((r) => /not approved/.test(r)));
  assert.ok(audit.ofKind('kbs.release_refused').some((e) => e.body['measurement'] === bytesToHex(UNAPPROVED)));
});

test('refuses a key the parent sealed itself to the ephemeral key (the broker signature does not cover it)', async () => {
  // The parent forwards the request, takes the genuine answer and swaps in a key of its own, HPKE-sealed to the same ephemeral key, info and nonce.
  const substituting: KbsTransport = {
    nonce: honest.nonce,
    release: async (body) => {
      const req = parseJson(body) as Record<string, string>;
      const genuine = JSON.parse(new TextDecoder().decode(await honest.release(body))) as Record<string, unknown>;
      const mine = await hpkeSeal(hexToBytes(req['publicKey']!), new Uint8Array(32).fill(7), keyReleaseInfo(String(genuine['measurement'])), hexToBytes(req['nonce']!));
      return utf8(JSON.stringify({ ...genuine, enc: bytesToHex(mine.enc), ciphertext: bytesToHex(mine.ciphertext) }));
    },
  };
  await refusedWith(obtainSealingKeyFromKbs({ transport: substituting, attest: attester(APPROVED), kbsPublicKey, signerId: 'signer-1' }), 'E_KBS_ANSWER_INVALID');
});

test('refuses an answer whose recovery key the parent swapped (backups would go to the parent)', async () => {
  const other = await openSoftwareRoot({ warn: () => undefined });
  try {
    const mine = bytesToHex(await other.publicKey('recovery'));
    const swapping: KbsTransport = {
      nonce: honest.nonce,
      release: async (body) => {
        const genuine = JSON.parse(new TextDecoder().decode(await honest.release(body))) as Record<string, unknown>;
        return utf8(JSON.stringify({ ...genuine, recoveryKey: mine }));
      },
    };
    await refusedWith(obtainSealingKeyFromKbs({ transport: swapping, attest: attester(APPROVED), kbsPublicKey, signerId: 'signer-1' }), 'E_KBS_ANSWER_INVALID');
  } finally {
    await other.close();
  }
});

test('refuses an answer signed by another broker than the one the enclave was launched with', async () => {
  const other = await openSoftwareRoot({ warn: () => undefined });
  try {
    await refusedWith(obtainSealingKeyFromKbs({ transport: honest, attest: attester(APPROVED), kbsPublicKey: await other.publicKey('kbs-signing'), signerId: 'signer-1' }), 'E_KBS_ANSWER_INVALID');
  } finally {
    await other.close();
  }
});

test('a parent that answers garbage, an oversized body or a forged refusal only fails the boot', async () => {
  const garbage: KbsTransport = { nonce: async () => utf8('<html>bad gateway</html>'), release: honest.release };
  await refusedWith(obtainSealingKeyFromKbs({ transport: garbage, attest: attester(APPROVED), kbsPublicKey, signerId: 's' }), 'E_KBS_ANSWER_INVALID');
  const huge: KbsTransport = { nonce: honest.nonce, release: async () => new Uint8Array(KEY_RELEASE_ANSWER_BYTES_MAX + 1).fill(0x20) };
  await refusedWith(obtainSealingKeyFromKbs({ transport: huge, attest: attester(APPROVED), kbsPublicKey, signerId: 's' }), 'E_KBS_ANSWER_INVALID');
  const unknownField: KbsTransport = { nonce: async () => utf8(JSON.stringify({ ok: true, nonce: '00'.repeat(32), expiresAtMs: 1, extra: 1 })), release: honest.release };
  await refusedWith(obtainSealingKeyFromKbs({ transport: unknownField, attest: attester(APPROVED), kbsPublicKey, signerId: 's' }), 'E_FIELD_UNKNOWN');
  const forgedRefusal: KbsTransport = { nonce: async () => utf8(JSON.stringify({ ok: false, error: { code: 'not a code', message: 'go away', detail: { reasons: ['x'.repeat(5000)] } } })), release: honest.release };
  const d = await refusedWith(obtainSealingKeyFromKbs({ transport: forgedRefusal, attest: attester(APPROVED), kbsPublicKey, signerId: 's' }), 'E_KBS_RELEASE_REFUSED');
  assert.equal(d['kbsCode'], 'E_KBS_REFUSED', 'an ill-formed code is not repeated');
  assert.ok((d['reasons'] as string[])[0]!.length <= 1024, 'reasons are bounded');
});

test('B21 a replayed nonce is refused by the broker, and the enclave says so', async () => {
  let first: Uint8Array | null = null;
  const replaying: KbsTransport = {
    nonce: async () => (first ??= await honest.nonce()),
    release: honest.release,
  };
  await obtainSealingKeyFromKbs({ transport: replaying, attest: attester(APPROVED), kbsPublicKey, signerId: 's' });
  const d = await refusedWith(obtainSealingKeyFromKbs({ transport: replaying, attest: attester(APPROVED), kbsPublicKey, signerId: 's' }), 'E_KBS_RELEASE_REFUSED');
  assert.equal(d['kbsCode'], 'E_KBS_NONCE_REPLAYED');
});

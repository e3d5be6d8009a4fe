// RFC 9180 Appendix A vectors for every suite @hpke/core implements
// (DHKEM X25519/P-256/P-521, HKDF-SHA256/SHA512, AES-128/256-GCM, export-only).
// ChaCha20Poly1305 lives in a separate @hpke package that is not installed here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Aes128Gcm, Aes256Gcm, CipherSuite, DhkemP256HkdfSha256, DhkemP521HkdfSha512, DhkemX25519HkdfSha256, ExportOnly, HkdfSha256, HkdfSha512 } from '@hpke/core';
import { bytesToHex, hexToBytes } from '@custodian/core/bytes';
import { readJsonVector } from '@custodian/core/vectors';
import { PEER_CHANNEL_INFO } from './peer-channel.js';
import { peerSuite } from './peer-suite.js';

interface HpkeVector {
  suite: string;
  mode: number;
  kem_id: number;
  kdf_id: number;
  aead_id: number;
  info: string;
  ikmE: string;
  ikmR: string;
  pkRm: string;
  ikmS?: string;
  pkSm?: string;
  psk?: string;
  psk_id?: string;
  enc: string;
  encryptions?: { sequence_number: number; pt: string; aad: string; ct: string }[];
  exports: { exporter_context: string; L: number; exported_value: string }[];
}

type Make<T> = Partial<Record<number, () => T>>;
const kems: Make<CipherSuite['kem']> = { 32: () => new DhkemX25519HkdfSha256(), 16: () => new DhkemP256HkdfSha256(), 18: () => new DhkemP521HkdfSha512() };
const kdfs: Make<CipherSuite['kdf']> = { 1: () => new HkdfSha256(), 3: () => new HkdfSha512() };
const aeads: Make<CipherSuite['aead']> = { 1: () => new Aes128Gcm(), 2: () => new Aes256Gcm(), 65535: () => new ExportOnly() };

function suiteFor(v: HpkeVector): CipherSuite | undefined {
  const kem = kems[v.kem_id];
  const kdf = kdfs[v.kdf_id];
  const aead = aeads[v.aead_id];
  return kem && kdf && aead ? new CipherSuite({ kem: kem(), kdf: kdf(), aead: aead() }) : undefined;
}

const vectors = readJsonVector<HpkeVector[]>('hpke', 'rfc9180-appendix-a-vectors.json');
const covered = vectors.filter((v) => suiteFor(v) !== undefined);

test('the @hpke/core suites cover 20 of the 28 Appendix A setups (all but ChaCha20Poly1305)', () => {
  assert.equal(covered.length, 20);
  assert.ok(vectors.filter((v) => suiteFor(v) === undefined).every((v) => v.aead_id === 3));
});

for (const v of covered) {
  test(`RFC 9180 A: ${v.suite} mode ${v.mode}`, async () => {
    const suite = suiteFor(v)!;
    const rkp = await suite.kem.deriveKeyPair(hexToBytes(v.ikmR));
    assert.equal(bytesToHex(new Uint8Array(await suite.kem.serializePublicKey(rkp.publicKey))), v.pkRm);
    const skp = v.ikmS !== undefined ? await suite.kem.deriveKeyPair(hexToBytes(v.ikmS)) : undefined;
    const psk = v.psk !== undefined && v.psk_id !== undefined ? { key: hexToBytes(v.psk), id: hexToBytes(v.psk_id) } : undefined;
    const sender = await suite.createSenderContext({
      recipientPublicKey: rkp.publicKey,
      info: hexToBytes(v.info),
      ekm: hexToBytes(v.ikmE),
      ...(skp ? { senderKey: skp } : {}),
      ...(psk ? { psk } : {}),
    });
    assert.equal(bytesToHex(new Uint8Array(sender.enc)), v.enc);
    const recipient = await suite.createRecipientContext({
      recipientKey: rkp,
      enc: hexToBytes(v.enc),
      info: hexToBytes(v.info),
      ...(skp ? { senderPublicKey: skp.publicKey } : {}),
      ...(psk ? { psk } : {}),
    });
    let seq = 0;
    for (const e of v.encryptions ?? []) {
      for (; seq < e.sequence_number; seq++) {
        await recipient.open(await sender.seal(new Uint8Array(1), new Uint8Array(0)), new Uint8Array(0)); // advance both sides
      }
      const ct = new Uint8Array(await sender.seal(hexToBytes(e.pt), hexToBytes(e.aad)));
      assert.equal(bytesToHex(ct), e.ct, `ct at sequence ${e.sequence_number}`);
      assert.equal(bytesToHex(new Uint8Array(await recipient.open(ct, hexToBytes(e.aad)))), e.pt);
      seq++;
    }
    for (const x of v.exports) {
      assert.equal(bytesToHex(new Uint8Array(await sender.export(hexToBytes(x.exporter_context), x.L))), x.exported_value);
      assert.equal(bytesToHex(new Uint8Array(await recipient.export(hexToBytes(x.exporter_context), x.L))), x.exported_value);
    }
  });
}

test('the peer channel suite is the vectors’ X25519/HKDF-SHA256/AES-128-GCM suite', () => {
  assert.equal(peerSuite.kem.id, 32);
  assert.equal(peerSuite.kdf.id, 1);
  assert.equal(peerSuite.aead.id, 1);
  assert.ok(PEER_CHANNEL_INFO.length > 0);
});

/**
 * A signer's sealed state moved to a new enclave build, in process (DESIGN.md
 * flow 6; issue 7 item 2): the old build (measurement M1) hands its state to
 * a pristine build of the same signer with measurement M2 only when the
 * installed, quorum-signed manifest lists M2; it retires for good; the new
 * build is the same signer (identity, keys, chain) and signs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deflateRawSync } from 'node:zlib';
import { ed25519 } from '@noble/curves/ed25519.js';
import { canonicalJsonBytes, parseJson, type Json } from '@custodian/core/canonical-json';
import { bytesTo0x, bytesToHex, hexToBytes } from '@custodian/core/bytes';
import { generateHpkeKeyPair, hpkeSeal } from '@custodian/core/hpke-seal';
import { createSimRoot, issueSimEvidence } from '@custodian/attestation/sim/sim-evidence';
import { identityReportData } from '@custodian/protocol/identity-binding';
import { encodeSignedRequest, signRequest } from '@custodian/protocol/operator-request';
import { APPROVAL_TYPE, TX_PROPOSAL_TYPE, WALLET_CREATE_TYPE } from '@custodian/protocol/payloads';
import { decodeAuditEntry, decodeEnclaveSigned, statementHash } from '@custodian/protocol/enclave-signed';
import { encodeUnsignedEip1559 } from '@custodian/chains/evm/eip1559';
import { parseAddress } from '@custodian/chains/evm/address';
import { Secret } from '@custodian/core/secret';
import { Enclave } from './enclave.js';
import { seal, unseal } from './sealed-state.js';
import { decodeState, encodeState } from './state.js';
import { MIGRATION_OFFER_TTL_MS, MIGRATION_PACKAGE_BYTES_MAX, MIGRATION_PACKAGE_TYPE, migrationInfo, migrationPackageDigest } from './migrate-ops.js';
import { bootSigners, memoryPlatform, orgKeys, orgManifest, RecordingHost, rejectsWith, requestNonce, simHardware, type MemoryPlatform } from './test-signers.js';

type R = Record<string, Json>;
const TO = '0x70997970c51812dc3a010c7d01b50e0d17dc79c8';
const hw = simHardware();
const M2 = new Uint8Array(48).fill(8);
const M3 = new Uint8Array(48).fill(9);
const keys = orgKeys();
// The quorum approved the new build: the manifest lists M1 (hw) and M2, never M3.
const manifest = orgManifest(hw, keys, { allowlist: [TO], maxValueWei: '1000000', measurements: [M2] });

interface Transfer {
  readonly proposal: Json;
  readonly approvals: Json[];
  readonly signed: R;
}

/** Proposes and signs a transfer from `w` with bob's and carol's approvals. */
async function signTransfer(e: Enclave, host: RecordingHost): Promise<Transfer> {
  const raw = encodeUnsignedEip1559({ chainId: 31337n, nonce: BigInt(Math.floor(Math.random() * 1e6)), maxPriorityFeePerGas: 1n, maxFeePerGas: 2n, gasLimit: 21000n, to: parseAddress(TO), value: 5n, data: new Uint8Array(0), accessList: [] });
  const proposal = encodeSignedRequest(signRequest({ type: TX_PROPOSAL_TYPE, orgId: 'acme', walletId: 'w', chain: 'eth', rawTx: bytesTo0x(raw), nonce: requestNonce(), createdAtMs: Date.now() }, 'dave', keys['dave']!));
  const res = (await e.handle('tx.propose', { request: proposal }, host.peer)) as R;
  const approvals = ['bob', 'carol'].map((who) =>
    encodeSignedRequest(signRequest({ type: APPROVAL_TYPE, orgId: 'acme', requestId: String(res['requestId']), txDigest: String(res['txDigest']), summaryHash: String(res['summaryHash']), expiresAtMs: Date.now() + 600_000, nonce: requestNonce() }, who, keys[who]!)),
  );
  return { proposal, approvals, signed: (await e.handle('tx.sign', { proposal, approvals }, host.peer)) as R };
}

/** The old build (M1) with a single-key wallet `w` that has signed once. */
async function oldBuild(): Promise<{ platform: MemoryPlatform; host: RecordingHost; enclave: Enclave; first: Transfer }> {
  const platform = memoryPlatform(hw);
  const host = new RecordingHost();
  const enclave = (await bootSigners(['signer-1'], new Map([['signer-1', platform]]), manifest, host)).get('signer-1')!;
  const wc = signRequest({ type: WALLET_CREATE_TYPE, orgId: 'acme', walletId: 'w', scheme: 'single', signerId: 'signer-1', nonce: requestNonce(), createdAtMs: Date.now() }, 'alice', keys['alice']!);
  await enclave.handle('wallet.create', { request: encodeSignedRequest(wc) }, host.peer);
  return { platform, host, enclave, first: await signTransfer(enclave, host) };
}

/** A pristine build of signer-1 with `measurement` (M2 by default), on its own platform (its own sealing key). */
async function newBuild(measurement: Uint8Array = M2): Promise<{ platform: MemoryPlatform; enclave: Enclave }> {
  const platform = memoryPlatform({ root: hw.root, measurement });
  const enclave = new Enclave(platform, 'signer-1');
  await enclave.boot();
  return { platform, enclave };
}

/** Offer → prepare → export: the old build's answer. */
async function offerPrepareExport(old: Enclave, fresh: Enclave, host: RecordingHost): Promise<R> {
  const offer = (await old.handle('state.migrate.offer', {}, host.peer)) as R;
  const prepared = (await fresh.handle('state.migrate.prepare', { nonce: offer['nonce']! }, host.peer)) as R;
  return (await old.handle('state.migrate.export', { nonce: offer['nonce']!, publicKey: prepared['publicKey']!, evidence: prepared['evidence']! }, host.peer)) as R;
}

const stateOf = (p: MemoryPlatform): ReturnType<typeof decodeState> => {
  const { version, plaintext } = unseal(p.key, 'signer-1', p.blob!);
  return decodeState(plaintext, version);
};

test('flow 6: the new build takes the state (same identity, chain, replay records; no unused FROST nonce) and signs with the migrated key', async () => {
  const { platform, host, enclave: old, first } = await oldBuild();
  // An unused FROST nonce in the old build's sealed state (as a round-one commitment leaves one): it must not travel.
  const s = stateOf(platform);
  s.frostNonces.set('ab'.repeat(32), { sessionId: 'sess', hiding: new Secret(new Uint8Array(32).fill(1)), binding: new Secret(new Uint8Array(32).fill(2)), atMs: Date.now() });
  platform.blob = seal(platform.key, 'signer-1', s.version + 1n, encodeState(s));
  const oldAgain = new Enclave(platform, 'signer-1');
  await oldAgain.boot();
  assert.equal(stateOf(platform).frostNonces.size, 1, 'the old build holds an unused FROST nonce');
  const identity = bytesToHex(old.identityKey());

  const { platform: newPlatform, enclave: fresh } = await newBuild();
  assert.notEqual(bytesToHex(fresh.identityKey()), identity);
  const out = await offerPrepareExport(oldAgain, fresh, host);
  assert.equal(out['toMeasurement'], bytesToHex(M2));
  assert.deepEqual(out['wallets'], ['w']);
  const movedOut = host.signed.at(-1)!;
  assert.equal(host.entries.at(-1)!.kind, 'state.migrated_out');
  assert.equal(host.entries.at(-1)!.data['toMeasurement'], bytesToHex(M2));

  const imported = (await fresh.handle('state.migrate.import', { package: out['package']! }, host.peer)) as R;
  assert.equal(imported['identityKey'], identity);
  assert.equal(imported['fromMeasurement'], bytesToHex(hw.measurement));
  assert.equal(bytesToHex(fresh.identityKey()), identity, 'the new build is the same signer');
  // Until the move is audited the new build serves nothing else.
  await rejectsWith(fresh.handle('tx.sign', { proposal: first.proposal, approvals: first.approvals }, host.peer), 'E_MIGRATION_UNCONFIRMED');
  await rejectsWith(fresh.handle('checkpoint.sign', {}, host.peer), 'E_MIGRATION_UNCONFIRMED');
  await fresh.handle('state.migrate.confirm', {}, host.peer);
  const movedIn = decodeAuditEntry(decodeEnclaveSigned(host.signed.at(-1)!, 'e').statement);
  const out0 = decodeAuditEntry(decodeEnclaveSigned(movedOut, 'e').statement);
  assert.equal(movedIn.kind, 'state.migrated_in');
  assert.equal(movedIn.seq, out0.seq + 1, 'the new build writes the next position of the same chain');
  assert.equal(movedIn.prevHash, statementHash(decodeEnclaveSigned(movedOut, 'e').statement));
  assert.equal(fresh.phase, 'READY');

  // Replay records travelled: the same signed request is answered with the same transaction (F03).
  const again = (await fresh.handle('tx.sign', { proposal: first.proposal, approvals: first.approvals }, host.peer)) as R;
  assert.equal(again['signedTx'], first.signed['signedTx']);
  const next = await signTransfer(fresh, host);
  assert.ok(String(next.signed['signedTx']).startsWith('0x02'), 'the migrated wallet key signs');
  const sealedNew = stateOf(newPlatform);
  assert.equal(sealedNew.frostNonces.size, 0, 'unused FROST nonces are never migrated');
  assert.ok(sealedNew.consumedNonces.size > 0 && sealedNew.requestSeen.size > 0, 'consumed nonces and first-sight times travel');
  assert.ok(!sealedNew.retired);
});

test('the old build refuses everything but hello after the export (E_SIGNER_RETIRED), unaudited, and still after a restart', async () => {
  const { platform, host, enclave: old, first } = await oldBuild();
  const { enclave: fresh } = await newBuild();
  await offerPrepareExport(old, fresh, host);
  const entries = host.entries.length;
  await rejectsWith(old.handle('tx.sign', { proposal: first.proposal, approvals: first.approvals }, host.peer), 'E_SIGNER_RETIRED');
  await rejectsWith(old.handle('tx.propose', { request: first.proposal }, host.peer), 'E_SIGNER_RETIRED');
  await rejectsWith(old.handle('checkpoint.sign', {}, host.peer), 'E_SIGNER_RETIRED');
  await rejectsWith(old.handle('state.migrate.offer', {}, host.peer), 'E_SIGNER_RETIRED');
  await rejectsWith(old.handle('backup.export', {}, host.peer), 'E_SIGNER_RETIRED');
  assert.equal(host.entries.length, entries, 'a retired build writes nothing to the chain the new build continues');
  const rebooted = new Enclave(platform, 'signer-1');
  await rebooted.boot();
  assert.equal(stateOf(platform).retired?.toMeasurement, bytesToHex(M2));
  await rejectsWith(rebooted.handle('tx.sign', { proposal: first.proposal, approvals: first.approvals }, host.peer), 'E_SIGNER_RETIRED');
  assert.equal(((await rebooted.handle('hello', { nonce: '00'.repeat(32) }, host.peer)) as R)['signerId'], 'signer-1');
});

test('issue 7 item 2: export refused for a target measurement the manifest does not list (E_ATTEST_MEASUREMENT), audited; the old build keeps serving', async () => {
  const { host, enclave: old } = await oldBuild();
  const { enclave: unlisted } = await newBuild(M3);
  await rejectsWith(offerPrepareExport(old, unlisted, host), 'E_ATTEST_MEASUREMENT');
  const refused = host.entries.at(-1)!;
  assert.equal(refused.kind, 'state.migration_refused');
  assert.equal(refused.data['code'], 'E_ATTEST_MEASUREMENT');
  assert.ok(host.of('state.migrated_out').length === 0);
  await signTransfer(old, host);
});

test('export refused: evidence binding another key (E_ATTEST_BINDING), another sim root (E_ATTEST_SIGNATURE)', async () => {
  const { host, enclave: old } = await oldBuild();
  const { enclave: fresh } = await newBuild();
  const offer = (await old.handle('state.migrate.offer', {}, host.peer)) as R;
  const prepared = (await fresh.handle('state.migrate.prepare', { nonce: offer['nonce']! }, host.peer)) as R;
  const other = await generateHpkeKeyPair();
  await rejectsWith(old.handle('state.migrate.export', { nonce: offer['nonce']!, publicKey: bytesToHex(other.publicKey), evidence: prepared['evidence']! }, host.peer), 'E_ATTEST_BINDING');
  const offer2 = (await old.handle('state.migrate.offer', {}, host.peer)) as R;
  const forged = issueSimEvidence(createSimRoot(), M2, identityReportData(other.publicKey, hexToBytes(String(offer2['nonce']))), Date.now());
  await rejectsWith(old.handle('state.migrate.export', { nonce: offer2['nonce']!, publicKey: bytesToHex(other.publicKey), evidence: bytesToHex(forged) }, host.peer), 'E_ATTEST_SIGNATURE');
  assert.equal(host.of('state.migration_refused').length, 2);
  await signTransfer(old, host);
});

test('export refused: an unknown nonce, a used one, a stale offer (E_MIGRATION_NOT_OFFERED)', async () => {
  const { platform, host, enclave: old } = await oldBuild();
  const { enclave: fresh } = await newBuild();
  const unknown = 'cd'.repeat(32);
  const p0 = (await fresh.handle('state.migrate.prepare', { nonce: unknown }, host.peer)) as R;
  await rejectsWith(old.handle('state.migrate.export', { nonce: unknown, publicKey: p0['publicKey']!, evidence: p0['evidence']! }, host.peer), 'E_MIGRATION_NOT_OFFERED');
  // An offer is single use: the refused export above consumed nothing, but a refused export consumes its own.
  const offer = (await old.handle('state.migrate.offer', {}, host.peer)) as R;
  const p1 = (await fresh.handle('state.migrate.prepare', { nonce: offer['nonce']! }, host.peer)) as R;
  await rejectsWith(old.handle('state.migrate.export', { nonce: offer['nonce']!, publicKey: bytesToHex((await generateHpkeKeyPair()).publicKey), evidence: p1['evidence']! }, host.peer), 'E_ATTEST_BINDING');
  await rejectsWith(old.handle('state.migrate.export', { nonce: offer['nonce']!, publicKey: p1['publicKey']!, evidence: p1['evidence']! }, host.peer), 'E_MIGRATION_NOT_OFFERED');
  const stale = (await old.handle('state.migrate.offer', {}, host.peer)) as R;
  const p2 = (await fresh.handle('state.migrate.prepare', { nonce: stale['nonce']! }, host.peer)) as R;
  platform.skewMs = MIGRATION_OFFER_TTL_MS + 1000;
  await rejectsWith(old.handle('state.migrate.export', { nonce: stale['nonce']!, publicKey: p2['publicKey']!, evidence: p2['evidence']! }, host.peer), 'E_MIGRATION_NOT_OFFERED');
  assert.ok(host.of('state.migration_refused').every((e) => e.data['step'] === 'export'));
  assert.ok(!stateOf(platform).retired, 'no refused export retires the old build');
});

/** A package made outside any enclave: the old build's state (its sealed plaintext) sealed to `prepared`, with `evidence` built by `attest`. */
async function craftedPackage(oldPlatform: MemoryPlatform, nonce: Uint8Array, prepared: R, attest: (identityKey: Uint8Array, digest: Uint8Array) => Uint8Array): Promise<Json> {
  const { plaintext } = unseal(oldPlatform.key, 'signer-1', oldPlatform.blob!);
  const state = parseJson(plaintext) as R;
  const identityKey = ed25519.getPublicKey(hexToBytes(String(state['identitySecret'])));
  const json = canonicalJsonBytes({ type: MIGRATION_PACKAGE_TYPE, signerId: 'signer-1', orgId: 'acme', toMeasurement: bytesToHex(M2), createdAtMs: Date.now(), state });
  const sealed = await hpkeSeal(hexToBytes(String(prepared['publicKey'])), new Uint8Array(deflateRawSync(json)), migrationInfo('signer-1'), nonce, MIGRATION_PACKAGE_BYTES_MAX);
  const evidence = attest(identityKey, migrationPackageDigest(nonce, sealed));
  return { signerId: 'signer-1', nonce: bytesToHex(nonce), enc: bytesToHex(sealed.enc), ciphertext: bytesToHex(sealed.ciphertext), evidence: bytesToHex(evidence) };
}

test('import refused: a package not from a genuine listed enclave (unlisted measurement, another root, another identity), a tampered one; the same package with genuine evidence is taken', async () => {
  const { platform: oldPlatform, host } = await oldBuild();
  const { enclave: fresh } = await newBuild();
  const nonce = new Uint8Array(32).fill(5);
  const importWith = async (attest: (identityKey: Uint8Array, digest: Uint8Array) => Uint8Array, tamper = false): Promise<Json> => {
    const prepared = (await fresh.handle('state.migrate.prepare', { nonce: bytesToHex(nonce) }, host.peer)) as R;
    const pkg = (await craftedPackage(oldPlatform, nonce, prepared, attest)) as R;
    if (tamper) pkg['ciphertext'] = String(pkg['ciphertext']).slice(0, -2) + (String(pkg['ciphertext']).endsWith('00') ? '01' : '00');
    return fresh.handle('state.migrate.import', { package: pkg }, host.peer);
  };
  const now = (): number => Date.now();
  await rejectsWith(importWith((k, d) => issueSimEvidence(hw.root, M3, identityReportData(k, d), now())), 'E_ATTEST_MEASUREMENT');
  await rejectsWith(importWith((k, d) => issueSimEvidence(createSimRoot(), hw.measurement, identityReportData(k, d), now())), 'E_ATTEST_SIGNATURE');
  await rejectsWith(importWith((_k, d) => issueSimEvidence(hw.root, hw.measurement, identityReportData(ed25519.getPublicKey(ed25519.utils.randomSecretKey()), d), now())), 'E_ATTEST_BINDING');
  await rejectsWith(importWith((k) => issueSimEvidence(hw.root, hw.measurement, identityReportData(k, new Uint8Array(32)), now())), 'E_ATTEST_BINDING');
  await rejectsWith(importWith((k, d) => issueSimEvidence(hw.root, hw.measurement, identityReportData(k, d), now()), true), 'E_MIGRATION_PACKAGE_INVALID');
  assert.equal(fresh.phase, 'AWAITING_MANIFEST', 'nothing was installed by a refused import');
  assert.equal(host.of('state.migrated_in').length, 0);
  // Control: the crafted package with evidence from a listed build binding the package's identity is taken (the refusals above are the evidence's).
  await importWith((k, d) => issueSimEvidence(hw.root, hw.measurement, identityReportData(k, d), now()));
  assert.equal(fresh.phase, 'READY');
});

test('import refused into a non-pristine signer, and without a preparation (E_MIGRATION_NOT_PRISTINE, E_MIGRATION_NOT_PREPARED)', async () => {
  const { host, enclave: old } = await oldBuild();
  await rejectsWith(old.handle('state.migrate.prepare', { nonce: '11'.repeat(32) }, host.peer), 'E_MIGRATION_NOT_PRISTINE');
  const { enclave: fresh } = await newBuild();
  const offer = (await old.handle('state.migrate.offer', {}, host.peer)) as R;
  const prepared = (await fresh.handle('state.migrate.prepare', { nonce: offer['nonce']! }, host.peer)) as R;
  // The target took a manifest meanwhile: it holds state of its own, which is never overwritten.
  await fresh.handle('manifest.install', { signedManifest: manifest }, host.peer);
  const out = (await old.handle('state.migrate.export', { nonce: offer['nonce']!, publicKey: prepared['publicKey']!, evidence: prepared['evidence']! }, host.peer)) as R;
  await rejectsWith(fresh.handle('state.migrate.import', { package: out['package']! }, host.peer), 'E_MIGRATION_NOT_PRISTINE');
  const { enclave: other } = await newBuild();
  await rejectsWith(other.handle('state.migrate.import', { package: out['package']! }, host.peer), 'E_MIGRATION_NOT_PREPARED');
  await rejectsWith(other.handle('state.migrate.confirm', {}, host.peer), 'E_MIGRATION_NOT_PREPARED');
});

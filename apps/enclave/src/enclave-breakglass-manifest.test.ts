/**
 * Manifest successors authorised by break-glass (issue 7 item 6): an
 * executed `change-root-quorum` or `upgrade-measurement` request, signed by
 * the key broker (a P-256 key here stands in for its HSM-held kbs-signing
 * key), installs a successor the installed quorum did not sign; an
 * execution for another manifest, of another action, from another broker,
 * or a successor changing more than the action allows is refused, audited.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { p256 } from '@noble/curves/nist.js';
import type { Json } from '@custodian/core/canonical-json';
import { bytesToHex } from '@custodian/core/bytes';
import { createSimRoot } from '@custodian/attestation/sim/sim-evidence';
import { generateOperatorKey } from '@custodian/protocol/operator-key';
import { decodeSignedManifest, encodeSignedManifest, manifestHash, signManifest } from '@custodian/protocol/manifest';
import { breakglassExecutionStatement, encodeSignedBreakglassExecution, payloadHashOf, type BreakglassAction, type BreakglassExecution } from '@custodian/protocol/breakglass-execution';
import { EMPTY_AUDIT_MAP_CONTEXT, mapAuditEvent } from './audit-entry-map.js';
import type { Enclave } from './enclave.js';
import { bootSigners, memoryPlatform, orgKeys, orgManifest, RecordingHost, rejectsWith, simHardware } from './test-signers.js';

type R = Record<string, Json>;
const hw = simHardware();
const keys = orgKeys();
const genesis = orgManifest(hw, keys);
const genesisPayload = decodeSignedManifest(genesis).payload as R;

const kbsSecret = p256.utils.randomSecretKey();
const KBS = { publicKey: p256.getPublicKey(kbsSecret, false), recoveryKey: null };

/** A broker-signed execution of `action` authorising manifest `hash`. */
function execution(id: string, action: BreakglassAction, payload: Json, secret = kbsSecret): Json {
  const e: BreakglassExecution = { id, action, payloadHash: payloadHashOf(payload), approvals: ['carol', 'dave'], executedAtMs: 1_800_000_000_000 };
  return encodeSignedBreakglassExecution({ execution: e, payload, signature: p256.sign(breakglassExecutionStatement(e), secret, { prehash: true, format: 'compact' }) });
}

/** Version 2 of the genesis manifest with `change` applied, signed by `signers` of the installed quorum (none: the quorum is gone). */
function successor(change: (p: R) => R, signers: readonly string[] = []): { signed: Json; hash: string } {
  const payload = change({ ...genesisPayload, version: 2, previousHash: manifestHash(genesisPayload) });
  return { signed: encodeSignedManifest({ payload, signatures: signers.map((id) => signManifest(payload, id, keys[id]!)) }), hash: manifestHash(payload) };
}

/** Bob's key is lost: erin replaces him in the root quorum. */
const erin = generateOperatorKey('ed25519');
const newQuorum = (p: R): R => ({
  ...p,
  operators: [...(p['operators'] as R[]).filter((o) => o['id'] !== 'alice'), { id: 'erin', name: 'erin', roles: ['admin'], groups: [], publicKey: { alg: erin.alg, key: bytesToHex(erin.publicKey) } }],
  quorum: { threshold: 2, members: ['bob', 'carol', 'erin'] },
});
const OTHER_MEASUREMENT = '09'.repeat(48);
const newMeasurement = (p: R): R => ({ ...p, enclave: { ...(p['enclave'] as R), measurements: [...((p['enclave'] as R)['measurements'] as string[]), OTHER_MEASUREMENT] } });

async function signer(kbs: typeof KBS | null = KBS): Promise<{ host: RecordingHost; enclave: Enclave }> {
  const platform = memoryPlatform(hw);
  platform.kbs = kbs;
  const host = new RecordingHost();
  const enclave = (await bootSigners(['signer-1'], new Map([['signer-1', platform]]), genesis, host)).get('signer-1')!;
  return { host, enclave };
}

const install = (e: Enclave, host: RecordingHost, signed: Json, breakglass?: Json): Promise<R> =>
  e.handle('manifest.install', { signedManifest: signed, ...(breakglass === undefined ? {} : { breakglass }) }, host.peer) as Promise<R>;
const last = (host: RecordingHost, kind: string): R => host.of(kind).at(-1)!.data;

test('change-root-quorum: a successor without the installed quorum is refused alone, and installed with the executed request; audited with its id', async () => {
  const { host, enclave } = await signer();
  const next = successor(newQuorum);
  await rejectsWith(install(enclave, host, next.signed), 'E_MANIFEST_QUORUM');
  const out = await install(enclave, host, next.signed, execution('bg-quorum-1', 'change-root-quorum', { manifestHash: next.hash }));
  assert.deepEqual(out, { manifestHash: next.hash, installed: true });
  const installed = last(host, 'manifest.installed');
  assert.equal(installed['breakglassId'], 'bg-quorum-1');
  assert.equal(installed['breakglassAction'], 'change-root-quorum');
  assert.deepEqual(installed['signedBy'], []);
  assert.equal(installed['version'], 2);
  const typed = mapAuditEvent('manifest.installed', null, installed, 1, EMPTY_AUDIT_MAP_CONTEXT);
  assert.ok(typed.kind === 'manifest.change' && typed.change === 'update' && typed.manifestHash === next.hash);

  // The new quorum governs from here: erin and carol sign version 3, the lost alice cannot.
  const v2 = decodeSignedManifest(next.signed).payload as R;
  const v3 = { ...v2, version: 3, previousHash: next.hash };
  await rejectsWith(install(enclave, host, encodeSignedManifest({ payload: v3, signatures: [signManifest(v3, 'alice', keys['alice']!)] })), 'E_MANIFEST_QUORUM');
  const ok = await install(enclave, host, encodeSignedManifest({ payload: v3, signatures: [signManifest(v3, 'erin', erin), signManifest(v3, 'carol', keys['carol']!)] }));
  assert.equal(ok['installed'], true);
});

test('upgrade-measurement: the successor listing a new measurement installs under its executed request', async () => {
  const { host, enclave } = await signer();
  const next = successor(newMeasurement);
  await install(enclave, host, next.signed, execution('bg-measure-1', 'upgrade-measurement', { manifestHash: next.hash }));
  const installed = last(host, 'manifest.installed');
  assert.deepEqual(installed['measurements'], [bytesToHex(hw.measurement), OTHER_MEASUREMENT]);
  assert.equal(installed['breakglassId'], 'bg-measure-1');
});

test('B33 an execution naming another manifest hash is refused E_BREAKGLASS_MANIFEST_MISMATCH, audited; nothing installed', async () => {
  const { host, enclave } = await signer();
  const next = successor(newMeasurement);
  const other = successor(newQuorum);
  await rejectsWith(install(enclave, host, next.signed, execution('bg-m-2', 'upgrade-measurement', { manifestHash: other.hash })), 'E_BREAKGLASS_MANIFEST_MISMATCH');
  const refused = last(host, 'manifest.rejected');
  assert.equal(refused['code'], 'E_BREAKGLASS_MANIFEST_MISMATCH');
  assert.equal(refused['manifestHash'], next.hash);
  assert.equal(host.of('manifest.installed').length, 1); // genesis only
});

test('B33 an execution of another action is refused: an unfreeze E_BREAKGLASS_ACTION_MISMATCH; upgrade-measurement for a quorum change E_BREAKGLASS_SUCCESSOR_SCOPE', async () => {
  const { host, enclave } = await signer();
  const next = successor(newQuorum);
  await rejectsWith(install(enclave, host, next.signed, execution('bg-a-1', 'unfreeze', { manifestHash: next.hash })), 'E_BREAKGLASS_ACTION_MISMATCH');
  await rejectsWith(install(enclave, host, next.signed, execution('bg-a-2', 'upgrade-measurement', { manifestHash: next.hash })), 'E_BREAKGLASS_SUCCESSOR_SCOPE');
  assert.deepEqual(last(host, 'manifest.rejected')['changed'], ['operators.alice', 'operators.erin', 'quorum']);
  // And the other way round: change-root-quorum cannot add a measurement.
  const measured = successor(newMeasurement);
  await rejectsWith(install(enclave, host, measured.signed, execution('bg-a-3', 'change-root-quorum', { manifestHash: measured.hash })), 'E_BREAKGLASS_SUCCESSOR_SCOPE');
  assert.equal(host.of('manifest.installed').length, 1);
});

test('B33 a successor changing more than its action allows is refused E_BREAKGLASS_SUCCESSOR_SCOPE: policy, an approver outside the quorum, the enclave root', async () => {
  const { host, enclave } = await signer();
  const cases: [string, BreakglassAction, (p: R) => R, string][] = [
    ['policy', 'change-root-quorum', (p) => ({ ...newQuorum(p), policy: { ...(p['policy'] as R), maxValueWei: '1' } }), 'policy'],
    // dave (initiator, not in any quorum) re-keyed under cover of a quorum change
    ['initiator re-keyed', 'change-root-quorum', (p) => ({ ...newQuorum(p), operators: (newQuorum(p)['operators'] as R[]).map((o) => (o['id'] === 'dave' ? { ...o, publicKey: { alg: erin.alg, key: bytesToHex(generateOperatorKey('ed25519').publicKey) } } : o)) }), 'operators.dave'],
    ['enclave root', 'upgrade-measurement', (p) => newMeasurement({ ...p, enclave: { ...(p['enclave'] as R), simRoot: bytesToHex(createSimRoot().publicKey) } }), 'enclave.simRoot'],
    ['organisation chain', 'upgrade-measurement', (p) => newMeasurement({ ...p, chainId: '1' }), 'chainId'],
  ];
  for (const [what, action, change, field] of cases) {
    const next = successor(change);
    await rejectsWith(install(enclave, host, next.signed, execution(`bg-s-${what.replace(/ /g, '-')}`, action, { manifestHash: next.hash })), 'E_BREAKGLASS_SUCCESSOR_SCOPE').catch((e: unknown) => {
      throw new Error(`${what}: ${(e as Error).message}`);
    });
    assert.ok((last(host, 'manifest.rejected')['changed'] as string[]).includes(field), what);
  }
  assert.equal(host.of('manifest.installed').length, 1);
});

test('B33 an execution from another broker key, or to a signer launched without one, is refused; the sequence rules still hold', async () => {
  const { host, enclave } = await signer();
  const next = successor(newQuorum);
  const exec = execution('bg-k-1', 'change-root-quorum', { manifestHash: next.hash }, p256.utils.randomSecretKey());
  await rejectsWith(install(enclave, host, next.signed, exec), 'E_BREAKGLASS_EXECUTION_INVALID');
  const bare = await signer(null);
  await rejectsWith(install(bare.enclave, bare.host, next.signed, execution('bg-k-2', 'change-root-quorum', { manifestHash: next.hash })), 'E_BREAKGLASS_NOT_CONFIGURED');
  // A skipped version is refused whatever authorises it.
  const skipped = successor((p) => ({ ...newQuorum(p), version: 3 }));
  await rejectsWith(install(enclave, host, skipped.signed, execution('bg-k-3', 'change-root-quorum', { manifestHash: skipped.hash })), 'E_MANIFEST_SEQUENCE');
  // A successor that drops this signer's own measurement is refused as ever.
  const dropped = successor((p) => ({ ...p, enclave: { ...(p['enclave'] as R), measurements: [OTHER_MEASUREMENT] } }));
  await rejectsWith(install(enclave, host, dropped.signed, execution('bg-k-4', 'upgrade-measurement', { manifestHash: dropped.hash })), 'E_ATTEST_MEASUREMENT');
  // An altered payload (another hash than approved) is refused before anything else.
  const altered = JSON.parse(JSON.stringify(execution('bg-k-5', 'change-root-quorum', { manifestHash: next.hash }))) as R;
  altered['payload'] = { manifestHash: 'ab'.repeat(32) };
  await rejectsWith(install(enclave, host, next.signed, altered), 'E_BREAKGLASS_PAYLOAD_CHANGED');
  assert.equal(host.of('manifest.installed').length, 1);
});

test('B33 a break-glass successor carrying a signature entry that does not verify is installed on the execution alone; the audit does not name that operator as a signer', async () => {
  const { host, enclave } = await signer();
  const next = successor(newQuorum);
  const decoded = decodeSignedManifest(next.signed);
  // An entry in bob's name, made with erin's key: it verifies under no installed key.
  const withForged = encodeSignedManifest({ payload: decoded.payload, signatures: [signManifest(decoded.payload, 'bob', erin)] });
  await install(enclave, host, withForged, execution('bg-quorum-forged', 'change-root-quorum', { manifestHash: next.hash }));
  const installed = last(host, 'manifest.installed');
  assert.equal(installed['breakglassId'], 'bg-quorum-forged');
  assert.deepEqual(installed['signedBy'], []);
});

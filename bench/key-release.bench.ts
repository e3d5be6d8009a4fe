/**
 * Key release and sealed-state load (issue 7 §9), in one process, on each
 * root:
 *   - release round trip: what a signer enclave runs at boot
 *     (`obtainSealingKeyFromKbs`): nonce over HTTP, ephemeral X25519 key, sim
 *     evidence binding nonce and key, release over HTTP (the broker consumes
 *     the nonce, appraises the evidence with packages/attestation, unwraps the
 *     sealing master in the root, derives, HPKE-seals, signs the credential
 *     and the answer, audits in the production chain: one more root signature
 *     and an fsync), answer signature check, HPKE open, per-signer
 *     HKDF. Loopback HTTP stands in for the parent's vsock forwarding;
 *   - sealed-state load: `unseal` (AES-256-GCM, signer and version bound) of
 *     a sealed state of 16 KiB and 1 MiB under the released key, and the boot
 *     total (release + 16 KiB load);
 *   - the broker's release in process (no HTTP, no answer signature check):
 *     how much of the round trip is transport and enclave-side checking;
 *   - baseline: the HSM's own unwrap through PKCS#11 (`C_UnwrapKey` of the
 *     sealing master on SoftHSM2), the one root operation on the release path.
 * Figures are medians of per-call wall time; nothing is asserted about time.
 *
 *   node --import tsx bench/key-release.bench.ts [--quick] [--json]
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import { systemClock, systemRandom } from '@custodian/core/clock';
import { Secret } from '@custodian/core/secret';
import { bytesToHex, utf8 } from '@custodian/core/bytes';
import { createSimRoot, issueSimEvidence } from '@custodian/attestation/sim/sim-evidence';
import { createSoftHsmStore, initSoftHsmToken } from '@custodian/kbs/hsm/softhsm-token';
import { openPkcs11Root } from '@custodian/kbs/hsm/pkcs11-root';
import { openSoftwareRoot } from '@custodian/kbs/hsm/software-root';
import type { RootOfTrust } from '@custodian/kbs/hsm/root-of-trust';
import { KeyBroker } from '@custodian/kbs/key-broker';
import { NonceStore } from '@custodian/kbs/nonce-store';
import { MeasurementRegistry } from '@custodian/kbs/measurement-approvals';
import { SignedChainAuditSink } from '@custodian/kbs/audit-chain';
import { createWrappedSealingMaster } from '@custodian/kbs/sealing-keys';
import { attestationAppraiser } from '@custodian/kbs/attestation-appraiser';
import { createKbsServer, listenKbs } from '@custodian/kbs/server';
import { makeQuorum, signedChange } from '@custodian/kbs/test-fixtures';
import { obtainSealingKeyFromKbs } from '@custodian/enclave/kbs-key-source';
import { seal, unseal } from '@custodian/enclave/sealed-state';
import { generateHpkeKeyPair } from '@custodian/core/hpke-seal';
import { identityReportData } from '@custodian/protocol/identity-binding';
import { openKeyRelease } from '@custodian/protocol/key-release';

const quick = process.argv.includes('--quick');
const asJson = process.argv.includes('--json');
const N = quick ? 40 : 300;
const MEASUREMENT = new Uint8Array(48).fill(0xab);
const simRoot = createSimRoot();

/** Median and p90 of `n` timed calls (ms), after a warm-up. */
async function timeIt(fn: () => Promise<unknown> | unknown, n = N): Promise<{ p50Ms: number; p90Ms: number }> {
  for (let i = 0; i < Math.min(20, n); i++) await fn();
  const t: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await fn();
    t.push(performance.now() - t0);
  }
  t.sort((a, b) => a - b);
  const at = (q: number): number => Math.round(t[Math.min(t.length - 1, Math.floor(q * t.length))]! * 1000) / 1000;
  return { p50Ms: at(0.5), p90Ms: at(0.9) };
}

async function serveBroker(root: RootOfTrust): Promise<{ server: Server; base: string; wrappedMaster: Uint8Array; broker: KeyBroker }> {
  const { quorum, secrets } = makeQuorum(1, 1);
  const measurements = new MeasurementRegistry(quorum);
  measurements.approve(signedChange({ measurement: bytesToHex(MEASUREMENT), previous: null, approvedAtMs: Date.now(), reason: 'bench' }, secrets, ['member-0']));
  const wrappedMaster = await createWrappedSealingMaster(root);
  const broker = new KeyBroker({
    root,
    wrappedMaster,
    nonces: new NonceStore(systemClock, systemRandom),
    measurements,
    appraise: attestationAppraiser({ policy: { version: 1, allowSimulated: true }, simRootPublicKey: simRoot.publicKey, clock: systemClock }),
    // The production audit: a chain signed in the root, fsynced per entry (each release costs one more root signature).
    audit: await SignedChainAuditSink.open(join(mkdtempSync(join(tmpdir(), 'bench-audit-')), 'kbs-audit.jsonl'), (b) => root.sign(b), await root.publicKey('kbs-signing')),
    clock: systemClock,
  });
  const server = createKbsServer({ broker, root, measurements });
  return { server, base: await listenKbs(server, '127.0.0.1', 0), wrappedMaster, broker };
}

async function measureRoot(root: RootOfTrust): Promise<Record<string, unknown>> {
  const { server, base, wrappedMaster, broker } = await serveBroker(root);
  const post = async (path: string, body: Uint8Array): Promise<Uint8Array> => new Uint8Array(await (await fetch(`${base}${path}`, { method: 'POST', body })).arrayBuffer());
  const kbsPublicKey = await root.publicKey('kbs-signing');
  const release = (): ReturnType<typeof obtainSealingKeyFromKbs> =>
    obtainSealingKeyFromKbs({
      transport: { nonce: () => post('/v1/nonce', utf8('{}')), release: (b) => post('/v1/release', b) },
      attest: async (rd) => issueSimEvidence(simRoot, MEASUREMENT, rd, Date.now()),
      kbsPublicKey,
      signerId: 'signer-1',
    });
  const { key } = await release();
  const small = seal(key, 'signer-1', 7n, new Uint8Array(randomBytes(16 * 1024)));
  const large = seal(key, 'signer-1', 7n, new Uint8Array(randomBytes(1024 * 1024)));
  try {
    return {
      releaseRoundTrip: await timeIt(release),
      brokerReleaseInProcess: await timeIt(async () => {
        const { nonce } = broker.issueNonce();
        const kp = await generateHpkeKeyPair();
        const evidence = issueSimEvidence(simRoot, MEASUREMENT, identityReportData(kp.publicKey, nonce), Date.now());
        const rel = await broker.release({ nonce, evidence, publicKey: kp.publicKey });
        (await openKeyRelease(rel, kp.privateKey, { measurement: rel.measurement, nonce })).zeroise();
      }),
      rootUnwrap: await timeIt(async () => (await root.unwrapKey(wrappedMaster)).zeroise()),
      sealedLoad16KiB: await timeIt(() => unseal(key, 'signer-1', small)),
      sealedLoad1MiB: await timeIt(() => unseal(key, 'signer-1', large), Math.min(N, 100)),
      bootKeyAndLoad16KiB: await timeIt(async () => unseal((await release()).key, 'signer-1', small)),
    };
  } finally {
    await new Promise<void>((r) => server.close(() => r()));
  }
}

async function main(): Promise<void> {
  const store = createSoftHsmStore(mkdtempSync(join(tmpdir(), 'bench-release-')));
  initSoftHsmToken(store, 'bench', '1234', '12345678');
  process.env['SOFTHSM2_CONF'] = store.confPath;
  const pkcs11 = await openPkcs11Root({ modulePath: store.modulePath, tokenLabel: 'bench', pin: new Secret('1234') }, { provision: true });
  const software = await openSoftwareRoot({ warn: () => undefined });
  const onHsm = await measureRoot(pkcs11);
  const onSoftware = await measureRoot(software);
  await pkcs11.close();
  await software.close();
  const p50 = (r: Record<string, unknown>, k: string): number => (r[k] as { p50Ms: number }).p50Ms;
  const result = {
    bench: 'key-release',
    quick,
    calls: N,
    softhsm2Pkcs11: onHsm,
    softwareRoot: onSoftware,
    ratios: {
      releaseOverPkcs11Unwrap: Math.round((p50(onHsm, 'releaseRoundTrip') / p50(onHsm, 'rootUnwrap')) * 10) / 10,
      releasePkcs11OverSoftware: Math.round((p50(onHsm, 'releaseRoundTrip') / p50(onSoftware, 'releaseRoundTrip')) * 100) / 100,
    },
  };
  if (asJson) process.stdout.write(JSON.stringify(result) + '\n');
  else {
    process.stdout.write(`key release bench (median of ${N} calls; ms p50 / p90)\n`);
    for (const [name, r] of [['SoftHSM2 via PKCS#11', onHsm], ['software root', onSoftware]] as const) {
      process.stdout.write(`${name}:\n`);
      for (const [k, v] of Object.entries(r)) {
        const t = v as { p50Ms: number; p90Ms: number };
        process.stdout.write(`  ${k.padEnd(22)} ${String(t.p50Ms).padStart(8)} / ${t.p90Ms}\n`);
      }
    }
    process.stdout.write(`release round trip ÷ PKCS#11 unwrap (baseline): ${result.ratios.releaseOverPkcs11Unwrap}×; PKCS#11 ÷ software root release: ${result.ratios.releasePkcs11OverSoftware}×\n`);
  }
}

await main();
